"""The application service endpoint: where each homeserver pushes its room events.

A transaction is acknowledged only after its events are handled (persisted, with slow
work scheduled), and a transaction id already handled is acknowledged without handling
it again. Each homeserver is told apart by the hs_token it presents.

A retry that arrives while the first delivery is still being handled (or at another
replica) may be handled twice; every handler is safe for that: state changes are
conditional, and what the bot sends uses transaction ids derived from the event it
answers, which the homeserver deduplicates.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from sqlalchemy import delete, select

from bots.db.models import AppserviceTransaction
from bots.db.repo import utcnow
from bots.keys import LINKS, ROUTER, SESSIONS
from bots.matrix.links import HomeserverLink

log = structlog.get_logger(__name__)
HOMESERVER: web.RequestKey[HomeserverLink] = web.RequestKey("homeserver", HomeserverLink)
KEEP_TRANSACTION_IDS = dt.timedelta(days=2)


def matrix_error(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


def _homeserver_of(request: web.Request) -> HomeserverLink | None:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    token = token or request.query.get("access_token")  # homeservers before spec v1.4
    for link in request.config_dict[LINKS].values():
        if token and hmac.compare_digest(token.encode(), link.registration.hs_token.encode()):
            return link
    return None


@web.middleware
async def authenticated(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every request must carry one of our homeservers' hs_token; it says which one."""
    if not request.headers.get("Authorization") and "access_token" not in request.query:
        return matrix_error(401, "M_UNAUTHORIZED", "missing hs_token")
    link = _homeserver_of(request)
    if link is None:
        return matrix_error(403, "M_FORBIDDEN", "unknown hs_token")
    request[HOMESERVER] = link
    return await handler(request)


async def transaction(request: web.Request) -> web.Response:
    link = request[HOMESERVER]
    txn_id = request.match_info["txn_id"]
    sessions = request.config_dict[SESSIONS]
    async with sessions() as session:
        seen = await session.scalar(
            select(AppserviceTransaction.txn_id).where(
                AppserviceTransaction.homeserver == link.id,
                AppserviceTransaction.txn_id == txn_id,
            )
        )
    if seen:
        return web.json_response({})
    try:
        body = await request.json()
    except ValueError:
        return matrix_error(400, "M_NOT_JSON", "transaction body is not JSON")
    router = request.config_dict[ROUTER]
    for event in body.get("events", []):
        await router.handle_event(link, event)
    # Typing and read receipts (the registration asks for them with receive_ephemeral).
    for edu in body.get("ephemeral", body.get("de.sorunome.msc2409.ephemeral", [])):
        await router.handle_ephemeral(link, edu)
    async with sessions.begin() as session:
        session.add(AppserviceTransaction(homeserver=link.id, txn_id=txn_id, handled_at=utcnow()))
        # Forget old ids; a homeserver never retries a transaction that old.
        await session.execute(
            delete(AppserviceTransaction).where(
                AppserviceTransaction.handled_at < utcnow() - KEEP_TRANSACTION_IDS
            )
        )
    return web.json_response({})


async def not_ours(request: web.Request) -> web.Response:
    """User and alias queries: the bot creates its accounts and aliases itself, on demand."""
    return matrix_error(404, "M_NOT_FOUND", "not provided by this application service")


async def ping(request: web.Request) -> web.Response:
    return web.json_response({})


def create_appservice_app() -> web.Application:
    app = web.Application(middlewares=[authenticated])
    app.router.add_put("/transactions/{txn_id}", transaction)
    app.router.add_get("/users/{user_id}", not_ours)
    app.router.add_get("/rooms/{alias}", not_ours)
    app.router.add_post("/ping", ping)
    return app
