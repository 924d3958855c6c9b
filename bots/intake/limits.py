"""Limits per conversation, so one session token cannot flood the homeserver, the
counsellors or the intake: messages, typing and read marks, and event streams.

Everything is keyed by the conversation's id (never by anything about the person) and
kept in memory, per replica, bounded. A conversation is only ever limited after its token
has been checked, so the keys are real conversations.

The numbers are generous for a real chat: a young person who types fast sends perhaps
a message every couple of seconds, in bursts of a few; a reload opens one new stream. A
flood (a script posting in a loop) gets `429 M_LIMIT_EXCEEDED` with `retry_after_ms`.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from bots.intake.errors import ApiError


class TokenBuckets:
    """One token bucket per key: `burst` at once, then `per_second` on average.

    At most `max_keys` buckets are kept, the least recently used dropped first (a dropped
    bucket starts full again, which only errs on the generous side)."""

    def __init__(
        self,
        burst: int,
        per_second: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        """Take one token; 0 if there was one, else the seconds until there is."""
        now = self._clock()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.per_second)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.per_second
        self._buckets[key] = (tokens, now)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return wait

    def __len__(self) -> int:
        return len(self._buckets)


def too_many(what: str, wait: float) -> ApiError:
    retry_ms = max(1, math.ceil(wait * 1000))
    return ApiError(
        429, "M_LIMIT_EXCEEDED", f"too many {what}; try again shortly", retry_after_ms=retry_ms
    )


@dataclass
class _Stream:
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event | None = None


class StreamSlots:
    """At most `per_conversation` event streams open at once for one conversation on this
    replica. The newest always gets in: a reload (whose old stream the server may not
    have noticed gone yet) or a second tab; the oldest is told to close."""

    def __init__(self, per_conversation: int = 3) -> None:
        self.per_conversation = per_conversation
        self._open: dict[str, list[_Stream]] = {}

    @contextmanager
    def hold(self, conversation: str, wake: asyncio.Event) -> Iterator[asyncio.Event]:
        """A slot for one stream; the event it yields is set when the stream must close
        (`wake` is set with it, so a stream waiting for news notices at once)."""
        stream = _Stream(wake=wake)
        streams = self._open.setdefault(conversation, [])
        streams.append(stream)
        while len(streams) > self.per_conversation:
            oldest = streams.pop(0)
            oldest.closed.set()
            if oldest.wake is not None:
                oldest.wake.set()
        try:
            yield stream.closed
        finally:
            if stream in streams:
                streams.remove(stream)
            if not streams and self._open.get(conversation) is streams:
                del self._open[conversation]

    def count(self, conversation: str) -> int:
        return len(self._open.get(conversation, ()))


@dataclass
class ConversationLimits:
    # 30 messages at once, then one a second: no one types faster for long.
    messages: TokenBuckets = field(default_factory=lambda: TokenBuckets(30, 1.0))
    # Typing and read marks together: the page sends a few a minute.
    signals: TokenBuckets = field(default_factory=lambda: TokenBuckets(30, 1.0))
    # New event streams: a reload or a reconnect now and then, 10 at once.
    stream_opens: TokenBuckets = field(default_factory=lambda: TokenBuckets(10, 1 / 6))
    streams: StreamSlots = field(default_factory=StreamSlots)

    def check(self, buckets: TokenBuckets, what: str, conversation: str) -> None:
        """Count one request of this kind; 429 when the conversation has used its share."""
        wait = buckets.take(conversation)
        if wait > 0:
            raise too_many(what, wait)


LIMITS: web.AppKey[ConversationLimits] = web.AppKey("conversation_limits")
