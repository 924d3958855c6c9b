"""The state machine's moves are declared once, and every move the bot records is checked
against them: a move the machine does not have is a bug, refused before anything is
written (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.states import (
    ENDED,
    LIVE,
    MOVES,
    OPEN,
    UNFINISHED,
    IllegalMove,
    State,
    check_move,
    youth_status,
)
from bots.conversation.store import ConversationRepo
from bots.db.models import Conversation


def test_every_state_has_its_moves_and_nothing_leaves_purged() -> None:
    assert set(MOVES) == set(State)
    assert MOVES[State.PURGED] == frozenset()
    # Every state but `purged` can be left; every state but `requested` can be reached.
    assert all(MOVES[s] for s in State if s != State.PURGED)
    reached = {to for moves in MOVES.values() for to in moves}
    assert reached == set(State) - {State.REQUESTED}


def test_a_conversation_can_always_be_closed_while_open_and_never_reopened() -> None:
    for state in OPEN:
        check_move([state], State.CLOSING)
    for state in ENDED:
        for open_state in OPEN:
            with pytest.raises(IllegalMove):
                check_move([state], open_state)


@pytest.mark.parametrize(
    ("from_states", "to_state"),
    [
        ([State.PURGED], State.WAITING),
        ([State.ACTIVE], State.PURGED),  # never deleted without closing (and counting) first
        ([State.WAITING], State.ACTIVE),  # a claim is announced before it is active
        ([State.HELD], State.PURGED),
        ([State.WAITING, State.CLOSING], State.TRANSFERRING),  # one of several is enough
    ],
)
def test_moves_the_machine_does_not_have_are_refused(
    from_states: list[State], to_state: State
) -> None:
    with pytest.raises(IllegalMove, match=to_state.value):
        check_move(from_states, to_state)


def test_the_groups_say_what_the_page_shows() -> None:
    assert youth_status(None) == "closed"
    assert {youth_status(s) for s in ENDED} == {"closed"}
    assert youth_status(State.TRANSFERRING) == "waiting"
    assert youth_status(State.CLAIMING) == "active"
    assert LIVE <= OPEN and not (UNFINISHED & {State.WAITING, State.ACTIVE, State.HELD})


async def test_an_illegal_move_writes_nothing(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    repo = ConversationRepo(db_sessions)
    await repo.add(Conversation(id="c1", kommune="testby", homeserver="hs1", state="purged"))
    with pytest.raises(IllegalMove):
        await repo.transition("c1", [State.PURGED], State.WAITING, room_id="!gone:hs1")
    conv = await repo.get("c1")
    assert conv is not None and conv.state == State.PURGED and conv.room_id is None
    # A legal move that is not possible any more is simply lost to whoever made it first.
    assert not await repo.transition("c1", [State.WAITING], State.CLAIMING)
