"""The application service endpoint: where each homeserver pushes its room events.

A transaction is acknowledged only after its events are handled (persisted, with slow
work scheduled). Events are deduplicated by event id (bots/events.py), not by the
transaction's id: Synapse on SQLite numbers transactions from 1 again after a restart,
so a transaction id says nothing about what was already handled. Each homeserver is
told apart by the hs_token it presents.

What a homeserver pushes is checked before anything reads it: a body that is not a
transaction is refused (400), a malformed event is skipped without stopping the others,
and a homeserver or database that is away answers 503, so the homeserver delivers the
transaction again (what was done is not done twice). An event the homeserver never
delivers at all is found by the catch-up (bots/catch_up.py).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from bots.keys import BOT
from bots.matrix.links import HomeserverLink
from bots.outages import is_outage

log = structlog.get_logger(__name__)
HOMESERVER: web.RequestKey[HomeserverLink] = web.RequestKey("homeserver", HomeserverLink)
# A transaction holds at most 100 events and 100 ephemeral ones (Synapse); an event is at
# most 64 KiB. Only a homeserver with our hs_token gets as far as sending a body.
MAX_TRANSACTION_BYTES = 16 * 1024 * 1024


def matrix_error(status: int, errcode: str, error: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": error}, status=status)


def _homeserver_of(request: web.Request) -> HomeserverLink | None:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else None
    token = token or request.query.get("access_token")  # homeservers before spec v1.4
    for link in request.config_dict[BOT].homeservers:
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


def _list(body: dict[str, Any], *keys: str) -> list[Any]:
    """The first of `keys` present in the transaction, which must be a list."""
    for key in keys:
        if key in body:
            value = body[key]
            if not isinstance(value, list):
                raise web.HTTPBadRequest(reason=f"'{key}' must be a list")
            return value
    return []


async def transaction(request: web.Request) -> web.Response:
    link = request[HOMESERVER]
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # RecursionError: nested beyond reason
        return matrix_error(400, "M_NOT_JSON", "transaction body is not JSON")
    if not isinstance(body, dict):
        return matrix_error(400, "M_BAD_JSON", "a transaction is a JSON object")
    try:
        events = _list(body, "events")
        # Typing and read receipts (the registration asks for them with receive_ephemeral).
        ephemeral = _list(body, "ephemeral", "de.sorunome.msc2409.ephemeral")
    except web.HTTPBadRequest as exc:
        return matrix_error(400, "M_BAD_JSON", exc.reason)
    request.config_dict[BOT].catch_up.saw_transaction(link.id, request.match_info["txn_id"])
    router = request.config_dict[BOT].router
    try:
        await router.handle_events(link, events)
        for edu in ephemeral:
            try:
                await router.handle_ephemeral(link, edu)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.exception("ephemeral_event_failed")
    except Exception as exc:
        if not is_outage(exc):
            raise
        log.warning("transaction_deferred", homeserver=link.id, error=type(exc).__name__)
        return matrix_error(503, "M_UNAVAILABLE", "try again later")
    return web.json_response({})


async def not_ours(request: web.Request) -> web.Response:
    """User and alias queries: the bot creates its accounts and aliases itself, on demand."""
    return matrix_error(404, "M_NOT_FOUND", "not provided by this application service")


async def ping(request: web.Request) -> web.Response:
    return web.json_response({})


def create_appservice_app() -> web.Application:
    app = web.Application(middlewares=[authenticated], client_max_size=MAX_TRANSACTION_BYTES)
    app.router.add_put("/transactions/{txn_id}", transaction)
    app.router.add_get("/users/{user_id}", not_ours)
    app.router.add_get("/rooms/{alias}", not_ours)
    app.router.add_post("/ping", ping)
    return app
