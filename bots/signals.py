"""Wake-ups for youth event streams: look at the conversation now.

Only a hint, never state: a woken stream reads the conversation's row and the room.
In-process, the event router wakes the streams it serves itself. Between replicas:
- on PostgreSQL, a trigger sends NOTIFY on every change a stream shows (migration 0007)
  and `listen_postgres` wakes this replica's streams at once, wherever the homeserver's
  push landed; streams then only poll slowly, as a safety net for a lost listener;
- on SQLite (one machine, no NOTIFY) streams poll the conversation's `event_seq` every
  POLL_SECONDS.
A change of state also wakes every stream of that municipality: places in its queue
may have moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)

CONVERSATION_CHANNEL = "ungechat_conversation"
QUEUE_CHANNEL = "ungechat_queue"
# How often a stream looks at its row without being woken.
POLL_SECONDS = 2.0  # SQLite: the only way to hear another replica
LISTENING_POLL_SECONDS = 15.0  # PostgreSQL: NOTIFY wakes it; this is the safety net
RECONNECT_SECONDS = 2.0


class Signals:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._by_kommune: dict[str, set[asyncio.Event]] = {}
        self.listening = False  # True while a PostgreSQL listener is connected
        self.closing = False  # the replica is shutting down: streams hand over and end

    @property
    def poll_seconds(self) -> float:
        return LISTENING_POLL_SECONDS if self.listening else POLL_SECONDS

    def notify(self, conversation_id: str) -> None:
        for event in self._waiters.get(conversation_id, ()):
            event.set()

    def notify_kommune(self, kommune: str) -> None:
        for event in self._by_kommune.get(kommune, ()):
            event.set()

    def wake_all(self) -> None:
        """After a gap in listening: anything may have changed meanwhile."""
        for events in self._waiters.values():
            for event in events:
                event.set()

    def shut_down(self) -> None:
        """Every stream ends, telling its page to reconnect at once (to another replica)."""
        self.closing = True
        self.wake_all()

    @contextmanager
    def listen(self, conversation_id: str, kommune: str | None = None) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        groups = [(self._waiters, conversation_id)]
        if kommune is not None:
            groups.append((self._by_kommune, kommune))
        for group, key in groups:
            group.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            for group, key in groups:
                waiters = group.get(key)
                if waiters is not None:
                    waiters.discard(event)
                    if not waiters:
                        del group[key]

    def _on_notification(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == CONVERSATION_CHANNEL:
            self.notify(payload)
        elif channel == QUEUE_CHANNEL:
            self.notify_kommune(payload)

    async def listen_postgres(self, database_url: str) -> None:
        """Hold a LISTEN connection to the service's PostgreSQL database until cancelled,
        reconnecting after RECONNECT_SECONDS when it drops (streams poll every
        POLL_SECONDS meanwhile, and are all woken once it is back)."""
        url = make_url(database_url)
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    host=url.host,
                    port=url.port,
                    user=url.username,
                    password=url.password,
                    database=url.database,
                    **{k: v for k, v in url.query.items() if isinstance(v, str)},
                )
                lost = asyncio.Event()
                conn.add_termination_listener(_set_on_call(lost))
                await conn.add_listener(CONVERSATION_CHANNEL, self._on_notification)
                await conn.add_listener(QUEUE_CHANNEL, self._on_notification)
                self.listening = True
                self.wake_all()
                log.info("listening_for_changes")
                await lost.wait()
                log.warning("change_listener_lost")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("change_listener_unavailable", error=type(exc).__name__)
            finally:
                self.listening = False
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(RECONNECT_SECONDS)


def _set_on_call(event: asyncio.Event) -> Any:
    """A callback (any arguments) that sets `event`."""
    return lambda *_: event.set()
