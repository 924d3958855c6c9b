"""Metrics for operations, in Prometheus' format, on a listener of their own (config key
`metrics: {host, port}`), so the addresses young people use never expose them.

- ungechat_conversations{kommune,state}: waiting and active now, and
  ungechat_oldest_wait_seconds{kommune}: how long the longest waiter has waited;
- ungechat_wait_seconds{kommune}: a histogram of how long young people waited for a
  counsellor, over every ended conversation;
both read from the database at scrape time, so every replica reports the same
(ungechat_database_up says whether that worked);
- ungechat_intake_request_seconds{route,method}: how long this replica took to answer
  the youth page and the intake API (the event stream excluded: it lasts as long as
  the conversation).
No label holds anything about a young person: only municipality, route and method.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.states import SHOWN_ACTIVE, SHOWN_WAITING, State
from bots.db.models import Conversation, ConversationStats, utcnow
from bots.keys import CONFIG, SESSIONS

log = structlog.get_logger(__name__)

WAIT_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
STATES = {"waiting": SHOWN_WAITING, "active": SHOWN_ACTIVE}
# Paths whose answer time is worth watching: what young people's browsers ask for.
TIMED_PREFIXES = ("/api/", "/k/")


@dataclass
class Snapshot:
    """What the database said at the last scrape."""

    live: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest_wait: dict[str, float] = field(default_factory=dict)
    # kommune → (cumulative counts per bucket, count, sum)
    waits: dict[str, tuple[list[int], int, float]] = field(default_factory=dict)
    database_up: bool = False


class Metrics:
    def __init__(self, kommuner: Sequence[str]) -> None:
        self.kommuner = list(kommuner)
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "ungechat_intake_request_seconds",
            "Time to answer a request from the youth page or the intake API.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.snapshot = Snapshot()
        self.registry.register(_FromDatabase(self))
        self.port: int | None = None  # the metrics listener's, once it listens

    async def refresh(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        snap = Snapshot()
        now = utcnow()
        async with sessions() as session:
            rows = await session.execute(
                select(Conversation.kommune, Conversation.state, func.count())
                .where(Conversation.state.in_([s for group in STATES.values() for s in group]))
                .group_by(Conversation.kommune, Conversation.state)
            )
            for kommune, state, n in rows:
                group = next(g for g, states in STATES.items() if state in states)
                snap.live[(kommune, group)] = snap.live.get((kommune, group), 0) + n
            oldest = await session.execute(
                select(Conversation.kommune, func.min(Conversation.waiting_since))
                .where(Conversation.state == State.WAITING)
                .group_by(Conversation.kommune)
            )
            for kommune, since in oldest:
                if since is not None:
                    since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)
                    snap.oldest_wait[kommune] = max(0.0, (now - since).total_seconds())
            wait = ConversationStats.wait_seconds
            buckets = [func.sum(case((wait <= b, 1), else_=0)) for b in WAIT_BUCKETS]
            hist = await session.execute(
                select(ConversationStats.kommune, func.count(wait), func.sum(wait), *buckets)
                .where(wait.is_not(None))
                .group_by(ConversationStats.kommune)
            )
            for kommune, n, total, *cumulative in hist:
                snap.waits[kommune] = ([int(c or 0) for c in cumulative], int(n), float(total or 0))
        snap.database_up = True
        self.snapshot = snap


class _FromDatabase(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        snap, kommuner = self.metrics.snapshot, self.metrics.kommuner
        live = GaugeMetricFamily(
            "ungechat_conversations", "Conversations now, by state.", labels=["kommune", "state"]
        )
        oldest = GaugeMetricFamily(
            "ungechat_oldest_wait_seconds",
            "How long the young person who has waited longest has waited.",
            labels=["kommune"],
        )
        waits = HistogramMetricFamily(
            "ungechat_wait_seconds",
            "How long young people waited for a counsellor (ended conversations).",
            labels=["kommune"],
        )
        for k in sorted(set(kommuner) | {k for k, _ in snap.live} | set(snap.waits)):
            for state in STATES:
                live.add_metric([k, state], snap.live.get((k, state), 0))
            oldest.add_metric([k], snap.oldest_wait.get(k, 0.0))
            counts, n, total = snap.waits.get(k, ([0] * len(WAIT_BUCKETS), 0, 0.0))
            edges = [(str(float(b)), c) for b, c in zip(WAIT_BUCKETS, counts, strict=True)]
            waits.add_metric([k], [*edges, ("+Inf", n)], total)
        up = GaugeMetricFamily(
            "ungechat_database_up", "1 if this scrape could read the database, else 0."
        )
        up.add_metric([], 1.0 if snap.database_up else 0.0)
        yield from (live, oldest, waits, up)

    def describe(self) -> Iterator[Metric]:
        return iter(())


METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def request_timer(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Times the youth-facing routes; labelled by route pattern, never by path or client."""
    info = request.match_info.route.resource
    route = info.canonical if info is not None else "unmatched"
    timed = request.path.startswith(TIMED_PREFIXES) and not route.endswith("/events")
    start = time.perf_counter()
    try:
        return await handler(request)
    finally:
        if timed:
            histogram = request.config_dict[METRICS].request_seconds
            histogram.labels(route, request.method).observe(time.perf_counter() - start)


async def scrape(request: web.Request) -> web.Response:
    app = request.app[MAIN_APP]
    metrics = app[METRICS]
    try:
        await metrics.refresh(app[SESSIONS])
    except Exception:  # a database that is down must not hide the request metrics
        log.exception("metrics_refresh_failed")
        metrics.snapshot = Snapshot()  # say so (database_up 0) rather than show old numbers
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


MAIN_APP: web.AppKey[web.Application] = web.AppKey("main_app", web.Application)


async def metrics_listener(app: web.Application) -> AsyncIterator[None]:
    """The metrics on their own address (config `metrics`), for the app's lifetime."""
    listen = app[CONFIG].metrics
    if listen is None:
        yield
        return
    metrics_app = web.Application()
    metrics_app[MAIN_APP] = app
    metrics_app.router.add_get("/metrics", scrape)
    runner = web.AppRunner(metrics_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, listen.host, listen.port).start()
    app[METRICS].port = runner.addresses[0][1]
    log.info("metrics_listening", host=listen.host, port=app[METRICS].port)
    try:
        yield
    finally:
        await runner.cleanup()
