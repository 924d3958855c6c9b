"""Helpers for the intake's tests: counsellors on duty, partners in the running config,
waiting for the bot to end a conversation, and checking answers against the intake's
OpenAPI file."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator
from functools import cache
from typing import Any

import aiohttp
import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from bots.conversation.states import OPEN
from bots.db.models import Conversation
from schemas import SCHEMA_DIR
from tests.config_swap import municipality_changed
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack

OPENAPI = "urn:ungechat:intake-openapi"


@contextlib.asynccontextmanager
async def on_duty(stack: Stack, kommune: str, user_id: str) -> AsyncIterator[int]:
    """A counsellor on duty for the block (as `!vagt start`); yields how many are on duty."""
    duty = stack.bot.duty
    await duty.start(kommune, user_id)
    try:
        yield await duty.count(kommune)
    finally:
        await duty.end(kommune, user_id)


@contextlib.contextmanager
def changed_municipality(stack: Stack, slug: str, **changes: Any) -> Iterator[None]:
    """The running bot's config with `slug` changed, as a reloaded config would be."""
    with municipality_changed(stack.config, slug, **changes):
        yield


def partners(stack: Stack, slug: str, names: tuple[str, ...]) -> contextlib.AbstractContextManager:
    """The running bot's config with `slug` naming partners."""
    return changed_municipality(stack, slug, partners=names)


def embedding(stack: Stack, slug: str, *origins: str) -> contextlib.AbstractContextManager:
    """The running bot's config with these sites allowed to frame `slug`'s page."""
    return changed_municipality(stack, slug, embed_origins=origins)


async def conversation_ids(stack: Stack) -> set[str]:
    """The ids of every conversation the bot's database holds (in any state)."""
    async with stack.bot.sessions() as session:
        return set((await session.scalars(select(Conversation.id))).all())


async def ended_in_the_bot(stack: Stack, conversation: str) -> str | None:
    """Wait until the bot's database has the conversation ended; who ended it."""
    async with asyncio.timeout(20):
        while True:
            conv = await stack.bot.repo.get(conversation)
            assert conv is not None
            if conv.state not in OPEN:
                return conv.ended_by
            await asyncio.sleep(0.2)


@cache
def _registry() -> Registry:
    doc = yaml.safe_load((SCHEMA_DIR / "intake-openapi.yaml").read_text(encoding="utf-8"))
    return Registry().with_resource(OPENAPI, Resource.from_contents(doc, DRAFT202012))


def conforms(instance: Any, component: str) -> None:
    """Raise unless `instance` is what the OpenAPI file says `component` is."""
    schema = {"$ref": f"{OPENAPI}#/components/schemas/{component}"}
    jsonschema.Draft202012Validator(schema, registry=_registry()).validate(instance)


class Stream:
    """One event stream as a page (or a script) holds it, read in the background."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.received: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, youth: Youth) -> Stream | dict[str, Any]:
        """The open stream, or the error it was refused with."""
        response = await http.get(youth.url("events"), headers=youth.auth)
        if response.status != 200:
            error = await response.json()
            response.release()
            return error
        return cls(response)

    async def _read(self) -> None:
        async for raw in self.response.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                self.received.append(json.loads(line[6:]))
                self._arrived.set()
        self._arrived.set()

    def ended(self) -> bool:
        """The server has ended this stream."""
        return self._task.done()

    async def until_ended(self) -> None:
        await asyncio.shield(self._task)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        async with asyncio.timeout(20):
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                assert not self.ended(), f"stream ended; received {self.received}"
                self._arrived.clear()
                await self._arrived.wait()

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.response.close()
