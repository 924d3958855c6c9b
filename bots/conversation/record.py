"""The one anonymous record a conversation leaves, and what its own row forgets.

At close the bot writes one `ConversationStats` row: local date and hour, channel,
answers, topics, wait, duration, outcome. It has no key that links it to a room or a
person. At purge, the conversation's own row is stripped of everything else
(FORGOTTEN_AT_PURGE) and, a little later, deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bots.config.hours import COPENHAGEN
from bots.conversation.feedback import FEEDBACK_WINDOW, feedback_key
from bots.conversation.states import EndedBy, Outcome
from bots.db.models import Conversation, ConversationStats

# Everything a purged conversation's row held beyond its id, municipality and who ended it.
FORGOTTEN_AT_PURGE: dict[str, Any] = {
    "room_id": None,
    "akut_at": None,
    "urgent_at": None,
    "youth_user_id": None,
    "token_hash": None,
    "lobby_event_id": None,
    "claimed_by": None,
    "counsellors": [],
    "homeservers": [],
    "counsellor_read_event_id": None,
    "counsellor_typing_until": None,
    "answers": {},
    "kanal": None,
    "topics": [],
    "outcome": None,
    "claimed_at": None,
    "closed_at": None,
    "last_activity_at": None,
    "waiting_since": None,
    "youth_seen_at": None,
    "reminded_at": None,
    "hours_warned_at": None,
    "hold_until": None,
    "hold_days": None,
    "transferred_from": None,
    "previous_kommune": None,
    "overflow": False,
}


def outcome_of(conv: Conversation, ended_by: EndedBy) -> Outcome:
    # An overflow conversation answered by the partner is answered, not handed over.
    if conv.transferred_from and conv.claimed_at and not conv.overflow:
        return Outcome.TRANSFERRED
    if conv.claimed_at:
        return Outcome.ANSWERED
    return Outcome.LEFT_WAITING if ended_by == EndedBy.YOUTH else Outcome.UNANSWERED


def stats_row(
    conv: Conversation,
    closed_at: dt.datetime,
    outcome: Outcome,
    ended_by: EndedBy,
    topics: Sequence[str],
) -> ConversationStats:
    """The anonymous record: local date and hour, channel, answers, topics, wait, duration."""
    created = conv.created_at or closed_at
    claimed = conv.claimed_at
    local = created.astimezone(COPENHAGEN)
    return ConversationStats(
        # Counted for the municipality whose link brought the youth; who answered is
        # `transferred_to` when another municipality's counsellors took it over.
        kommune=conv.transferred_from or conv.kommune,
        transferred_to=conv.kommune if conv.transferred_from else None,
        date=local.date(),
        hour=local.hour,
        weekday=local.weekday(),
        kanal=conv.kanal,
        answers=dict(conv.answers or {}),
        topics=list(topics),
        wait_seconds=int((claimed - created).total_seconds()) if claimed else None,
        duration_seconds=int((closed_at - (claimed or created)).total_seconds()),
        outcome=outcome.value,
        ended_by=ended_by.value,
        held=bool(conv.hold_days),
        urgent=conv.urgent_at is not None,
        feedback_token_hash=feedback_key(conv.token_hash) if conv.token_hash else None,
        feedback_until=closed_at + FEEDBACK_WINDOW if conv.token_hash else None,
    )
