"""What the bot says and sets in a conversation room: the youth's system messages (shown
on the page by their key), a counsellor's prepared answers, notes for the counsellors
(never shown to the youth), a counsellor raised to moderator, and the room's
non-identifying metadata."""

from __future__ import annotations

from typing import Any

from bots.conversation import room as shape
from bots.db.models import Conversation
from bots.matrix.links import Homeservers
from bots.texts import youth_text


class RoomVoice:
    def __init__(self, homeservers: Homeservers) -> None:
        self.homeservers = homeservers

    async def tell_youth(self, conv: Conversation, key: str, txn: str, **values: str) -> None:
        """A bot message the youth page shows (in the youth's language, by its key)."""
        assert conv.room_id is not None
        content = {
            "msgtype": "m.notice",
            "body": youth_text(key, **values),
            shape.YOUTH_VISIBLE: key,
            **({shape.YOUTH_VALUES: values} if values else {}),
        }
        await self.homeservers.get(conv.homeserver).bot.send(
            conv.room_id, "m.room.message", content, f"y-{conv.id}-{txn}"
        )

    async def send_for(self, conv: Conversation, counsellor: str, body: str, txn: str) -> None:
        """A counsellor's prepared answer, sent by the bot on their behalf: the youth page
        shows it as the counsellor's message, like one they typed."""
        assert conv.room_id is not None
        content = {"msgtype": "m.text", "body": body, shape.PREPARED_FOR: counsellor}
        await self.homeservers.get(conv.homeserver).bot.send(
            conv.room_id, "m.room.message", content, f"a-{conv.id}-{txn}"
        )

    async def notice(
        self, conv: Conversation, body: str, txn: str, reply_to: str | None = None
    ) -> None:
        """Bot chatter for the counsellors in a conversation room (never shown to the youth)."""
        assert conv.room_id is not None
        content: dict[str, Any] = {"msgtype": "m.notice", "body": body}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        await self.homeservers.get(conv.homeserver).bot.send(
            conv.room_id, "m.room.message", content, f"n-{conv.id}-{txn}"
        )

    async def raise_power(
        self, conv: Conversation, user_id: str, read_only: tuple[str, ...] = ()
    ) -> None:
        """A counsellor to moderator, and `read_only` (a trainee's supervisors) below what
        sending a message takes, before any of them joins: the homeserver refuses what
        they would send, not the bot's goodwill. Once; a repeat changes nothing."""
        link = self.homeservers.get(conv.homeserver)
        assert conv.room_id is not None
        levels = await link.bot.get_state(conv.room_id, "m.room.power_levels")
        users = levels.setdefault("users", {})
        wanted = {user_id: shape.COUNSELLOR_POWER, **dict.fromkeys(read_only, shape.READ_ONLY)}
        if all(users.get(u, 0) == level for u, level in wanted.items()):
            return
        users.update(wanted)
        await link.bot.put_state(conv.room_id, "m.room.power_levels", levels)

    async def set_metadata(self, conv: Conversation, status: str, kommune: str = "") -> None:
        """The room's `dk.ungechat.conversation` state: municipality, channel, status."""
        assert conv.room_id is not None
        await self.homeservers.get(conv.homeserver).bot.put_state(
            conv.room_id,
            shape.METADATA_EVENT,
            shape.metadata(kommune=kommune or conv.kommune, kanal=conv.kanal, status=status),
        )
