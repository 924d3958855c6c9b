"""Helpers for the intake's tests: counsellors on duty, partners in the running config,
waiting for the bot to end a conversation, and checking answers against the intake's
OpenAPI file."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bots.lifecycle import OPEN_STATES
from schemas import SCHEMA_DIR
from tests.stack_fixture import Stack

OPENAPI = "urn:ungechat:intake-openapi"


@contextlib.asynccontextmanager
async def on_duty(stack: Stack, kommune: str, user_id: str) -> AsyncIterator[int]:
    """A counsellor on duty for the block (as `!vagt start`); yields how many are on duty."""
    duty = stack.conversations.duty
    await duty.start(kommune, user_id)
    try:
        yield await duty.count(kommune)
    finally:
        await duty.end(kommune, user_id)


@contextlib.contextmanager
def partners(stack: Stack, slug: str, names: tuple[str, ...]) -> Iterator[None]:
    """The running bot's config with `slug` naming partners, as a reloaded config would."""
    config = stack.config
    before = config.municipalities
    changed = tuple(dataclasses.replace(m, partners=names) if m.slug == slug else m for m in before)
    object.__setattr__(config, "municipalities", changed)  # frozen; the bot holds this object
    try:
        yield
    finally:
        object.__setattr__(config, "municipalities", before)


async def ended_in_the_bot(stack: Stack, conversation: str) -> str | None:
    """Wait until the bot's database has the conversation ended; who ended it."""
    async with asyncio.timeout(20):
        while True:
            conv = await stack.conversations.repo.get(conversation)
            assert conv is not None
            if conv.state not in OPEN_STATES:
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
