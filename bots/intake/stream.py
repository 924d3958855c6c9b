"""The youth's event stream (server-sent events), fed from the homeserver.

The browser holds no Matrix credential: this handler reads the room as the youth's
account (`/messages` forward, masqueraded) and projects each event into what the
page may show (bots/intake/projection.py), then adds what changed of the status,
typing, read marks and queue (bots/intake/live.py). The `id:` of each batch is the
homeserver's pagination token, so a browser that reconnects with `Last-Event-ID`
resumes exactly where it was. Streams are woken by bots/signals.py: at once on every
replica where PostgreSQL's NOTIFY is heard, and in the process that handled the change;
beside that, one `StreamWatch` per process reads for all its streams at once what each
used to poll for (`event_seq`, the queue, who is on duty), and wakes only those whose
conversation or queue moved, so an idle stream costs next to nothing. The stream wakes
itself when "Rådgiveren skriver …" runs out, and every KEEPALIVE_SECONDS to keep the
connection open.

Edits and redactions are relayed too (a correction replaces the shown message, a deleted
one is shown as deleted); the bot's event router wakes streams for them as for new
messages. The room is also re-read every RESYNC_SECONDS while the stream is open, as a
safety net only: a push that was lost is read back by the catch-up
(bots/appservice/catch_up.py), which bumps `event_seq` like the push would have.

When the replica shuts down (SIGTERM), each stream sends `{"type": "reconnect"}` and
ends; the page reconnects at once, so a rolling restart costs the youth nothing.

A new stream without `Last-Event-ID` (a reload) replays the last REPLAY_MESSAGES events
only, found by paging backwards from the end of the room and then reading forward from
there, so a long conversation opened many times costs little. Streams per conversation
are bounded (bots/intake/limits.py): the newest gets in, the oldest is closed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import json
import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.duty import DutyRoster
from bots.conversation.states import IN_QUEUE
from bots.conversation.store import YOUTH_SEEN_EVERY
from bots.db.models import Conversation, Duty, utcnow
from bots.intake.limits import LIMITS
from bots.intake.live import LiveState, status_of
from bots.intake.projection import Audience, edit_target, project
from bots.keys import BOT, SIGNALS
from bots.matrix.errors import Forbidden, MatrixError, NotFound
from bots.matrix.gateway import MatrixGateway
from bots.outages import is_outage
from bots.signals import Signals

log = structlog.get_logger(__name__)
# The room is read again unwoken this often: a safety net only, since every event a
# stream shows bumps the conversation's `event_seq` when it is pushed or caught up
# (bots/appservice/catch_up.py reads back what a homeserver never pushed).
RESYNC_SECONDS = 600.0
KEEPALIVE_SECONDS = 15.0
# How many of the room's last message events a new stream replays (a reload).
REPLAY_MESSAGES = 200
# Conversations read in one statement by the watch.
WATCH_CHUNK = 500


def _typing_ends_in(conv: Conversation | None) -> float:
    """Seconds until the counsellor's typing notice runs out (inf when none shows)."""
    until = conv.counsellor_typing_until if conv is not None else None
    if until is None:
        return math.inf
    left = (until - utcnow()).total_seconds() + 0.05
    return left if left > 0 else math.inf


@dataclass
class Queue:
    """A municipality's queue as the watch read it: when each conversation in it was
    created, sorted, the urgent ones apart (DutyRoster.queue_position's order: the urgent
    first, in the order they came, then the others)."""

    urgent: list[dt.datetime]
    others: list[dt.datetime]

    def position(self, created_at: dt.datetime, *, urgent: bool) -> int:
        if urgent:
            return bisect.bisect_left(self.urgent, created_at) + 1
        return len(self.urgent) + bisect.bisect_left(self.others, created_at) + 1


class _Follower:
    """One stream, as the watch sees it: its conversation, and what wakes it."""

    def __init__(self, conversation_id: str, kommune: str, wake: asyncio.Event) -> None:
        self.conversation_id = conversation_id
        self.kommune = kommune
        self.wake = wake  # the row changed (or a signal came): read it again
        self.queue_moved = asyncio.Event()  # only the queue or who is on duty changed


class StreamWatch:
    """What a process's streams would each poll for, read for all of them at once.

    Without it every stream read its row, its place in the queue and how many are on
    duty every POLL_SECONDS: three reads per stream, 3,000 a second for 2,000 open
    pages. The watch reads, every `signals.poll_seconds`, the `event_seq` of every
    followed conversation, each followed municipality's queue and how many are on duty
    there: a few statements, however many streams. A stream whose row moved is woken to
    read it (as a signal wakes it); one whose queue moved is told only that, and takes
    its place in the queue from the watch's latest reading (`QueueFigures`), not from
    the database. It also marks, once every YOUTH_SEEN_EVERY, that the pages of all the
    conversations it follows are still open, in one statement. On PostgreSQL NOTIFY
    wakes streams at once and the watch is the slower safety net (bots/signals.py).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], signals: Signals) -> None:
        self.sessions = sessions
        self.signals = signals
        self._followers: dict[str, set[_Follower]] = {}
        self._by_kommune: dict[str, set[_Follower]] = {}
        self._seq: dict[str, int | None] = {}
        # Per municipality: when each conversation in its queue was created, sorted, the
        # urgent ones (first in the queue) and the others apart.
        self.queues: dict[str, Queue] = {}
        self.on_duty: dict[str, int] = {}
        self.taken_at = -math.inf  # loop time at which the latest reading began
        self._reading: asyncio.Future[None] | None = None
        self._poller: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def follow(
        self, conversation_id: str, kommune: str, wake: asyncio.Event
    ) -> Iterator[_Follower]:
        follower = _Follower(conversation_id, kommune, wake)
        self._followers.setdefault(conversation_id, set()).add(follower)
        self._by_kommune.setdefault(kommune, set()).add(follower)
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(), name="stream-watch")
        try:
            yield follower
        finally:
            for group, key in (
                (self._followers, conversation_id),
                (self._by_kommune, kommune),
            ):
                members = group.get(key)
                if members is not None:
                    members.discard(follower)
                    if not members:
                        del group[key]
            if conversation_id not in self._followers:
                self._seq.pop(conversation_id, None)
            if kommune not in self._by_kommune:
                self.queues.pop(kommune, None)
                self.on_duty.pop(kommune, None)
            if not self._followers and self._poller is not None:
                self._poller.cancel()
                self._poller = None

    async def _poll(self) -> None:
        loop = asyncio.get_running_loop()
        marked = loop.time()  # each stream marks its page seen when it starts
        while self._followers:
            await asyncio.sleep(self.signals.poll_seconds)
            try:
                await self.fresh(loop.time())
                if loop.time() - marked >= YOUTH_SEEN_EVERY.total_seconds():
                    marked = loop.time()
                    await self._mark_seen()
            except Exception as exc:
                # The database away: the streams find out themselves when woken.
                log.warning("stream_watch_failed", error=type(exc).__name__)

    async def fresh(self, since: float) -> None:
        """Until the watch holds a reading begun at `since` or later: readings asked for
        by many streams at once are one reading."""
        while self.taken_at < since:
            if self._reading is None or self._reading.done():
                self._reading = asyncio.ensure_future(self._read())
            await asyncio.shield(self._reading)

    async def _read(self) -> None:
        began = asyncio.get_running_loop().time()
        ids, kommunes = list(self._followers), list(self._by_kommune)
        seqs: dict[str, int] = {}
        queues: dict[str, Queue] = {k: Queue([], []) for k in kommunes}
        async with self.sessions() as session:
            for start in range(0, len(ids), WATCH_CHUNK):
                chunk = ids[start : start + WATCH_CHUNK]
                rows = await session.execute(
                    select(Conversation.id, Conversation.event_seq).where(
                        Conversation.id.in_(chunk)
                    )
                )
                seqs.update({conv_id: seq for conv_id, seq in rows})
            if kommunes:
                queue_rows = await session.execute(
                    select(Conversation.kommune, Conversation.created_at, Conversation.urgent_at)
                    .where(Conversation.kommune.in_(kommunes), Conversation.state.in_(IN_QUEUE))
                    .order_by(Conversation.created_at)
                )
                for kommune, created_at, urgent_at in queue_rows:
                    queue = queues[kommune]
                    (queue.urgent if urgent_at is not None else queue.others).append(created_at)
                duty_rows = await session.execute(
                    select(Duty.kommune, func.count())
                    .where(Duty.kommune.in_(kommunes))
                    .group_by(Duty.kommune)
                )
                on_duty: dict[str, int] = {k: 0 for k in kommunes}
                on_duty.update({kommune: int(n) for kommune, n in duty_rows})
        for conv_id in ids:
            seq = seqs.get(conv_id)  # None: the row is gone
            if conv_id in self._seq and self._seq[conv_id] != seq:
                for follower in self._followers.get(conv_id, ()):
                    follower.wake.set()
            if conv_id in self._followers:
                self._seq[conv_id] = seq
        for kommune in kommunes:
            moved = kommune in self.queues and (
                self.queues[kommune] != queues[kommune]
                or self.on_duty.get(kommune) != on_duty[kommune]
            )
            if kommune in self._by_kommune:
                self.queues[kommune], self.on_duty[kommune] = queues[kommune], on_duty[kommune]
            if moved:
                for follower in self._by_kommune.get(kommune, ()):
                    follower.queue_moved.set()
        self.taken_at = max(self.taken_at, began)

    async def _mark_seen(self) -> None:
        """The pages of these conversations are open: a youth waiting is not idle."""
        now = utcnow()
        ids = list(self._followers)
        for start in range(0, len(ids), WATCH_CHUNK):
            async with self.sessions.begin() as session:
                await session.execute(
                    update(Conversation)
                    .where(
                        Conversation.id.in_(ids[start : start + WATCH_CHUNK]),
                        (Conversation.youth_seen_at.is_(None))
                        | (Conversation.youth_seen_at < now - YOUTH_SEEN_EVERY),
                    )
                    .values(youth_seen_at=now)
                )


# One watch per process's signals (one per running app).
_WATCHES: weakref.WeakKeyDictionary[Signals, StreamWatch] = weakref.WeakKeyDictionary()


def watch_for(sessions: async_sessionmaker[AsyncSession], signals: Signals) -> StreamWatch:
    watch = _WATCHES.get(signals)
    if watch is None:
        watch = _WATCHES[signals] = StreamWatch(sessions, signals)
    return watch


class QueueFigures(DutyRoster):
    """The place in the queue and how many are on duty, as the youth page shows them:
    from the watch's latest reading when it is no older than `since` (a stream woken
    because the queue moved: the reading that saw it), else from the database (a stream
    woken for its own conversation: two small reads, as before)."""

    def __init__(self, watch: StreamWatch) -> None:
        super().__init__(watch.sessions)
        self.watch = watch
        self.since = math.inf  # no reading is fresh enough until the stream says so

    async def queue_position(self, conv: Conversation) -> int | None:
        if conv.state not in IN_QUEUE:
            return None
        queue = self.watch.queues.get(conv.kommune)
        if self.watch.taken_at < self.since or queue is None or conv.created_at is None:
            return await super().queue_position(conv)
        return queue.position(conv.created_at, urgent=conv.urgent_at is not None)

    async def count(self, kommune: str) -> int:
        if self.watch.taken_at < self.since or kommune not in self.watch.on_duty:
            return await super().count(kommune)
        return self.watch.on_duty[kommune]


async def _woken(wake: asyncio.Event, queue_moved: asyncio.Event, timeout: float) -> None:
    """Until either event is set, or `timeout` seconds."""
    if wake.is_set() or queue_moved.is_set():
        return
    waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(queue_moved.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


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
    seen_seq, last_read = -1, -math.inf
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
    watch = watch_for(bot.repo.sessions, signals)
    figures = QueueFigures(watch)
    live = LiveState(figures, link.bot)
    loop = asyncio.get_running_loop()
    current: Conversation | None = None
    try:
        with (
            signals.listen(conv.id, conv.kommune) as wake,
            limits.streams.hold(conv.id, wake) as superseded,
            watch.follow(conv.id, conv.kommune, wake) as follower,
        ):
            wake.set()  # the first look reads everything
            while not superseded.is_set():
                now = loop.time()
                # Woken for the queue only, or a typing notice ran out: the row is as it
                # was, and the queue's figures are the watch's. A signal, the row moved
                # or the safety net's time: the row is read again.
                row_due = wake.is_set() or current is None or now - last_read >= RESYNC_SECONDS
                wake.clear()
                follower.queue_moved.clear()
                # The queue's figures: the watch's reading, unless the row is read anew.
                figures.since = now if row_due else watch.taken_at
                if row_due:
                    current = await bot.repo.get(conv.id)
                closed = status_of(current) == "closed"
                if row_due and not closed and seen_seq == -1:
                    # The page is open: a youth waiting is not idle (the watch marks it
                    # again while the stream stays open).
                    await bot.repo.mark_youth_seen(conv.id, utcnow())
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
                look_again = min(
                    KEEPALIVE_SECONDS,
                    _typing_ends_in(current),
                    max(0.0, RESYNC_SECONDS - (loop.time() - last_read)),
                )
                await _woken(wake, follower.queue_moved, look_again)
                if not wake.is_set() and not follower.queue_moved.is_set():
                    await writer.keepalive()
    except Exception as exc:
        if not isinstance(exc, ConnectionResetError | MatrixError) and not is_outage(exc):
            raise
        # The headers are sent; all that is left is to end the stream. The page reconnects.
        log.warning("event_stream_ended", conversation=conv.id, error=type(exc).__name__)
        return response
    await response.write_eof()
    return response
