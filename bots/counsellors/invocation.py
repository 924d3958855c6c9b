"""What every counsellor command gets: who said it where (the invocation), and how the
bot answers it in the same room."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from bots.config.hours import COPENHAGEN
from bots.config.model import Municipality
from bots.db.models import Conversation
from bots.matrix.links import HomeserverLink


def danish_day(moment: dt.datetime) -> str:
    return moment.astimezone(COPENHAGEN).strftime("%d.%m.%Y")


@dataclass
class Invocation:
    sender: str
    args: list[str]
    rest: str
    event_id: str
    room_id: str
    municipality: Municipality
    link: HomeserverLink  # the homeserver the reply goes through
    conv: Conversation | None = None

    @property
    def lang(self) -> str:
        return self.municipality.counsellor_language


async def reply(inv: Invocation, text: str) -> None:
    """Answer the command. A command may answer more than once (say, "transferring" and
    then "something went wrong"); each answer has its own transaction id, the same on a
    retry of the same answer."""
    content = {
        "msgtype": "m.notice",
        "body": text,
        "m.relates_to": {"m.in_reply_to": {"event_id": inv.event_id}},
    }
    txn = f"re-{inv.event_id}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    await inv.link.bot.send(inv.room_id, "m.room.message", content, txn)
