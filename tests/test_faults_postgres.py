"""PostgreSQL, as production runs it: Synapse and the bot each on a database of one
throwaway cluster, which the tests crash (SIGKILL of the postmaster) under traffic.

While the database is away a young person's page gets a clear, retryable answer (503
`M_UNAVAILABLE`, never a 500 or a hang), and once it is back the conversation goes on:
nothing the page saw accepted is lost, nothing shows twice, and the conversation is
closed, counted once and deleted. And a deleted conversation's text is in no table of
either database, and in no log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bots.conversation.states import State
from deploy.local.postgres import LocalPostgres
from tests.bot_process import FaultStack, built_fault_stack
from tests.db_scan import pg_tables_containing
from tests.matrix_helpers import Youth
from tests.waiting import eventually

pytestmark = pytest.mark.synapse

PACE = 1.2  # seconds between a youth's messages: within the intake's per-conversation limit
OUTAGE = 6.0  # seconds the database is away


@pytest.fixture(scope="module")
async def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    # Under the system's temporary directory: as root the cluster runs as `postgres`,
    # who cannot enter pytest's root-only one.
    cluster_dir = Path(tempfile.mkdtemp(prefix="ungechat-faults-pg-"))
    cluster = LocalPostgres(cluster_dir, fsync=False)
    await cluster.start()
    try:
        async with built_fault_stack(tmp_path_factory.mktemp("pg"), postgres=cluster) as stack:
            yield stack
    finally:
        await cluster.stop()
        shutil.rmtree(cluster_dir, ignore_errors=True)


@dataclass
class Send:
    text: str
    outcome: str  # "202", "503 M_UNAVAILABLE", a connection error's name, or "hang"


async def write_until(youth: Youth, stop: asyncio.Event, out: list[Send]) -> None:
    """A youth's page writing every PACE seconds, each with its own client id."""
    number = 0
    while not stop.is_set():
        number += 1
        text = f"besked {number} {secrets.token_hex(3)}"
        body = {"body": text, "client_id": secrets.token_hex(8)}
        try:
            async with (
                asyncio.timeout(15),
                youth.http.post(youth.url("messages"), json=body, headers=youth.auth) as r,
            ):
                answer = await r.json(content_type=None) if r.status != 202 else {}
                out.append(Send(text, f"{r.status} {answer.get('errcode', '')}".strip()))
        except TimeoutError:
            out.append(Send(text, "hang"))
        except aiohttp.ClientError as exc:
            out.append(Send(text, type(exc).__name__))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PACE)


async def test_the_database_crashing_under_traffic_loses_nothing(pg_stack: FaultStack) -> None:
    stack = pg_stack
    assert stack.postgres is not None
    c = stack.counsellors[0]
    stats_before = len(await stack.stats_rows())
    async with aiohttp.ClientSession() as http:
        youth = await Youth(stack.intake, http).start("testby")
        youth.listen(reconnect=True)  # as the page: again, with Last-Event-ID, if it breaks
        conv = await stack.wait_for_state(youth.conversation, State.WAITING)
        assert conv.room_id is not None
        await c.join(conv.room_id)
        await stack.wait_for_state(youth.conversation, State.ACTIVE)

        sends: list[Send] = []
        stop = asyncio.Event()
        writer = asyncio.create_task(write_until(youth, stop, sends))
        await asyncio.sleep(3 * PACE)
        await stack.postgres.kill()
        down_from = len(sends)
        await asyncio.sleep(OUTAGE)
        await stack.postgres.start()
        down_until = len(sends)
        await asyncio.sleep(3 * PACE)  # the pools find their connections gone, and reconnect

        async def accepted_again() -> bool:
            return bool(sends) and sends[-1].outcome == "202"

        await eventually(accepted_again, timeout=60)
        stop.set()
        await writer

        outcomes = {s.outcome for s in sends}
        assert outcomes <= {"202", "503 M_UNAVAILABLE"}, outcomes  # never a 500 or a hang
        during = {s.outcome for s in sends[down_from + 1 : down_until]}
        assert "503 M_UNAVAILABLE" in during, [s.outcome for s in sends]
        # Everything the page saw accepted is in the room and on the page, exactly once.
        accepted = [s.text for s in sends if s.outcome == "202"]
        await c.sync_until(lambda: set(accepted) <= set(c.texts_in(conv.room_id)), timeout=60)
        in_room = [t for t in c.texts_in(conv.room_id) if t.startswith("besked ")]
        assert sorted(in_room) == sorted(accepted)
        for text in accepted:
            await youth.wait_for(lambda e, text=text: e.get("body") == text, timeout=30)
        shown = [e["id"] for e in youth.received if e.get("type") == "message"]
        assert len(shown) == len(set(shown))

        # And the conversation goes on to its end: counted once, deleted.
        await c.say(conv.room_id, "Tak fordi du skrev.")
        await youth.wait_for(lambda e: e.get("body") == "Tak fordi du skrev.")
        await c.say(conv.room_id, "!luk skole")
        await stack.wait_for_state(youth.conversation, State.PURGED, timeout=120)
        await youth.stop_listening()
    rows = (await stack.stats_rows())[stats_before:]
    assert [(r.outcome, r.topics) for r in rows] == [("answered", ["skole"])]
    assert not await stack.room_exists(conv.room_id)


async def test_a_deleted_conversation_leaves_no_text_in_either_database(
    pg_stack: FaultStack,
) -> None:
    stack = pg_stack
    assert stack.postgres is not None and stack.synapse.postgres_url is not None
    c = stack.counsellors[1]
    canary = f"kanariefugl-{secrets.token_hex(6)}"
    async with aiohttp.ClientSession() as http:
        youth = await Youth(stack.intake, http).start("testby")
        youth.listen()
        conv = await stack.wait_for_state(youth.conversation, State.WAITING)
        assert conv.room_id is not None
        assert await youth.send(f"Jeg hedder {canary} og har det svært.") == 202
        await c.join(conv.room_id)
        await c.say(conv.room_id, f"Hej {canary}, godt du skriver.")
        await youth.wait_for(lambda e: canary in str(e.get("body", "")))
        # Before: the canary is where a conversation lives while it goes on.
        synapse_db = stack.synapse.postgres_url
        assert await pg_tables_containing(synapse_db, canary) != []
        await c.say(conv.room_id, "!luk")
        await stack.wait_for_state(youth.conversation, State.PURGED, timeout=120)
        await youth.stop_listening()
    # After: in no table of Synapse's database, nor of the bot's, nor in any log.
    assert await pg_tables_containing(synapse_db, canary) == []
    assert await pg_tables_containing(stack.postgres.url("ungechat"), canary) == []
    assert await pg_tables_containing(stack.postgres.url("ungechat"), conv.room_id) == []
    assert canary not in stack.bot.log_text()
    assert canary not in stack.synapse.local.log_path.read_text(errors="replace")
