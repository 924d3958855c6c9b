"""Load: many young people at once, the bot killed and started again in the middle, and
afterwards every count exact, nothing left undeleted, and nothing of theirs anywhere.

Young people arrive at ARRIVALS_PER_SECOND (a campaign evening's rush, paced as real
traffic is: Synapse creates only a few rooms a second on one core, so arrivals faster
than that would only measure its queue). Each starts a conversation, follows its event
stream, writes twice and waits; three counsellors take the conversations in turn, answer
each and close it with `!luk`. Halfway through the arrivals the bot is killed (SIGKILL)
and started again: pages retry their start, reconnect their stream with Last-Event-ID
and resend with the same client id, as the youth page does; counsellors' commands made
while it was down arrive when it is back.

Every text carries a canary; the youths connect from 127.0.0.2, an address only the
intake ever sees. At the end: one stats row per conversation, every room purged and every
youth account erased, each message seen exactly once on both sides, and no canary in
any table of Synapse's database, any file of the stack's state directory or any log
line; Synapse never saw the youths' address.

How many: 40 in the default run, 200 in the full run (UNGECHAT_FULL=1, see
docs/reliability.md), or UNGECHAT_LOAD_CONVERSATIONS. The figures are printed and written
to test-artifacts/load.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.conversation.states import State
from bots.db.models import utcnow
from tests.bot_process import FaultStack, built_fault_stack
from tests.db_scan import files_containing, tables_containing
from tests.matrix_helpers import Counsellor, Youth
from tests.waiting import eventually

pytestmark = pytest.mark.synapse

FULL = bool(os.environ.get("UNGECHAT_FULL"))
LOAD_CONVERSATIONS = int(os.environ.get("UNGECHAT_LOAD_CONVERSATIONS", "200" if FULL else "40"))
ARRIVALS_PER_SECOND = 4.0
CONVERSATIONS_PER_COUNSELLOR = 4  # at once: a busy evening
# How long a page keeps trying to start (it retries by itself on 503): with 200 arriving
# at 4 a second the homeserver, creating a room or two a second on this machine, is
# minutes behind at the end of the rush, and a page waits through that.
PATIENCE = 600.0 if FULL else 180.0
YOUTH_ADDRESS = "127.0.0.2"  # the young people's own address: only the intake sees it
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"


@dataclass
class Visit:
    """One young person's conversation, as their page and their counsellor saw it."""

    number: int
    canary: str
    youth: Youth
    conversation: str = ""
    room_id: str = ""
    youth_user_id: str = ""
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    start_attempts: int = 0
    start_wait: float = 0.0  # seconds from the first try to the conversation's start


@pytest.fixture(scope="module")
async def load_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    async with built_fault_stack(tmp_path_factory.mktemp("load")) as stack:
        yield stack


async def retried(attempt: Any, *, timeout: float = PATIENCE) -> Any:
    """What a page does while the intake is away (killed, restarting) or asks it to come
    back in a moment (503 with retry_after_ms, 3 s): try again, for as long as a young
    person keeps the page open (PATIENCE)."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await attempt()
            except (aiohttp.ClientError, AssertionError, ConnectionError):
                await asyncio.sleep(3)


async def start(visit: Visit) -> None:
    async def once() -> None:
        visit.start_attempts += 1
        await visit.youth.start("testby", "plakat")

    began = time.monotonic()
    await retried(once)
    visit.start_wait = time.monotonic() - began


async def send(visit: Visit, text: str) -> None:
    """As the page sends: its own client id, the same on every retry (the homeserver
    drops a duplicate); an answer that is not 202 (the bot away: 503 or no answer at
    all) is tried again."""
    client_id = secrets.token_hex(8)
    youth = visit.youth

    async def once() -> None:
        async with youth.http.post(
            youth.url("messages"), json={"body": text, "client_id": client_id}, headers=youth.auth
        ) as r:
            assert r.status == 202, r.status

    await retried(once)


async def young_person(visit: Visit, counsellor_queue: asyncio.Queue[Visit]) -> None:
    await start(visit)
    visit.conversation = visit.youth.conversation
    visit.youth.listen(reconnect=True)
    await counsellor_queue.put(visit)
    for part in ("første", "anden"):
        await send(visit, f"{visit.canary} {part} besked")
    async with asyncio.timeout(180):
        await visit.answered.wait()
        await visit.youth.ended()


async def counsellor(
    c: Counsellor, stack: FaultStack, queue: asyncio.Queue[Visit], done: list[Visit]
) -> None:
    """Take the conversations one after another, as they come."""
    while True:
        visit = await queue.get()
        await take(c, stack, visit)
        done.append(visit)
        queue.task_done()


async def take(c: Counsellor, stack: FaultStack, visit: Visit) -> None:
    """Join, read both messages, answer, wait for the youth to see it, close."""
    conv = await stack.wait_for_state(visit.conversation, State.WAITING, timeout=120)
    assert conv.room_id is not None and conv.youth_user_id is not None
    visit.room_id, visit.youth_user_id = conv.room_id, conv.youth_user_id
    await retried(lambda: c.join(visit.room_id))
    wanted = {f"{visit.canary} første besked", f"{visit.canary} anden besked"}
    await c.sync_until(lambda: wanted <= set(c.texts_in(visit.room_id)), timeout=120)
    reply = f"{visit.canary} svar fra rådgiveren"
    await c.say(visit.room_id, reply)
    await visit.youth.wait_for(lambda e: e.get("body") == reply, timeout=120)
    await c.say(visit.room_id, "!luk trivsel")
    visit.answered.set()


async def test_many_at_once_with_the_bot_killed_halfway(load_stack: FaultStack) -> None:
    stack = load_stack
    run = secrets.token_hex(4)
    stats_before = len(await stack.stats_rows())
    youth_http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(YOUTH_ADDRESS, 0), limit=0)
    )
    queue: asyncio.Queue[Visit] = asyncio.Queue()
    done: list[Visit] = []
    visits = [
        Visit(i, f"kanariefugl-{run}-{i:04d}", Youth(stack.intake, youth_http))
        for i in range(LOAD_CONVERSATIONS)
    ]
    workers = [
        asyncio.create_task(counsellor(c, stack, queue, done))
        for c in stack.counsellors
        for _ in range(CONVERSATIONS_PER_COUNSELLOR)
    ]
    began, began_at = time.monotonic(), utcnow()
    killed_at: float | None = None
    try:
        youths = []
        for visit in visits:
            youths.append(asyncio.create_task(young_person(visit, queue)))
            if visit.number == LOAD_CONVERSATIONS // 2:
                await stack.bot.kill()  # mid-rush: set-ups, messages and closes under way
                killed_at = time.monotonic() - began
                await stack.bot.start()
            await asyncio.sleep(1 / ARRIVALS_PER_SECOND)
        await asyncio.gather(*youths)

        async def all_purged() -> bool:
            """Every conversation begun, also one whose set-up the kill cut off (its page
            never got an answer and started another): ended and deleted."""
            convs = await stack.conversations_since(began_at)
            return all(c.state == State.PURGED for c in convs)

        try:
            await eventually(all_purged, timeout=300)
        except TimeoutError:
            left = [(c.id[:6], c.state) for c in await stack.conversations_since(began_at)]
            raise AssertionError(f"not deleted: {[x for x in left if x[1] != 'purged']}") from None
        elapsed = time.monotonic() - began
        cut_off = len(await stack.conversations_since(began_at)) - LOAD_CONVERSATIONS
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        await youth_http.close()

    # Counts exact: one anonymous row per conversation, none twice.
    rows = (await stack.stats_rows())[stats_before:]
    answered = [r for r in rows if r.outcome == "answered"]
    assert len(answered) == LOAD_CONVERSATIONS
    assert all(r.topics == ["trivsel"] for r in answered)
    # A set-up the kill cut off is counted once, as what it was.
    assert sorted(r.outcome for r in rows if r not in answered) == ["setup_failed"] * cut_off
    # Nothing unpurged: every room gone, every youth account erased.
    for visit in visits:
        assert not await stack.room_exists(visit.room_id), visit.number
        account = await stack.account(visit.youth_user_id)
        assert account["deactivated"] and account["erased"], visit.number
    # Each message exactly once on both sides.
    for visit in visits:
        shown = [e for e in visit.youth.received if e.get("type") == "message"]
        ids = [e["id"] for e in shown]
        assert len(ids) == len(set(ids)), visit.number
        mine = [e["body"] for e in shown if e["from"] == "youth"]
        assert mine == [f"{visit.canary} første besked", f"{visit.canary} anden besked"]
        theirs = [e["body"] for e in shown if e["from"] == "counsellor"]
        assert theirs == [f"{visit.canary} svar fra rådgiveren"]
        joined = [e for e in shown if e.get("key") == "counsellor_joined"]
        assert len(joined) == 1, visit.number

    await no_trace_left(stack, f"kanariefugl-{run}", [v.youth_user_id for v in visits])

    figures = {
        "conversations": LOAD_CONVERSATIONS,
        "arrivals_per_second": ARRIVALS_PER_SECOND,
        "seconds": round(elapsed, 1),
        "conversations_per_second": round(LOAD_CONVERSATIONS / elapsed, 2),
        "bot_killed_at_second": round(killed_at or 0, 1),
        "bot_peak_rss_mib": round(stack.bot.peak_rss_kib() / 1024, 1),
        "start_retries": sum(v.start_attempts - 1 for v in visits),
        "longest_wait_to_start_seconds": round(max(v.start_wait for v in visits), 1),
        "set_ups_cut_off": cut_off,
        "stream_reconnects": sum(v.youth.reconnects for v in visits),
        "lost": 0,
        "duplicated": 0,
        "unpurged": 0,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
    print("\nload:", json.dumps(figures))


async def no_trace_left(stack: FaultStack, canary: str, youth_accounts: list[str]) -> None:
    """No canary in any table of Synapse's database, any file of the stack (databases,
    journals, media, the bot's and Synapse's logs), and Synapse never saw the youths'
    own address: only the intake's."""
    synapse_db = stack.synapse.database_path
    assert await asyncio.to_thread(tables_containing, synapse_db, canary) == []
    assert await asyncio.to_thread(files_containing, stack.state_dir, canary) == []
    assert await asyncio.to_thread(files_containing, stack.state_dir, YOUTH_ADDRESS) == []

    def addresses() -> dict[str, set[str]]:
        uri = f"file:{synapse_db}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT user_id, ip FROM user_ips").fetchall()
        seen: dict[str, set[str]] = {}
        for user_id, ip in rows:
            seen.setdefault(user_id, set()).add(ip)
        return seen

    seen = await asyncio.to_thread(addresses)
    assert not any(YOUTH_ADDRESS in ips for ips in seen.values())
    for user_id in youth_accounts:
        assert seen.get(user_id, set()) <= {"127.0.0.1"}  # the intake, acting for them
