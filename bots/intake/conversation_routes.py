"""What a young person does in their conversation: read the stream, write, type, mark
as read, end it, and afterwards say whether it helped. Each acts as the youth's own
Matrix account through the appservice, never as anyone else.

Writing, typing and read marks are limited per conversation (bots/intake/limits.py)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import TypeVar

from aiohttp import web

from bots.conversation.feedback import ANSWERS, record_feedback
from bots.conversation.states import OPEN
from bots.intake.errors import ApiError
from bots.intake.limits import LIMITS
from bots.intake.request_context import authorized, bearer_token, json_object, open_conversation
from bots.intake.stream import stream_events
from bots.keys import BOT, SESSIONS
from bots.matrix.errors import Forbidden, NotFound

MAX_MESSAGE_CHARS = 4000
MAX_EVENT_ID_CHARS = 255
T = TypeVar("T")


async def as_youth(call: Awaitable[T]) -> T:
    """A call to the homeserver as the youth's account. The conversation was open when the
    request came; if the homeserver now refuses the account, it has just ended (the youth
    is out of the room). A homeserver that is down is the error middleware's (503)."""
    try:
        return await call
    except Forbidden as exc:
        raise ApiError(409, "DK_UNGECHAT_ENDED", "the conversation has ended") from exc


async def events(request: web.Request) -> web.StreamResponse:
    return await stream_events(request, await authorized(request))


async def post_message(request: web.Request) -> web.Response:
    conv = await open_conversation(request)
    body = await json_object(request)
    text = body.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "M_BAD_JSON", "'body' must be a non-empty string")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ApiError(400, "M_TOO_LARGE", f"'body' is longer than {MAX_MESSAGE_CHARS} characters")
    limits = request.config_dict[LIMITS]
    limits.check(limits.messages, "messages", conv.id)
    client_id = body.get("client_id")
    # The browser's own id for a retried send makes the homeserver drop the duplicate.
    if (
        isinstance(client_id, str)
        and 0 < len(client_id) <= 64
        and client_id.isascii()
        and (client_id.isalnum())
    ):
        txn_id = f"y-{client_id}"
    else:
        txn_id = f"y-{secrets.token_hex(8)}"
    conversations = request.config_dict[BOT].conversations
    event_id = await as_youth(conversations.send_youth_message(conv, text, txn_id))
    # The id lets the page match its pending bubble to the echo on the event stream.
    return web.json_response({"id": event_id}, status=202)


async def put_typing(request: web.Request) -> web.Response:
    conv = await open_conversation(request)
    typing = (await json_object(request)).get("typing")
    if not isinstance(typing, bool):
        raise ApiError(400, "M_BAD_JSON", "'typing' must be true or false")
    limits = request.config_dict[LIMITS]
    limits.check(limits.signals, "typing notices and read marks", conv.id)
    link = request.config_dict[BOT].homeservers.get(conv.homeserver)
    assert conv.room_id is not None and conv.youth_user_id is not None
    await as_youth(link.bot.typing(conv.room_id, conv.youth_user_id, typing))
    return web.json_response({})


async def post_read(request: web.Request) -> web.Response:
    conv = await open_conversation(request)
    event_id = (await json_object(request)).get("id")
    if not isinstance(event_id, str) or not event_id.startswith("$"):
        raise ApiError(400, "M_BAD_JSON", "'id' must be the id of an event on the stream ('$…')")
    if len(event_id) > MAX_EVENT_ID_CHARS or not event_id.isprintable():
        raise ApiError(400, "M_INVALID_PARAM", "'id' is not an event id")
    limits = request.config_dict[LIMITS]
    limits.check(limits.signals, "typing notices and read marks", conv.id)
    link = request.config_dict[BOT].homeservers.get(conv.homeserver)
    assert conv.room_id is not None and conv.youth_user_id is not None
    try:
        await as_youth(link.bot.read_receipt(conv.room_id, event_id, as_user=conv.youth_user_id))
    except NotFound as exc:
        raise ApiError(400, "M_INVALID_PARAM", "'id' is not an event of this conversation") from exc
    return web.json_response({})


async def end_conversation(request: web.Request) -> web.Response:
    """Also the quick exit's, sent with `keepalive` as the page goes away."""
    conv = await authorized(request)
    if conv.state in OPEN:
        await request.config_dict[BOT].conversations.end_by_youth(conv)
    return web.json_response({"status": "closed"})


async def post_feedback(request: web.Request) -> web.Response:
    """ "Fik du hjælp?" after the end. The conversation is gone by then; the token still
    proves which anonymous stats row the answer belongs to, once."""
    token = bearer_token(request)
    body = await json_object(request)
    answer = body.get("answer")
    if answer not in ANSWERS:
        raise ApiError(400, "M_INVALID_PARAM", f"'answer' must be one of {', '.join(ANSWERS)}")
    if await record_feedback(request.config_dict[SESSIONS], token, answer):
        return web.json_response({"recorded": True})
    conv = await request.config_dict[BOT].repo.get(request.match_info["conversation"])
    if conv is not None and conv.state in OPEN and conv.token_hash is not None:
        await authorized(request)  # a foreign token learns nothing about this conversation
        raise ApiError(409, "DK_UNGECHAT_NOT_ENDED", "the conversation has not ended yet")
    raise ApiError(
        404, "M_NOT_FOUND", "nothing to answer: already answered, or the time for it has passed"
    )


def add_conversation_routes(app: web.Application) -> None:
    # A conversation id is 32 hex digits (bots/lifecycle.py); anything else is no
    # conversation, and never reaches the database.
    conv = "/conversations/{conversation:[0-9a-f]{32}}"
    app.router.add_get(f"{conv}/events", events)
    app.router.add_post(f"{conv}/messages", post_message)
    app.router.add_put(f"{conv}/typing", put_typing)
    app.router.add_post(f"{conv}/read", post_read)
    app.router.add_post(f"{conv}/end", end_conversation)
    app.router.add_post(f"{conv}/feedback", post_feedback)
