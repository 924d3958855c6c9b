"""The letters table on SQLite and PostgreSQL: a code finds its letter by its hash only,
racing replicas count and close a letter exactly once, and no text is stored."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db.models import Letter, LetterStats, utcnow
from bots.letters.codes import hash_code, new_code, normalise
from bots.letters.machine import stats_row
from bots.letters.store import LIVE, LetterRepo, LetterState


async def test_a_letter_is_found_by_its_code_and_counted_once_when_replicas_race(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    repo = LetterRepo(db_sessions)
    code = new_code()
    letter = Letter(
        id="ab" * 16,
        kommune="testby",
        homeserver="local",
        kanal="facebook",
        answers={"heard_from": "facebook"},
        state=LetterState.WAITING,
        code_hash=hash_code(code),
        created_at=utcnow(),
    )
    await repo.add(letter)
    typed = normalise(code.upper().replace("-", " , "))
    assert typed == code
    found = await repo.by_code_hash(hash_code(typed))
    assert found is not None and found.id == letter.id
    assert await repo.by_code_hash(hash_code(new_code())) is None
    assert code not in repr(found.__dict__)  # only its hash is kept

    # Answered once, however many replicas see the counsellor's message.
    moves = await asyncio.gather(
        *(repo.move(letter.id, [LetterState.WAITING], LetterState.ANSWERED) for _ in range(5))
    )
    assert moves.count(True) == 1

    # Closed and counted once, however many replicas expire it at the same moment.
    now = utcnow()
    closes = await asyncio.gather(
        *(repo.close(letter.id, LIVE, stats_row(letter, "expired", now)) for _ in range(5))
    )
    assert closes.count(True) == 1
    async with db_sessions() as session:
        rows = await session.scalar(select(func.count()).select_from(LetterStats))
    assert rows == 1
    await repo.forget(letter.id)
    assert await repo.get(letter.id) is None
