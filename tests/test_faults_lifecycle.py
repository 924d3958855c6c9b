"""The bot is killed (SIGKILL) inside each step of a conversation's life and started
again; afterwards everything is as a user would expect it.

The fault proxy (tests/fault_proxy.py) stops the bot exactly inside a step by holding
one of its homeserver calls; the bot process is killed while the call is held; the call
is then either dropped (the homeserver never saw it) or done without the bot hearing the
answer; and the bot starts again on its database. At start-up it resumes every step left
under way (bots/maintenance.py), except a set-up younger than STALE_AFTER, which it
leaves to the process that may still be running it: the set-up tests move the
conversation's start that far back while the bot is down, as if the restart came a
minute later, rather than wait a minute.

Afterwards: each conversation is in the right state in the bot's database, there is no
duplicate room or lobby entry, every ended room is purged and its youth account erased,
the anonymous stats row is written exactly once, and the young person is told each
thing (a counsellor joined, the conversation was transferred) exactly once.

The last tests stop and start Synapse itself under traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.conversation.maintenance import STALE_AFTER
from bots.conversation.room import COUNSELLOR_POWER, METADATA_EVENT, YOUTH_VISIBLE
from bots.conversation.states import State
from bots.db.models import Conversation, ConversationStats, utcnow
from bots.texts import counsellor_text
from tests.bot_process import FaultStack, pending_pushes
from tests.fault_proxy import Hold
from tests.matrix_helpers import Counsellor, Youth

pytestmark = [pytest.mark.synapse, pytest.mark.usefixtures("recovered")]

DROPPED = "dropped"  # the homeserver never saw the call
UNHEARD = "done-unheard"  # the homeserver did it; the bot never heard the answer
FATES = pytest.mark.parametrize("fate", [DROPPED, UNHEARD])
CLOSED = {"type": "status", "status": "closed"}


# -- helpers ------------------------------------------------------------------------------


async def crash(stack: FaultStack, hold: Hold, fate: str, *, restart: bool = True) -> None:
    """Kill the bot while `hold` holds its call, let the call meet its fate, start again."""
    try:
        await hold.arrived()
        await stack.bot.kill()
    finally:
        await hold.release(forward=fate == UNHEARD, answer=False)
    if restart:
        await stack.bot.start()


async def relisten(youth: Youth) -> None:
    """The page reconnects its event stream (with Last-Event-ID) after the bot died."""
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await youth.stop_listening()
    youth.listen()


async def command(c: Counsellor, room_id: str, text: str) -> list[str]:
    """Send a command as Element would, and wait for the bot's reply to it."""
    event_id = await c.say(room_id, text)
    return await c.sync_until(lambda: c.replies_to(room_id, event_id))


async def taken(
    stack: FaultStack, http: aiohttp.ClientSession, c: Counsellor
) -> tuple[Youth, str, Conversation]:
    """A youth in testby whose conversation counsellor `c` has taken: (youth, room, row)."""
    youth = await Youth(stack.intake, http).start("testby")
    youth.listen()
    room_id = (await stack.conversation(youth.conversation)).room_id
    assert room_id is not None
    await c.join(room_id)
    conv = await stack.wait_for_state(youth.conversation, State.ACTIVE)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    return youth, room_id, conv


async def told(stack: FaultStack, room_id: str, key: str) -> int:
    """How many times the room holds the bot's youth-visible message `key`."""
    events = await stack.room_events(room_id)
    return sum(1 for e in events if e["content"].get(YOUTH_VISIBLE) == key)


async def notices(stack: FaultStack, room_id: str, body: str) -> int:
    return sum(1 for e in await stack.room_events(room_id) if e["content"].get("body") == body)


async def lobby_entry(c: Counsellor, lobby: str, room_id: str) -> str:
    """The one lobby message that announced the conversation (waiting for it to sync)."""
    (entry,) = await c.sync_until(lambda: lobby_entries(c, lobby, room_id))
    return entry


def lobby_entries(c: Counsellor, lobby: str, room_id: str) -> list[str]:
    """The lobby messages that announced the conversation (not edits, not threads)."""
    return [
        e["event_id"]
        for e in c.sources(lobby)
        if "m.relates_to" not in e["content"] and room_id in e["content"].get("body", "")
    ]


async def new_stats(stack: FaultStack, before: int) -> Sequence[ConversationStats]:
    return (await stack.stats_rows())[before:]


async def assert_deleted(stack: FaultStack, conv_id: str, room_ids: list[str], youth: str):
    """Nothing of the conversation is left on the homeserver."""
    for room_id in room_ids:
        assert not await stack.room_exists(room_id), f"{room_id} not purged"
    assert await stack.rooms_of(conv_id) == []
    account = await stack.account(youth)
    assert account["deactivated"] is True and account["erased"] is True


async def state_of(c: Counsellor, room_id: str, event_type: str) -> dict[str, Any]:
    status, body = await c.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state/{event_type}")
    assert status == 200, body
    return body


# -- set-up ---------------------------------------------------------------------------------


def setup_steps(stack: FaultStack) -> dict[str, tuple[str, str]]:
    space, lobby = stack.rooms["testby"].space_id, stack.rooms["testby"].lobby_id
    return {
        "create-room": ("POST", r"/createRoom$"),
        "space-child": ("PUT", rf"/rooms/{space}/state/m\.space\.child/"),
        "lobby-entry": ("PUT", rf"/rooms/{lobby}/send/m\.room\.message/lobby-"),
    }


async def not_queued(c: Counsellor, lobby: str, room_id: str) -> None:
    """Wait until the lobby, as Element shows the queue, has no entry for the room."""

    def queued() -> list[str]:
        return [i for i, content in c.queue(lobby).items() if room_id in content.get("body", "")]

    await c.sync_until(lambda: not queued(), timeout=10)


async def as_if_a_minute_passed(stack: FaultStack, conv_id: str) -> None:
    """While the bot is down: its start moves back by STALE_AFTER, so the restart finds
    a set-up no process can still be running."""
    assert not stack.bot.running
    earlier = utcnow() - STALE_AFTER - dt.timedelta(seconds=1)
    await stack.repo.set(conv_id, created_at=earlier, waiting_since=earlier)


async def killed_during_set_up(
    stack: FaultStack,
    http: aiohttp.ClientSession,
    step: str,
    fate: str,
    meanwhile: Callable[[Conversation], Awaitable[None]] | None = None,
) -> tuple[Conversation, list[str]]:
    """A youth starts a conversation; the bot dies inside `step` of its set-up (after
    `meanwhile`, if given, has happened) and starts again a minute later. Returns the row
    as it was left, and the rooms it had."""
    since = utcnow()
    hold = stack.proxy.hold(*setup_steps(stack)[step])
    start = asyncio.create_task(Youth(stack.intake, http).start("testby"))
    if meanwhile is not None:
        await hold.arrived()
        (conv,) = await stack.conversations_since(since)
        await meanwhile(conv)
    await crash(stack, hold, fate, restart=False)
    # The youth's page got no answer but a cut connection: no token, no conversation.
    with pytest.raises(aiohttp.ClientConnectionError):
        await start
    (conv,) = await stack.conversations_since(since)
    assert conv.state == State.REQUESTED
    rooms = await stack.rooms_of(conv.id)
    assert len(rooms) == (0 if (step, fate) == ("create-room", DROPPED) else 1)
    await as_if_a_minute_passed(stack, conv.id)
    await stack.bot.start()
    return conv, rooms


@pytest.mark.parametrize(
    ("step", "fate"),
    [
        ("create-room", DROPPED),
        ("create-room", UNHEARD),
        ("space-child", DROPPED),
        ("space-child", UNHEARD),
        ("lobby-entry", DROPPED),
        ("lobby-entry", UNHEARD),
    ],
)
async def test_killed_during_set_up(
    fault_stack: FaultStack, http: aiohttp.ClientSession, step: str, fate: str
) -> None:
    stack = fault_stack
    c0 = stack.counsellors[0]
    space, lobby = stack.rooms["testby"].space_id, stack.rooms["testby"].lobby_id
    stats_before = len(await stack.stats_rows())
    conv, rooms = await killed_during_set_up(stack, http, step, fate)

    await stack.wait_for_state(conv.id, State.PURGED)
    assert conv.youth_user_id is not None
    await assert_deleted(stack, conv.id, rooms, conv.youth_user_id)
    for room_id in rooms:
        assert room_id not in await c0.space_children(space)
        await not_queued(c0, lobby, room_id)
    assert len(await new_stats(stack, stats_before)) == 1

    # The youth tries again, and it works.
    youth = await Youth(stack.intake, http).start("testby")
    again = await stack.wait_for_state(youth.conversation, State.WAITING)
    assert again.room_id is not None and await stack.rooms_of(again.id) == [again.room_id]
    assert await youth.end() == 200
    await stack.wait_for_state(youth.conversation, State.PURGED)


@pytest.mark.parametrize("joined", [False, True], ids=["nobody-came", "a-counsellor-came"])
async def test_a_set_up_cut_off_by_a_crash_is_counted_as_a_failed_set_up(
    fault_stack: FaultStack, http: aiohttp.ClientSession, joined: bool
) -> None:
    """The youth never got an answer: the row must not say a young person waited in vain
    (`unanswered`), nor, when a counsellor came into the half-made room, that one was
    answered (`answered`)."""
    stack = fault_stack
    c0 = stack.counsellors[0]

    async def counsellor_comes(conv: Conversation) -> None:
        assert conv.room_id is not None
        await c0.join(conv.room_id)
        async with asyncio.timeout(10):
            while True:
                if (await stack.conversation(conv.id)).claimed_by == c0.user_id:
                    return
                await asyncio.sleep(0.1)

    stats_before = len(await stack.stats_rows())
    step = "lobby-entry" if joined else "create-room"
    conv, _ = await killed_during_set_up(
        stack, http, step, DROPPED, counsellor_comes if joined else None
    )
    await stack.wait_for_state(conv.id, State.PURGED)
    (row,) = await new_stats(stack, stats_before)
    assert row.outcome == "setup_failed"


async def test_a_counsellor_who_joins_during_set_up_takes_the_conversation(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    """Issue 17 point 11: a join between the room appearing in the space and the
    conversation becoming `waiting` is a claim, not "another counsellor"."""
    stack = fault_stack
    c0 = stack.counsellors[0]
    lobby = stack.rooms["testby"].lobby_id
    since = utcnow()
    # Set-up stops before the lobby entry, after the room is in the space.
    hold = stack.proxy.hold("PUT", rf"/rooms/{lobby}/send/m\.room\.message/lobby-")
    start = asyncio.create_task(Youth(stack.intake, http).start("testby"))
    try:
        await hold.arrived()
        (conv,) = await stack.conversations_since(since)
        assert conv.room_id is not None
        await c0.join(conv.room_id)  # Element lists it in the space already
        # Let the bot hear of the join before the set-up goes on (proceed in any case).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while True:
                    if c0.user_id in (await stack.conversation(conv.id)).counsellors:
                        break
                    await asyncio.sleep(0.1)
    finally:
        await hold.release(forward=True)
    youth = await asyncio.wait_for(start, 30)
    youth.listen()
    try:
        await stack.wait_for_state(conv.id, State.ACTIVE, timeout=15)
        await youth.wait_for(lambda e: e.get("key") == "counsellor_joined", timeout=10)
        assert await told(stack, conv.room_id, "counsellor_joined") == 1
        assert await told(stack, conv.room_id, "another_counsellor_joined") == 0
    finally:
        assert await youth.end() == 200
        await stack.wait_for_state(conv.id, State.PURGED)
        await youth.stop_listening()


# -- claim ----------------------------------------------------------------------------------


@FATES
async def test_killed_during_claim(
    fault_stack: FaultStack, http: aiohttp.ClientSession, fate: str
) -> None:
    stack = fault_stack
    c0 = stack.counsellors[0]
    lobby = stack.rooms["testby"].lobby_id
    stats_before = len(await stack.stats_rows())
    youth = await Youth(stack.intake, http).start("testby")
    youth.listen()
    conv = await stack.conversation(youth.conversation)
    room_id = conv.room_id
    assert room_id is not None and conv.youth_user_id is not None
    hold = stack.proxy.hold("PUT", rf"/rooms/{room_id}/state/m\.room\.power_levels")
    await c0.join(room_id)
    await crash(stack, hold, fate)

    await stack.wait_for_state(conv.id, State.ACTIVE)
    await relisten(youth)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    levels = await state_of(c0, room_id, "m.room.power_levels")
    assert levels["users"][c0.user_id] == COUNSELLOR_POWER
    assert (await state_of(c0, room_id, METADATA_EVENT))["status"] == "active"
    entry = await lobby_entry(c0, lobby, room_id)
    await c0.sync_until(lambda: c0.queue(lobby).get(entry, {}).get("body", "").startswith("🟢"))
    # The conversation goes on, both ways.
    await c0.say(room_id, "Hej, jeg er her nu.")
    await youth.wait_for(lambda e: e.get("body") == "Hej, jeg er her nu.")
    assert await youth.send("Godt, tak.") == 202
    await c0.sync_until(lambda: "Godt, tak." in c0.texts_in(room_id))
    # Told once, however often the claim was tried.
    assert await told(stack, room_id, "counsellor_joined") == 1
    assert [e.get("key") for e in youth.received].count("counsellor_joined") == 1
    assert await notices(stack, room_id, counsellor_text("claimed_hint", "da")) == 1
    assert await told(stack, room_id, "another_counsellor_joined") == 0
    assert lobby_entries(c0, lobby, room_id) == [entry]

    await command(c0, room_id, "!luk")
    await stack.wait_for_state(conv.id, State.PURGED)
    await assert_deleted(stack, conv.id, [room_id], conv.youth_user_id)
    (row,) = await new_stats(stack, stats_before)
    assert row.outcome == "answered" and row.ended_by == "counsellor"
    await youth.stop_listening()


# -- transfer -------------------------------------------------------------------------------


def transfer_steps(stack: FaultStack, room_id: str) -> dict[str, tuple[str, str]]:
    nordby_space = stack.rooms["nordby"].space_id
    return {
        "join-rule": ("PUT", rf"/rooms/{room_id}/state/m\.room\.join_rules"),
        "target-space": ("PUT", rf"/rooms/{nordby_space}/state/m\.space\.child/"),
    }


@pytest.mark.parametrize("step", ["join-rule", "target-space"])
@FATES
async def test_killed_during_transfer(
    fault_stack: FaultStack, http: aiohttp.ClientSession, step: str, fate: str
) -> None:
    stack = fault_stack
    c0, c2 = stack.counsellors[0], stack.counsellors[2]
    testby, nordby = stack.rooms["testby"], stack.rooms["nordby"]
    await command(c2, nordby.lobby_id, "!duty start")
    try:
        youth, room_id, conv = await taken(stack, http, c0)
        assert conv.youth_user_id is not None
        stats_before = len(await stack.stats_rows())
        old_entry = await lobby_entry(c0, testby.lobby_id, room_id)
        hold = stack.proxy.hold(*transfer_steps(stack, room_id)[step])
        asked = await c0.say(room_id, "!overfør nordby")
        await crash(stack, hold, fate)

        moved = await stack.wait_for_state(conv.id, State.WAITING)
        assert moved.kommune == "nordby" and moved.transferred_from == "testby"
        await relisten(youth)
        await youth.wait_for(lambda e: e.get("key") == "transferred")
        assert room_id in await c2.space_children(nordby.space_id)
        assert room_id not in await c0.space_children(testby.space_id)
        await c2.sync_until(lambda: lobby_entries(c2, nordby.lobby_id, room_id))
        await c0.sync_until(lambda: old_entry in c0.redacted(testby.lobby_id))
        # Nordby's counsellor takes it, and closes it.
        await c2.join(room_id)
        await stack.wait_for_state(conv.id, State.ACTIVE)
        await c2.say(room_id, "Hi, I'm from Nordby.")
        await youth.wait_for(lambda e: e.get("body") == "Hi, I'm from Nordby.")
        assert await told(stack, room_id, "transferred") == 1
        assert await told(stack, room_id, "counsellor_joined") == 2  # once per time queued
        assert len(lobby_entries(c2, nordby.lobby_id, room_id)) == 1
        # The counsellor who asked got one answer: it is being transferred.
        replies = c0.replies_to(room_id, asked)
        assert len(replies) == 1 and "Nordby Kommune" in replies[0], replies
        await command(c2, room_id, "!close")
        await stack.wait_for_state(conv.id, State.PURGED)
        await assert_deleted(stack, conv.id, [room_id], conv.youth_user_id)
        (row,) = await new_stats(stack, stats_before)
        assert (row.kommune, row.transferred_to, row.outcome) == ("testby", "nordby", "transferred")
        await youth.stop_listening()
    finally:
        await command(c2, nordby.lobby_id, "!duty end")


# -- close and purge ------------------------------------------------------------------------

CLOSE_STEPS = {
    "purge": ("DELETE", r"^/_synapse/admin/v2/rooms/!"),
    "erase": ("POST", r"^/_synapse/admin/v1/deactivate/"),
}


@pytest.mark.parametrize("step", CLOSE_STEPS)
@FATES
async def test_killed_during_close(
    fault_stack: FaultStack, http: aiohttp.ClientSession, step: str, fate: str
) -> None:
    stack = fault_stack
    c0 = stack.counsellors[0]
    testby = stack.rooms["testby"]
    youth, room_id, conv = await taken(stack, http, c0)
    assert conv.youth_user_id is not None
    assert await youth.send("Det her må ingen vide.") == 202
    entry = await lobby_entry(c0, testby.lobby_id, room_id)
    stats_before = len(await stack.stats_rows())
    hold = stack.proxy.hold(*CLOSE_STEPS[step])
    await command(c0, room_id, "!luk")
    await hold.arrived()
    await youth.wait_for(lambda e: e == CLOSED)  # the page says so before the deletion
    await crash(stack, hold, fate)

    await stack.wait_for_state(conv.id, State.PURGED)
    await assert_deleted(stack, conv.id, [room_id], conv.youth_user_id)
    assert room_id not in await c0.space_children(testby.space_id)
    await c0.sync_until(lambda: entry in c0.redacted(testby.lobby_id))
    (row,) = await new_stats(stack, stats_before)
    assert row.outcome == "answered" and row.ended_by == "counsellor"
    async with http.get(youth.url("events"), headers=youth.auth) as r:
        assert r.status == 404  # the token opens nothing any more
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await youth.stop_listening()


@pytest.mark.long
async def test_synapse_killed_during_a_purge_is_waited_for(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    """Synapse dies while it purges the room: after its restart the purge task is still
    marked running, and Synapse answers a new purge "purge already in progress" until it
    resumes its own (its task scheduler looks every minute). The bot waits for that one
    instead of counting the deletion as failed and trying again every pass."""
    stack = fault_stack
    c0 = stack.counsellors[0]
    youth, room_id, conv = await taken(stack, http, c0)
    assert conv.youth_user_id is not None
    # A room with some history, so that its purge takes long enough to be cut off.
    for number in range(150):
        await c0.say(room_id, f"linje {number}")
    purge = stack.proxy.hold(*CLOSE_STEPS["purge"])
    await command(c0, room_id, "!luk")
    await purge.arrived()
    await purge.release(forward=True, answer=True)
    await stack.synapse.local.kill()
    await stack.synapse.local.start()
    stack.proxy.target = stack.synapse.url
    await stack.reconnect_counsellors()

    await stack.wait_for_state(conv.id, State.PURGED, timeout=240)
    await assert_deleted(stack, conv.id, [room_id], conv.youth_user_id)
    assert "purge_failed" not in stack.bot.log_text()
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await youth.stop_listening()


# -- hold (!bevar) --------------------------------------------------------------------------


def hold_steps(room_id: str) -> dict[str, tuple[str, str]]:
    return {
        "kick": ("POST", rf"/rooms/{room_id}/kick$"),
        "deactivate": ("POST", r"^/_synapse/admin/v1/deactivate/"),
    }


@pytest.mark.parametrize("step", ["kick", "deactivate"])
@FATES
async def test_killed_while_keeping_a_conversation(
    fault_stack: FaultStack, http: aiohttp.ClientSession, step: str, fate: str
) -> None:
    stack = fault_stack
    c0 = stack.counsellors[0]
    lobby = stack.rooms["testby"].lobby_id
    youth, room_id, conv = await taken(stack, http, c0)
    youth_user = conv.youth_user_id
    assert youth_user is not None
    assert await youth.send("Min stedfar slår mig.") == 202
    assert "3 dage" in (await command(c0, room_id, "!bevar 3"))[0]
    stats_before = len(await stack.stats_rows())
    hold = stack.proxy.hold(*hold_steps(room_id)[step])
    await command(c0, room_id, "!luk")
    await hold.arrived()
    await youth.wait_for(lambda e: e == CLOSED)
    await crash(stack, hold, fate)

    held = await stack.wait_for_state(conv.id, State.HELD)
    assert held.hold_until is not None and held.closed_at is not None
    assert abs(held.hold_until - held.closed_at - dt.timedelta(days=3)) < dt.timedelta(seconds=1)
    # Kept read-only for the counsellors, the youth out and their account closed.
    assert await stack.room_exists(room_id)
    status, members = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}/members")
    assert status == 200 and youth_user not in members["members"]
    account = await stack.account(youth_user)
    assert account["deactivated"] is True and account["erased"] is False
    assert (await state_of(c0, room_id, "m.room.power_levels"))["events_default"] == 100
    assert "Min stedfar slår mig." in await c0.history(room_id)
    entry = await lobby_entry(c0, lobby, room_id)
    await c0.sync_until(lambda: c0.queue(lobby).get(entry, {}).get("body", "").startswith("🔒"))
    (row,) = await new_stats(stack, stats_before)
    assert row.held is True and row.outcome == "answered"
    async with http.get(youth.url("events"), headers=youth.auth) as r:
        assert r.status == 404  # the youth's token opens nothing any more

    assert "slettes nu" in (await command(c0, lobby, f"!slet {conv.id[:6]}"))[0]
    await stack.wait_for_state(conv.id, State.PURGED)
    await assert_deleted(stack, conv.id, [room_id], youth_user)
    assert len(await new_stats(stack, stats_before)) == 1
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await youth.stop_listening()


# -- Synapse stops and starts under traffic ---------------------------------------------------
# Last in the module: after Synapse's restart the stack is not what it was before.


# A fast typist, well inside the intake's limit per conversation (bots/intake/limits.py).
YOUTH_PACE = 0.6
COUNSELLOR_PACE = 0.5


@dataclass
class Send:
    text: str
    started: float
    ended: float
    outcome: str  # "202", "503 M_UNAVAILABLE", "hang", or the connection error's name


@dataclass
class SynapseRestart:
    room_id: str
    conv: Conversation
    youth: Youth
    down_from: float  # loop time: Synapse had stopped …
    down_until: float  # … and was not yet being started again
    youth_sends: list[Send] = field(default_factory=list)
    counsellor_sent: list[str] = field(default_factory=list)  # what Synapse accepted

    def accepted(self) -> list[str]:
        return [s.text for s in self.youth_sends if s.outcome == "202"]

    def sent_while_down(self) -> list[Send]:
        return [
            s
            for s in self.youth_sends
            if self.down_from <= s.started and s.ended <= self.down_until
        ]


async def youth_traffic(youth: Youth, out: list[Send], stop: asyncio.Event) -> None:
    """A youth's page writing every YOUTH_PACE seconds; each send's outcome (a hang is
    one)."""
    loop = asyncio.get_running_loop()
    number = 0
    while not stop.is_set():
        number += 1
        text = f"ung {number}"
        started = loop.time()
        try:
            async with (
                asyncio.timeout(20),
                youth.http.post(
                    youth.url("messages"), json={"body": text}, headers=youth.auth
                ) as r,
            ):
                body = await r.json(content_type=None) if r.status != 202 else {}
                outcome = " ".join([str(r.status), *([body.get("errcode", "?")] if body else [])])
        except TimeoutError:
            outcome = "hang"
        except aiohttp.ClientError as exc:
            outcome = type(exc).__name__
        out.append(Send(text, started, loop.time(), outcome))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), YOUTH_PACE)


async def counsellor_traffic(
    c: Counsellor, room_id: str, out: list[str], stop: asyncio.Event
) -> None:
    """A counsellor writing every COUNSELLOR_PACE seconds; what the homeserver accepted."""
    number = 0
    while not stop.is_set():
        number += 1
        text = f"rådgiver {number}"
        try:
            await c.say(room_id, text)
            out.append(text)
        except Exception:  # Synapse is down: Element shows the message as not sent
            pass
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), COUNSELLOR_PACE)


async def until(predicate: Callable[[], bool], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
async def synapse_restart(fault_stack: FaultStack) -> AsyncIterator[SynapseRestart]:
    """Synapse is stopped and started again while a youth and a counsellor write."""
    stack = fault_stack
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as http:
        youth, room_id, conv = await taken(stack, http, stack.counsellors[0])
        sends: list[Send] = []
        said: list[str] = []
        stop = asyncio.Event()
        traffic = [
            asyncio.create_task(youth_traffic(youth, sends, stop)),
            asyncio.create_task(counsellor_traffic(stack.counsellors[0], room_id, said, stop)),
        ]
        try:
            await until(lambda: [s.outcome for s in sends].count("202") >= 5)
            await stack.synapse.local.stop()
            down_from = loop.time()
            await until(lambda: sum(s.started >= down_from for s in sends) >= 6)
            down_until = loop.time()
            await stack.synapse.local.start()
            stack.proxy.target = stack.synapse.url  # the same port, unless it was taken
            up = loop.time()
            await until(lambda: sum(s.started > up and s.outcome == "202" for s in sends) >= 3)
        finally:
            stop.set()
            await asyncio.gather(*traffic)
            if not await stack.synapse_answers():  # it broke off while Synapse was down
                await stack.synapse.local.start()
                stack.proxy.target = stack.synapse.url
        await stack.reconnect_counsellors()  # Element reconnects
        await relisten(youth)  # the page reconnects its stream
        yield SynapseRestart(room_id, conv, youth, down_from, down_until, sends, said)
        with contextlib.suppress(aiohttp.ClientError, AssertionError):
            await youth.stop_listening()


async def test_while_synapse_is_down_a_youth_gets_a_clear_retryable_error(
    synapse_restart: SynapseRestart,
) -> None:
    """Issue 17 point 9: never a 500 or a hang, and nothing pretends to be sent."""
    run = synapse_restart
    down = run.sent_while_down()
    assert len(down) >= 5
    outcomes = [s.outcome for s in run.youth_sends]
    assert {s.outcome for s in down} == {"503 M_UNAVAILABLE"}, outcomes
    assert set(outcomes) <= {"202", "503 M_UNAVAILABLE"}, outcomes  # never a 500 or a hang


async def test_synapse_restarting_loses_nothing_the_youth_saw_accepted(
    fault_stack: FaultStack, synapse_restart: SynapseRestart
) -> None:
    stack, run = fault_stack, synapse_restart
    accepted = run.accepted()
    assert len(accepted) >= 8
    events = await stack.room_events(run.room_id)
    in_room = [e["content"]["body"] for e in events if e["sender"] == run.conv.youth_user_id]
    assert [t for t in accepted if in_room.count(t) != 1] == []
    # The youth's page shows each once (the reconnected stream goes on where it was) …
    await run.youth.wait_for(lambda e: e.get("body") == accepted[-1])
    shown = run.youth.messages("youth")
    assert [t for t in accepted if shown.count(t) != 1] == []
    # … and the counsellor's Element too.
    history = await stack.counsellors[0].history(run.room_id, limit=1000)
    assert [t for t in accepted if t not in history] == []
    # What the counsellor wrote and the homeserver accepted reaches the youth.
    assert run.counsellor_sent
    await run.youth.wait_for(lambda e: e.get("body") == run.counsellor_sent[-1], timeout=40)
    from_counsellor = run.youth.messages("counsellor")
    assert [t for t in run.counsellor_sent if t not in from_counsellor] == []


async def test_the_conversation_goes_on_after_synapse_restarted(
    fault_stack: FaultStack, synapse_restart: SynapseRestart
) -> None:
    """Issue 17 point 0: Synapse numbers its pushes from 1 again after a restart; the
    bot must still hear the counsellor (here: their message reaches the youth at once,
    and `!luk` ends and deletes the conversation)."""
    stack, run = fault_stack, synapse_restart
    c0 = stack.counsellors[0]
    await c0.say(run.room_id, "Er du der stadig?")
    await run.youth.wait_for(lambda e: e.get("body") == "Er du der stadig?", timeout=10)
    assert await run.youth.send("Ja.") == 202
    await c0.sync_until(lambda: "Ja." in c0.texts_in(run.room_id))
    stats_before = len(await stack.stats_rows())
    await command(c0, run.room_id, "!luk")
    await stack.wait_for_state(run.conv.id, State.CLOSING, State.PURGED)
    await run.youth.wait_for(lambda e: e == CLOSED)
    (row,) = await new_stats(stack, stats_before)
    assert row.outcome == "answered" and row.ended_by == "counsellor"
    # Its deletion is checked by the last test: Synapse may hold it back for a while.


async def pushes_until(
    stack: FaultStack,
    predicate: Callable[[dict[int, list[str]]], bool],
    timeout: float = 30,
) -> None:
    """Wait until Synapse's unacknowledged appservice transactions are as `predicate` wants."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate(await pending_pushes(stack)):
                return
            await asyncio.sleep(0.1)


async def test_a_command_synapse_never_pushed_is_heard_all_the_same(
    fault_stack: FaultStack, http: aiohttp.ClientSession
) -> None:
    """Issue 17 point 10: Synapse dies while its push of a counsellor's `!luk` is under
    way. It re-sends a pending transaction after a restart only to an application service
    it had marked down, and this one was not (the bot hung, it did not refuse), so the
    command is never pushed: the bot must find it in the room itself."""
    stack = fault_stack
    c0 = stack.counsellors[0]
    # Left over from Synapse's earlier restarts, and never to be sent (nothing in flight).
    left_over = set(await pending_pushes(stack))
    youth, room_id, conv = await taken(stack, http, c0)
    assert conv.youth_user_id is not None
    stats_before = len(await stack.stats_rows())
    # The bot has acknowledged everything so far, so `!luk` is the next push.
    await pushes_until(stack, lambda pending: set(pending) <= left_over)
    await stack.bot.pause()  # hung: Synapse's push waits for an answer
    close = await c0.say(room_id, "!luk")
    await pushes_until(stack, lambda pending: [close] in pending.values())
    await stack.synapse.local.kill()  # SIGKILL: what it was about to push is gone
    await stack.bot.kill()
    await stack.synapse.local.start()
    stack.proxy.target = stack.synapse.url
    await stack.reconnect_counsellors()
    assert [close] in (await pending_pushes(stack)).values()  # still there: never sent
    await stack.bot.start()

    await stack.wait_for_state(conv.id, State.PURGED)
    await assert_deleted(stack, conv.id, [room_id], conv.youth_user_id)
    (row,) = await new_stats(stack, stats_before)
    assert row.outcome == "answered" and row.ended_by == "counsellor"
    with contextlib.suppress(aiohttp.ClientError, AssertionError):
        await youth.stop_listening()


# How long Synapse may keep a lock its previous run left behind (synapse/storage/
# databases/main/lock.py: two minutes, then reaped on a timer), plus the bot's next try.
SYNAPSE_STALE_LOCK = 240


async def test_nothing_is_left_undeleted_at_the_end(fault_stack: FaultStack) -> None:
    """Every conversation of this module, however it was cut off, is deleted: no
    conversation room is left on the homeserver, no youth account is left unerased, no
    conversation in the bot's database is anything but purged.

    Synapse stopped under traffic can leave the lock of an event it was persisting on
    that room (`new_event_during_purge_lock`, taken just as its shutdown dropped the
    locks it held); the room's purge then waits until Synapse reaps it, two minutes
    later, so this may take that long."""
    stack = fault_stack
    registration = stack.synapse.registration
    room_alias = "#" + registration.conversation_alias_localpart("")
    youth_localpart = registration.youth_user_id("").split(":", 1)[0][1:]

    async def leftovers() -> dict[str, list[str]]:
        status, rooms = await stack.admin("GET", "/_synapse/admin/v1/rooms?limit=1000")
        assert status == 200, rooms
        path = f"/_synapse/admin/v2/users?name={youth_localpart}&limit=1000"
        status, users = await stack.admin("GET", path)
        assert status == 200, users
        async with stack.sessions() as session:
            query = select(Conversation.id, Conversation.state).where(
                Conversation.state != State.PURGED.value
            )
            unpurged = (await session.execute(query)).all()
        return {
            "rooms": [
                r["room_id"]
                for r in rooms["rooms"]
                if (r["canonical_alias"] or "").startswith(room_alias)
            ],
            "youth accounts": [u["name"] for u in users["users"] if not u["erased"]],
            "conversations": [f"{conv_id} {state}" for conv_id, state in unpurged],
        }

    left = await leftovers()
    try:
        async with asyncio.timeout(SYNAPSE_STALE_LOCK):
            while True:
                if not any(left.values()):
                    break
                await asyncio.sleep(1)
                left = await leftovers()
    except TimeoutError:
        raise AssertionError(f"left undeleted: {left}") from None
