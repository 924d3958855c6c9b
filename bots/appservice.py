"""The application service endpoint: where each homeserver pushes its room events.

A transaction is acknowledged only after its events are handled (persisted, with slow
work scheduled), and a transaction id already handled is acknowledged without handling
it again. Each homeserver is told apart by the hs_token it presents.
"""

from __future__ import annotations

import datetime as dt
import hmac

import structlog
from aiohttp import web
from sqlalchemy import delete, select

from bots.db.models import AppserviceTransaction
from bots.db.repo import utcnow
from bots.keys import LINKS, ROUTER, SESSIONS
from bots.matrix.links import HomeserverLink

log = structlog.get_logger(__name__)
KEEP_TRANSACTION_IDS = dt.timedelta(days=2)


def matrix_error(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


def authenticate(request: web.Request) -> HomeserverLink | web.Response:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    token = token or request.query.get("access_token")  # homeservers before spec v1.4
    if not token:
        return matrix_error(401, "M_UNAUTHORIZED", "missing hs_token")
    for link in request.config_dict[LINKS].values():
        if hmac.compare_digest(token.encode(), link.registration.hs_token.encode()):
            return link
    return matrix_error(403, "M_FORBIDDEN", "unknown hs_token")


async def transaction(request: web.Request) -> web.Response:
    link = authenticate(request)
    if isinstance(link, web.Response):
        return link
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
    link = authenticate(request)
    if isinstance(link, web.Response):
        return link
    return matrix_error(404, "M_NOT_FOUND", "not provided by this application service")


async def ping(request: web.Request) -> web.Response:
    link = authenticate(request)
    if isinstance(link, web.Response):
        return link
    return web.json_response({})


def create_appservice_app() -> web.Application:
    app = web.Application()
    app.router.add_put("/transactions/{txn_id}", transaction)
    app.router.add_get("/users/{user_id}", not_ours)
    app.router.add_get("/rooms/{alias}", not_ours)
    app.router.add_post("/ping", ping)
    return app
