"""The Matrix shape of a conversation room: who may do what, and what it says about itself.

Pure functions, so the rules are readable in one place and testable without a server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

ROOM_VERSION = "12"
METADATA_EVENT = "dk.ungechat.conversation"
# Marks a bot message the youth page may show (everything else from the bot is for counsellors),
# by a key the page translates; the values fill its placeholders (e.g. a municipality's name).
YOUTH_VISIBLE = "dk.ungechat.youth_visible"
# A counsellor's prepared answer (`!svar`), sent by the bot for them: the youth page shows
# it as the counsellor's own message. The value is the counsellor who sent it (for the
# counsellors in Element; never shown to the youth).
PREPARED_FOR = "dk.ungechat.prepared_for"
YOUTH_VALUES = "dk.ungechat.values"
COUNSELLOR_POWER = 50
# A supervisor reading a trainee's conversation: below the 0 a message takes.
READ_ONLY = -1
BOT_POWER = 100


def creators_have_infinite_power(room_version: str) -> bool:
    """Room version 12 gives creators unlimited power and forbids listing them in `users`."""
    return room_version.isdigit() and int(room_version) >= 12


def power_levels(*, bot_user_id: str, youth_user_id: str, room_version: str) -> dict[str, Any]:
    """The youth may send m.room.message and nothing else: no state, invites, kicks,
    redactions of others, reactions or other event types. Counsellors are raised to 50
    when they join; only the bot changes state, and only the bot invites: a counsellor
    who invited an outsider would let them read the whole history before the bot could
    take them out (counsellors need no invite: the join rule lets them in)."""
    users = {youth_user_id: 0}
    if not creators_have_infinite_power(room_version):
        users[bot_user_id] = 100
    return {
        "users": users,
        "users_default": 0,
        "events_default": COUNSELLOR_POWER,
        "events": {"m.room.message": 0},
        "state_default": 100,
        "invite": BOT_POWER,
        "kick": COUNSELLOR_POWER,
        "ban": COUNSELLOR_POWER,
        "redact": COUNSELLOR_POWER,
        "notifications": {"room": COUNSELLOR_POWER},
    }


def metadata(*, kommune: str, kanal: str | None, status: str) -> dict[str, Any]:
    """Non-identifying facts counsellors and the bot may read from the room."""
    return {"kommune": kommune, "kanal": kanal, "status": status}


def create_room_body(
    *,
    alias_localpart: str,
    name: str,
    topic: str,
    space_id: str,
    server_name: str,
    bot_user_id: str,
    youth_user_id: str,
    kommune: str,
    kanal: str | None,
) -> dict[str, Any]:
    return {
        "room_version": ROOM_VERSION,
        "room_alias_name": alias_localpart,
        "visibility": "private",
        "preset": "private_chat",
        "name": name,
        "topic": topic,
        "invite": [youth_user_id],
        # Federating, so a conversation can later be transferred to another homeserver.
        "creation_content": {"m.federate": True},
        "power_level_content_override": power_levels(
            bot_user_id=bot_user_id, youth_user_id=youth_user_id, room_version=ROOM_VERSION
        ),
        "initial_state": [
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": {
                    "join_rule": "restricted",
                    "allow": [{"type": "m.room_membership", "room_id": space_id}],
                },
            },
            # Counsellors who join later must read what the youth already wrote.
            {
                "type": "m.room.history_visibility",
                "state_key": "",
                "content": {"history_visibility": "shared"},
            },
            {
                "type": "m.room.guest_access",
                "state_key": "",
                "content": {"guest_access": "forbidden"},
            },
            {
                "type": "m.space.parent",
                "state_key": space_id,
                "content": {"via": [server_name], "canonical": True},
            },
            {
                "type": METADATA_EVENT,
                "state_key": "",
                "content": metadata(kommune=kommune, kanal=kanal, status="waiting"),
            },
        ],
    }


def space_child_content(via: str | Sequence[str]) -> dict[str, Any]:
    """An `m.space.child`; `via` names servers in the room (one, or several after a transfer)."""
    return {"via": [via] if isinstance(via, str) else list(via), "suggested": True}
