"""Which room events the bot has already handled, by event id.

A homeserver may deliver an event more than once: it retries a transaction it got no
answer to, and the catch-up (bots/catch_up.py) reads back events the push may also have
brought. Event ids cannot repeat, unlike transaction ids (Synapse on SQLite numbers its
transactions from 1 again after a restart), so they are what is remembered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db.models import HandledEvent, utcnow
from bots.db.sql import insert_for

# Longer than the catch-up ever looks back (CATCH_UP_WINDOW in bots/catch_up.py).
HANDLED_EVENTS_KEPT = dt.timedelta(days=3)


class HandledEvents:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def handled(self, homeserver: str, event_ids: Collection[str]) -> set[str]:
        """Those of `event_ids` already handled as delivered by `homeserver`."""
        if not event_ids:
            return set()
        async with self.sessions() as session:
            rows = await session.scalars(
                select(HandledEvent.event_id).where(
                    HandledEvent.homeserver == homeserver,
                    HandledEvent.event_id.in_(list(event_ids)),
                )
            )
            return set(rows)

    async def record(self, homeserver: str, event_ids: Collection[str]) -> None:
        if not event_ids:
            return
        now = utcnow()
        rows = [{"homeserver": homeserver, "event_id": e, "handled_at": now} for e in event_ids]
        async with self.sessions.begin() as session:
            await session.execute(
                insert_for(session)(HandledEvent).values(rows).on_conflict_do_nothing()
            )

    async def forget_older_than(self, age: dt.timedelta = HANDLED_EVENTS_KEPT) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                delete(HandledEvent).where(HandledEvent.handled_at < utcnow() - age)
            )
