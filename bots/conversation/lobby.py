"""The municipality's lobby ("Kø") reads as the current queue: one message per
conversation, edited (`m.replace`) as the conversation moves on, never appended.

Pings follow Element's push rules: `m.notice` never notifies (`.m.rule.suppress_notices`),
so a message meant to ping is `m.text` with intentional mentions (`m.mentions`). The new
conversation's message mentions the counsellors on duty once; its edits mention nobody.
A reminder for a youth left waiting with nobody on duty goes in the message's thread, so
the lobby's main timeline stays a queue.

The entry shows the channel and the youth's answers while the conversation is going on.
When it ends (or moves to another municipality) the entry, its edits and its thread are
redacted, so none of that outlives the conversation in the lobby's history; the
homeserver prunes redacted content after its `redaction_retention_period`.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping
from typing import Any

from bots.config.hours import COPENHAGEN
from bots.config.model import UNKNOWN_CHANNEL, Municipality
from bots.db.models import Conversation
from bots.matrix.links import Homeservers
from bots.texts import counsellor_text

# How far back the lobby is searched for an entry whose id the bot never heard (pages of
# 100 events: the queue of a busy evening and then some).
ENTRY_SEARCH_PAGES = 10


def matrix_to(target: str, via: list[str] | None = None) -> str:
    query = "?" + "&".join(f"via={server}" for server in via) if via else ""
    return f"https://matrix.to/#/{target}{query}"


def clock(moment: dt.datetime | None) -> str:
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(COPENHAGEN).strftime("%H.%M")


def answers_text(answers: Mapping[str, Any] | None, m: Municipality, lang: str) -> str:
    """' · Hvor har du hørt om chatten?: Facebook', with the configured labels."""
    parts = []
    for question in m.questions:
        chosen = (answers or {}).get(question.id)
        label = next((o.label.get(lang) for o in question.options if o.id == chosen), None)
        if label:
            parts.append(f" · {question.text.get(lang)} {label}")
    return "".join(parts)


def conv_servers(conv: Conversation) -> list[str]:
    """Server names of the room's own id, for room versions before 12."""
    return [conv.room_id.split(":", 1)[1]] if conv.room_id and ":" in conv.room_id else []


def mention_pills(user_ids: list[str]) -> tuple[str, str]:
    plain = " ".join(user_ids)
    rich = " ".join(f'<a href="{matrix_to(u)}">{html.escape(u)}</a>' for u in user_ids)
    return plain, rich


def replacement(event_id: str, new: dict[str, Any]) -> dict[str, Any]:
    """An edit (`m.replace`) of a rich `m.text` entry to `new`, mentioning nobody: an
    edit must not ping again."""
    new = {**new, "m.mentions": {}}
    return {
        "msgtype": "m.text",
        "body": f"* {new['body']}",
        "format": "org.matrix.custom.html",
        "formatted_body": f"* {new['formatted_body']}",
        "m.new_content": new,
        "m.mentions": {},
        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
    }


def thread_mention(
    root: str, users: list[str], key: str, lang: str, **values: object
) -> dict[str, Any]:
    """A message in `root`'s thread that mentions `users` (so it pings them), from the
    counsellors' text `key` with {mentions} filled in."""
    plain, rich = mention_pills(users)
    return {
        "msgtype": "m.text",
        "body": counsellor_text(key, lang, mentions=plain, **values),
        "format": "org.matrix.custom.html",
        "formatted_body": counsellor_text(key, lang, mentions=rich, **values),
        "m.mentions": {"user_ids": users},
        "m.relates_to": {
            "rel_type": "m.thread",
            "event_id": root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": root},
        },
    }


class Lobby:
    def __init__(self, homeservers: Homeservers) -> None:
        self.homeservers = homeservers

    def content(
        self,
        conv: Conversation,
        m: Municipality,
        key: str,
        *,
        with_link: bool = True,
        **extra: str,
    ) -> dict[str, Any]:
        lang = m.counsellor_language
        text = counsellor_text(
            key,
            lang,
            kanal=conv.kanal or UNKNOWN_CHANNEL,
            answers=answers_text(conv.answers, m, lang),
            since=clock(conv.waiting_since or conv.created_at),
            claimed=clock(conv.claimed_at),
            **{"short": conv.id[:6], **extra},
        )
        if conv.urgent_at is not None and key.startswith("lobby_waiting"):
            text = counsellor_text("lobby_urgent", lang, short=conv.id[:6]) + text
        rich = html.escape(text)
        if with_link and conv.room_id:
            # Room version 12 ids name no server: say where the room can be found.
            server = self.homeservers.of(m).registration.server_name
            via = sorted({server, *conv_servers(conv)})
            url = matrix_to(conv.room_id, via)
            label = counsellor_text("open_link", lang)
            text = f"{text} · {label}: {url}"
            rich = f'{rich} · <a href="{html.escape(url)}">{html.escape(label)}</a>'
        return {
            "msgtype": "m.text",
            "body": text,
            "format": "org.matrix.custom.html",
            "formatted_body": rich,
        }

    async def announce(
        self,
        conv: Conversation,
        m: Municipality,
        *,
        on_duty: list[str],
        key: str = "lobby_waiting",
        txn_id: str,
        **extra: str,
    ) -> str:
        """The queue entry for a waiting conversation; pings whoever is on duty."""
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        content = self.content(conv, m, key, with_link=True, **extra)
        content["m.mentions"] = {"user_ids": on_duty}
        return await link.bot.send(rooms.lobby_id, "m.room.message", content, txn_id)

    async def edit(
        self,
        conv: Conversation,
        m: Municipality,
        event_id: str,
        key: str,
        *,
        txn_id: str,
        with_link: bool = True,
        **extra: str,
    ) -> None:
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        content = replacement(event_id, self.content(conv, m, key, with_link=with_link, **extra))
        await link.bot.send(rooms.lobby_id, "m.room.message", content, txn_id)

    async def remove(
        self,
        m: Municipality,
        event_id: str,
        reason_key: str,
        *,
        txn_id: str,
        **extra: str,
    ) -> None:
        """Take a conversation's entry out of the queue: its thread and edits, then the
        entry itself, are redacted. Repeatable: what is redacted relates to nothing."""
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        reason = counsellor_text(reason_key, m.counsellor_language, **extra)
        for related in await link.bot.related(rooms.lobby_id, event_id):
            await link.bot.redact(rooms.lobby_id, related, f"{txn_id}-{related[1:13]}", reason)
        await link.bot.redact(rooms.lobby_id, event_id, txn_id, reason)

    async def find_entry(self, m: Municipality, room_id: str) -> str | None:
        """The queue entry for a conversation room, looked up in the lobby: for when the
        bot died after the homeserver took the entry but before it heard its id."""
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        bot, token = link.registration.bot_user_id, None
        for _ in range(ENTRY_SEARCH_PAGES):
            page = await link.bot.messages(
                rooms.lobby_id, from_token=token, backwards=True, event_types=["m.room.message"]
            )
            for event in page.get("chunk") or []:
                content = event.get("content") or {}
                if (
                    event.get("sender") == bot
                    and "m.relates_to" not in content
                    and room_id in str(content.get("formatted_body", ""))
                ):
                    return str(event["event_id"])
            token = page.get("end")
            if not page.get("chunk") or not isinstance(token, str):
                return None
        return None

    async def ping_in_thread(
        self,
        m: Municipality,
        event_id: str,
        users: list[str],
        key: str,
        *,
        txn_id: str,
        **extra: object,
    ) -> None:
        """A mention in the queue entry's thread: it pings, and the queue stays tidy."""
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        content = thread_mention(event_id, users, key, m.counsellor_language, **extra)
        await link.bot.send(rooms.lobby_id, "m.room.message", content, txn_id)
