"""Reading the anonymous rows of a period from the database.

Only the columns the report needs are selected: the short-lived feedback key on a stats
row is never read here, so it cannot end up in a report or an export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db.models import ConversationStats, PageView
from bots.stats.period import Period


@dataclass(frozen=True)
class ConversationRecord:
    """One ended conversation, as counted."""

    kommune: str
    date: dt.date
    hour: int
    weekday: int  # 0 = Monday
    kanal: str | None
    answers: dict[str, Any]
    topics: tuple[str, ...]
    wait_seconds: int | None
    duration_seconds: int | None
    outcome: str
    held: bool
    feedback: str | None
    urgent: bool = False


@dataclass(frozen=True)
class ViewRecord:
    kommune: str
    kanal: str
    date: dt.date
    count: int


STATS_COLUMNS = (
    ConversationStats.kommune,
    ConversationStats.date,
    ConversationStats.hour,
    ConversationStats.weekday,
    ConversationStats.kanal,
    ConversationStats.answers,
    ConversationStats.topics,
    ConversationStats.wait_seconds,
    ConversationStats.duration_seconds,
    ConversationStats.outcome,
    ConversationStats.held,
    ConversationStats.feedback,
    ConversationStats.urgent,
)


async def load_period(
    sessions: async_sessionmaker[AsyncSession], period: Period, kommuner: Sequence[str]
) -> tuple[list[ConversationRecord], list[ViewRecord]]:
    """The rows of `kommuner` whose local date falls in `period`."""
    async with sessions() as session:
        stats = await session.execute(
            select(*STATS_COLUMNS)
            .where(ConversationStats.date >= period.start, ConversationStats.date <= period.end)
            .where(ConversationStats.kommune.in_(list(kommuner)))
            .order_by(ConversationStats.id)
        )
        views = await session.execute(
            select(PageView.kommune, PageView.kanal, PageView.date, PageView.count.label("n"))
            .where(PageView.date >= period.start, PageView.date <= period.end)
            .where(PageView.kommune.in_(list(kommuner)))
        )
        records = [
            ConversationRecord(
                kommune=r.kommune,
                date=r.date,
                hour=r.hour,
                weekday=r.weekday,
                kanal=r.kanal,
                answers=dict(r.answers or {}),
                topics=tuple(r.topics or ()),
                wait_seconds=r.wait_seconds,
                duration_seconds=r.duration_seconds,
                outcome=r.outcome,
                held=bool(r.held),
                feedback=r.feedback,
                urgent=bool(r.urgent),
            )
            for r in stats
        ]
        return records, [ViewRecord(v.kommune, v.kanal, v.date, v.n) for v in views]
