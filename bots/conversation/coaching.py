"""The side room of a supervised conversation: when a supervisor joins a trainee's
conversation, the bot makes a room in the municipality's space for the two of them, so
coaching never goes into the young person's room. Its alias is keyed by the
conversation, so it is made once and found again; it is deleted with the conversation
(bots/conversation/machine.py `finish_close`), media and all, as the room itself is."""

from __future__ import annotations

import contextlib

from bots.config.model import Municipality
from bots.conversation import room as shape
from bots.conversation.deletion import delete_room_copy
from bots.db.models import Conversation
from bots.matrix.errors import MatrixError, NotFound, RoomInUse
from bots.matrix.links import Homeservers
from bots.texts import counsellor_text


class CoachingRooms:
    def __init__(self, homeservers: Homeservers) -> None:
        self.homeservers = homeservers

    def _alias_localpart(self, m: Municipality, conv: Conversation) -> str:
        return f"{self.homeservers.of(m).registration.prefix}coach_{conv.id}"

    async def open(self, m: Municipality, conv: Conversation, trainee: str, supervisor: str) -> str:
        """The side room for `trainee` and `supervisor`, in the space; made once."""
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        lang = m.counsellor_language
        localpart = self._alias_localpart(m, conv)
        server = link.registration.server_name
        body = {
            "preset": "private_chat",
            "room_alias_name": localpart,
            "name": counsellor_text("coaching_room_name", lang, short=conv.id[:6]),
            "topic": counsellor_text("coaching_room_topic", lang),
            "invite": [trainee, supervisor],
            "room_version": shape.ROOM_VERSION,
            "initial_state": [
                {
                    "type": "m.space.parent",
                    "state_key": rooms.space_id,
                    "content": {"via": [server], "canonical": True},
                }
            ],
        }
        try:
            room_id = await link.bot.create_room(body)
        except RoomInUse:
            return await link.bot.resolve_alias(link.registration.alias(localpart))
        await link.bot.put_state(
            rooms.space_id, "m.space.child", shape.space_child_content([server]), room_id
        )
        return room_id

    async def remove(self, m: Municipality, conv: Conversation) -> None:
        """Out of the space and deleted from the homeserver, if there is one."""
        link = self.homeservers.of(m)
        try:
            room_id = await link.bot.resolve_alias(
                link.registration.alias(self._alias_localpart(m, conv))
            )
        except NotFound:
            return
        rooms = await self.homeservers.rooms(m)
        with contextlib.suppress(MatrixError):  # the purge takes it out of every view anyway
            await link.bot.put_state(rooms.space_id, "m.space.child", {}, room_id)
        await delete_room_copy(link, room_id)
