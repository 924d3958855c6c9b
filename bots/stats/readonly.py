"""Opening the bot's database for a report: read only, and only at the schema revision
this code reads.

A report is a read. It never migrates and never creates a table — that is `ungechat db
upgrade`, run on purpose — and it opens the database so that it cannot write: SQLite
read-only (`mode=ro`), PostgreSQL with read-only transactions.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bots.db.engine import alembic_config, async_url, database_revision, head_revision


class NotAtSchema(RuntimeError):
    """The database is not at the schema revision this code reads."""


def read_only_engine(url: str) -> AsyncEngine:
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").resolve()
        return create_async_engine(
            parsed.set(database=f"file:{quote(str(path))}", query={"mode": "ro", "uri": "true"})
        )
    return create_async_engine(
        parsed, connect_args={"server_settings": {"default_transaction_read_only": "on"}}
    )


async def check_schema(engine: AsyncEngine, upgrade_command: str) -> None:
    """Raise NotAtSchema, saying what to do, unless the database is at the newest
    revision this code knows."""
    found, head = await database_revision(engine), head_revision()
    if found == head:
        return
    if found is None:
        raise NotAtSchema(
            f"the database has no ungechat tables (no schema revision; this ungechat reads "
            f"revision {head!r}); is it the bot's database? If it is new, run "
            f"`{upgrade_command}` first"
        )
    script = ScriptDirectory.from_config(alembic_config())
    if found in {rev.revision for rev in script.walk_revisions()}:
        raise NotAtSchema(
            f"the database is at schema revision {found!r}, and this ungechat reads "
            f"revision {head!r}: run `{upgrade_command}` first (a report never changes "
            "the database)"
        )
    raise NotAtSchema(
        f"the database is at schema revision {found!r}, which this version of ungechat "
        f"does not know (its newest is {head!r}); it was probably migrated by a newer "
        "ungechat: make the report with that version"
    )
