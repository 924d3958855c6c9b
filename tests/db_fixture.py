"""Database fixtures: every database test runs on SQLite (a file) and on PostgreSQL (a
fresh database each; all are dropped at the end of the session). PostgreSQL is at
UNGECHAT_TEST_POSTGRES (default: trust auth on localhost); if it is not reachable the
PostgreSQL cases fail, they are not skipped."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bots.db.engine import ensure_schema, make_engine, make_sessionmaker

PG_ADMIN_URL = os.environ.get(
    "UNGECHAT_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)

FreshDatabase = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def pg_databases() -> AsyncIterator[FreshDatabase]:
    """Makes fresh, uniquely named PostgreSQL databases; drops them all at the end."""
    admin = create_async_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    prefix = f"ungechat_test_{uuid.uuid4().hex[:10]}"
    made: list[str] = []

    async def fresh() -> str:
        name = f"{prefix}_{len(made)}"
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        except Exception as exc:  # unreachable, refused, …: say so plainly
            pytest.fail(f"PostgreSQL at {PG_ADMIN_URL} is needed for this test: {exc!r}")
        made.append(name)
        return admin.url.set(database=name).render_as_string(hide_password=False)

    yield fresh
    if made:
        async with admin.connect() as conn:
            for name in made:
                await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.dispose()


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
