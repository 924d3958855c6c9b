"""The letterbox as a young person's browser uses it (docs/letterbox.md): write one
letter, get the pickup code once, open the letter with the code on any device (which
hands out a session token, as for a conversation), read the answers, write back, delete.

Like a conversation, the browser never reaches the homeserver: the intake reads and
writes the letter's room as the youth's own account. What it shows of the room is what
a conversation's page may see (bots/intake/projection.py): the youth's and listed
counsellors' messages, never a counsellor's name, note or command.

A wrong code is counted against the client address only as a keyed hash in memory
(bots/intake/ratelimit.py); past the config's
`intake.wrong_codes_per_address_per_hour` every try from that address is
refused for a while, right or wrong, so a flood learns nothing. Every code that opens
nothing gets the same answer, however close it was.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Any

from aiohttp import web

from bots.conversation.admission import Busy
from bots.conversation.tokens import hash_token
from bots.db.models import Letter
from bots.intake.errors import RETRY_AFTER_MS, ApiError
from bots.intake.limits import LIMITS
from bots.intake.projection import Audience, project
from bots.intake.request_context import (
    bearer_token,
    counted_kanal,
    json_object,
    municipality_or_404,
    request_address,
    validated_answers,
)
from bots.keys import BOT, CODE_GUESSES, CONFIG, RATE_LIMITER
from bots.letters.machine import LetterNotWritten, expires_at
from bots.letters.store import READABLE
from bots.matrix.errors import Forbidden
from bots.matrix.links import NotProvisioned

MAX_LETTER_CHARS = 4000
# A letter is a slow exchange; more than this many events is no letter anyone writes.
MAX_EVENTS_READ = 1000


def _body_text(body: dict[str, Any]) -> str:
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "M_BAD_JSON", "'body' must be a non-empty string")
    if len(text) > MAX_LETTER_CHARS:
        raise ApiError(400, "M_TOO_LARGE", f"'body' is longer than {MAX_LETTER_CHARS} characters")
    return text


def _not_now(exc: Exception) -> ApiError:
    return ApiError(
        503,
        "M_UNAVAILABLE",
        "the letterbox cannot take a letter right now",
        retry_after_ms=RETRY_AFTER_MS,
    )


async def write_letter(request: web.Request) -> web.Response:
    body = await json_object(request)
    if not isinstance(body.get("kommune"), str):
        raise ApiError(400, "M_BAD_JSON", "'kommune' is required and must be a string")
    m = municipality_or_404(request, body["kommune"])
    if not m.letters.enabled:
        raise ApiError(404, "M_NOT_FOUND", f"{m.slug!r} has no letterbox")
    kanal = counted_kanal(m, body)
    answers = validated_answers(m, body.get("answers"))
    text = _body_text(body)
    if not request.config_dict[RATE_LIMITER].allow(request_address(request)):
        raise ApiError(429, "M_LIMIT_EXCEEDED", "too many new letters; try again later")
    try:
        letter_id, code = await request.config_dict[BOT].letters.write(m, kanal, answers, text)
    except (LetterNotWritten, NotProvisioned, Busy) as exc:
        raise _not_now(exc) from exc
    return web.json_response({"letter": letter_id, "code": code}, status=201)


async def open_letter(request: web.Request) -> web.Response:
    body = await json_object(request)
    code = body.get("code")
    if not isinstance(code, str):
        raise ApiError(400, "M_BAD_JSON", "'code' must be a string")
    guesses, address = request.config_dict[CODE_GUESSES], request_address(request)
    if guesses.blocked(address):
        raise ApiError(
            429,
            "M_LIMIT_EXCEEDED",
            "too many codes that open nothing; try again later",
            retry_after_ms=15 * 60 * 1000,
        )
    opened = await request.config_dict[BOT].letters.open(code)
    if opened is None:
        guesses.count(address)
        raise ApiError(404, "M_NOT_FOUND", "no letter opens with this code")
    letter, token = opened
    return web.json_response({"letter": letter.id, "token": token})


async def authorized_letter(request: web.Request) -> Letter:
    """The letter the bearer token opens; 404 if gone, 403 if not this token's."""
    token = bearer_token(request)
    letter = await request.config_dict[BOT].letters.repo.get(request.match_info["letter"])
    if letter is None or letter.token_hash is None or letter.state not in READABLE:
        raise ApiError(404, "M_NOT_FOUND", "no such letter, or it has been deleted")
    if not hmac.compare_digest(letter.token_hash, hash_token(token)):
        raise ApiError(403, "M_FORBIDDEN", "this token does not open this letter")
    return letter


def _at(ts: Any) -> str | None:
    if not isinstance(ts, int):
        return None
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC).isoformat()


async def read_letter(request: web.Request) -> web.Response:
    letter = await authorized_letter(request)
    bot = request.config_dict[BOT]
    link = bot.homeservers.get(letter.homeserver)
    assert letter.room_id is not None and letter.youth_user_id is not None
    audience = Audience(
        letter.youth_user_id,
        link.registration.bot_user_id,
        request.config_dict[CONFIG].is_counsellor,
    )
    messages: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_EVENTS_READ // 100):
        try:
            page = await link.bot.messages(
                letter.room_id, from_token=token, as_user=letter.youth_user_id
            )
        except Forbidden as exc:  # deleted meanwhile
            raise ApiError(404, "M_NOT_FOUND", "no such letter, or it has been deleted") from exc
        for event in page.get("chunk") or []:
            shown = project(event, audience)
            if shown and shown["type"] == "message" and shown["from"] in ("youth", "counsellor"):
                messages.append(
                    {"from": shown["from"], "body": shown["body"], "at": _at(shown["ts"])}
                )
        token = page.get("end")
        if not page.get("chunk") or not isinstance(token, str):
            break
    m = request.config_dict[CONFIG].municipality(letter.kommune)
    return web.json_response(
        {
            "state": letter.state,
            "messages": messages,
            "expires_at": expires_at(letter, m).isoformat(),
        }
    )


async def reply_to_letter(request: web.Request) -> web.Response:
    letter = await authorized_letter(request)
    body = await json_object(request)
    text = _body_text(body)
    limits = request.config_dict[LIMITS]
    limits.check(limits.messages, "messages", letter.id)
    # The browser's own id for a retried send makes the homeserver drop the duplicate.
    client_id = body.get("client_id")
    if isinstance(client_id, str) and 0 < len(client_id) <= 64 and client_id.isascii():
        txn_id = f"y-{client_id}" if client_id.isalnum() else f"y-{secrets.token_hex(8)}"
    else:
        txn_id = f"y-{secrets.token_hex(8)}"
    try:
        event_id = await request.config_dict[BOT].letters.reply(letter, text, txn_id)
    except Forbidden as exc:
        raise ApiError(404, "M_NOT_FOUND", "no such letter, or it has been deleted") from exc
    return web.json_response({"id": event_id}, status=202)


async def delete_letter(request: web.Request) -> web.Response:
    letter = await authorized_letter(request)
    await request.config_dict[BOT].letters.delete_now(letter.id)
    return web.json_response({"status": "deleted"})


def add_letter_routes(app: web.Application) -> None:
    # A letter id is 32 hex digits; anything else is no letter, and never reaches the database.
    letter = "/letters/{letter:[0-9a-f]{32}}"
    app.router.add_post("/letters", write_letter)
    app.router.add_post("/letters/open", open_letter)
    app.router.add_get(letter, read_letter)
    app.router.add_post(f"{letter}/messages", reply_to_letter)
    app.router.add_delete(letter, delete_letter)
