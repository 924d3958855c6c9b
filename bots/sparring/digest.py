"""The network digest: when a week, month or quarter ends, the bot posts the network's
anonymous numbers to a sparring room, so the PR groups' exchange has figures to talk
from: conversations per municipality, the most common topics, and the channels that
brought young people.

The numbers are those of the quarterly report (bots/stats): counted from the anonymous
stats rows and suppressed together, so a count under 5 reads "<5" and a hidden cell
cannot be recovered by subtraction. Topics and channels are named in order of their
published counts, without numbers. The schedule lives in the `digests` table: one
replica at a time holds a lease on a period's digest, so it is posted once. It is posted
by the bot of the room's own homeserver, or of another that is in the room when that
one is down (see bots/case_notes.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import structlog
from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.hours import COPENHAGEN, MONTH_NAMES
from bots.config.model import UNKNOWN_CHANNEL, Config, DigestSchedule
from bots.db.models import Digest, utcnow
from bots.db.sql import insert_for, rows_changed
from bots.matrix.links import Homeservers
from bots.sparring.case_notes import post_in_sparring_room
from bots.stats.cube import cell
from bots.stats.figures import NO_TOPIC, OTHER_TOPIC, Publication, build
from bots.stats.labels import channel, number, topic
from bots.stats.period import Period, danish_date
from bots.stats.query import load_period

log = structlog.get_logger(__name__)
NAMED = 3  # topics and channels named in a digest
# A replica that claimed a digest and died holds it this long; then another posts it.
CLAIM_LEASE = dt.timedelta(minutes=10)


def last_complete(every: str, now: dt.datetime) -> Period:
    """The most recent whole week, month or quarter before `now` (Danish time)."""
    today = now.astimezone(COPENHAGEN).date()
    if every == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    if every == "month":
        first = today.replace(day=1)
        end = first - dt.timedelta(days=1)
        return Period(end.replace(day=1), end)
    current = Period.quarter_of(today)
    return Period.quarter_of(current.start - dt.timedelta(days=1))


def title(every: str, period: Period) -> str:
    if every == "week":
        week = period.start.isocalendar().week
        if period.start.month == period.end.month:
            month = MONTH_NAMES["da"][period.end.month - 1]
            days = f"{period.start.day}.–{period.end.day}. {month} {period.end.year}"
        else:
            days = f"{danish_date(period.start)} – {danish_date(period.end)}"
        return f"uge {week} ({days})"
    if every == "month":
        return f"{MONTH_NAMES['da'][period.start.month - 1]} {period.start.year}"
    return period.title()


def ranked(pub: Publication, measure: str, dim: str, skip: set[str]) -> list[str]:
    """Categories by their published counts summed over municipalities (hidden ones add
    nothing), for naming the most common without giving a number."""
    totals: Counter[str] = Counter()
    for k in pub.kommuner:
        for category in pub.cats(dim, k):
            shown = pub.shown(cell(measure, k, **{dim: category}))
            if category not in skip and isinstance(shown, int) and shown > 0:
                totals[category] += shown
    return [name for name, _ in totals.most_common(NAMED)]


def compose(pub: Publication, every: str) -> str:
    total = pub.shown(cell("samtaler", "*"))
    parts = [
        f"{pub.municipality(k).name.removesuffix(' Kommune')} "
        f"{number(pub.shown(cell('samtaler', k)))}"
        for k in pub.kommuner
    ]
    lines = [
        f"📊 Netværkets tal for {title(every, pub.period)}",
        f"Samtaler: {number(total)} i alt – {', '.join(parts)}.",
    ]
    topics = ranked(pub, "emne", "emne", {NO_TOPIC, OTHER_TOPIC})
    if topics:
        lines.append(f"Flest handlede om: {', '.join(topic(t).lower() for t in topics)}.")
    channels = ranked(pub, "samtaler", "kanal", {UNKNOWN_CHANNEL})
    if channels:
        lines.append(f"Flest unge kom via: {', '.join(channel(c) for c in channels)}.")
    lines.append(
        "Tal under 5 står som <5 og x står for et skjult tal, så ingen kan genkendes. "
        "Hele rapporten: ungechat stats."
    )
    return "\n".join(lines)


class Digests:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        homeservers: Homeservers,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.homeservers = homeservers

    @property
    def schedule(self) -> DigestSchedule | None:
        return self.config.digest

    async def post_due(self, now: dt.datetime | None = None) -> bool:
        """Post the digest of the period that ended last, unless it is posted already or
        another replica is posting it."""
        schedule = self.schedule
        if schedule is None:
            return False
        now = now or utcnow()
        period = last_complete(schedule.every, now)
        if not await self._claim(schedule.room, period, now):
            return False
        config = self.config
        try:
            rows, views = await load_period(
                self.sessions, period, [m.slug for m in config.municipalities]
            )
            # Suppression solves small integer programs: off the event loop.
            pub = await asyncio.to_thread(build, config, period, rows, views)
            await self._send(config, schedule, period, compose(pub, schedule.every))
        except BaseException:
            await self._set(schedule.room, period, claimed_at=None)  # the next pass tries
            raise
        await self._set(schedule.room, period, posted_at=utcnow())
        log.info("digest_posted", room=schedule.room, period=period.label())
        return True

    async def _claim(self, room: str, period: Period, now: dt.datetime) -> bool:
        """True if this replica is now the one to post the period's digest: the row
        exists, nobody posted it, and nobody holds a lease on it that is still running."""
        async with self.sessions.begin() as session:
            await session.execute(
                insert_for(session)(Digest)
                .values(room=room, period_start=period.start, period_end=period.end)
                .on_conflict_do_nothing()
            )
            claimed = await session.execute(
                update(Digest)
                .where(
                    *_key(room, period),
                    Digest.posted_at.is_(None),
                    or_(Digest.claimed_at.is_(None), Digest.claimed_at < now - CLAIM_LEASE),
                )
                .values(claimed_at=now)
            )
        return rows_changed(claimed) == 1

    async def _set(self, room: str, period: Period, **values: dt.datetime | None) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(Digest).where(*_key(room, period)).values(**values))

    async def _send(
        self, config: Config, schedule: DigestSchedule, period: Period, text: str
    ) -> None:
        """Through the bot of the room's own homeserver, or, when that one is down, of any
        other of ours that is in the room: its homeserver delivers it when the host is back."""
        room = next(r for r in config.sparring_rooms if r.id == schedule.room)
        content = {"msgtype": "m.text", "body": text}
        txn = f"digest-{room.id}-{period.label()}"
        host = self.homeservers.get(room.homeserver)
        await post_in_sparring_room(self.homeservers, room, content, txn, [host])


def _key(room: str, period: Period) -> tuple:
    return (
        Digest.room == room,
        Digest.period_start == period.start,
        Digest.period_end == period.end,
    )
