"""Who is on duty, the queue, and which partner to offer when a chat cannot answer.

The youth page shows only counts ("2 rådgivere er klar", "du er nummer 1 i køen"),
never who. Everything is read from the database, so every replica answers the same.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.model import Config, Municipality
from bots.conversation.states import IN_QUEUE
from bots.db.models import Conversation, Duty, utcnow
from bots.db.sql import insert_for, rows_changed


class DutyRoster:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def start(self, kommune: str, user_id: str) -> bool:
        """Put a counsellor on duty; False if they already were."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                insert_for(session)(Duty)
                .values(kommune=kommune, user_id=user_id, since=utcnow())
                .on_conflict_do_nothing()
            )
        return rows_changed(result) > 0

    async def end(self, kommune: str, user_id: str) -> bool:
        """Take a counsellor off duty; False if they were not on it."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(Duty).where(Duty.kommune == kommune, Duty.user_id == user_id)
            )
        return rows_changed(result) > 0

    async def end_shift(self, kommune: str, user_id: str, since: dt.datetime) -> bool:
        """Take a counsellor off the duty that began at `since` (not a newer one); False
        if they already went off it."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                delete(Duty).where(
                    Duty.kommune == kommune, Duty.user_id == user_id, Duty.since == since
                )
            )
        return rows_changed(result) > 0

    async def shifts(self) -> list[Duty]:
        """Everyone on duty, in every municipality."""
        async with self.sessions() as session:
            return list((await session.scalars(select(Duty))).all())

    async def on_duty(self, kommune: str) -> list[str]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(Duty.user_id).where(Duty.kommune == kommune).order_by(Duty.since)
            )
            return list(rows.scalars())

    async def count(self, kommune: str) -> int:
        async with self.sessions() as session:
            return (
                await session.scalar(
                    select(func.count()).select_from(Duty).where(Duty.kommune == kommune)
                )
            ) or 0

    async def waiting(self, kommune: str) -> int:
        """How many young people wait for a counsellor in this municipality now."""
        async with self.sessions() as session:
            return (
                await session.scalar(
                    select(func.count())
                    .select_from(Conversation)
                    .where(Conversation.kommune == kommune, Conversation.state.in_(IN_QUEUE))
                )
            ) or 0

    async def queue_position(self, conv: Conversation) -> int | None:
        """1 for the next in line; None once a counsellor has taken the conversation.
        Urgent conversations go first, in the order they came; then the others."""
        if conv.state not in IN_QUEUE:
            return None
        urgent = Conversation.urgent_at.is_not(None)
        earlier = Conversation.created_at < conv.created_at
        before = (urgent & earlier) if conv.urgent_at is not None else (urgent | earlier)
        async with self.sessions() as session:
            ahead = await session.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(
                    Conversation.kommune == conv.kommune,
                    Conversation.state.in_(IN_QUEUE),
                    Conversation.id != conv.id,
                    before,
                )
            )
        return (ahead or 0) + 1

    async def can_answer(self, m: Municipality, now: dt.datetime) -> bool:
        return m.opening_hours.is_open(now) and await self.count(m.slug) > 0

    async def overflow_partner(
        self, config: Config, m: Municipality, now: dt.datetime
    ) -> Municipality | None:
        """A partner to offer when `m` is closed or has nobody on duty: the first one
        listed that is open with someone on duty."""
        if await self.can_answer(m, now):
            return None
        for slug in m.partners:
            partner = config.municipality(slug)
            if partner is not None and await self.can_answer(partner, now):
                return partner
        return None
