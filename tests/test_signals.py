"""Between replicas on PostgreSQL, a change one replica writes wakes the youth's stream
held by another at once (NOTIFY from migration 0007's trigger), with no polling; on
SQLite streams keep polling. Real PostgreSQL: the two "replicas" are two engines, each
with its own listener, on one database."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.conversation.states import State
from bots.conversation.store import ConversationRepo
from bots.db.engine import ensure_schema, make_engine, make_sessionmaker
from bots.db.models import Conversation
from bots.signals import LISTENING_POLL_SECONDS, POLL_SECONDS, Signals
from tests.db_fixture import FreshDatabase
from tests.waiting import eventually


@contextlib.asynccontextmanager
async def replica(url: str) -> AsyncIterator[tuple[Signals, async_sessionmaker[AsyncSession]]]:
    engine = make_engine(url)
    await ensure_schema(engine)
    signals = Signals()
    listener = asyncio.create_task(signals.listen_postgres(url))
    try:

        async def connected() -> bool:
            return signals.listening

        await eventually(connected, timeout=10)
        yield signals, make_sessionmaker(engine)
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await engine.dispose()


async def test_a_change_written_by_one_replica_wakes_the_stream_on_another(
    pg_databases: FreshDatabase,
) -> None:
    url = await pg_databases()
    async with replica(url) as (signals_a, sessions_a), replica(url) as (signals_b, _):
        repo_a = ConversationRepo(sessions_a)
        await repo_a.add(
            Conversation(id="c1", kommune="halsnaes", homeserver="local", state="waiting")
        )
        await repo_a.add(
            Conversation(id="c2", kommune="halsnaes", homeserver="local", state="waiting")
        )
        assert signals_b.poll_seconds == LISTENING_POLL_SECONDS  # no 2-second polling

        with signals_b.listen("c1", "halsnaes") as c1_stream:
            # A message in c1, written by replica A: B's stream of c1 wakes.
            started = time.monotonic()
            await repo_a.bump("c1", activity=True)
            await asyncio.wait_for(c1_stream.wait(), 2.0)
            assert time.monotonic() - started < 0.5
            c1_stream.clear()

            # c2 is claimed (a state change): c1 moves up in the queue, so it wakes too.
            await repo_a.transition("c2", [State.WAITING], State.CLAIMING, claimed_by="@r:x")
            await asyncio.wait_for(c1_stream.wait(), 2.0)
            c1_stream.clear()

            # Another municipality's changes don't wake it.
            await repo_a.add(
                Conversation(id="c3", kommune="gribskov", homeserver="local", state="waiting")
            )
            await repo_a.transition("c3", [State.WAITING], State.CLAIMING, claimed_by="@r:x")
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(c1_stream.wait(), 0.5)
        assert signals_a.listening


async def test_without_a_listener_streams_poll_as_on_sqlite(pg_databases: FreshDatabase) -> None:
    url = await pg_databases()
    signals = Signals()
    assert signals.poll_seconds == POLL_SECONDS
    missing = make_url(url).set(database="no_such_database")
    broken = missing.render_as_string(hide_password=False)
    listener = asyncio.create_task(signals.listen_postgres(broken))
    try:
        await asyncio.sleep(1.0)
        assert not signals.listening
        assert signals.poll_seconds == POLL_SECONDS
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
