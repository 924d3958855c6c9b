"""Queries on the conversations table that the state machine and the intake share.

State changes are conditional updates (`WHERE state IN …`), so when two replicas race
for the same step exactly one of them wins it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Result, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db.models import Conversation, State

YOUTH_SEEN_EVERY = dt.timedelta(minutes=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, the one that knows ON CONFLICT (SQLite and PostgreSQL both
    do, in the same words; SQLAlchemy's generic insert does not)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"the bot's database must be SQLite or PostgreSQL, not {dialect!r}")


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT … ON CONFLICT DO NOTHING touched."""
    return cast(CursorResult[Any], result).rowcount


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
    result = await session.execute(
        update(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.state.in_([s.value for s in from_states]),
        )
        .values(state=to_state.value, event_seq=Conversation.event_seq + 1, **values)
    )
    return rows_changed(result) == 1
