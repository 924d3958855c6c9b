"""The municipality's "Brevkasse": one entry per letter, edited as it moves on, apart
from the live queue in Kø (a letter is no one waiting on the line).

As in Kø (bots/conversation/lobby.py): a new letter's entry is `m.text` mentioning whoever
is on duty, its edits (`m.replace`) mention nobody, pings and reminders go in its thread,
and when the letter is deleted the entry, its edits and its thread are redacted, so its
channel and answers do not outlive it.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from bots.config.hours import COPENHAGEN
from bots.config.model import UNKNOWN_CHANNEL, Municipality
from bots.conversation.lobby import answers_text, matrix_to, replacement, thread_mention
from bots.db.models import Letter
from bots.matrix.errors import NotFound
from bots.matrix.links import HomeserverLink, Homeservers, NotProvisioned
from bots.texts import counsellor_text


def when(moment: dt.datetime | None) -> str:
    """'5.12. kl. 19.02', in Danish time."""
    if moment is None:
        return "–"
    return moment.astimezone(COPENHAGEN).strftime("%-d.%-m. kl. %H.%M")


def short(letter: Letter) -> str:
    return letter.id[:6]


def due(letter: Letter, m: Municipality) -> dt.datetime:
    """When the promised answer time runs out for the youth's latest words."""
    return (letter.youth_wrote_at or letter.created_at) + m.letters.answer_within


class Letterbox:
    def __init__(self, homeservers: Homeservers) -> None:
        self.homeservers = homeservers
        self._ids: dict[tuple[str, str], str] = {}

    async def room_id(self, m: Municipality) -> str:
        """The Brevkasse's room id, found by its alias (provisioning made it) and kept."""
        link = self.homeservers.of(m)
        key = (link.id, m.slug)
        if key not in self._ids:
            reg = link.registration
            try:
                alias = reg.alias(reg.letterbox_alias_localpart(m.slug))
                self._ids[key] = await link.bot.resolve_alias(alias)
            except NotFound as exc:
                raise NotProvisioned(f"the letterbox of {m.slug!r} is not provisioned") from exc
        return self._ids[key]

    def content(self, letter: Letter, m: Municipality, key: str, **extra: str) -> dict[str, Any]:
        lang = m.counsellor_language
        text = counsellor_text(
            key,
            lang,
            short=short(letter),
            kanal=letter.kanal or UNKNOWN_CHANNEL,
            answers=answers_text(letter.answers, m, lang),
            written=when(letter.youth_wrote_at or letter.created_at),
            due=when(due(letter, m)),
            answered=when(letter.answered_at),
            **extra,
        )
        rich = html.escape(text)
        if letter.room_id:
            server = self.homeservers.of(m).registration.server_name
            url = matrix_to(letter.room_id, [server])
            label = counsellor_text("open_letter", lang)
            text = f"{text} · {label}: {url}"
            rich = f'{rich} · <a href="{html.escape(url)}">{html.escape(label)}</a>'
        return {
            "msgtype": "m.text",
            "body": text,
            "format": "org.matrix.custom.html",
            "formatted_body": rich,
        }

    async def announce(
        self, letter: Letter, m: Municipality, on_duty: list[str], txn_id: str
    ) -> str:
        """The entry for a new letter; pings whoever is on duty now."""
        link = self.homeservers.of(m)
        content = self.content(letter, m, "letterbox_waiting")
        content["m.mentions"] = {"user_ids": on_duty}
        return await link.bot.send(await self.room_id(m), "m.room.message", content, txn_id)

    async def edit(
        self, letter: Letter, m: Municipality, key: str, txn_id: str, **extra: str
    ) -> None:
        if not letter.entry_event_id:
            return
        content = replacement(letter.entry_event_id, self.content(letter, m, key, **extra))
        link = self.homeservers.of(m)
        await link.bot.send(await self.room_id(m), "m.room.message", content, txn_id)

    async def ping(
        self, letter: Letter, m: Municipality, users: list[str], key: str, txn_id: str
    ) -> None:
        """A mention in the entry's thread: it pings, and the Brevkasse stays tidy."""
        if not letter.entry_event_id or not users:
            return
        values = {"short": short(letter), "due": when(due(letter, m))}
        content = thread_mention(letter.entry_event_id, users, key, m.counsellor_language, **values)
        link = self.homeservers.of(m)
        await link.bot.send(await self.room_id(m), "m.room.message", content, txn_id)

    async def remove(self, letter: Letter, m: Municipality, txn_id: str) -> None:
        """The entry, its edits and its thread, redacted. Repeatable."""
        if not letter.entry_event_id:
            return
        link: HomeserverLink = self.homeservers.of(m)
        room = await self.room_id(m)
        reason = counsellor_text("letterbox_removed", m.counsellor_language)
        entry = letter.entry_event_id
        for related in await link.bot.related(room, entry):
            await link.bot.redact(room, related, f"{txn_id}-{related[1:13]}", reason)
        await link.bot.redact(room, entry, txn_id, reason)
