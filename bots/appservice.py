"""The application service endpoint: where each homeserver pushes its room events.

A transaction is acknowledged only after its events are handled (persisted, with slow
work scheduled), and a transaction id already handled is acknowledged without handling
it again. Each homeserver is told apart by the hs_token it presents.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import delete, select

from bots.db.models import AppserviceTransaction
from bots.db.repo import utcnow
from bots.keys import CONVERSATIONS, LINKS, SESSIONS
from bots.lifecycle import Conversations
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
    conversations = request.config_dict[CONVERSATIONS]
    for event in body.get("events", []):
        await handle_event(conversations, link, event)
    # Typing and read receipts (the registration asks for them with receive_ephemeral).
    for edu in body.get("ephemeral", body.get("de.sorunome.msc2409.ephemeral", [])):
        await handle_ephemeral(conversations, link, edu)
    async with sessions.begin() as session:
        session.add(AppserviceTransaction(homeserver=link.id, txn_id=txn_id, handled_at=utcnow()))
        # Forget old ids; a homeserver never retries a transaction that old.
        await session.execute(
            delete(AppserviceTransaction).where(
                AppserviceTransaction.handled_at < utcnow() - KEEP_TRANSACTION_IDS
            )
        )
    return web.json_response({})


async def handle_event(
    conversations: Conversations, link: HomeserverLink, event: dict[str, Any]
) -> None:
    event_type = event.get("type")
    room_id = event.get("room_id")
    sender = event.get("sender")
    content = event.get("content") or {}
    if not isinstance(room_id, str) or not isinstance(sender, str):
        return
    if event_type == "m.room.member":
        member = event.get("state_key")
        if (
            content.get("membership") == "join"
            and isinstance(member, str)
            and not link.registration.owns_user(member)
        ):
            await conversations.on_counsellor_join(room_id, member)
    elif event_type == "m.room.message":
        await conversations.on_room_message(room_id, sender, content)


async def handle_ephemeral(
    conversations: Conversations, link: HomeserverLink, edu: dict[str, Any]
) -> None:
    room_id = edu.get("room_id")
    content = edu.get("content") or {}
    if not isinstance(room_id, str) or not isinstance(content, dict):
        return
    if edu.get("type") == "m.typing":
        typing = [u for u in content.get("user_ids") or [] if isinstance(u, str)]
        counsellors = [u for u in typing if not link.registration.owns_user(u)]
        await conversations.on_counsellor_typing(room_id, bool(counsellors))
    elif edu.get("type") == "m.receipt":
        for event_id, kinds in content.items():
            readers = {**(kinds.get("m.read") or {}), **(kinds.get("m.read.private") or {})}
            if any(not link.registration.owns_user(u) for u in readers):
                await conversations.on_counsellor_read(room_id, event_id)


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
