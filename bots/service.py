"""The running service: one aiohttp server with the appservice endpoint, the intake API
and the youth page as separate sub-apps, and explicit lifetimes for what they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from bots.appservice import create_appservice_app
from bots.catch_up import CatchUp
from bots.config import Config
from bots.db.engine import ensure_schema, make_engine, make_sessionmaker
from bots.db.repo import utcnow
from bots.events import EventRouter
from bots.intake.api import create_intake_app
from bots.intake.pages import add_page_routes
from bots.intake.ratelimit import RateLimiter
from bots.keys import (
    CATCH_UP,
    CONFIG,
    CONVERSATIONS,
    DUTY,
    LINKS,
    RATE_LIMITER,
    ROUTER,
    SESSIONS,
    SIGNALS,
    TASKS,
)
from bots.lifecycle import Conversations
from bots.maintenance import Maintenance
from bots.matrix.errors import MatrixError
from bots.matrix.links import HomeserverLink
from bots.metrics import METRICS, Metrics, metrics_listener, request_timer
from bots.signals import Signals
from bots.tasks import BackgroundTasks

log = structlog.get_logger(__name__)
MAINTENANCE_SECONDS = 30


async def database(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[CONFIG].database)
    await ensure_schema(engine)
    app[SESSIONS] = make_sessionmaker(engine)
    yield
    await engine.dispose()


async def homeservers(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[LINKS] = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    yield
    for link in app[LINKS].values():
        await link.close()


async def conversations(app: web.Application) -> AsyncIterator[None]:
    tasks = BackgroundTasks()
    app[TASKS] = tasks
    convs = Conversations(app[CONFIG], app[SESSIONS], app[LINKS], app[SIGNALS], tasks)
    app[CONVERSATIONS] = convs
    app[DUTY] = convs.duty
    router = EventRouter(convs)
    app[ROUTER] = router
    catch_up = CatchUp(convs, router)
    app[CATCH_UP] = catch_up
    loop = asyncio.create_task(maintenance_loop(catch_up, Maintenance(convs)), name="maintenance")
    yield
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop
    await tasks.cancel_all()


async def maintenance_loop(catch_up: CatchUp, maintenance: Maintenance) -> None:
    """Each pass: first read what the homeservers did not push (at start-up: what happened
    while the bot was down), then resume everything a crash left under way (at start-up
    all of it, later what is stale), then keep the clock-driven rules."""
    stale_only = False
    while True:
        try:
            await catch_up.run()
        except Exception:
            log.exception("catch_up_failed")
        try:
            await maintenance.run(stale_only=stale_only)
            stale_only = True
        except Exception:
            # A homeserver that is down must not stop the bot; the next round tries again.
            log.exception("maintenance_failed")
        pause = float(MAINTENANCE_SECONDS)
        if (due := maintenance.next_due()) is not None:
            pause = min(pause, max(5.0, (due - utcnow()).total_seconds() + 0.5))
        await asyncio.sleep(pause)


async def announce_up(link: HomeserverLink) -> None:
    """Ask the homeserver to ping us. A homeserver that could not reach the bot while it
    was down backs off for up to minutes before it pushes again; a successful ping makes
    it deliver what is queued at once (the appservice ping of spec v1.7)."""
    try:
        await link.bot.ping_appservice(link.registration.id)
        log.info("homeserver_reaches_us", homeserver=link.id)
    except MatrixError as exc:
        log.warning("homeserver_cannot_reach_us", homeserver=link.id, error=exc.errcode)


async def health(request: web.Request) -> web.Response:
    """The bot is up (200) and says which homeservers it can reach: one that is down
    stops only its own municipalities, and shows here rather than as a crash."""
    links = request.config_dict[LINKS]
    reachable = await asyncio.gather(*(link.bot.reachable() for link in links.values()))
    homeservers = {
        hs_id: "ok" if ok else "unreachable" for hs_id, ok in zip(links, reachable, strict=True)
    }
    return web.json_response({"status": "ok", "homeservers": homeservers})


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[request_timer])
    app[CONFIG] = config
    app[SIGNALS] = Signals()
    app[RATE_LIMITER] = RateLimiter(max_starts=config.starts_per_address_per_hour)
    app[METRICS] = Metrics([m.slug for m in config.municipalities])
    app.cleanup_ctx.extend([database, homeservers, conversations, metrics_listener])
    app.add_subapp("/_matrix/app/v1", create_appservice_app())
    app.add_subapp("/api/v1", create_intake_app())
    add_page_routes(app)
    app.router.add_get("/healthz", health)
    return app


@contextlib.asynccontextmanager
async def running(
    config: Config, host: str, port: int
) -> AsyncIterator[tuple[web.Application, int]]:
    """Serve the app until the block ends; yields the app and the port it listens on."""
    app = create_app(config)
    # No access log: it would record young people's addresses and user agents.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when 0 asked the OS for a free one
    log.info("listening", host=host, port=bound)
    await asyncio.gather(*(announce_up(link) for link in app[LINKS].values()))
    try:
        yield app, bound
    finally:
        await runner.cleanup()
