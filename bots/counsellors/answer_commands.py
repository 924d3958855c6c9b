"""`!svar`: a prepared answer sent to the young person as the counsellor's own message
(the municipality's services, hours, what to do when it cannot wait). The texts are the
config's (`prepared_answers`, the network's and the municipality's own); the youth never
sees that a text was prepared."""

from __future__ import annotations

import hashlib

from bots.config.hours import describe_next_opening
from bots.config.model import Config, LocalText, Municipality
from bots.conversation.states import OPEN
from bots.conversation.voice import RoomVoice
from bots.counsellors.invocation import Invocation, reply
from bots.counsellors.registry import Where, command
from bots.db.models import utcnow
from bots.texts import counsellor_text

PREVIEW_CHARS = 60  # of each text, in the list `!svar` alone shows


def fill(text: str, m: Municipality, lang: str) -> str:
    """The placeholders a prepared answer may hold: {kommune}, {tjeneste}, {åbner}."""
    now = utcnow()
    opening = m.opening_hours.next_opening(now)
    opens = describe_next_opening(now, opening, lang) if opening is not None else ""
    values = {
        "{kommune}": m.name.removesuffix(" Kommune"),
        "{tjeneste}": m.service_name,
        "{åbner}": opens,
    }
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def listing(answers: dict[str, LocalText], lang: str) -> str:
    lines = []
    for name, text in answers.items():
        first = " ".join(text.da.split())
        preview = first if len(first) <= PREVIEW_CHARS else first[: PREVIEW_CHARS - 1] + "…"
        lines.append(f"!svar {name} — {preview}")
    return counsellor_text("answers_list", lang, answers="\n".join(lines))


class AnswerCommands:
    def __init__(self, config: Config, voice: RoomVoice) -> None:
        self.config = config
        self.voice = voice

    @command(
        "svar",
        "answer",
        where=Where.CONVERSATION,
        usage="[navn] [en]",
        da="send et forberedt svar til den unge som din besked; alene: vis dem",
        en="send a prepared answer to the young person as your message; alone: list them",
    )
    async def answer(self, inv: Invocation) -> None:
        assert inv.conv is not None
        answers = self.config.answers_for(inv.municipality)
        if not answers:
            await reply(inv, counsellor_text("answers_none", inv.lang))
            return
        if not inv.args:
            await reply(inv, listing(answers, inv.lang))
            return
        name = inv.args[0].lower()
        text = answers.get(name)
        if text is None:
            await reply(
                inv,
                counsellor_text("answer_unknown", inv.lang, name=name)
                + "\n"
                + listing(answers, inv.lang),
            )
            return
        if inv.conv.state not in OPEN:
            await reply(inv, counsellor_text("answer_too_late", inv.lang))
            return
        youth_lang = "en" if inv.args[1:2] == ["en"] else "da"
        body = fill(text.get(youth_lang), inv.municipality, youth_lang)
        # The command's event is the key: a retried push sends it once.
        txn = hashlib.sha256(inv.event_id.encode()).hexdigest()[:16]
        await self.voice.send_for(inv.conv, inv.sender, body, txn)
