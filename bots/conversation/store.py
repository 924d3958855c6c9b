"""The conversations table as the state machine and the intake use it: reads, plain
updates, and the state machine's moves.

A move is a conditional update (`UPDATE … WHERE state IN …`), so when two replicas race
for the same step exactly one of them wins it; and it is checked against the state
machine's moves (bots/conversation/states.py) before it is made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.states import State, check_move
from bots.db.models import Conversation, utcnow
from bots.db.sql import rows_changed

YOUTH_SEEN_EVERY = dt.timedelta(minutes=1)


class ConversationRepo:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, conversation: Conversation) -> None:
        async with self.sessions.begin() as session:
            session.add(conversation)

    async def get(self, conversation_id: str) -> Conversation | None:
        async with self.sessions() as session:
            return await session.get(Conversation, conversation_id)

    async def by_room(self, room_id: str) -> Conversation | None:
        async with self.sessions() as session:
            result = await session.execute(
                select(Conversation).where(Conversation.room_id == room_id)
            )
            return result.scalars().first()

    async def in_states(self, states: Iterable[State]) -> Sequence[Conversation]:
        async with self.sessions() as session:
            result = await session.execute(
                select(Conversation).where(Conversation.state.in_([s.value for s in states]))
            )
            return result.scalars().all()

    async def set(self, conversation_id: str, **values: Any) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation).where(Conversation.id == conversation_id).values(**values)
            )

    async def transition(
        self, conversation_id: str, from_states: Iterable[State], to_state: State, **values: Any
    ) -> bool:
        """Move to `to_state` if still in one of `from_states`; False if someone else moved it."""
        async with self.sessions.begin() as session:
            return await transition_in(session, conversation_id, from_states, to_state, **values)

    async def finish_set_up(self, conversation_id: str, **values: Any) -> State | None:
        """The set-up's last move, out of `requested`: to `claiming` when a counsellor
        joined during the set-up (and was recorded as claiming it), else to `waiting`.
        One statement decides, so a join lands either before it or after. None if the
        conversation had left `requested` already."""
        check_move([State.REQUESTED], State.WAITING)
        check_move([State.REQUESTED], State.CLAIMING)
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    Conversation.state == State.REQUESTED.value,
                )
                .values(
                    state=case(
                        (Conversation.claimed_by.is_(None), State.WAITING.value),
                        else_=State.CLAIMING.value,
                    ),
                    event_seq=Conversation.event_seq + 1,
                    **values,
                )
                .returning(Conversation.state)
            )
            moved = result.scalar_one_or_none()
        return State(moved) if moved is not None else None

    async def mark_youth_seen(self, conversation_id: str, now: dt.datetime) -> None:
        """The youth's page is still connected (written at most once a minute)."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conversation_id,
                    (Conversation.youth_seen_at.is_(None))
                    | (Conversation.youth_seen_at < now - YOUTH_SEEN_EVERY),
                )
                .values(youth_seen_at=now)
            )

    async def bump(self, conversation_id: str, *, activity: bool = False, **values: Any) -> None:
        """Tell every event stream of this conversation that there is something new
        (optionally setting `values` in the same write)."""
        values["event_seq"] = Conversation.event_seq + 1
        if activity:
            values["last_activity_at"] = utcnow()
        await self.set(conversation_id, **values)


async def transition_in(
    session: AsyncSession,
    conversation_id: str,
    from_states: Iterable[State],
    to_state: State,
    **values: Any,
) -> bool:
    """Move to `to_state` inside the caller's transaction if still in one of
    `from_states`; False if someone else moved it first. Raises IllegalMove for a move
    the state machine does not have."""
    from_states = list(from_states)
    check_move(from_states, to_state)
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.state.in_([s.value for s in from_states]),
        )
        .values(state=to_state.value, event_seq=Conversation.event_seq + 1, **values)
    )
    return rows_changed(result) == 1
