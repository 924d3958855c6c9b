"""The youth's event stream (server-sent events), fed from the homeserver.

The browser holds no Matrix credential: this handler reads the room as the youth's
account (`/messages` forward, masqueraded) and projects each event into what the
page may show (bots/intake/projection.py), then adds what changed of the status,
typing, read marks and queue (bots/intake/live.py). The `id:` of each batch is the
homeserver's pagination token, so a browser that reconnects with `Last-Event-ID`
resumes exactly where it was. Streams are woken by bots/signals.py: at once on every
replica where PostgreSQL's NOTIFY is heard, else by polling `event_seq`; a wake-up also
moves the queue position, and the stream wakes itself when "Rådgiveren skriver …" runs
out.

Edits and redactions are relayed too (a correction replaces the shown message, a deleted
one is shown as deleted); the bot's event router wakes streams for them as for new
messages. The room is also re-read every RESYNC_SECONDS while the stream is open, as a
safety net for a push that was lost.

When the replica shuts down (SIGTERM), each stream sends `{"type": "reconnect"}` and
ends; the page reconnects at once, so a rolling restart costs the youth nothing.

A new stream without `Last-Event-ID` (a reload) replays the last REPLAY_MESSAGES events
only, found by paging backwards from the end of the room and then reading forward from
there, so a long conversation opened many times costs little. Streams per conversation
are bounded (bots/intake/limits.py): the newest gets in, the oldest is closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import structlog
from aiohttp import web

from bots.conversation.store import YOUTH_SEEN_EVERY
from bots.db.models import Conversation, utcnow
from bots.intake.limits import LIMITS
from bots.intake.live import LiveState, status_of
from bots.intake.projection import Audience, edit_target, project
from bots.keys import BOT, SIGNALS
from bots.matrix.errors import Forbidden, MatrixError, NotFound
from bots.matrix.gateway import MatrixGateway
from bots.outages import is_outage
from bots.signals import Signals

log = structlog.get_logger(__name__)
RESYNC_SECONDS = 30.0
KEEPALIVE_SECONDS = 15.0
# How many of the room's last message events a new stream replays (a reload).
REPLAY_MESSAGES = 200


def _next_look(signals: Signals, conv: Conversation | None) -> float:
    """Seconds until the stream looks again unwoken: the poll, or sooner when the
    counsellor's typing notice runs out."""
    wait = signals.poll_seconds
    until = conv.counsellor_typing_until if conv is not None else None
    if until is not None:
        left = (until - utcnow()).total_seconds() + 0.05
        if left > 0:
            wait = min(wait, left)
    return wait


async def replay_from(bot: MatrixGateway, room_id: str, youth: str) -> str | None:
    """Where a new stream starts reading forward: REPLAY_MESSAGES events back from the
    end of the room, or its start (None) when the room holds no more than that."""
    page = await bot.messages(
        room_id, from_token=None, as_user=youth, backwards=True, limit=REPLAY_MESSAGES
    )
    chunk = page.get("chunk") or []
    end = page.get("end")
    if len(chunk) < REPLAY_MESSAGES or not isinstance(end, str):
        return None
    return end


class _Writer:
    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.last_write = asyncio.get_running_loop().time()

    async def send(self, data: dict[str, Any], event_id: str | None = None) -> None:
        chunk = f"data: {json.dumps(data, ensure_ascii=False)}\n"
        if event_id:
            chunk = f"id: {event_id}\n{chunk}"
        await self._write(chunk + "\n")

    async def send_id(self, event_id: str) -> None:
        await self._write(f"id: {event_id}\n\n")

    async def keepalive(self) -> None:
        if asyncio.get_running_loop().time() - self.last_write > KEEPALIVE_SECONDS:
            await self._write(": ping\n\n")

    async def _write(self, text: str) -> None:
        await self.response.write(text.encode())
        self.last_write = asyncio.get_running_loop().time()


async def stream_events(request: web.Request, conv: Conversation) -> web.StreamResponse:
    bot = request.config_dict[BOT]
    link = bot.homeservers.get(conv.homeserver)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # let a reverse proxy pass events at once
        }
    )
    limits = request.config_dict[LIMITS]
    limits.check(limits.stream_opens, "new event streams", conv.id)
    await response.prepare(request)
    writer = _Writer(response)
    token = request.headers.get("Last-Event-ID") or None
    # Without a resume point: the last messages, as for a reload. With one the homeserver
    # does not know (made up, or mangled on the way): the same, rather than nothing.
    replay, resuming = token is None, token is not None
    seen_seq, last_read = -1, -RESYNC_SECONDS
    audience = Audience(
        conv.youth_user_id or "", link.registration.bot_user_id, bot.config.is_counsellor
    )
    senders: dict[str, str] = {}  # message id -> sender, to check who may edit it

    async def sender_of(room_id: str, youth: str, event_id: str) -> None:
        """An edited message this stream has not read (it came before the resume point)."""
        if event_id in senders:
            return
        try:
            original = await link.bot.room_event(room_id, event_id, as_user=youth)
        except (NotFound, Forbidden):
            return  # not there (any more), or not the youth's to see: the edit is not relayed
        if isinstance(original.get("sender"), str):
            senders[event_id] = original["sender"]

    async def fetch() -> None:
        nonlocal token, replay, resuming
        while conv.room_id and conv.youth_user_id:
            if replay:
                token = await replay_from(link.bot, conv.room_id, conv.youth_user_id)
                replay = False
            try:  # messages and redactions (see MatrixGateway.messages)
                page = await link.bot.messages(
                    conv.room_id, as_user=conv.youth_user_id, from_token=token
                )
            except MatrixError as exc:
                if not resuming or exc.http_status != 400:
                    raise
                replay = True
                continue
            finally:
                resuming = False
            chunk = [e for e in page.get("chunk") or [] if isinstance(e, dict)]
            items = []
            for event in chunk:
                if isinstance(event.get("event_id"), str) and isinstance(event.get("sender"), str):
                    senders[event["event_id"]] = event["sender"]
                if (target := edit_target(event)) is not None:
                    await sender_of(conv.room_id, conv.youth_user_id, target)
                if item := project(event, audience, senders):
                    items.append(item)
            new_token = page.get("end") or token
            for i, item in enumerate(items):
                await writer.send(item, new_token if i == len(items) - 1 else None)
            if new_token != token and not items and new_token:
                await writer.send_id(new_token)  # nothing to show, but move the resume point
            token = new_token
            if not chunk or not page.get("end"):
                return

    signals = request.config_dict[SIGNALS]
    live = LiveState(request.config_dict[BOT].duty, link.bot)
    marked_seen = -YOUTH_SEEN_EVERY.total_seconds()
    try:
        with (
            signals.listen(conv.id, conv.kommune) as wake,
            limits.streams.hold(conv.id, wake) as superseded,
        ):
            while not superseded.is_set():
                current = await bot.repo.get(conv.id)
                closed = status_of(current) == "closed"
                now = asyncio.get_running_loop().time()
                if not closed and now - marked_seen >= YOUTH_SEEN_EVERY.total_seconds():
                    # The page is open: a youth waiting in the queue is not idle.
                    await bot.repo.mark_youth_seen(conv.id, utcnow())
                    marked_seen = now
                if current is not None and (
                    current.event_seq != seen_seq or now - last_read >= RESYNC_SECONDS
                ):
                    seen_seq, last_read = current.event_seq, now
                    try:
                        await fetch()
                    except MatrixError:
                        if not closed:  # once closed, the room may already be gone
                            raise
                for item in await live.changes(current):
                    await writer.send(item)
                if closed or superseded.is_set():
                    break
                if signals.closing:
                    # This replica is shutting down: the page reconnects at once, with
                    # its Last-Event-ID, and the proxy sends it to another replica.
                    await writer.send({"type": "reconnect"})
                    break
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), _next_look(signals, current))
                except TimeoutError:
                    await writer.keepalive()
    except Exception as exc:
        if not isinstance(exc, ConnectionResetError | MatrixError) and not is_outage(exc):
            raise
        # The headers are sent; all that is left is to end the stream. The page reconnects.
        log.warning("event_stream_ended", conversation=conv.id, error=type(exc).__name__)
        return response
    await response.write_eof()
    return response
