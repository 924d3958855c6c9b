"""The fault-injection tools do what they claim: a held request really holds the bot's
call (and is then forwarded, answered or not, or dropped), `down()` cuts the bot off
its homeserver, and the bot process survives SIGKILL and a restart on its database."""

from __future__ import annotations

import asyncio
import os

import aiohttp
import pytest

from bots.conversation.states import State
from bots.db.models import utcnow
from tests.bot_process import FaultStack
from tests.matrix_helpers import Youth
from tests.waiting import eventually

pytestmark = [pytest.mark.synapse, pytest.mark.usefixtures("recovered")]


async def test_a_held_request_holds_the_bot_until_released(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    stack = fault_stack
    since = utcnow()
    hold = stack.proxy.hold("POST", r"/createRoom$")
    start = asyncio.create_task(Youth(stack.intake, http).start("testby"))
    try:
        await hold.arrived()
        # The bot is stuck in its createRoom call: the youth has no answer, the row is
        # `requested` without a room, and the homeserver has no room for it.
        (conv,) = await stack.conversations_since(since)
        assert conv.state == State.REQUESTED and conv.room_id is None
        assert await stack.rooms_of(conv.id) == []
        assert not start.done()
    finally:
        await hold.release(forward=True)
    youth = await asyncio.wait_for(start, 30)
    conv = await stack.wait_for_state(youth.conversation, State.WAITING)
    assert await stack.rooms_of(conv.id) == [conv.room_id]
    assert stack.proxy.requests("POST", r"/createRoom$")
    assert await youth.end() == 200
    await stack.wait_for_state(youth.conversation, State.PURGED)


@pytest.mark.parametrize(
    ("forward", "answer"),
    [(True, False), (False, False)],
    ids=["done-but-unheard", "dropped"],
)
async def test_a_cut_request_is_retried_and_done_once(
    fault_stack: FaultStack, http: aiohttp.ClientSession, forward: bool, answer: bool
) -> None:
    """A youth's message whose request is cut (after or before the homeserver took it)
    is sent again by the bot with the same transaction id: it shows once."""
    stack = fault_stack
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.conversation(youth.conversation)
    assert conv.room_id is not None
    hold = stack.proxy.hold("PUT", rf"/rooms/{conv.room_id}/send/m\.room\.message/")
    sent = asyncio.create_task(youth.send("Er der nogen?"))
    try:
        await hold.arrived()
        assert not sent.done()
    finally:
        await hold.release(forward=forward, answer=answer)
    assert await asyncio.wait_for(sent, 30) == 202
    tries = stack.proxy.requests("PUT", rf"/rooms/{conv.room_id}/send/m\.room\.message/")
    assert len(tries) == 2 and tries[0] == tries[1]  # the same transaction id again
    bodies = [e["content"].get("body") for e in await stack.room_events(conv.room_id)]
    assert bodies.count("Er der nogen?") == 1
    assert await youth.end() == 200
    await stack.wait_for_state(youth.conversation, State.PURGED)


async def test_down_cuts_the_bot_off_its_homeserver(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    stack = fault_stack

    async def homeserver(answer: str) -> bool:
        """The health check says so (within the few seconds between its looks)."""
        return (await stack.bot.health())["homeservers"] == {"local": answer}

    assert await homeserver("ok")
    await stack.proxy.down()
    try:
        await eventually(lambda: homeserver("unreachable"), timeout=15)
        body = {"kommune": "testby", "kanal": "plakat"}
        async with http.post(f"{stack.intake}/api/v1/conversations", json=body) as r:
            assert r.status == 503, await r.text()
            assert (await r.json())["errcode"] == "M_UNAVAILABLE"
    finally:
        await stack.proxy.up()
    await eventually(lambda: homeserver("ok"), timeout=15)


async def test_the_bot_process_survives_sigkill_and_restart(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    stack = fault_stack
    first = stack.bot.pid
    assert stack.bot.peak_rss_kib() > 10_000
    await stack.bot.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(first, 0)
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(f"{stack.intake}/healthz"):
            pass
    await stack.bot.start()
    assert stack.bot.pid != first
    assert (await stack.bot.health())["homeservers"] == {"local": "ok"}
    assert f"---- start {stack.bot.starts} ----" in stack.bot.log_text()
    # It answers youth and hears the homeserver's pushes again.
    youth = await Youth(stack.intake, http).start("testby")
    conv = await stack.conversation(youth.conversation)
    assert conv.room_id is not None
    await stack.counsellors[0].join(conv.room_id)
    await stack.wait_for_state(conv.id, State.ACTIVE)
    assert await youth.end() == 200
    await stack.wait_for_state(conv.id, State.PURGED)
