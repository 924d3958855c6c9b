"""The intake API: the only thing a young person's browser talks to.

Described in schemas/intake-openapi.yaml. The browser never reaches the homeserver; it
holds one opaque session token that opens its own conversation and nothing else.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from bots.config.model import Municipality
from bots.conversation.admission import Busy
from bots.conversation.machine import SetupFailed
from bots.conversation.urgency import answered_in_danger
from bots.db.models import utcnow
from bots.intake.conversation_routes import add_conversation_routes
from bots.intake.errors import RETRY_AFTER_MS, ApiError, error_middleware
from bots.intake.guard import request_guard
from bots.intake.info import municipality_info
from bots.intake.letter_routes import add_letter_routes
from bots.intake.limits import LIMITS, ConversationLimits
from bots.intake.page_views import VIEWS, ViewCounting, count_view
from bots.intake.request_context import (
    counted_kanal,
    json_object,
    language,
    municipality_or_404,
    request_address,
    validated_answers,
)
from bots.keys import BOT, CONFIG, RATE_LIMITER, SESSIONS
from bots.matrix.links import NotProvisioned

log = structlog.get_logger(__name__)


async def get_municipality(request: web.Request) -> web.Response:
    """The page asks once per visit with `view=1` and its `kanal` (counted by the stats);
    a reload or resumed conversation asks without `view`. A view counts only when the
    page itself asks (see bots/intake/page_views.py), a few per address a day at most."""
    m = municipality_or_404(request, request.match_info["slug"])
    config, duty = request.config_dict[CONFIG], request.config_dict[BOT].duty
    now = utcnow()
    if request.query.get("view") == "1" and request.config_dict[VIEWS].counts(
        m, request.headers.get("Sec-Fetch-Site"), request_address(request)
    ):
        try:  # a visit that is not counted must not keep the page from loading
            await count_view(request.config_dict[SESSIONS], m, request.query.get("kanal"), now)
        except Exception:
            log.exception("page_view_not_counted", kommune=m.slug)
    return web.json_response(await municipality_info(config, duty, m, language(request), now))


def came_by(request: web.Request, m: Municipality, body: dict[str, Any]) -> Municipality | None:
    """The municipality whose link the youth came by, when they accepted its partner's chat."""
    slug = body.get("overflow_from")
    if slug is None:
        return None
    if not isinstance(slug, str):
        raise ApiError(400, "M_BAD_JSON", "'overflow_from' must be a municipality slug or null")
    origin = municipality_or_404(request, slug)
    if m.slug not in origin.partners:
        raise ApiError(
            400, "M_INVALID_PARAM", f"overflow_from: {m.slug!r} is not a partner of {slug!r}"
        )
    return origin


async def start_conversation(request: web.Request) -> web.Response:
    body = await json_object(request)
    if not isinstance(body.get("kommune"), str):
        raise ApiError(400, "M_BAD_JSON", "'kommune' is required and must be a string")
    m = municipality_or_404(request, body["kommune"])
    origin = came_by(request, m, body)
    # The link's channel and the questions answered are the origin's: it keeps the credit.
    counted = origin or m
    kanal = counted_kanal(counted, body)
    answers = validated_answers(counted, body.get("answers"))
    now = utcnow()
    if not m.opening_hours.is_open(now):
        nxt = m.opening_hours.next_opening(now)
        raise ApiError(
            409,
            "DK_UNGECHAT_CLOSED",
            "the chat is closed now",
            next_opening=nxt.isoformat() if nxt else None,
        )
    if not request.config_dict[RATE_LIMITER].allow(request_address(request)):
        raise ApiError(429, "M_LIMIT_EXCEEDED", "too many new conversations; try again later")
    try:
        conv_id, token = await request.config_dict[BOT].conversations.start(
            m, kanal, answers, overflow_from=origin.slug if origin else None
        )
    except (SetupFailed, NotProvisioned, Busy) as exc:
        raise ApiError(
            503,
            "M_UNAVAILABLE",
            "the chat cannot start a conversation right now",
            retry_after_ms=RETRY_AFTER_MS,
        ) from exc
    if answered_in_danger(answers):
        # The answer is the youth's: first in the queue, told what to do if it cannot wait.
        bot = request.config_dict[BOT]
        bot.tasks.spawn(bot.urgency.mark(conv_id), name=f"urgent-{conv_id}")
    return web.json_response({"conversation": conv_id, "token": token}, status=201)


def create_intake_app() -> web.Application:
    # The guard runs inside the error middleware, so its refusals have Matrix's shape.
    # (A sub-app's client_max_size is not used: request_context.json_object limits bodies.)
    app = web.Application(middlewares=[error_middleware, request_guard])
    app[LIMITS] = ConversationLimits()
    app[VIEWS] = ViewCounting()
    app.router.add_get("/kommuner/{slug}", get_municipality)
    app.router.add_post("/conversations", start_conversation)
    add_conversation_routes(app)
    add_letter_routes(app)
    return app
