"""Counting youth-page views for the channel funnel (page views → started → answered).

The youth page asks `GET /api/v1/kommuner/{slug}?kanal=…&view=1` once per visit. We add
one to the day's count for (municipality, channel): a number, never a record of the
visit, and nothing about the visitor (no address, no user agent, no time of day).
The increment is one `INSERT … ON CONFLICT DO UPDATE` statement, atomic on SQLite and
PostgreSQL alike, so any number of intake replicas can count at once without losing one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config import Municipality
from bots.db.models import PageView
from bots.db.repo import insert_for
from bots.hours import COPENHAGEN

UNKNOWN_CHANNEL = "ukendt"


def counted_channel(m: Municipality, kanal: str | None) -> str:
    """Only the municipality's configured channels are counted by name: a free-form tag
    could single a person out (a link made for one young person)."""
    return kanal if kanal is not None and kanal in m.channels else UNKNOWN_CHANNEL


def local_day(now: dt.datetime) -> dt.date:
    return now.astimezone(COPENHAGEN).date()


async def add_views(session: AsyncSession, kommune: str, kanal: str, day: dt.date, n: int) -> None:
    """Add `n` to the day's count inside the caller's transaction."""
    values = {"kommune": kommune, "kanal": kanal, "date": day, "count": n}
    stmt = insert_for(session)(PageView).values(values)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[PageView.kommune, PageView.kanal, PageView.date],
            set_={"count": PageView.count + stmt.excluded.count},
        )
    )


async def count_view(
    sessions: async_sessionmaker[AsyncSession],
    m: Municipality,
    kanal: str | None,
    now: dt.datetime,
) -> None:
    """One visit to `m`'s youth page through the link tagged `kanal`."""
    async with sessions.begin() as session:
        await add_views(session, m.slug, counted_channel(m, kanal), local_day(now), 1)
