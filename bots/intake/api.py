"""The intake API: the only thing a young person's browser talks to.

Described in schemas/intake-openapi.yaml. The browser never reaches the homeserver; it
holds one opaque session token that opens its own conversation and nothing else.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

import structlog
from aiohttp import web

from bots.config import Municipality
from bots.db.models import Conversation, State
from bots.db.repo import utcnow
from bots.feedback import hash_token
from bots.hours import describe_next_opening
from bots.intake.errors import ApiError, error_middleware
from bots.intake.stream import status_of, stream_events
from bots.keys import CONFIG, CONVERSATIONS, RATE_LIMITER
from bots.lifecycle import SetupFailed
from bots.matrix.links import NotProvisioned

log = structlog.get_logger(__name__)
MAX_MESSAGE_CHARS = 4000
OPEN_STATES = (State.WAITING, State.CLAIMING, State.ACTIVE)


def language(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "da"


def municipality_or_404(request: web.Request, slug: Any) -> Municipality:
    municipality = request.config_dict[CONFIG].municipality(slug) if isinstance(slug, str) else None
    if municipality is None:
        raise ApiError(404, "M_NOT_FOUND", f"unknown municipality: {slug!r}")
    return municipality


def next_opening_fields(m: Municipality, lang: str) -> dict[str, Any]:
    now = utcnow()
    nxt = m.opening_hours.next_opening(now)
    return {
        "open": m.opening_hours.is_open(now),
        "next_opening": nxt.isoformat() if nxt else None,
        "next_opening_text": describe_next_opening(now, nxt, lang) if nxt else None,
    }


async def get_municipality(request: web.Request) -> web.Response:
    m = municipality_or_404(request, request.match_info["slug"])
    lang = language(request)
    return web.json_response(
        {
            "slug": m.slug,
            "name": m.name,
            "service_name": m.service_name,
            **next_opening_fields(m, lang),
            "questions": [
                {
                    "id": q.id,
                    "text": q.text.get(lang),
                    "options": [{"id": o.id, "label": o.label.get(lang)} for o in q.options],
                }
                for q in m.questions
            ],
            "texts": {key: text.get(lang) for key, text in m.youth_texts().items()},
        }
    )


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ApiError(400, "M_NOT_JSON", "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "M_BAD_JSON", "the request body must be a JSON object")
    return body


def validated_answers(m: Municipality, answers: Any) -> dict[str, str]:
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise ApiError(400, "M_BAD_JSON", "'answers' must be an object of question id to option id")
    questions = {q.id: {o.id for o in q.options} for q in m.questions}
    for qid, oid in answers.items():
        if qid not in questions:
            raise ApiError(400, "M_INVALID_PARAM", f"answers: unknown question {qid!r}")
        if oid not in questions[qid]:
            raise ApiError(400, "M_INVALID_PARAM", f"answers.{qid}: unknown option {oid!r}")
    return dict(answers)


async def start_conversation(request: web.Request) -> web.Response:
    body = await json_object(request)
    if not isinstance(body.get("kommune"), str):
        raise ApiError(400, "M_BAD_JSON", "'kommune' is required and must be a string")
    m = municipality_or_404(request, body["kommune"])
    kanal = body.get("kanal")
    if kanal is not None and not isinstance(kanal, str):
        raise ApiError(400, "M_BAD_JSON", "'kanal' must be a string or null")
    # Only configured channels are counted as such: a free-form tag could single a person out.
    if kanal is not None and kanal not in m.channels:
        kanal = "ukendt"
    answers = validated_answers(m, body.get("answers"))
    hours = next_opening_fields(m, language(request))
    if not hours["open"]:
        raise ApiError(
            409,
            "DK_UNGECHAT_CLOSED",
            "the chat is closed now",
            next_opening=hours["next_opening"],
        )
    if not request.config_dict[RATE_LIMITER].allow(request.remote or ""):
        raise ApiError(429, "M_LIMIT_EXCEEDED", "too many new conversations; try again later")
    try:
        conv_id, token = await request.config_dict[CONVERSATIONS].start(m, kanal, answers)
    except (SetupFailed, NotProvisioned) as exc:
        raise ApiError(
            503, "M_UNAVAILABLE", "the chat cannot start a conversation right now"
        ) from exc
    return web.json_response({"conversation": conv_id, "token": token}, status=201)


async def authorized(request: web.Request) -> Conversation:
    """The conversation the bearer token opens; 404 if gone, 403 if not this token's."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise ApiError(401, "M_MISSING_TOKEN", "missing 'Authorization: Bearer <token>'")
    token = header.removeprefix("Bearer ").strip()
    conv = await request.config_dict[CONVERSATIONS].repo.get(request.match_info["conversation"])
    if conv is None or conv.token_hash is None:
        raise ApiError(404, "M_NOT_FOUND", "no such conversation, or it has ended")
    if not hmac.compare_digest(conv.token_hash, hash_token(token)):
        raise ApiError(403, "M_FORBIDDEN", "this token does not open this conversation")
    return conv


async def events(request: web.Request) -> web.StreamResponse:
    return await stream_events(request, await authorized(request))


async def post_message(request: web.Request) -> web.Response:
    conv = await authorized(request)
    body = await json_object(request)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "M_BAD_JSON", "'body' must be a non-empty string")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ApiError(400, "M_TOO_LARGE", f"'body' is longer than {MAX_MESSAGE_CHARS} characters")
    if conv.state not in OPEN_STATES:
        raise ApiError(409, "DK_UNGECHAT_ENDED", "the conversation has ended")
    client_id = body.get("client_id")
    # The browser's own id for a retried send makes the homeserver drop the duplicate.
    if isinstance(client_id, str) and 0 < len(client_id) <= 64 and client_id.isalnum():
        txn_id = f"y-{client_id}"
    else:
        txn_id = f"y-{secrets.token_hex(8)}"
    event_id = await request.config_dict[CONVERSATIONS].send_youth_message(conv, text, txn_id)
    # The id lets the page match its pending bubble to the echo on the event stream.
    return web.json_response({"id": event_id}, status=202)


async def end_conversation(request: web.Request) -> web.Response:
    conv = await authorized(request)
    if conv.state in OPEN_STATES:
        await request.config_dict[CONVERSATIONS].end_by_youth(conv)
    return web.json_response({"status": status_of(None)})


def create_intake_app() -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app.router.add_get("/kommuner/{slug}", get_municipality)
    app.router.add_post("/conversations", start_conversation)
    app.router.add_get("/conversations/{conversation}/events", events)
    app.router.add_post("/conversations/{conversation}/messages", post_message)
    app.router.add_post("/conversations/{conversation}/end", end_conversation)
    return app
