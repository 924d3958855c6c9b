"""The conversation's states, their groups, how a conversation can end, and the moves
the state machine may make, declared once. Every move the bot records is checked
against MOVES (bots/conversation/store.py): an illegal one is a bug, and raises.

    requested ──set up──▶ waiting ──counsellor joins──▶ claiming ──announced──▶ active
        │                   ▲  ▲                                                │ │
        └─joined in set-up──┼──┼──────────────▶ claiming                        │ │
                            │  └───────── last counsellor leaves ───────────────┘ │
                            └── transferring ◀──────── !overfør ──────────────────┘
    any open state ──close (youth, !luk, idle, end of hours)──▶ closing
    closing ──no hold──▶ purged          closing ──!bevar──▶ held ──expiry or !slet──▶ closing
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class State(enum.StrEnum):
    """The conversation's life: requested → waiting → active → closing → purged."""

    REQUESTED = "requested"  # row written, room not yet (fully) set up
    WAITING = "waiting"  # room exists, youth waits for a counsellor
    CLAIMING = "claiming"  # a counsellor joined; claim side effects not yet all done
    ACTIVE = "active"  # a counsellor is in the conversation
    TRANSFERRING = "transferring"  # being handed to another municipality's counsellors
    CLOSING = "closing"  # stats row written; room and youth account being deleted
    HELD = "held"  # ended, youth out, room kept read-only for a duty to notify (`!bevar`)
    PURGED = "purged"  # nothing of it is left on any homeserver


class Outcome(enum.StrEnum):
    ANSWERED = "answered"  # a counsellor took it and it was closed
    UNANSWERED = "unanswered"  # closed (e.g. by idle timeout) without a counsellor
    LEFT_WAITING = "left_while_waiting"  # the youth ended it before a counsellor came
    TRANSFERRED = "transferred"  # handed to another municipality's counsellors, then closed
    SETUP_FAILED = "setup_failed"  # the room could never be set up


class EndedBy(enum.StrEnum):
    """Who or what ended a conversation."""

    YOUTH = "youth"
    COUNSELLOR = "counsellor"
    IDLE = "idle"  # nobody wrote for the configured idle time
    HOURS = "hours"  # the opening hours ended (after the grace period)
    SYSTEM = "system"  # set-up failed or a hold ran out


# A conversation still going on: a young person may be in it.
OPEN = frozenset({State.REQUESTED, State.WAITING, State.CLAIMING, State.ACTIVE, State.TRANSFERRING})
# Its events are still acted on: open, or held for counsellors to read and `!slet`.
HEARD = OPEN | {State.HELD}
# In its municipality's queue (the page's place in the queue, the counts on the page).
IN_QUEUE = frozenset({State.REQUESTED, State.WAITING})
# What the youth page shows: waiting for a counsellor, with one, or ended.
SHOWN_WAITING = frozenset({State.REQUESTED, State.WAITING, State.TRANSFERRING})
SHOWN_ACTIVE = frozenset({State.CLAIMING, State.ACTIVE})
ENDED = frozenset({State.CLOSING, State.HELD, State.PURGED})
# Set up and going on: the clock's rules apply (idle, end of hours, reminders), and a
# counsellor may hand it on.
LIVE = frozenset({State.WAITING, State.CLAIMING, State.ACTIVE})
TRANSFERABLE = LIVE
# A step a crash can cut off half-way, which maintenance finishes from the database.
UNFINISHED = frozenset({State.REQUESTED, State.CLAIMING, State.TRANSFERRING, State.CLOSING})

MOVES: dict[State, frozenset[State]] = {
    # Set up; or claimed by a counsellor who joined during set-up; or given up.
    State.REQUESTED: frozenset({State.WAITING, State.CLAIMING, State.CLOSING}),
    # A counsellor joins; handed on; closed; or marked (reminded) in place.
    State.WAITING: frozenset({State.WAITING, State.CLAIMING, State.TRANSFERRING, State.CLOSING}),
    # Announced; the counsellor left again; handed on; closed.
    State.CLAIMING: frozenset({State.ACTIVE, State.WAITING, State.TRANSFERRING, State.CLOSING}),
    # The last counsellor left; handed on; closed.
    State.ACTIVE: frozenset({State.WAITING, State.TRANSFERRING, State.CLOSING}),
    # In the new municipality's queue; closed meanwhile.
    State.TRANSFERRING: frozenset({State.WAITING, State.CLOSING}),
    # Deleted; or kept for a duty to notify.
    State.CLOSING: frozenset({State.PURGED, State.HELD}),
    # The hold ran out, or `!slet`: deleted after all.
    State.HELD: frozenset({State.CLOSING}),
    State.PURGED: frozenset(),
}


class IllegalMove(RuntimeError):
    """The code asked for a move the state machine does not have: a bug."""


def check_move(from_states: Iterable[State], to_state: State) -> None:
    """Raise IllegalMove unless every one of `from_states` may move to `to_state`."""
    wrong = [s for s in from_states if to_state not in MOVES[State(s)]]
    if wrong:
        moves = ", ".join(f"{s.value} → {to_state.value}" for s in wrong)
        raise IllegalMove(f"not a move of the conversation state machine: {moves}")


def youth_status(state: str | None) -> str:
    """What the youth page says of a conversation in `state` (None: gone)."""
    if state is None or state in ENDED:
        return "closed"
    return "waiting" if state in SHOWN_WAITING else "active"
