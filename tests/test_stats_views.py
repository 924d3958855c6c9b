"""Counting youth-page views: several replicas counting at once lose nothing, on SQLite
and PostgreSQL; the day is Danish; only configured channels are counted by name;
nothing about the visitor is stored; and only the page itself counts, a few per address."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.load import parse_config
from bots.db.engine import make_engine, make_sessionmaker
from bots.db.models import PageView
from bots.intake.page_views import ViewCounting, count_view
from tests.offline_config import offline_config_data

CONFIG = parse_config(offline_config_data(), Path("/tmp"))
TESTBY = CONFIG.municipalities[0]
NOON = dt.datetime(2025, 8, 4, 10, 0, tzinfo=dt.UTC)


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple, int]:
    async with sessions() as session:
        rows = await session.execute(select(PageView))
        return {(v.kommune, v.kanal, v.date): v.count for v in rows.scalars()}


async def test_replicas_counting_at_once_lose_no_view(
    db_url: str, db_sessions: async_sessionmaker[AsyncSession]
) -> None:
    replicas = [make_engine(db_url) for _ in range(3)]
    try:
        per_replica = [make_sessionmaker(engine) for engine in replicas]
        visits = [
            count_view(sessions, TESTBY, "facebook", NOON)
            for sessions in per_replica
            for _ in range(40)
        ]
        await asyncio.gather(*visits)
    finally:
        for engine in replicas:
            await engine.dispose()
    assert await counts(db_sessions) == {("testby", "facebook", dt.date(2025, 8, 4)): 120}


async def test_channels_and_days_are_counted_as_the_report_reads_them(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    await count_view(db_sessions, TESTBY, "plakat", NOON)
    await count_view(db_sessions, TESTBY, "min-hemmelige-kode", NOON)  # not configured
    await count_view(db_sessions, TESTBY, None, NOON)  # no tag at all
    # 23:30 UTC on 4 August is 01:30 on 5 August in Copenhagen.
    await count_view(db_sessions, TESTBY, "plakat", dt.datetime(2025, 8, 4, 23, 30, tzinfo=dt.UTC))
    assert await counts(db_sessions) == {
        ("testby", "plakat", dt.date(2025, 8, 4)): 1,
        ("testby", "ukendt", dt.date(2025, 8, 4)): 2,
        ("testby", "plakat", dt.date(2025, 8, 5)): 1,
    }


async def test_a_view_is_a_number_with_nothing_about_the_visitor(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with db_sessions() as session:
        columns = await session.run_sync(
            lambda s: [c["name"] for c in inspect(s.connection()).get_columns("page_views")]
        )
    assert sorted(columns) == ["count", "date", "kanal", "kommune"]


def test_only_the_page_itself_is_counted_and_a_few_per_address() -> None:
    """The funnel's first figure cannot be inflated by another site, a script that leaves
    out the browser's fetch metadata, or one address asking again and again."""
    views = ViewCounting(per_address_per_day=5)
    other = dataclasses.replace(TESTBY, slug="nordby")
    assert not views.counts(TESTBY, None, "198.51.100.7")  # curl, a monitor, an old browser
    assert not views.counts(TESTBY, "cross-site", "198.51.100.7")
    assert not views.counts(TESTBY, "same-site", "198.51.100.7")
    assert [views.counts(TESTBY, "same-origin", "198.51.100.7") for _ in range(7)] == [
        *[True] * 5,
        False,
        False,
    ]
    assert views.counts(TESTBY, "same-origin", "198.51.100.8")  # the next address
    assert views.counts(other, "same-origin", "198.51.100.7")  # another municipality
