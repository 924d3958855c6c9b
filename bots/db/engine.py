"""The database engine, its sessions, and bringing the schema up to date at start-up.

SQLite (one file, possibly shared by several processes) and PostgreSQL are supported.
The schema is Alembic's history in `schemas/migrations/`: every start migrates to the
newest revision this code knows, one process at a time, and refuses a database that
a newer ungechat has already migrated further.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from schemas import MIGRATIONS_DIR

log = structlog.get_logger(__name__)

# How long a SQLite writer waits for another process's write to finish before failing.
SQLITE_BUSY_TIMEOUT_MS = 30_000
# PostgreSQL advisory lock held while migrating: "ungechat" in ASCII.
MIGRATION_LOCK_KEY = int.from_bytes(b"ungechat", "big")

# The forms operators usually write, mapped to the async drivers we use.
_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer ungechat than this one."""

    def __init__(self, database_revision: str, known_head: str) -> None:
        self.database_revision = database_revision
        self.known_head = known_head
        super().__init__(
            f"the database is at schema revision {database_revision!r}, which this version "
            f"of ungechat does not know (its newest is {known_head!r}); it was probably "
            "migrated by a newer ungechat. Run that version or restore a backup; "
            "nothing in the database was changed."
        )


def async_url(url: str | URL) -> URL:
    """`sqlite:///x` → `sqlite+aiosqlite:///x`, `postgresql://…` → `postgresql+asyncpg://…`."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///path "
            "or postgresql://user@host/db (drivers aiosqlite and asyncpg)"
        )
    return parsed.set(drivername=driver)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so switching to WAL waits for other processes too.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def make_engine(url: str | URL) -> AsyncEngine:
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(parsed, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """Alembic's configuration, in code: no alembic.ini is read at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """The newest schema revision this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def database_revision(engine: AsyncEngine) -> str | None:
    """The schema revision the database is at (None: no schema), read without changing
    anything — for readers such as `ungechat stats`, which must not migrate."""
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`),
# so two migrations in one process, even of different databases, must not interleave.
_in_process_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _in_process_lock() -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    lock = _in_process_locks.get(loop)
    if lock is None:
        lock = _in_process_locks[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def migration_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that only one migrator at a time holds, for reading and migrating.

    PostgreSQL: an advisory lock released at commit; the loser waits, then finds the
    schema migrated. SQLite: `BEGIN IMMEDIATE` takes the file's write lock before the
    version is read (others wait up to the busy timeout), and makes the DDL atomic,
    which the sqlite3 driver's own transaction handling would not.
    """
    async with _in_process_lock():
        log.debug("database_schema_lock_waiting")
        async with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            elif conn.dialect.name == "sqlite":
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn


def migrate_connection(conn: Connection) -> tuple[str | None, str]:
    """Inside `migration_transaction`: refuse a revision this code does not know, else
    upgrade to the newest. Returns the revisions before and after."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    head = head_revision()
    known = {rev.revision for rev in script.walk_revisions()}
    before = MigrationContext.configure(conn).get_current_heads()
    for revision in before:
        if revision not in known:
            raise SchemaTooNew(revision, head)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    after = MigrationContext.configure(conn).get_current_revision()
    if after != head:
        raise RuntimeError(f"migrated to {after!r} instead of the newest revision {head!r}")
    return (before[0] if before else None), head


async def ensure_schema(engine: AsyncEngine) -> str:
    """Migrate to the newest revision (start-up); return it. Raises SchemaTooNew."""
    async with migration_transaction(engine) as conn:
        before, after = await conn.run_sync(migrate_connection)
    if before != after:
        log.info("database_migrated", from_revision=before, to_revision=after)
    return after


async def upgrade(url: str) -> str:
    """`ungechat db upgrade`: migrate the database at `url`; return its revision."""
    engine = make_engine(url)
    try:
        return await ensure_schema(engine)
    finally:
        await engine.dispose()
