"""What every intake route needs from a request: its language, a municipality, a JSON
body, and the conversation its session token opens."""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

from bots.config import Municipality
from bots.db.models import Conversation, State
from bots.feedback import hash_token
from bots.intake.errors import ApiError
from bots.keys import CONFIG, CONVERSATIONS

OPEN_STATES = (State.REQUESTED, State.WAITING, State.CLAIMING, State.ACTIVE, State.TRANSFERRING)


def language(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "da"


def municipality_or_404(request: web.Request, slug: Any) -> Municipality:
    municipality = request.config_dict[CONFIG].municipality(slug) if isinstance(slug, str) else None
    if municipality is None:
        raise ApiError(404, "M_NOT_FOUND", f"unknown municipality: {slug!r}")
    return municipality


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "M_NOT_JSON", "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "M_BAD_JSON", "the request body must be a JSON object")
    return body


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not token:
        raise ApiError(401, "M_MISSING_TOKEN", "missing 'Authorization: Bearer <token>'")
    return token


async def body_or_bearer_token(request: web.Request) -> str:
    """The token from `Authorization: Bearer …` or, without that header, from a JSON body
    `{"token": …}`: a beacon (`navigator.sendBeacon`, sent as the page goes away) cannot
    set headers. Nothing ambient proves anything here (no cookies), so another site that
    posts such a body still has to know the token."""
    if request.headers.get("Authorization") or not request.body_exists:
        return bearer_token(request)
    token = (await json_object(request)).get("token")
    if not isinstance(token, str) or not token:
        raise ApiError(
            401, "M_MISSING_TOKEN", "missing 'Authorization: Bearer <token>' or a 'token' string"
        )
    return token


async def authorized(request: web.Request, *, token: str | None = None) -> Conversation:
    """The conversation the bearer token (or the `token` given) opens; 404 if gone, 403 if
    not this token's."""
    token = token if token is not None else bearer_token(request)
    conv = await request.config_dict[CONVERSATIONS].repo.get(request.match_info["conversation"])
    if conv is None or conv.token_hash is None:
        raise ApiError(404, "M_NOT_FOUND", "no such conversation, or it has ended")
    if not hmac.compare_digest(conv.token_hash, hash_token(token)):
        raise ApiError(403, "M_FORBIDDEN", "this token does not open this conversation")
    return conv


async def open_conversation(request: web.Request) -> Conversation:
    """As `authorized`, and still going (409 once it has ended)."""
    conv = await authorized(request)
    if conv.state not in OPEN_STATES or not conv.room_id or not conv.youth_user_id:
        raise ApiError(409, "DK_UNGECHAT_ENDED", "the conversation has ended")
    return conv
