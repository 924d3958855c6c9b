"""The running service: one aiohttp server with the appservice endpoint, the intake API
and the youth page as separate sub-apps, and explicit lifetimes for what they share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from bots.appservice.endpoint import create_appservice_app
from bots.assembly import Bot, assemble
from bots.config.model import Config
from bots.db.engine import ensure_schema, make_engine, make_sessionmaker
from bots.db.models import utcnow
from bots.intake.api import create_intake_app
from bots.intake.pages import add_page_routes
from bots.intake.ratelimit import RateLimiter
from bots.keys import (
    BOT,
    CODE_GUESSES,
    CONFIG,
    RATE_LIMITER,
    SESSIONS,
    SIGNALS,
    TASKS,
)
from bots.matrix.errors import MatrixError
from bots.matrix.links import HomeserverLink
from bots.metrics import METRICS, Metrics, metrics_listener, request_timer
from bots.signals import Signals
from bots.tasks import BackgroundTasks

log = structlog.get_logger(__name__)
MAINTENANCE_SECONDS = 30
SHUTDOWN_SECONDS = 10.0
PING_SECONDS = 10.0


async def database(app: web.Application) -> AsyncIterator[None]:
    engine = make_engine(app[CONFIG].database)
    await ensure_schema(engine)
    app[SESSIONS] = make_sessionmaker(engine)
    yield
    await engine.dispose()


async def change_listener(app: web.Application) -> AsyncIterator[None]:
    """On PostgreSQL, hear every replica's changes at once (bots/signals.py)."""
    url = app[CONFIG].database
    if not url.startswith(("postgresql", "postgres")):
        yield
        return
    task = asyncio.create_task(app[SIGNALS].listen_postgres(url), name="change-listener")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def homeserver_links(app: web.Application) -> AsyncIterator[None]:
    """One link per homeserver (the bot's gateway and the Admin API), closed at the end."""
    config = app[CONFIG]
    links = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    app[TASKS] = BackgroundTasks()
    app[BOT] = assemble(config, app[SESSIONS], links, app[SIGNALS], app[TASKS])
    yield
    for link in links.values():
        await link.close()


async def on_its_own(app: web.Application) -> AsyncIterator[None]:
    """The bot's own loop (bots/assembly.py `Bot.on_its_own`) and its watch on the
    homeservers; they and its background work are cancelled at the end."""
    loops = [
        asyncio.create_task(pass_after_pass(app[BOT]), name="on-its-own"),
        asyncio.create_task(app[BOT].homeservers.watch(), name="homeservers-answering"),
        asyncio.create_task(keep_pushes_coming(app[BOT]), name="keep-pushes-coming"),
    ]
    yield
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)
    await app[TASKS].cancel_all()


async def pass_after_pass(bot: Bot) -> None:
    """At start-up everything a crash left under way is resumed; later what is stale.
    The next pass comes after MAINTENANCE_SECONDS, or sooner when a step left to a
    process that may still be running it will count as abandoned."""
    stale_only = False
    while True:
        await bot.on_its_own(stale_only=stale_only)
        stale_only = True
        pause = float(MAINTENANCE_SECONDS)
        if (due := bot.maintenance.next_due()) is not None:
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


async def keep_pushes_coming(bot: Bot) -> None:
    """Ping every homeserver every PING_SECONDS. A homeserver that once failed to reach
    the bot (it was restarting, or answered 503 while its database was away) waits
    before it pushes again, doubling the wait up to minutes; a ping makes it retry at
    once. Cheap, and it bounds how long a counsellor's action can wait to be heard."""
    while True:
        await asyncio.sleep(PING_SECONDS)
        for link in bot.homeservers:
            try:
                await link.bot.ping_appservice(link.registration.id)
            except Exception as exc:  # a homeserver away: `/healthz` says so already
                log.debug("ping_failed", homeserver=link.id, error=type(exc).__name__)


async def health(request: web.Request) -> web.Response:
    """The bot is up (200) and says which homeservers answered when last asked (a few
    seconds ago): one that is down stops only its own municipalities, and shows here
    rather than as a crash. Answered at once, whatever the homeservers are doing."""
    answering = request.config_dict[BOT].homeservers.answering
    homeservers = {hs_id: "ok" if ok else "unreachable" for hs_id, ok in answering.items()}
    return web.json_response({"status": "ok", "homeservers": homeservers})


async def hand_over_streams(app: web.Application) -> None:
    """Shutting down: event streams end now, so their pages reconnect elsewhere, rather
    than being cut when the shutdown timeout runs out."""
    app[SIGNALS].shut_down()


def create_app(config: Config) -> web.Application:
    app = web.Application(middlewares=[request_timer])
    app[CONFIG] = config
    app[SIGNALS] = Signals()
    app[RATE_LIMITER] = RateLimiter(max_starts=config.starts_per_address_per_hour)
    app[CODE_GUESSES] = RateLimiter(max_starts=config.wrong_codes_per_address_per_hour)
    app[METRICS] = Metrics([m.slug for m in config.municipalities])
    app.on_shutdown.append(hand_over_streams)
    app.cleanup_ctx.extend(
        [database, change_listener, homeserver_links, on_its_own, metrics_listener]
    )
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
    # Requests under way get SHUTDOWN_SECONDS to finish; steps cut off after that are
    # resumed by another replica's maintenance (bots/conversation/maintenance.py).
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1]  # the real port when 0 asked the OS for a free one
    log.info("listening", host=host, port=bound)
    await asyncio.gather(*(announce_up(link) for link in app[BOT].homeservers))
    try:
        yield app, bound
    finally:
        await runner.cleanup()
