"""The conversation's state as the youth page shows it beside the messages: status,
"Rådgiveren skriver …", read marks and the place in the queue.

Everything is read from the database (and, for a read mark, the homeserver), so a
stream on any replica says the same. Each kind is sent only when it has changed since
this stream last sent it; a new stream (a reload) starts by sending the current state.
"""

from __future__ import annotations

from typing import Any

from bots.conversation.duty import DutyRoster
from bots.conversation.states import youth_status
from bots.db.models import Conversation, utcnow
from bots.matrix.errors import MatrixError
from bots.matrix.gateway import MatrixGateway


def status_of(conv: Conversation | None) -> str:
    return youth_status(conv.state if conv is not None else None)


class LiveState:
    def __init__(self, duty: DutyRoster, bot: MatrixGateway) -> None:
        self.duty = duty
        self.bot = bot
        self.sent: dict[str, Any] = {}

    def _changed(self, kind: str, value: Any) -> bool:
        if kind in self.sent and self.sent[kind] == value:
            return False
        self.sent[kind] = value
        return True

    async def changes(self, conv: Conversation | None) -> list[dict[str, Any]]:
        """What to send now. The status comes first ("active" before "typing" on a new
        stream), except "closed", which comes last, after who or what ended it."""
        status = status_of(conv)
        out: list[dict[str, Any]] = []
        if status != "closed" and self._changed("status", status):
            out.append({"type": "status", "status": status})
        if conv is not None and status != "closed":
            out += await self._read(conv)
            until = conv.counsellor_typing_until
            typing = status == "active" and until is not None and until > utcnow()
            if self._changed("typing", typing):
                out.append({"type": "typing", "typing": typing})
            if status == "waiting":
                queue = {
                    "position": await self.duty.queue_position(conv),
                    "on_duty": await self.duty.count(conv.kommune),
                }
                if self._changed("queue", queue):
                    out.append({"type": "queue", **queue})
            else:
                self.sent.pop("queue", None)
        if status == "closed" and self._changed("status", status):
            out.append({"type": "ended", "by": conv.ended_by if conv is not None else None})
            out.append({"type": "status", "status": status})
        return out

    async def _read(self, conv: Conversation) -> list[dict[str, Any]]:
        event_id = conv.counsellor_read_event_id
        if not event_id or not self._changed("read", event_id):
            return []
        # The counsellor may have read up to an event the youth never sees (a note, the
        # bot's hint), so the page marks every message of its own up to this time.
        ts = None
        if conv.room_id and conv.youth_user_id:
            try:
                event = await self.bot.room_event(
                    conv.room_id, event_id, as_user=conv.youth_user_id
                )
                ts = event.get("origin_server_ts")
            except MatrixError:
                ts = None
        return [{"type": "read", "id": event_id, "ts": ts if isinstance(ts, int) else None}]
