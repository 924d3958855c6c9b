"""Alembic environment for the bot's database.

At start-up `bots.db.engine.ensure_schema` runs this with a connection already inside a
locked transaction (`config.attributes["connection"]`); Alembic then neither connects
nor commits by itself. Developers writing a new revision use the alembic.ini next to this
file and name a scratch database:

    alembic -c schemas/migrations/alembic.ini -x url=sqlite:///scratch.db upgrade head
    alembic -c schemas/migrations/alembic.ini -x url=sqlite:///scratch.db \\
        revision --autogenerate --rev-id 0002 -m "why this change is needed"
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from bots.db.engine import async_url, make_engine, migration_transaction
from bots.db.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url")
    url = url or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("name the database: alembic -x url=sqlite:///scratch.db …")
    return url


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can only ALTER a table by copying it; batch mode does that for us.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    engine = make_engine(_url())
    try:
        async with migration_transaction(engine) as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def run_offline() -> None:
    """`alembic … upgrade head --sql`: print the SQL instead of running it."""
    url = async_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (connection := config.attributes.get("connection")) is not None:
    run_on(connection)
else:
    asyncio.run(run_standalone())
