"""SQL that reads the same on SQLite and PostgreSQL, for what SQLAlchemy's generic
constructs do not say: INSERT … ON CONFLICT, and how many rows a statement touched."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, the one that knows ON CONFLICT (SQLite and PostgreSQL both
    do, in the same words; SQLAlchemy's generic insert does not)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise RuntimeError(f"the bot's database must be SQLite or PostgreSQL, not {dialect!r}")


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE, DELETE or INSERT … ON CONFLICT DO NOTHING touched."""
    return cast(CursorResult[Any], result).rowcount
