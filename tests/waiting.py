"""Waiting on a condition, never on a fixed time (Complement's MustSyncUntil)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 30, every: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy, and return that; TimeoutError
    (naming the check) if it never does within `timeout` seconds."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = await check()
                if result:
                    return result
                await asyncio.sleep(every)
    except TimeoutError:
        raise TimeoutError(f"{getattr(check, '__name__', check)} not true in {timeout} s") from None
