"""What every intake route needs from a request: its language, a municipality, a JSON
body, and the conversation its session token opens."""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web

from bots.config.model import Municipality
from bots.conversation.states import OPEN
from bots.conversation.tokens import hash_token
from bots.db.models import Conversation
from bots.intake.errors import ApiError
from bots.intake.ratelimit import client_address
from bots.keys import BOT, CONFIG

# The largest body any call takes: a message is at most 4000 characters.
MAX_BODY_BYTES = 64 * 1024


def language(request: web.Request) -> str:
    return "en" if request.query.get("lang") == "en" else "da"


def municipality_or_404(request: web.Request, slug: Any) -> Municipality:
    municipality = request.config_dict[CONFIG].municipality(slug) if isinstance(slug, str) else None
    if municipality is None:
        raise ApiError(404, "M_NOT_FOUND", f"unknown municipality: {slug!r}")
    return municipality


def validated_answers(m: Municipality, answers: Any) -> dict[str, str]:
    if answers is None:
        return {}
    if not isinstance(answers, dict):
        raise ApiError(400, "M_BAD_JSON", "'answers' must be an object of question id to option id")
    questions = {q.id: {o.id for o in q.options} for q in m.questions}
    for qid, oid in answers.items():
        if qid not in questions:
            raise ApiError(400, "M_INVALID_PARAM", f"answers: unknown question {qid!r}")
        if not isinstance(oid, str):  # a list or object is no option (and can't be looked up)
            raise ApiError(400, "M_BAD_JSON", f"answers.{qid}: must be an option id (a string)")
        if oid not in questions[qid]:
            raise ApiError(400, "M_INVALID_PARAM", f"answers.{qid}: unknown option {oid!r}")
    return dict(answers)


def counted_kanal(m: Municipality, body: dict[str, Any]) -> str | None:
    """The body's `kanal` as counted: only configured channels are kept by name, since a
    free-form tag could single a person out."""
    kanal = body.get("kanal")
    if kanal is not None and not isinstance(kanal, str):
        raise ApiError(400, "M_BAD_JSON", "'kanal' must be a string or null")
    return m.counted_channel(kanal) if kanal is not None else None


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (the guard has checked it is sent as JSON). Every way a
    body can be wrong is a 400 with a reason: not UTF-8, not JSON, nested too deeply,
    a number too long, text that is no Unicode (a lone surrogate)."""
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise ApiError(413, "M_TOO_LARGE", f"the request body is over {MAX_BODY_BYTES} bytes")
    raw = await request.read()  # (the server reads no more than its client_max_size)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "M_TOO_LARGE", f"the request body is over {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except RecursionError as exc:
        raise ApiError(400, "M_NOT_JSON", "the request body is nested too deeply") from exc
    except ValueError as exc:  # also UnicodeDecodeError and an over-long number
        raise ApiError(400, "M_NOT_JSON", "the request body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "M_BAD_JSON", "the request body must be a JSON object")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(400, "M_NOT_JSON", "the request body holds text that is no Unicode") from exc
    except RecursionError as exc:
        raise ApiError(400, "M_NOT_JSON", "the request body is nested too deeply") from exc
    return body


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    if not token:
        raise ApiError(401, "M_MISSING_TOKEN", "missing 'Authorization: Bearer <token>'")
    return token


def request_address(request: web.Request) -> str:
    """The client address limits count against (see ratelimit.py); never stored."""
    return client_address(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.config_dict[CONFIG].trusted_proxies,
    )


async def authorized(request: web.Request) -> Conversation:
    """The conversation the bearer token opens; 404 if gone, 403 if not this token's."""
    token = bearer_token(request)
    conv = await request.config_dict[BOT].repo.get(request.match_info["conversation"])
    if conv is None or conv.token_hash is None:
        raise ApiError(404, "M_NOT_FOUND", "no such conversation, or it has ended")
    if not hmac.compare_digest(conv.token_hash, hash_token(token)):
        raise ApiError(403, "M_FORBIDDEN", "this token does not open this conversation")
    return conv


async def open_conversation(request: web.Request) -> Conversation:
    """As `authorized`, and still going (409 once it has ended)."""
    conv = await authorized(request)
    if conv.state not in OPEN or not conv.room_id or not conv.youth_user_id:
        raise ApiError(409, "DK_UNGECHAT_ENDED", "the conversation has ended")
    return conv
