"""The safety net under the homeserver's pushes: the bot reads its rooms itself.

A homeserver may never push some events: Synapse that dies just after persisting a
counsellor's `!luk` can lose the transaction it was about to send. Whatever it fails to
push, the bot must still learn, or the conversation is never ended and never deleted.
So the bot reads back, in each room it acts on (the live and held conversations a
homeserver hosts, and its municipalities' lobbies), from the newest event to the last
one it handled, and hands what it finds to the same router as the pushes, which skips
anything already handled (by event id).

It does so for a homeserver when the bot starts; when the homeserver answers again after
it could not be reached; when its transaction ids start again from the beginning (Synapse
on SQLite does after a restart); and otherwise every SWEEP_EVERY, for a restart nothing
showed. Synapse does not let an application service's own account `/sync`, so this is
one request per room: the sweep's interval keeps that cheap with thousands of rooms.

Events older than CATCH_UP_WINDOW, or older than the first time the bot caught up on that
homeserver (events handled before ids were recorded), are left alone.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.appservice.router import EventRouter
from bots.config.model import Config
from bots.conversation.states import HEARD
from bots.conversation.store import ConversationRepo
from bots.db.models import CatchUpHorizon, utcnow
from bots.db.sql import insert_for
from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.links import HomeserverLink, Homeservers, NotProvisioned
from bots.outages import is_outage

log = structlog.get_logger(__name__)
CATCH_UP_WINDOW = dt.timedelta(days=2)
SWEEP_EVERY = 300.0  # seconds
ROOM_EVENT_TYPES = ["m.room.message", "m.room.member", "m.room.redaction"]
MAX_PAGES_BACK = 20


class CatchUp:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        repo: ConversationRepo,
        homeservers: Homeservers,
        router: EventRouter,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.repo = repo
        self.homeservers = homeservers
        self.router = router
        self._due: set[str] = set(homeservers.links)  # at start-up: every homeserver
        self._swept_at: dict[str, float] = {}
        self._last_transaction: dict[str, int] = {}

    def saw_transaction(self, homeserver: str, txn_id: str) -> None:
        """A pushed transaction's id: when the numbering starts again, the homeserver has
        restarted, and what it was about to push may be lost."""
        if not txn_id.isdigit():
            return
        number = int(txn_id)
        last = self._last_transaction.get(homeserver)
        self._last_transaction[homeserver] = number
        if last is not None and number <= last:
            log.info("homeserver_restarted", homeserver=homeserver)
            self._due.add(homeserver)

    async def run(self) -> int:
        """Catch up on every homeserver that is due; returns how many events it found
        unhandled. A homeserver that is away is tried again on the next pass."""
        found = 0
        now = time.monotonic()
        for link in self.homeservers:
            swept = self._swept_at.get(link.id)
            if link.id not in self._due and swept is not None and now - swept < SWEEP_EVERY:
                continue
            try:
                found += await self.homeserver(link)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                self._due.add(link.id)  # read everything again once it answers
                log.info("catch_up_waits", homeserver=link.id, error=type(exc).__name__)
                continue
            self._due.discard(link.id)
            self._swept_at[link.id] = now
        if found:
            log.warning("events_caught_up", count=found)
        return found

    async def homeserver(self, link: HomeserverLink) -> int:
        since = max(await self._horizon(link.id), utcnow() - CATCH_UP_WINDOW)
        found = 0
        for room_id in await self._rooms(link):
            try:
                events = await self._unhandled(link, room_id, since)
            except (Forbidden, NotFound):
                continue  # deleted meanwhile (or the bot was put out): nothing to act on
            if events:
                found += len(events)
                await self.router.handle_events(link, events)
        return found

    async def _rooms(self, link: HomeserverLink) -> list[str]:
        """The rooms whose events the bot acts on, as delivered by this homeserver."""
        hosted = await self.repo.in_states(HEARD)
        rooms = [c.room_id for c in hosted if c.homeserver == link.id and c.room_id]
        for m in self.config.municipalities:
            if m.homeserver != link.id:
                continue
            try:
                rooms.append((await self.homeservers.rooms(m)).lobby_id)
            except NotProvisioned:
                continue
        return rooms

    async def _unhandled(
        self, link: HomeserverLink, room_id: str, since: dt.datetime
    ) -> list[dict[str, Any]]:
        """The room's newest events back to one already handled (or `since`), oldest
        first."""
        oldest = int(since.timestamp() * 1000)
        found: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES_BACK):
            page = await link.bot.messages(
                room_id, from_token=token, backwards=True, event_types=ROOM_EVENT_TYPES, limit=50
            )
            chunk = [e for e in page.get("chunk") or [] if isinstance(e, dict)]
            ids = {e["event_id"] for e in chunk if isinstance(e.get("event_id"), str)}
            handled = await self.router.handled.handled(link.id, ids)
            for event in chunk:  # newest first
                ts = event.get("origin_server_ts")
                if event.get("event_id") in handled or (isinstance(ts, int) and ts < oldest):
                    return list(reversed(found))
                found.append({**event, "room_id": room_id})
            end = page.get("end")
            if not chunk or not isinstance(end, str):
                break
            token = end
        return list(reversed(found))

    async def _horizon(self, homeserver: str) -> dt.datetime:
        """When the bot first caught up on this homeserver (set now, the first time)."""
        async with self.sessions.begin() as session:
            await session.execute(
                insert_for(session)(CatchUpHorizon)
                .values(homeserver=homeserver, since=utcnow())
                .on_conflict_do_nothing()
            )
        async with self.sessions() as session:
            row = await session.get(CatchUpHorizon, homeserver)
            assert row is not None
            return row.since
