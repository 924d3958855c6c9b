"""How many conversations a process sets up at once, and what it says when more arrive
than the homeserver can take.

A set-up is a handful of homeserver requests, and a homeserver on one core creates only a
few rooms a second. Without a bound, a rush (a campaign evening, a flood) starts more
set-ups than it can finish in SETUP_TIMEOUT; they fail, their pages try again, and the
homeserver ends up doing nothing but failed set-ups. So a few run at once and the others
wait in a queue, as long as their turn is expected within QUEUE_SECONDS: the wait is
estimated from how long recent set-ups took (a moving average), so a fast homeserver
takes a whole burst of young people in turn, and a slow or struggling one turns them
away sooner. Beyond that a young person's page is told to try again in a moment (503
with `retry_after_ms`), which it does by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

# Enough to keep a homeserver busy. Synapse persists the events of concurrent requests
# together, so it finishes a burst sooner with more set-ups in flight: with 8 at once the
# last of 50 young people arriving together waited 1.8 × as long as a bare client's 50
# requests took, with 24 1.2 × (docs/performance.md). More only adds waiting inside it.
AT_ONCE = 24
# Those whose turn is not expected within QUEUE_SECONDS are turned away at once, and
# those who waited that long after all; never more than QUEUE_LENGTH wait.
QUEUE_SECONDS = 10.0
QUEUE_LENGTH = 256
# What a set-up is taken to last before any has been timed (a homeserver on one core).
FIRST_ESTIMATE = 1.0
# The weight of the latest set-up in the moving average.
SMOOTHING = 0.2


class Busy(RuntimeError):
    """Too many conversations are being set up right now: try again shortly."""


class Admission:
    def __init__(
        self,
        at_once: int = AT_ONCE,
        queue_length: int = QUEUE_LENGTH,
        queue_seconds: float = QUEUE_SECONDS,
    ) -> None:
        self._places = asyncio.Semaphore(at_once)
        self._at_once = at_once
        self._queue_length = queue_length
        self._queue_seconds = queue_seconds
        self._waiting = 0
        self.typical_seconds = FIRST_ESTIMATE  # how long a set-up takes, lately

    def expected_wait(self) -> float:
        """Seconds until a set-up arriving now would start, roughly: those waiting ahead
        of it and itself, `at_once` at a time, each a typical set-up long."""
        return (self._waiting + 1) / self._at_once * self.typical_seconds

    @contextlib.asynccontextmanager
    async def place(self, wait: float | None = None) -> AsyncIterator[None]:
        """Hold one of the places for a set-up; Busy when the queue is full or too slow."""
        wait = self._queue_seconds if wait is None else wait
        if self._waiting >= self._queue_length or (self._waiting and self.expected_wait() > wait):
            raise Busy("the queue of set-ups is full")
        self._waiting += 1
        try:
            async with asyncio.timeout(wait):
                await self._places.acquire()
        except TimeoutError as exc:
            raise Busy("no set-up place came free in time") from exc
        finally:
            self._waiting -= 1
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            yield
        finally:
            self._places.release()
            took = loop.time() - began
            self.typical_seconds += SMOOTHING * (took - self.typical_seconds)
