"""The bot's database as an operator meets it: migrations at start-up and by command,
refusal of a schema from a newer ungechat, concurrent starts, and racing state changes.

Every test runs on SQLite (a file) and PostgreSQL (a fresh database each; all are dropped
at the end). PostgreSQL is at UNGECHAT_TEST_POSTGRES (default: trust auth on localhost);
if it is not reachable the PostgreSQL cases fail, they are not skipped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from asyncio.subprocess import Process
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.config.hours import COPENHAGEN
from bots.conversation.states import State
from bots.conversation.store import ConversationRepo, transition_in
from bots.db.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SchemaTooNew,
    async_url,
    ensure_schema,
    head_revision,
    make_engine,
    make_sessionmaker,
    migrate_connection,
    migration_transaction,
    upgrade,
)
from bots.db.models import Base, Conversation
from tests.db_fixture import FreshDatabase

UNKNOWN_REVISION = "9999"


@asynccontextmanager
async def engines(url: str, count: int = 1) -> AsyncIterator[list[AsyncEngine]]:
    """`count` engines on one database, as `count` processes or replicas would have."""
    made = [make_engine(url) for _ in range(count)]
    try:
        yield made
    finally:
        for engine in made:
            await engine.dispose()


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def stored_revisions(engine: AsyncEngine) -> tuple[str, ...]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())


async def schema_differences(engine: AsyncEngine) -> list[object]:
    def compare(conn: object) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(compare)


def waiting_conversation(conversation_id: str) -> Conversation:
    return Conversation(
        id=conversation_id, kommune="aarhus", homeserver="hs1", state=State.WAITING.value
    )


async def test_empty_database_is_migrated_to_the_models(db_url: str) -> None:
    async with engines(db_url) as (engine,):
        revision = await ensure_schema(engine)
        assert revision == head_revision()
        assert await stored_revisions(engine) == (revision,)
        assert await table_names(engine) == {"alembic_version", *Base.metadata.tables}
        assert await schema_differences(engine) == []


async def test_migrating_again_changes_nothing(db_url: str) -> None:
    async with engines(db_url) as (engine,):
        first = await ensure_schema(engine)
        await ConversationRepo(make_sessionmaker(engine)).add(waiting_conversation("c1"))
    # As the next start would, and as `ungechat db upgrade` does.
    assert await upgrade(db_url) == first
    async with engines(db_url) as (engine,):
        assert await ensure_schema(engine) == first
        assert await stored_revisions(engine) == (first,)
        kept = await ConversationRepo(make_sessionmaker(engine)).get("c1")
        assert kept is not None and kept.state == State.WAITING
        assert kept.created_at is not None  # server default; naive on SQLite, so not compared


async def stamp_unknown_revision(engine: AsyncEngine) -> None:
    """What a newer ungechat leaves behind, as far as this version can tell."""
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        )
        await conn.execute(
            text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": UNKNOWN_REVISION}
        )


async def test_database_from_a_newer_version_is_refused_untouched(db_url: str) -> None:
    async with engines(db_url) as (engine,):
        await stamp_unknown_revision(engine)
        with pytest.raises(SchemaTooNew) as refused:
            await ensure_schema(engine)
        message = str(refused.value)
        assert repr(UNKNOWN_REVISION) in message and repr(head_revision()) in message
        assert refused.value.database_revision == UNKNOWN_REVISION
        assert refused.value.known_head == head_revision()
        assert await table_names(engine) == {"alembic_version"}
        assert await stored_revisions(engine) == (UNKNOWN_REVISION,)


async def test_starts_at_once_in_one_process(
    db_url: str, tmp_path: Path, pg_databases: FreshDatabase
) -> None:
    """Two replicas' engines on one database, and a second database, all at once."""
    if make_url(db_url).get_backend_name() == "sqlite":
        other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    else:
        other_url = await pg_databases()
    async with engines(db_url, 2) as (first, second), engines(other_url) as (other,):
        revisions = await asyncio.gather(
            ensure_schema(first), ensure_schema(second), ensure_schema(other)
        )
        assert revisions == [head_revision()] * 3
        for engine in (first, other):
            assert await stored_revisions(engine) == (head_revision(),)
            assert await schema_differences(engine) == []


async def test_second_process_waits_for_a_running_migration(db_url: str, tmp_path: Path) -> None:
    async with engines(db_url) as (engine,):
        # This test process migrates, holding what ensure_schema holds …
        async with migration_transaction(engine) as conn:
            other = await start_ungechat(
                "--log-level", "DEBUG", "db", "upgrade", "--url", db_url, cwd=tmp_path
            )
            try:
                # … while another process starts, reaches the lock and has to wait.
                await until_line(other, "database_schema_lock_waiting")
                await until_blocked(other, engine)
                await conn.run_sync(migrate_connection)
            except BaseException:
                other.kill()
                await other.wait()
                raise
        code, out, err = await finish(other)
        assert code == 0, err
        assert f"database at revision {head_revision()}" in out
        assert "database_migrated" not in err  # it found the schema done, and did nothing
        assert await stored_revisions(engine) == (head_revision(),)


async def test_racing_transitions_have_exactly_one_winner(db_url: str) -> None:
    async with engines(db_url, 2) as pair:
        await ensure_schema(pair[0])
        repos = [ConversationRepo(make_sessionmaker(engine)) for engine in pair]
        ids = [f"race{i}" for i in range(10)]
        for conversation_id in ids:
            await repos[0].add(waiting_conversation(conversation_id))

        results = await asyncio.gather(
            *(
                repo.transition(cid, [State.WAITING], State.CLAIMING, claimed_by=f"@c{n}:hs1")
                for cid in ids
                for n, repo in enumerate(repos)
            )
        )

        for cid, won0, won1 in zip(ids, results[0::2], results[1::2], strict=True):
            assert won0 != won1, f"{cid}: both or neither of the racing transitions won"
            row = await repos[1].get(cid)
            assert row is not None
            assert row.state == State.CLAIMING
            assert row.claimed_by == ("@c0:hs1" if won0 else "@c1:hs1")
            assert row.event_seq == 1


async def until_blocked(waiter: asyncio.Task[bool] | Process, engine: AsyncEngine) -> None:
    """Until `waiter` (a task or another process) waits for a lock this test holds."""

    def finished() -> bool:
        return waiter.done() if isinstance(waiter, asyncio.Task) else waiter.returncode is not None

    if engine.dialect.name == "postgresql":
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 90  # a second process may start slowly on a busy machine
        async with engine.connect() as conn:
            while (await conn.execute(query)).scalar_one() == 0:
                assert not finished(), "it did not wait for the lock"
                assert time.monotonic() < deadline, "it never blocked on the lock"
                await asyncio.sleep(0.02)
    else:
        # SQLite shows no waiters; it must simply still be waiting for the write lock.
        await asyncio.sleep(1)
        assert not finished(), "it did not wait for the write lock"


async def test_transition_behind_an_open_one_waits_and_loses(db_url: str) -> None:
    async with engines(db_url, 2) as (first, second):
        await ensure_schema(first)
        first_sessions = make_sessionmaker(first)
        await ConversationRepo(first_sessions).add(waiting_conversation("c1"))
        other_replica = ConversationRepo(make_sessionmaker(second))

        async with first_sessions.begin() as session:
            assert await transition_in(
                session, "c1", [State.WAITING], State.CLAIMING, claimed_by="@first:hs1"
            )
            loser = asyncio.create_task(
                other_replica.transition(
                    "c1", [State.WAITING], State.CLAIMING, claimed_by="@second:hs1"
                )
            )
            await until_blocked(loser, first)
        assert await loser is False

        row = await other_replica.get("c1")
        assert row is not None and row.claimed_by == "@first:hs1" and row.event_seq == 1


async def test_sqlite_files_are_shared_safely(tmp_path: Path) -> None:
    async with engines(f"sqlite:///{tmp_path / 'bot.db'}") as (engine,):
        assert engine.url.drivername == "sqlite+aiosqlite"
        async with engine.connect() as conn:
            pragma = conn.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar_one() == "wal"
            assert (await pragma("PRAGMA busy_timeout")).scalar_one() == SQLITE_BUSY_TIMEOUT_MS
            assert (await pragma("PRAGMA foreign_keys")).scalar_one() == 1


def test_usual_url_forms_get_the_async_drivers() -> None:
    assert str(async_url("sqlite:///var/bot.db")) == "sqlite+aiosqlite:///var/bot.db"
    assert (
        async_url("postgresql://u:pw@db/ungechat").render_as_string(hide_password=False)
        == "postgresql+asyncpg://u:pw@db/ungechat"
    )
    assert async_url("postgres://u@db/x").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+asyncpg://u@db/x").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://u@db/x")
    with pytest.raises(ValueError, match="unsupported"):
        async_url("postgresql+psycopg2://u@db/x")


def operator_form(url: str) -> str:
    """The URL as an operator writes it, without the async driver."""
    parsed = make_url(url)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=False)


async def start_ungechat(*args: str, cwd: Path) -> Process:
    command = Path(sys.executable).parent / "ungechat"
    assert command.exists(), f"{command} missing: pip install -e . in this venv"
    return await asyncio.create_subprocess_exec(
        command, *args, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )


async def until_line(proc: Process, needle: str) -> None:
    """Until `proc` has written a line containing `needle` to stderr."""
    assert proc.stderr is not None
    async with asyncio.timeout(60):
        while needle not in (line := (await proc.stderr.readline()).decode()):
            assert line, f"ungechat ended without logging {needle!r}"


async def finish(proc: Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run_ungechat(*args: str, cwd: Path) -> tuple[int, str, str]:
    return await finish(await start_ungechat(*args, cwd=cwd))


async def test_db_upgrade_command(db_url: str, tmp_path: Path) -> None:
    url = operator_form(db_url)
    for _ in range(2):
        code, out, err = await run_ungechat("db", "upgrade", "--url", url, cwd=tmp_path)
        assert code == 0, err
        assert f"database at revision {head_revision()}" in out
    async with engines(db_url) as (engine,):
        assert await stored_revisions(engine) == (head_revision(),)
        assert await schema_differences(engine) == []


async def test_db_upgrade_command_refuses_a_newer_database(db_url: str, tmp_path: Path) -> None:
    async with engines(db_url) as (engine,):
        await stamp_unknown_revision(engine)
    code, _, err = await run_ungechat("db", "upgrade", "--url", db_url, cwd=tmp_path)
    assert code != 0
    assert repr(UNKNOWN_REVISION) in err and repr(head_revision()) in err
    async with engines(db_url) as (engine,):
        assert await table_names(engine) == {"alembic_version"}
        assert await stored_revisions(engine) == (UNKNOWN_REVISION,)


async def test_rows_from_the_first_schema_survive_every_later_migration(db_url: str) -> None:
    """An operator upgrading ungechat keeps conversations in flight and the stats."""
    from alembic import command

    from bots.db.engine import alembic_config

    async with engines(db_url) as (engine,):

        def to_first(conn: object) -> None:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")

        async with engine.begin() as conn:
            await conn.run_sync(to_first)
            await conn.execute(
                text(
                    "INSERT INTO conversations (id, kommune, homeserver, answers, state, "
                    "topics, event_seq) VALUES ('c1', 'aarhus', 'hs1', '{}', 'active', "
                    "'[]', 3)"
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO conversation_stats (kommune, date, hour, weekday, answers, "
                    "topics, outcome) VALUES ('aarhus', '2026-11-23', 19, 0, '{}', "
                    "'[\"familie\"]', 'answered')"
                )
            )
        assert await ensure_schema(engine) == head_revision()
        repo = ConversationRepo(make_sessionmaker(engine))
        conv = await repo.get("c1")
        assert conv is not None and conv.state == "active" and conv.event_seq == 3
        assert conv.counsellors == [] and conv.hold_until is None
        async with engine.connect() as conn:
            held = (await conn.execute(text("SELECT held, topics FROM conversation_stats"))).one()
        assert held[0] in (False, 0)
        assert await schema_differences(engine) == []


async def test_moments_are_the_same_moment_whatever_zone_they_were_given_in(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    """SQLite keeps no time zone: a Danish-time moment must still be stored as the same
    instant, compared as one, and read back aware."""
    danish = dt.datetime(2026, 7, 1, 21, 0, tzinfo=COPENHAGEN)  # 19:00 UTC in summer
    repo = ConversationRepo(db_sessions)
    await repo.add(waiting_conversation("c1"))
    await repo.set("c1", hours_warned_at=danish)
    row = await repo.get("c1")
    assert row is not None and row.hours_warned_at == danish
    assert row.hours_warned_at.utcoffset() == dt.timedelta(0)  # read back in UTC
    async with db_sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.hours_warned_at < danish + dt.timedelta(minutes=1))
            .where(Conversation.hours_warned_at > dt.datetime(2026, 7, 1, 18, 59, tzinfo=dt.UTC))
        )
    assert found == 1
