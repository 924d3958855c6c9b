"""What a homeserver pushes is checked before it is read, each event is handled once
whatever its transaction, and what the homeserver never pushes is found by the bot
itself (the catch-up), so no counsellor's action is lost."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import aiohttp
import pytest

from bots.appservice.catch_up import CatchUp
from bots.conversation.states import State
from tests.matrix_helpers import Youth
from tests.stack_fixture import Stack
from tests.test_counsellors import (
    command,
    entry_becomes,
    room_of,
    started,
    stats_row,
    wait_for_state,
)
from tests.waiting import eventually

pytestmark = pytest.mark.synapse


def transactions(stack: Stack) -> str:
    return f"{stack.intake}/_matrix/app/v1/transactions/"


def hs_token(stack: Stack) -> dict[str, str]:
    token = stack.bot.homeservers.get("local").registration.hs_token
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def put(http: aiohttp.ClientSession, url: str, data: str | bytes, headers: dict) -> tuple:
    async with http.put(url, data=data, headers=headers) as r:
        return r.status, await r.json(content_type=None)


def restarted(catch_up: CatchUp) -> None:
    """The homeserver's transaction ids start again from 1, as Synapse's do after a
    restart on SQLite."""
    catch_up.saw_transaction("local", "1000")
    catch_up.saw_transaction("local", "1")


async def healthy(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{stack.intake}/healthz") as r:
        assert r.status == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("[]", 400),  # a list, not a transaction
        ('"events"', 400),
        ('{"events": "abc"}', 400),
        ('{"events": {"a": 1}}', 400),
        ('{"events": [], "ephemeral": 7}', 400),
        ("{not json", 400),
        ("[" * 100_000 + "]" * 100_000, 400),  # nested beyond reason
        ('{"events": [1, "x", null, [], {}, {"type": 5}]}', 200),  # skipped, one by one
        ('{"events": [], "ephemeral": [1, {"type": "m.typing", "content": 3}]}', 200),
        ("{}", 200),
    ],
)
async def test_malformed_pushes_get_a_clear_answer(
    stack: Stack, http: aiohttp.ClientSession, body: str, status: int
) -> None:
    url = transactions(stack) + secrets.token_hex(4)
    got, answer = await put(http, url, body, hs_token(stack))
    assert got == status
    assert isinstance(answer, dict)  # JSON, never aiohttp's plain-text 500
    if status >= 400:
        assert answer["errcode"].startswith("M_") and answer["error"]
    # Without the token nothing is even read.
    got, answer = await put(http, url, body, {"Content-Type": "application/json"})
    assert got == 401 and answer["errcode"] == "M_UNAUTHORIZED"
    await healthy(stack, http)


async def test_one_bad_event_does_not_stop_the_others(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    youth = await started(stack, http, "testby")
    room_id = await room_of(stack, youth)
    counsellor = stack.counsellors[1].user_id
    join = {
        "type": "m.room.member",
        "room_id": room_id,
        "sender": counsellor,
        "state_key": counsellor,
        "content": {"membership": "join"},
        "event_id": f"$fake{secrets.token_hex(4)}",
    }
    broken = [
        {"type": "m.room.member", "room_id": room_id, "sender": counsellor},  # no event id
        {**join, "event_id": "$x1", "content": "join"},
        {**join, "event_id": "$x2", "state_key": ["a"]},
        {**join, "event_id": "$x3", "content": {"membership": {"a": 1}}},
    ]
    body = json.dumps({"events": [*broken, join]})
    got, _ = await put(http, transactions(stack) + secrets.token_hex(4), body, hs_token(stack))
    assert got == 200
    await wait_for_state(stack.bot.repo, youth.conversation, State.CLAIMING, State.ACTIVE)
    assert await youth.end() == 200


async def test_an_event_pushed_twice_is_handled_once(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The homeserver retries a transaction, or a new one carries an event already
    handled: the counsellor sees one answer, not two."""
    c = stack.counsellors[1]
    lobby = stack.rooms["testby"].lobby_id
    event_id = await c.say(lobby, "!vagt start")
    try:
        replies = await c.sync_until(lambda: c.replies_to(lobby, event_id))
        assert "på vagt" in replies[0]
        event = {
            "type": "m.room.message",
            "room_id": lobby,
            "sender": c.user_id,
            "content": {"msgtype": "m.text", "body": "!vagt start"},
            "event_id": event_id,
        }
        for _ in range(2):
            body = json.dumps({"events": [event]})
            got, _ = await put(http, transactions(stack) + "1", body, hs_token(stack))
            assert got == 200
        # A second handling would have said "you are already on duty".
        marker = await c.say(lobby, "!hjælp")
        await c.sync_until(lambda: c.replies_to(lobby, marker))
        assert len(c.replies_to(lobby, event_id)) == 1
    finally:
        await command(c, lobby, "!vagt slut")


async def test_a_close_the_homeserver_never_pushed_is_found_by_the_catch_up(
    stack: Stack, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The homeserver persisted the counsellor's `!luk` but its push was lost (Synapse
    dying at the wrong moment loses a transaction): the bot reads the room itself."""
    c = stack.counsellors[0]
    youth = await started(stack, http, "testby")
    room_id = await room_of(stack, youth)
    await c.join(room_id)
    await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)
    await stack.bot.tasks.drain()
    router = stack.bot.router
    lost: list[str] = []
    arrived = asyncio.Event()

    async def pushes_lost(link: Any, events: Any) -> None:
        lost.extend(e.get("event_id") for e in events if isinstance(e, dict))
        arrived.set()

    bot = stack.bot
    catch_up = CatchUp(bot.config, bot.sessions, bot.repo, bot.homeservers, router)
    await catch_up.run()  # up to date before the loss
    with monkeypatch.context() as patched:
        patched.setattr(router, "handle_events", pushes_lost)
        canary = f"kanariefugl-{secrets.token_hex(4)}"
        await youth.send(canary)
        closing = await c.say(room_id, "!luk ensomhed")
        async with asyncio.timeout(20):  # the push came, and was lost
            while True:
                arrived.clear()
                if closing in lost:
                    break
                await arrived.wait()
    assert (await stack.bot.repo.get(youth.conversation)).state == State.ACTIVE
    restarted(catch_up)
    assert await catch_up.run() >= 2  # the canary and the close
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    row = await stats_row(stack, topics=["ensomhed"], outcome="answered")
    assert row.kommune == "testby"
    # Nothing is handled twice when the catch-up passes again.
    restarted(catch_up)
    assert await catch_up.run() == 0
    assert len(c.replies_to(room_id, closing)) == 1


async def test_a_counsellor_who_joins_during_set_up_claims_the_conversation(
    stack: Stack, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room is in the space a moment before its lobby entry is posted; a counsellor
    quick enough to join then takes the conversation like any other."""
    c = stack.counsellors[1]
    convs = stack.bot
    lobby = convs.lobby
    in_lobby_step = asyncio.Event()
    go_on = asyncio.Event()
    announce = lobby.announce

    async def slow_announce(*args: Any, **kwargs: Any) -> str:
        in_lobby_step.set()
        await go_on.wait()
        return await announce(*args, **kwargs)

    monkeypatch.setattr(lobby, "announce", slow_announce)
    youth = Youth(stack.intake, http)
    starting = asyncio.create_task(youth.start("testby"))
    try:
        async with asyncio.timeout(20):
            await in_lobby_step.wait()
        [conv] = [x for x in await convs.repo.in_states([State.REQUESTED]) if x.room_id]
        await c.join(conv.room_id)

        async def join_heard() -> bool:
            return (await convs.repo.get(conv.id)).claimed_by == c.user_id

        await eventually(join_heard, timeout=20)
    finally:
        go_on.set()
        await starting
    monkeypatch.undo()
    youth.listen()
    await wait_for_state(stack.bot.repo, conv.id, State.ACTIVE)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    # The lobby shows it taken, and the youth was told once.
    lobby_id = stack.rooms["testby"].lobby_id
    assert (await entry_becomes(c, lobby_id, conv.room_id, "🟢")).startswith("🟢 Samtale i gang")
    await c.say(conv.room_id, "Hej, jeg er her.")
    await youth.wait_for(lambda e: e.get("body") == "Hej, jeg er her.")
    joined = [e for e in youth.received if e.get("key") == "counsellor_joined"]
    assert len(joined) == 1
    await command(c, conv.room_id, "!luk trivsel")
    await wait_for_state(stack.bot.repo, conv.id, State.PURGED)
    row = await stats_row(stack, topics=["trivsel"], outcome="answered")
    assert row.wait_seconds is not None
    await youth.stop_listening()


async def test_a_purge_already_under_way_is_waited_for(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Synapse refuses a second purge of a room while one runs ("purge already in
    progress"; after a crash of Synapse, until it resumes its own): the bot waits for
    that one instead of failing and trying again later."""
    youth = await started(stack, http, "testby")
    room_id = await room_of(stack, youth)
    status, started_purge = await stack.admin(
        "DELETE", f"/_synapse/admin/v2/rooms/{room_id}", {"purge": True, "block": False}
    )
    assert status == 200 and started_purge["delete_id"]
    admin = stack.bot.homeservers.get("local").admin
    async with asyncio.timeout(60):
        await admin.purge_room(room_id, attempts=1)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    await youth.stop_listening()
