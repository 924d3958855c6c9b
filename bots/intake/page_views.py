"""Counting youth-page views for the channel funnel (page views → started → answered).

The youth page asks `GET /api/v1/kommuner/{slug}?kanal=…&view=1` once per visit. We add
one to the day's count for (municipality, channel): a number, never a record of the
visit, and nothing about the visitor (no address, no user agent, no time of day).
The increment is one `INSERT … ON CONFLICT DO UPDATE` statement, atomic on SQLite and
PostgreSQL alike, so any number of intake replicas can count at once without losing one.

The funnel's first figure must be hard to inflate without tracking anyone, so a view is
counted only (1) when the page itself asks (the browser's `Sec-Fetch-Site: same-origin`;
another website, a script without it or an old browser is not counted) and (2) for at
most VIEWS_PER_ADDRESS_PER_DAY per client address (an IPv6 /64) and municipality a day,
remembered in memory only as a keyed hash under a salt that changes daily
(bots/intake/ratelimit.py). The price: a school class behind one address counts as a
few views, so the figure is a floor and a channel's starts can exceed its views.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.hours import COPENHAGEN
from bots.config.model import Municipality
from bots.db.models import PageView
from bots.db.sql import insert_for
from bots.intake.ratelimit import DailyAllowance

VIEWS_PER_ADDRESS_PER_DAY = 5


class ViewCounting:
    """Which page views count (see the module's text); one per intake replica."""

    def __init__(self, per_address_per_day: int = VIEWS_PER_ADDRESS_PER_DAY) -> None:
        self.allowance = DailyAllowance(per_day=per_address_per_day)

    def counts(self, m: Municipality, fetch_site: str | None, address: str) -> bool:
        if fetch_site != "same-origin":
            return False
        return self.allowance.allow(address, m.slug)


VIEWS: web.AppKey[ViewCounting] = web.AppKey("view_counting")


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
        await add_views(session, m.slug, m.counted_channel(kanal), local_day(now), 1)
