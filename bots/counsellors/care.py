"""Care after a heavy conversation: when a counsellor closes one with a topic the
municipality marks as heavy (`heavy_topics`), or one in which `!akut` was called, the
counsellor gets a private, kind word to take a break and talk with a colleague, and the
staff room an anonymous note so colleagues can check in. Nothing about the young person:
no topic, no time, no room; the staff room is not told who.

The private word goes to a direct room of the bot's with that counsellor ("Ungechat –
til dig"), made the first time and found again by its alias after that."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence

from bots.config.model import Municipality
from bots.db.models import Conversation
from bots.matrix.errors import MatrixError, RoomInUse
from bots.matrix.links import HomeserverLink, Homeservers
from bots.texts import counsellor_text


def is_heavy(m: Municipality, conv: Conversation, topics: Sequence[str]) -> bool:
    return conv.akut_at is not None or bool(set(topics) & set(m.heavy_topics))


def care_alias_localpart(link: HomeserverLink, counsellor: str) -> str:
    """The counsellor's direct room with the bot, keyed by a hash of their id."""
    return f"{link.registration.prefix}care_{hashlib.sha256(counsellor.encode()).hexdigest()[:16]}"


class Care:
    def __init__(self, homeservers: Homeservers) -> None:
        self.homeservers = homeservers

    async def after(self, m: Municipality, conv: Conversation, counsellor: str) -> None:
        """The private word to `counsellor`, and the anonymous note to the staff room;
        each once per conversation (their transaction ids are the conversation's)."""
        link = self.homeservers.of(m)
        lang = m.counsellor_language
        room_id = await self._direct_room(link, counsellor, lang)
        private = {"msgtype": "m.text", "body": counsellor_text("care_private", lang)}
        await link.bot.send(room_id, "m.room.message", private, f"care-{conv.id}")
        rooms = await self.homeservers.rooms(m)
        note = {"msgtype": "m.notice", "body": counsellor_text("care_staff", lang)}
        await link.bot.send(rooms.staff_id, "m.room.message", note, f"care-staff-{conv.id}")

    async def _direct_room(self, link: HomeserverLink, counsellor: str, lang: str) -> str:
        localpart = care_alias_localpart(link, counsellor)
        body = {
            "preset": "trusted_private_chat",
            "is_direct": True,
            "invite": [counsellor],
            "room_alias_name": localpart,
            "name": counsellor_text("care_room_name", lang),
            "topic": counsellor_text("care_room_topic", lang),
        }
        try:
            return await link.bot.create_room(body)
        except RoomInUse:  # made before: the alias finds it
            room_id = await link.bot.resolve_alias(link.registration.alias(localpart))
        with contextlib.suppress(MatrixError):  # in it already, or invited: nothing to do
            await link.bot.invite(room_id, counsellor)
        return room_id
