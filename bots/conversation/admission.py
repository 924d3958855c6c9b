"""How many conversations a process sets up at once, and what it says when more arrive
than the homeserver can take.

A set-up is a handful of homeserver requests, and a homeserver on one core creates only a
few rooms a second. Without a bound, a rush (a campaign evening, a flood) starts more
set-ups than it can finish in SETUP_TIMEOUT; they fail, their pages try again, and the
homeserver ends up doing nothing but failed set-ups. So a few run at once, a short queue
waits for them, and beyond that a young person's page is told to try again in a moment
(503 with `retry_after_ms`), which it does by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

# Enough to keep a homeserver busy; more only adds waiting inside it.
AT_ONCE = 8
# Those waiting for a place beyond this, or for longer than QUEUE_SECONDS, are turned away.
QUEUE_LENGTH = 32
QUEUE_SECONDS = 10.0


class Busy(RuntimeError):
    """Too many conversations are being set up right now: try again shortly."""


class Admission:
    def __init__(self, at_once: int = AT_ONCE, queue_length: int = QUEUE_LENGTH) -> None:
        self._places = asyncio.Semaphore(at_once)
        self._queue_length = queue_length
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def place(self, wait: float = QUEUE_SECONDS) -> AsyncIterator[None]:
        """Hold one of the places for a set-up; Busy when the queue is full or too slow."""
        if self._waiting >= self._queue_length:
            raise Busy("the queue of set-ups is full")
        self._waiting += 1
        try:
            async with asyncio.timeout(wait):
                await self._places.acquire()
        except TimeoutError as exc:
            raise Busy("no set-up place came free in time") from exc
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._places.release()
