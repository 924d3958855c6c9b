"""What the youth page may see of one room event: never who a counsellor is, never a
counsellor's command or note, never the bot's chatter for counsellors, and nothing at
all from anyone the bot does not know.

The page gets three kinds of item from here:
- `message`: a message to show (`edited` when the homeserver bundled a later edit);
- `edit`: new text for a message the page shows (`id` is that message's id);
- `removed`: a message the page shows was deleted (redacted), or edited into a command
  or note; the page says "Beskeden blev slettet" in its place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bots.conversation.room import PREPARED_FOR, YOUTH_VALUES, YOUTH_VISIBLE
from bots.counsellors.text import is_command, normalise

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
# A file, image or anything else that isn't text: the page shows its own words for the
# key, in its language; the Danish text is the fallback, as for the bot's messages.
FILE_KEY = "file"
FILE_NOTE = "Rådgiveren sendte en fil, som ikke kan vises her."
# The first line of a reply fallback quotes the replied-to sender's Matrix id:
# "> <@anna.hansen:halsnaes.dk> …" (or "> * <@…> …" for an emote).
_FALLBACK_START = re.compile(r"\s*>\s?(\*\s)?<@")


@dataclass(frozen=True)
class Audience:
    """Who is who in a conversation room, as the youth page must tell them apart."""

    youth_user_id: str
    bot_user_id: str
    is_counsellor: Callable[[str], bool]

    def role(self, sender: Any) -> str | None:
        """'youth', 'system' (the bot), 'counsellor' (configured as one), or None for
        anyone else, whose events are never relayed."""
        if not isinstance(sender, str):
            return None
        if sender == self.youth_user_id:
            return "youth"
        if sender == self.bot_user_id:
            return "system"
        return "counsellor" if self.is_counsellor(sender) else None


def strip_reply_fallback(body: str) -> str:
    """The reply without the quote of the replied-to message some clients put on top
    (the Matrix spec's "fallback": lines starting with "> " up to the first blank line)."""
    lines = body.split("\n")
    i = 0
    while i < len(lines) and normalise(lines[i]).startswith(">"):
        i += 1
    while i < len(lines) and not lines[i].strip():
        i += 1
    return "\n".join(lines[i:])


def edit_target(event: dict[str, Any]) -> str | None:
    """The id of the message this event edits (`m.replace`), if it is an edit."""
    content = event.get("content")
    relation = content.get("m.relates_to") if isinstance(content, dict) else None
    if not isinstance(relation, dict) or relation.get("rel_type") != "m.replace":
        return None
    target = relation.get("event_id")
    return target if isinstance(target, str) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _values(content: dict[str, Any]) -> dict[str, str] | None:
    values = content.get(YOUTH_VALUES)
    if not isinstance(values, dict):
        return None
    return {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, str)} or None


def _text(content: dict[str, Any], role: str, is_reply: bool) -> dict[str, str] | None:
    """What a person's message content shows: {"body"} (and a "key"), or None to hide it."""
    body = content.get("body")
    if not isinstance(body, str):
        return None
    # A reply's quote names the replied-to sender and may hold a note: never relayed. A
    # counsellor's quote that looks like a fallback goes too where no reply is marked (an
    # edit's new content, a client that forgot the relation).
    if is_reply or (role == "counsellor" and _FALLBACK_START.match(normalise(body))):
        body = strip_reply_fallback(body)
    if not normalise(body).strip():  # nothing visible: nothing to show
        return None
    if role == "youth":
        return {"body": body}
    # A counsellor's command or internal note; nothing invisible or look-alike before the
    # "!" may leak it (the command parser reads it the same way).
    if is_command(body):
        return None
    if content.get("msgtype") not in TEXT_TYPES:
        return {"body": FILE_NOTE, "key": FILE_KEY}
    return {"body": body}


def _latest_edit(event: dict[str, Any]) -> dict[str, Any] | None:
    """The newest edit's content as the homeserver bundles it with the original (only an
    edit by the original's own sender counts), so a reload never resends the old text."""
    relations = _dict(_dict(event.get("unsigned")).get("m.relations"))
    edit = _dict(relations.get("m.replace"))
    new = _dict(edit.get("content")).get("m.new_content")
    if edit.get("sender") != event.get("sender") or not isinstance(new, dict):
        return None
    return new


def _redaction(event: dict[str, Any], audience: Audience) -> dict[str, Any] | None:
    if audience.role(event.get("sender")) is None:
        return None
    # From room version 11 the redacted event's id is in the content.
    target = _dict(event.get("content")).get("redacts") or event.get("redacts")
    return {"type": "removed", "id": target} if isinstance(target, str) else None


def _edit(
    event: dict[str, Any], target: str, audience: Audience, senders: Mapping[str, str]
) -> dict[str, Any] | None:
    sender = event.get("sender")
    role = audience.role(sender)
    new = _dict(event.get("content")).get("m.new_content")
    # Only people's own messages: an edit by anyone but the original's sender is void.
    if role not in ("youth", "counsellor") or senders.get(target) != sender:
        return None
    if not isinstance(new, dict):
        return None
    assert role is not None
    shown = _text(new, role, is_reply=False)
    if shown is None:  # edited into a command or a note: gone from the youth's screen
        return {"type": "removed", "id": target}
    return {"type": "edit", "id": target, "from": role, **shown}


def project(
    event: dict[str, Any], audience: Audience, senders: Mapping[str, str] | None = None
) -> dict[str, Any] | None:
    """The event as the page shows it, or None.

    `senders` maps the ids of the messages that edits refer to onto their senders."""
    if event.get("type") == "m.room.redaction":
        return _redaction(event, audience)
    if event.get("type") != "m.room.message":
        return None
    content = _dict(event.get("content"))
    target = edit_target(event)
    if target is not None:
        return _edit(event, target, audience, senders or {})
    role = audience.role(event.get("sender"))
    if role is None:
        return None
    out: dict[str, Any] = {
        "type": "message",
        "id": event.get("event_id"),
        "ts": event.get("origin_server_ts"),
    }
    if role == "system" and isinstance(content.get(PREPARED_FOR), str):
        # A counsellor's prepared answer (`!svar`): the youth sees their message.
        body = content.get("body")
        if not isinstance(body, str) or not body:
            return None
        return {**out, "from": "counsellor", "body": body}
    if role == "system":
        key = content.get(YOUTH_VISIBLE)
        body = content.get("body")
        if not isinstance(key, str) or not key or not isinstance(body, str):
            return None
        system = {**out, "from": "system", "key": key, "body": body}
        values = _values(content)
        return {**system, "values": values} if values else system
    is_reply = isinstance(_dict(content.get("m.relates_to")).get("m.in_reply_to"), dict)
    shown = _text(content, role, is_reply)
    if shown is None:
        return None
    latest = _latest_edit(event)
    if latest is not None:
        # A message hidden at first stays hidden (as on a live page, where an edit of a
        # message not shown changes nothing); a shown one takes its newest text.
        shown = _text(latest, role, is_reply=False)
        if shown is None:
            return None
        return {**out, "from": role, **shown, "edited": True}
    return {**out, "from": role, **shown}
