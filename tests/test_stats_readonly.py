"""A report is a read: `ungechat stats` never migrates the database or creates a table,
refuses a database that is not at the code's schema revision (saying which revision it
found and what to run), and reads in a way that cannot write — on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from bots.config.load import load_config
from bots.db.engine import (
    alembic_config,
    ensure_schema,
    head_revision,
    make_engine,
    migration_transaction,
)
from bots.stats import synthetic
from bots.stats.command import publication
from bots.stats.cube import cell
from bots.stats.period import Period
from bots.stats.readonly import NotAtSchema, read_only_engine

CONFIG = load_config(synthetic.NETWORK)
QUARTER = Period.quarter(2025, 3)
UPGRADE = "ungechat db upgrade -c ungechat.yaml"


def previous_revision() -> str:
    revision = ScriptDirectory.from_config(alembic_config()).get_revision(head_revision())
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


async def migrate_to(url: str, revision: str) -> None:
    """As an older ungechat would have left the database."""
    engine = make_engine(url)
    config = alembic_config()

    def upgrade(conn: object) -> None:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)

    try:
        async with migration_transaction(engine) as conn:
            await conn.run_sync(upgrade)
    finally:
        await engine.dispose()


async def schema_of(url: str) -> tuple[set[str], str | None]:
    """The tables and the stored revision."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            revision = await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await engine.dispose()
    return tables, revision


def existing(db_url: str) -> str:
    """The database itself exists (a SQLite file); nothing is in it."""
    if db_url.startswith("sqlite"):
        Path(db_url.split(":///", 1)[1]).touch()
    return db_url


async def test_a_database_behind_the_code_is_refused_and_left_as_it_was(db_url: str) -> None:
    before = previous_revision()
    await migrate_to(db_url, before)
    schema = await schema_of(db_url)
    with pytest.raises(NotAtSchema) as refused:
        await publication(CONFIG, db_url, QUARTER, UPGRADE)
    message = str(refused.value)
    assert repr(before) in message and repr(head_revision()) in message
    assert f"run `{UPGRADE}` first" in message
    assert await schema_of(db_url) == schema == (schema[0], before)


async def test_an_empty_database_is_refused_and_gets_no_tables(db_url: str) -> None:
    with pytest.raises(NotAtSchema) as refused:
        await publication(CONFIG, existing(db_url), QUARTER, UPGRADE)
    assert "no ungechat tables" in str(refused.value) and UPGRADE in str(refused.value)
    assert await schema_of(db_url) == (set(), None)


async def test_a_database_from_a_newer_ungechat_is_refused(db_url: str) -> None:
    engine = make_engine(db_url)
    await ensure_schema(engine)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_newer'"))
    await engine.dispose()
    with pytest.raises(NotAtSchema) as refused:
        await publication(CONFIG, db_url, QUARTER, UPGRADE)
    assert "'ffff_newer'" in str(refused.value) and "newer ungechat" in str(refused.value)
    assert UPGRADE not in str(refused.value)  # upgrading would not help


async def test_the_report_reads_through_a_connection_that_cannot_write(db_url: str) -> None:
    engine = make_engine(db_url)
    await ensure_schema(engine)
    await engine.dispose()
    reader = read_only_engine(db_url)
    try:
        async with reader.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM page_views"))).scalar() == 0
            with pytest.raises(DBAPIError, match=r"read-only|readonly"):
                await conn.execute(text("DELETE FROM page_views"))
    finally:
        await reader.dispose()
    pub = await publication(CONFIG, db_url, QUARTER, UPGRADE)
    assert pub.cells.values[cell("samtaler", "*")] == 0
