"""Waiting on a condition, never on a fixed time (Complement's MustSyncUntil)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bots.conversation.states import State
from bots.conversation.store import ConversationRepo
from bots.db.models import Conversation

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


async def wait_for_state(
    repo: ConversationRepo, conversation: str, *states: State, timeout: float = 60
) -> Conversation:
    """Until the conversation is in one of `states` in the bot's database."""

    async def in_state() -> Conversation | None:
        conv = await repo.get(conversation)
        return conv if conv is not None and conv.state in states else None

    try:
        return await eventually(in_state, timeout)
    except TimeoutError:
        now = await repo.get(conversation)
        raise AssertionError(
            f"{conversation} is {now.state if now else 'gone'}, not {', '.join(states)}"
        ) from None
