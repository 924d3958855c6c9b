"""What the youth page may see of one room event: never who a counsellor is, never a
counsellor's command or note, never the bot's chatter for counsellors."""

from __future__ import annotations

from typing import Any

from bots.conversation_room import YOUTH_VALUES, YOUTH_VISIBLE

TEXT_TYPES = ("m.text", "m.notice", "m.emote")
FILE_NOTE = "Rådgiveren sendte en fil, som ikke kan vises her."


def _values(content: dict[str, Any]) -> dict[str, str] | None:
    values = content.get(YOUTH_VALUES)
    if not isinstance(values, dict):
        return None
    return {k: v for k, v in values.items() if isinstance(k, str) and isinstance(v, str)} or None


def project(event: dict[str, Any], youth_user_id: str, bot_user_id: str) -> dict[str, Any] | None:
    """The event as the page shows it, or None."""
    if event.get("type") != "m.room.message":
        return None
    content = event.get("content") or {}
    body = content.get("body")
    relation = content.get("m.relates_to") or {}
    if not isinstance(body, str) or relation.get("rel_type") == "m.replace":
        return None
    out: dict[str, Any] = {
        "type": "message",
        "id": event.get("event_id"),
        "ts": event.get("origin_server_ts"),
    }
    sender = event.get("sender")
    if sender == youth_user_id:
        return {**out, "from": "youth", "body": body}
    if sender == bot_user_id:
        key = content.get(YOUTH_VISIBLE)
        if not isinstance(key, str) or not key:
            return None
        system = {**out, "from": "system", "key": key, "body": body}
        values = _values(content)
        return {**system, "values": values} if values else system
    # A counsellor's command or internal note; a stray space before it must not leak it.
    if body.lstrip().startswith("!"):
        return None
    if content.get("msgtype") not in TEXT_TYPES:
        body = FILE_NOTE
    return {**out, "from": "counsellor", "body": body}
