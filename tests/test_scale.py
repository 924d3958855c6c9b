"""The scale-out stack (`ungechat up --scale`, deploy/local/scale.py) as an operator runs
it: Synapse on PostgreSQL with Redis and its workers, two ungechat replicas, nginx in
front. Started as the command, in its own process; the tests find every process in
stack.json and kill them the way a crash would (SIGKILL), and the stack starts what died
again, as systemd would.

What must hold: the whole conversation on this stack, with nothing of it left in any
table of Synapse's database; a counsellor's message reaching the youth's stream on
either replica quickly wherever the homeserver's push landed (PostgreSQL's NOTIFY, no
polling); a replica killed mid-conversation costing the youth nothing (the page
reconnects through nginx with Last-Event-ID: nothing missed, nothing twice); a Synapse
worker killed and started again, and the conversation goes on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from sqlalchemy import func, select

from bots.conversation.states import State
from bots.conversation.store import ConversationRepo
from bots.db.engine import make_engine, make_sessionmaker
from bots.db.models import Conversation, ConversationStats
from deploy.local.postgres import asyncpg_args
from tests.db_scan import pg_tables_containing
from tests.matrix_helpers import Counsellor, Youth
from tests.waiting import eventually, wait_for_state

pytestmark = pytest.mark.synapse

UNGECHAT = Path(sys.executable).parent / "ungechat"
START_TIMEOUT = 300.0
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class ScaleStack:
    state_dir: Path
    data: dict[str, Any]
    repo: ConversationRepo

    @property
    def intake(self) -> str:
        return self.data["intake"]

    @property
    def homeserver(self) -> str:
        return self.data["homeserver"]

    def reread(self) -> None:
        self.data = json.loads((self.state_dir / "stack.json").read_text())

    def replica_urls(self) -> list[str]:
        return [f"http://{r['address']}" for r in self.data["replicas"]]

    def synapse_url(self) -> str:
        """Synapse's database, read as its owner would (the canary scan)."""
        bot = self.data["bot_database"]
        return bot.rsplit("/", 1)[0] + "/" + self.data["synapse_database"]

    async def counsellor(self, number: int = 0) -> Counsellor:
        person = self.data["municipalities"]["halsnaes"]["counsellors"][number]
        c = await Counsellor.login(self.homeserver, person["user_id"], person["password"])
        return await c.start()

    async def kill(self, pid: int) -> None:
        """SIGKILL, then until the stack has started it again (a new pid in stack.json)."""
        os.kill(pid, signal.SIGKILL)

        async def restarted() -> bool:
            self.reread()
            pids = [r["pid"] for r in self.data["replicas"]]
            pids += [w["pid"] for w in self.data["synapse"]["workers"].values()]
            return pid not in pids and None not in pids

        await eventually(restarted, timeout=120, every=0.2)


@pytest.fixture(scope="module")
async def scale_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ScaleStack]:
    state_dir = tmp_path_factory.mktemp("scale")
    log = (state_dir.parent / "up-scale.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        str(UNGECHAT),
        *("up", "--scale", "--state-dir", str(state_dir)),
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    stack_json = state_dir / "stack.json"
    try:

        async def started() -> bool:
            if proc.returncode is not None:
                raise AssertionError(f"`ungechat up --scale` exited; see {log.name}")
            return stack_json.exists()

        await eventually(started, timeout=START_TIMEOUT, every=0.5)
        data = json.loads(stack_json.read_text())
        engine = make_engine(data["bot_database"])
        try:
            yield ScaleStack(state_dir, data, ConversationRepo(make_sessionmaker(engine)))
        finally:
            await engine.dispose()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 90)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()
        if stack_json.exists():
            await drop_databases(json.loads(stack_json.read_text()))


async def drop_databases(data: dict[str, Any]) -> None:
    """The stack keeps its databases for the next `up`; the tests' are removed."""
    bot = asyncpg_args(data["bot_database"])
    names = [bot.pop("database"), data["synapse_database"]]
    conn = await asyncpg.connect(**bot, database="postgres")
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def timed_stream(
    http: aiohttp.ClientSession, url: str, token: str, arrivals: dict[str, float]
) -> None:
    """A youth's event stream on one replica, noting when each message body arrived."""
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(url, headers=headers) as r:
        assert r.status == 200, await r.text()
        async for raw in r.content:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if event.get("type") == "message":
                    arrivals.setdefault(event["body"], time.monotonic())


async def answered(stack: ScaleStack) -> int:
    """Conversations counted as answered in the anonymous statistics."""
    async with stack.repo.sessions() as session:
        query = select(func.count()).select_from(ConversationStats)
        return await session.scalar(query.where(ConversationStats.outcome == "answered")) or 0


async def open_and_claim(
    stack: ScaleStack, http: aiohttp.ClientSession, c: Counsellor
) -> tuple[Youth, Conversation]:
    youth = await Youth(stack.intake, http).start("halsnaes")
    conv = await wait_for_state(stack.repo, youth.conversation, State.WAITING)
    assert conv.room_id is not None
    await c.join(conv.room_id)
    conv = await wait_for_state(stack.repo, youth.conversation, State.ACTIVE)
    return youth, conv


async def test_a_whole_conversation_on_the_scaled_stack_leaves_nothing_in_synapse(
    scale_stack: ScaleStack,
) -> None:
    stack = scale_stack
    assert len(stack.data["replicas"]) >= 2
    assert {w["role"] for w in stack.data["synapse"]["workers"].values()} == {
        "client",
        "events",
        "appservice",
    }
    canary = f"kanariefugl-{secrets.token_hex(6)}"
    counted_before = await answered(stack)
    c = await stack.counsellor(0)
    try:
        async with aiohttp.ClientSession() as http:
            youth, conv = await open_and_claim(stack, http, c)
            youth.listen(reconnect=True)
            assert await youth.send(f"Hej, jeg hedder {canary}.") == 202
            await c.sync_until(lambda: any(canary in t for t in c.texts_in(conv.room_id or "")))
            await c.say(conv.room_id or "", f"Hej {canary}, godt du skriver.")
            await youth.wait_for(lambda e: e.get("body") == f"Hej {canary}, godt du skriver.")
            assert await pg_tables_containing(stack.synapse_url(), canary) != []

            await c.say(conv.room_id or "", "!luk skole")
            await wait_for_state(stack.repo, youth.conversation, State.PURGED, timeout=120)
            await youth.ended()
    finally:
        await c.stop()
    # Claimed once and counted once, though the pushes landed on either replica.
    assert youth.received.count({"type": "status", "status": "active"}) == 1
    assert await answered(stack) == counted_before + 1
    assert await pg_tables_containing(stack.synapse_url(), canary) == []
    # Each replica has its own Prometheus endpoint, off the youth's address.
    async with aiohttp.ClientSession() as http:
        for replica in stack.data["replicas"]:
            async with http.get(replica["metrics"]) as r:
                assert r.status == 200
                assert "ungechat_conversations" in await r.text()


async def test_a_counsellors_message_reaches_the_stream_on_every_replica_at_once(
    scale_stack: ScaleStack,
) -> None:
    stack = scale_stack
    c = await stack.counsellor(1)
    arrivals: list[dict[str, float]] = [{} for _ in stack.replica_urls()]
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as http:
            youth, conv = await open_and_claim(stack, http, c)
            path = f"/api/v1/conversations/{youth.conversation}/events"
            readers = [
                asyncio.create_task(timed_stream(http, base + path, youth.token, seen))
                for base, seen in zip(stack.replica_urls(), arrivals, strict=True)
            ]
            await asyncio.sleep(1.0)  # both streams have replayed and wait
            for n in range(20):
                body = f"besked {n} {secrets.token_hex(3)}"
                sent = time.monotonic()
                await c.say(conv.room_id or "", body)

                async def on_both(body: str = body) -> bool:
                    return all(body in seen for seen in arrivals)

                await eventually(on_both, timeout=10, every=0.005)
                latencies += [seen[body] - sent for seen in arrivals]
                await asyncio.sleep(0.2)
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            await c.say(conv.room_id or "", "!luk")
            await wait_for_state(stack.repo, youth.conversation, State.PURGED, timeout=120)
    finally:
        await c.stop()
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    figures = {"samples": len(latencies), "p50_ms": p50 * 1000, "p95_ms": p95 * 1000}
    print(f"counsellor → youth stream, both replicas: {figures}")
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "scale-relay.json").write_text(json.dumps(figures, indent=2) + "\n")
    assert p95 <= 0.2, figures


async def test_a_replica_killed_mid_conversation_costs_the_youth_nothing(
    scale_stack: ScaleStack,
) -> None:
    stack = scale_stack
    c = await stack.counsellor(0)
    try:
        async with aiohttp.ClientSession() as http:
            youth, conv = await open_and_claim(stack, http, c)
            youth.listen(reconnect=True)  # through nginx, as the page
            room = conv.room_id or ""
            said: list[str] = []
            written: list[str] = []
            # Each replica killed in turn: whichever held the stream, one of them did.
            for replica in list(stack.data["replicas"]):
                for n in range(3):
                    said.append(f"fra rådgiveren {replica['name']} {n}")
                    await c.say(room, said[-1])
                    written.append(f"fra den unge {replica['name']} {n}")
                    assert await youth.send(written[-1]) == 202
                await stack.kill(replica["pid"])
            said.append("efter genstarten")
            await c.say(room, said[-1])
            for text in said:
                await youth.wait_for(lambda e, text=text: e.get("body") == text, timeout=60)
            await c.sync_until(lambda: set(written) <= set(c.texts_in(room)), timeout=60)
            assert youth.reconnects >= 1  # the stream's replica was one of those killed
            shown = [e["body"] for e in youth.received if e.get("type") == "message"]
            assert sorted(shown) == sorted(set(shown)), "a message shown twice"
            assert [t for t in shown if t in said] == said
            in_room = [t for t in c.texts_in(room) if t.startswith("fra den unge")]
            assert sorted(in_room) == sorted(written)  # none lost, none twice
            await c.say(room, "!luk")
            await wait_for_state(stack.repo, youth.conversation, State.PURGED, timeout=120)
    finally:
        await c.stop()


@pytest.mark.parametrize("worker", ["client1", "persister1", "pusher1"])
async def test_a_synapse_worker_killed_and_started_again_the_conversation_goes_on(
    scale_stack: ScaleStack, worker: str
) -> None:
    stack = scale_stack
    c = await stack.counsellor(1)
    try:
        async with aiohttp.ClientSession() as http:
            youth, conv = await open_and_claim(stack, http, c)
            youth.listen(reconnect=True)
            room = conv.room_id or ""
            await c.say(room, "før")
            await youth.wait_for(lambda e: e.get("body") == "før")
            stack.reread()
            await stack.kill(stack.data["synapse"]["workers"][worker]["pid"])

            async def youth_accepted() -> bool:
                with contextlib.suppress(aiohttp.ClientError):
                    return await youth.send("efter, fra den unge") == 202
                return False

            await eventually(youth_accepted, timeout=60, every=1.0)
            await c.say(room, "efter, fra rådgiveren")
            await youth.wait_for(lambda e: e.get("body") == "efter, fra rådgiveren", timeout=60)
            await c.sync_until(lambda: "efter, fra den unge" in c.texts_in(room), timeout=60)
            await c.say(room, "!luk")
            await wait_for_state(stack.repo, youth.conversation, State.PURGED, timeout=120)
    finally:
        await c.stop()


async def test_a_replica_shutting_down_hands_its_streams_over_at_once(
    scale_stack: ScaleStack,
) -> None:
    """A rolling restart (SIGTERM): the stream on that replica says "reconnect" and ends,
    rather than being cut; the page reconnects through nginx and misses nothing."""
    stack = scale_stack
    stack.reread()
    replica = stack.data["replicas"][0]
    c = await stack.counsellor(0)
    try:
        async with aiohttp.ClientSession() as http:
            youth, conv = await open_and_claim(stack, http, c)
            room = conv.room_id or ""
            await c.say(room, "før genstarten")
            on_replica = Youth(f"http://{replica['address']}", http, youth.conversation)
            on_replica.token = youth.token
            on_replica.listen()  # one stream, held by this replica, not reconnecting
            await on_replica.wait_for(lambda e: e.get("body") == "før genstarten")
            os.kill(replica["pid"], signal.SIGTERM)
            handed_over = await on_replica.wait_for(
                lambda e: e.get("type") == "reconnect", timeout=5
            )
            assert handed_over == {"type": "reconnect"}
            # The page reconnects with its Last-Event-ID (through nginx: another replica).
            youth.last_event_id = on_replica.last_event_id
            youth.listen(reconnect=True)
            await c.say(room, "efter genstarten")
            await youth.wait_for(lambda e: e.get("body") == "efter genstarten", timeout=30)
            said = [m for m in youth.messages() if m.endswith("genstarten")]
            assert said == ["efter genstarten"]  # resumed where it was: nothing twice
            await c.say(room, "!luk")
            await wait_for_state(stack.repo, youth.conversation, State.PURGED, timeout=120)
    finally:
        await c.stop()

    async def restarted() -> bool:
        stack.reread()
        return stack.data["replicas"][0]["pid"] not in (None, replica["pid"])

    await eventually(restarted, timeout=120)
