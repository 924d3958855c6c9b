"""Database fixtures: every database test runs on SQLite (a file) and on PostgreSQL (a
fresh database each; all are dropped at the end of the session).

Which PostgreSQL: the one at UNGECHAT_TEST_POSTGRES when it is set (an SQLAlchemy URL of
a superuser's connection; `throwaway` forces the last choice below); else the machine's
own when it answers at 127.0.0.1:5432 with trust auth for `postgres`; else a throwaway
cluster from Debian's binaries (deploy/local/postgres.py), started when a test first
needs it and removed at the end of the session. If none of them works, the PostgreSQL
cases fail, they are not skipped; the SQLite cases never wait for PostgreSQL."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from bots.db.engine import ensure_schema, make_engine, make_sessionmaker
from deploy.local.postgres import LocalPostgres, LocalPostgresError, machine_postgres

MACHINE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
THROWAWAY = "throwaway"
SYNAPSE_DATABASE = " ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"


class FreshDatabase(Protocol):
    async def __call__(self, *, synapse: bool = False) -> str:
        """The SQLAlchemy URL of a new, empty database; `synapse=True` makes it the way
        Synapse requires (UTF8, collation and ctype 'C')."""
        ...


class ServerForTests:
    """The tests' PostgreSQL server, found or started on first use."""

    def __init__(self) -> None:
        self._url: str | None = None
        self._failure: str | None = None
        self._cluster: LocalPostgres | None = None

    async def admin_url(self) -> str:
        """A superuser's URL; fails the calling test when there is no server."""
        if self._failure is not None:  # found out once; don't try again for every test
            pytest.fail(self._failure)
        if self._url is None:
            self._url = await self._find()
        return self._url

    async def _find(self) -> str:
        wanted = os.environ.get("UNGECHAT_TEST_POSTGRES", "")
        if wanted and wanted != THROWAWAY:
            return wanted
        if not wanted and await machine_postgres(MACHINE_POSTGRES):
            return MACHINE_POSTGRES
        # Under the system's temporary directory, not pytest's: as root the cluster runs
        # as `postgres`, who cannot enter pytest's root-only directory.
        cluster = LocalPostgres(Path(tempfile.mkdtemp(prefix="ungechat-test-pg-")), fsync=False)
        self._cluster = cluster
        try:
            await cluster.start()
        except LocalPostgresError as exc:
            why = (
                f"UNGECHAT_TEST_POSTGRES={THROWAWAY}"
                if wanted
                else f"none answers at {MACHINE_POSTGRES}, UNGECHAT_TEST_POSTGRES is not set"
            )
            self._failure = (
                f"the PostgreSQL tests need a server ({why}), "
                f"and a throwaway cluster did not start: {exc}"
            )
            pytest.fail(self._failure)
        return cluster.admin_url

    async def close(self) -> None:
        if self._cluster is not None:
            await self._cluster.stop()
            shutil.rmtree(self._cluster.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg_databases() -> AsyncIterator[FreshDatabase]:
    """Makes fresh, uniquely named PostgreSQL databases; drops them all at the end."""
    server = ServerForTests()
    admin: AsyncEngine | None = None
    prefix = f"ungechat_test_{uuid.uuid4().hex[:10]}"
    made: list[str] = []

    async def fresh(*, synapse: bool = False) -> str:
        nonlocal admin
        url = await server.admin_url()
        if admin is None:
            admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        name = f"{prefix}_{len(made)}"
        try:
            async with admin.connect() as conn:
                create = f'CREATE DATABASE "{name}"'
                await conn.exec_driver_sql(create + SYNAPSE_DATABASE if synapse else create)
        except Exception as exc:  # unreachable, refused, …: say so plainly
            pytest.fail(f"PostgreSQL at {url} is needed for this test: {exc!r}")
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield fresh
    try:
        if admin is not None:
            if made:
                async with admin.connect() as conn:
                    for name in made:
                        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
                        await conn.exec_driver_sql(drop)
            await admin.dispose()
    finally:
        await server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, pg_databases: FreshDatabase
) -> str:
    """A database nobody has touched yet."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    return await pg_databases()


@pytest.fixture
async def db_sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on a migrated database, on each backend."""
    engine = make_engine(db_url)
    await ensure_schema(engine)
    yield make_sessionmaker(engine)
    await engine.dispose()
