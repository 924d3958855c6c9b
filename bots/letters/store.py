"""The letters table: a letter's states, the moves between them, and the reads.

    requested ──set up──▶ waiting ◀──the youth replies── answered
                            └──a counsellor answers──────▶ ┘
    any of them ──deleted by the youth, expired, set-up failed──▶ closing ──▶ (row gone)
    closing ──!bevar──▶ held ──the hold runs out──▶ closing

A move is a conditional update (`UPDATE … WHERE state IN …`), so when two replicas race
for one exactly one wins, as for conversations (bots/conversation/store.py).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db.models import Letter, LetterStats
from bots.db.sql import rows_changed


class LetterState(enum.StrEnum):
    REQUESTED = "requested"  # the room is being made
    WAITING = "waiting"  # the youth's words wait for an answer
    ANSWERED = "answered"  # a counsellor has answered the youth's latest words
    CLOSING = "closing"  # being deleted
    HELD = "held"  # kept read-only for a duty to notify (!bevar), youth removed


# A letter the youth can open, read and write in.
READABLE = frozenset({LetterState.WAITING, LetterState.ANSWERED})
# Not yet being deleted.
LIVE = frozenset({LetterState.REQUESTED, *READABLE})


class LetterRepo:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, letter: Letter) -> None:
        async with self.sessions.begin() as session:
            session.add(letter)

    async def get(self, letter_id: str) -> Letter | None:
        async with self.sessions() as session:
            return await session.get(Letter, letter_id)

    async def by_code_hash(self, code_hash: str) -> Letter | None:
        async with self.sessions() as session:
            found = await session.execute(select(Letter).where(Letter.code_hash == code_hash))
            return found.scalars().first()

    async def by_room(self, room_id: str) -> Letter | None:
        async with self.sessions() as session:
            found = await session.execute(select(Letter).where(Letter.room_id == room_id))
            return found.scalars().first()

    async def in_states(self, states: Iterable[LetterState]) -> Sequence[Letter]:
        async with self.sessions() as session:
            found = await session.execute(
                select(Letter).where(Letter.state.in_([s.value for s in states]))
            )
            return found.scalars().all()

    async def set(self, letter_id: str, **values: Any) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(Letter).where(Letter.id == letter_id).values(**values))

    async def move(
        self, letter_id: str, from_states: Iterable[LetterState], to: LetterState, **values: Any
    ) -> bool:
        """To `to` if still in one of `from_states`; False if another move came first."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.state.in_([s.value for s in from_states]))
                .values(state=to.value, **values)
            )
            return rows_changed(result) == 1

    async def close(
        self, letter_id: str, from_states: Iterable[LetterState], row: LetterStats, **values: Any
    ) -> bool:
        """To `closing`, and its one anonymous stats row, in one transaction: a letter is
        counted exactly once however many replicas try."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Letter)
                .where(Letter.id == letter_id, Letter.state.in_([s.value for s in from_states]))
                .values(state=LetterState.CLOSING.value, **values)
            )
            if rows_changed(result) != 1:
                return False
            session.add(row)
            return True

    async def forget(self, letter_id: str) -> None:
        """The row itself, once the room and the account are gone."""
        async with self.sessions.begin() as session:
            await session.execute(
                delete(Letter).where(
                    Letter.id == letter_id, Letter.state == LetterState.CLOSING.value
                )
            )
