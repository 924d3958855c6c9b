"""The bot as a separate OS process, as production runs it, and a whole stack of its own
for fault tests (`fault_stack`): a fresh Synapse on SQLite, the fault proxy in front of
it (tests/fault_proxy.py), the municipalities of tests/stack_fixture.py provisioned,
counsellors as real Matrix clients, and the bot's database for the tests to read.

The bot process runs `ungechat run -c FILE` with its output in a log file; it can be
killed (SIGKILL: nothing is cleaned up, as in a crash or an OOM kill), stopped (SIGTERM)
and started again on the same database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bots.config.load import parse_config
from bots.config.model import Config
from bots.conversation.states import State
from bots.conversation.store import ConversationRepo
from bots.db.engine import make_engine, make_sessionmaker
from bots.db.models import Conversation, ConversationStats
from bots.matrix.links import Directory, HomeserverLink, MunicipalityRooms
from deploy.local.postgres import LocalPostgres
from deploy.local.synapse import free_port
from provisioning.plan import apply, plan
from tests.fault_proxy import FaultProxy
from tests.matrix_helpers import Counsellor
from tests.stack_fixture import config_data
from tests.synapse_fixture import SynapseFixture, bot_homeserver, start_with_admin
from tests.waiting import wait_for_state

UNGECHAT = Path(sys.executable).parent / "ungechat"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
FAULT_SERVER_NAME = "faults.test"


class BotProcessError(RuntimeError):
    """The bot process did not start, or died."""


class BotProcess:
    def __init__(self, config_path: Path, log_path: Path, url: str) -> None:
        self.config_path = config_path
        self.log_path = log_path
        self.url = url  # where it listens (the intake, /healthz, the appservice)
        self.starts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._peak_rss_kib = 0

    @property
    def pid(self) -> int:
        if self._proc is None or self._proc.returncode is not None:
            raise BotProcessError("the bot is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def peak_rss_kib(self) -> int:
        """The highest resident memory of any run so far (VmHWM), in KiB."""
        if self.running:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    self._peak_rss_kib = max(self._peak_rss_kib, int(line.split()[1]))
        return self._peak_rss_kib

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    async def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and wait until its /healthz answers."""
        if self.running:
            raise BotProcessError("already running")
        if not UNGECHAT.exists():
            raise BotProcessError(f"no {UNGECHAT}: install the project (pip install -e .)")
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"---- start {self.starts} ----\n".encode())
            log.flush()
            self._proc = await asyncio.create_subprocess_exec(
                str(UNGECHAT),
                "run",
                "-c",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # signals from the terminal are not for it
            )
        try:
            async with asyncio.timeout(timeout):
                await self._wait_healthy()
        except BaseException:
            await self.kill()
            raise

    async def _wait_healthy(self) -> None:
        assert self._proc is not None
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while True:
                if self._proc.returncode is not None:
                    tail = "\n".join(self.log_text().splitlines()[-30:])
                    raise BotProcessError(f"bot exited with {self._proc.returncode}:\n{tail}")
                try:
                    async with http.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)

    async def kill(self) -> None:
        """SIGKILL: the process dies at once, in the middle of whatever it was doing."""
        if not self.running:
            return
        assert self._proc is not None
        self.peak_rss_kib()
        self._proc.send_signal(signal.SIGKILL)
        await self._proc.wait()
        self._proc = None

    async def pause(self) -> None:
        """SIGSTOP: the process hangs (a stuck event loop, a paused VM); its sockets stay
        open and nothing answers. `kill` still ends it."""
        os.kill(self.pid, signal.SIGSTOP)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (an orderly shutdown), then SIGKILL if it takes longer than `timeout`."""
        if not self.running:
            return
        self.peak_rss_kib()
        proc = self._proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            await self.kill()
        self._proc = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def health(self) -> dict[str, Any]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.get(f"{self.url}/healthz") as r,
        ):
            assert r.status == 200, await r.text()
            return await r.json()


@dataclass
class FaultStack:
    synapse: SynapseFixture
    proxy: FaultProxy
    bot: BotProcess
    config: Config
    rooms: dict[str, MunicipalityRooms]
    counsellors: list[Counsellor]
    database: Path  # the bot's SQLite file (unused when the stack runs on PostgreSQL)
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    state_dir: Path  # everything the stack keeps on disk
    postgres: LocalPostgres | None = None

    @property
    def intake(self) -> str:
        return self.bot.url

    @property
    def repo(self) -> ConversationRepo:
        return ConversationRepo(self.sessions)

    async def admin(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """Straight to Synapse (never through the proxy) with the admin's token."""
        return await self.synapse.admin(method, path, body)

    async def conversation(self, conv_id: str) -> Conversation:
        conv = await self.repo.get(conv_id)
        assert conv is not None, f"no conversation {conv_id} in the bot's database"
        return conv

    async def wait_for_state(
        self, conv_id: str, *states: State, timeout: float = 30
    ) -> Conversation:
        """Until the conversation is in one of `states` in the bot's database."""
        return await wait_for_state(self.repo, conv_id, *states, timeout=timeout)

    async def conversations_since(self, moment: dt.datetime) -> Sequence[Conversation]:
        async with self.sessions() as session:
            query = select(Conversation).where(Conversation.created_at >= moment)
            return (await session.execute(query)).scalars().all()

    async def stats_rows(self) -> Sequence[ConversationStats]:
        async with self.sessions() as session:
            query = select(ConversationStats).order_by(ConversationStats.id)
            return (await session.execute(query)).scalars().all()

    async def room_exists(self, room_id: str) -> bool:
        status, body = await self.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
        assert status in (200, 404), body
        return status == 200

    async def rooms_of(self, conv_id: str) -> list[str]:
        """Rooms on the homeserver whose name or alias names the conversation."""
        status, body = await self.admin("GET", f"/_synapse/admin/v1/rooms?search_term={conv_id}")
        assert status == 200, body
        return [r["room_id"] for r in body["rooms"]]

    async def account(self, user_id: str) -> dict[str, Any]:
        status, body = await self.admin("GET", f"/_synapse/admin/v2/users/{user_id}")
        assert status == 200, body
        return body

    async def room_events(self, room_id: str) -> list[dict[str, Any]]:
        """Every message event in the room, oldest first (the Admin API reads any room)."""
        path = f"/_synapse/admin/v1/rooms/{room_id}/messages?dir=f&limit=1000"
        status, body = await self.admin("GET", path)
        assert status == 200, body
        return [e for e in body["chunk"] if e.get("type") == "m.room.message"]

    async def synapse_answers(self) -> bool:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
                http.get(f"{self.synapse.url}/health") as r,
            ):
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def reconnect_counsellors(self) -> None:
        """New clients with the same logins (after Synapse restarted, the old ones have
        given up syncing), as Element reconnects."""
        old = list(self.counsellors)
        for c in old:
            await c.stop()
        self.counsellors[:] = [
            await Counsellor(self.synapse.url, c.user_id, c.client.access_token).start()
            for c in old
        ]


@pytest.fixture
async def recovered(fault_stack: FaultStack) -> AsyncIterator[FaultStack]:
    """After each fault test, however it ended: nothing held, the proxy up, Synapse and
    the bot running, so one failure does not take the tests after it down too."""
    yield fault_stack
    await fault_stack.proxy.reset()
    if not await fault_stack.synapse_answers():
        await fault_stack.synapse.local.stop()
        await fault_stack.synapse.local.start()
        fault_stack.proxy.target = fault_stack.synapse.url
        await fault_stack.reconnect_counsellors()
    if not fault_stack.bot.running:
        await fault_stack.bot.start()


async def pending_pushes(stack: FaultStack) -> dict[int, list[str]]:
    """The appservice transactions Synapse has made and not had acknowledged, by id, as
    the ids of the events in each (read from its SQLite database, read-only). Those in
    flight, and those a restart left behind: Synapse never sends them again."""

    def read() -> dict[int, list[str]]:
        uri = f"file:{stack.synapse.database_path}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
            query = "SELECT txn_id, event_ids FROM application_services_txns"
            rows = db.execute(query).fetchall()
        return {txn_id: json.loads(ids) for txn_id, ids in rows}

    return await asyncio.to_thread(read)


async def provision(config: Config, synapse: SynapseFixture) -> dict[str, MunicipalityRooms]:
    hs = config.homeservers["local"]
    # Straight to Synapse: provisioning is not what the faults are for.
    link = HomeserverLink.connect("local", synapse.url, hs.registration(), hs.admin_token)
    try:
        await apply(config, {"local": link}, await plan(config, {"local": link}))
        return {m.slug: await Directory().rooms(link, m.slug) for m in config.municipalities}
    finally:
        await link.close()


@contextlib.asynccontextmanager
async def built_fault_stack(
    tmp: Path, *, postgres: LocalPostgres | None = None
) -> AsyncIterator[FaultStack]:
    """A whole stack of its own in `tmp`: Synapse and the bot's database on SQLite, or
    both on databases of their own in `postgres` (a throwaway cluster the test may stop)."""
    bot_port = free_port()
    synapse_db: str | None = None
    bot_db = f"sqlite:///{tmp / 'bot.db'}"
    if postgres is not None:
        await postgres.create_database("synapse")
        await postgres.create_database("ungechat")
        synapse_db, bot_db = postgres.url("synapse"), postgres.url("ungechat")
    synapse = bot_homeserver(tmp / "synapse", FAULT_SERVER_NAME, bot_port, postgres_url=synapse_db)
    proxy = FaultProxy("http://127.0.0.1")  # the target is known once Synapse runs
    counsellors: list[Counsellor] = []
    bot: BotProcess | None = None
    engine: AsyncEngine | None = None
    try:
        await start_with_admin(synapse)
        proxy.target = synapse.url
        await proxy.start()
        # All three work for testby; 0 also for lukketby, 2 also for nordby.
        users = [await synapse.new_user("raadgiver") for _ in range(3)]
        data = config_data(synapse, bot_db, [u[0] for u in users])
        data["homeservers"]["local"]["url"] = proxy.url  # every bot request passes it
        config_path = tmp / "ungechat.yaml"
        config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        config = parse_config(data, tmp)
        rooms = await provision(config, synapse)
        counsellors += [Counsellor(synapse.url, user_id, token) for user_id, _, token in users]
        by_id = {c.user_id: c for c in counsellors}
        for m in config.municipalities:  # accept the invitations, as a counsellor would
            for user_id in m.counsellors:
                for room_id in rooms[m.slug].all_ids():
                    await by_id[user_id].join(room_id)
        for c in counsellors:
            await c.start()
        bot = BotProcess(config_path, tmp / "bot.log", f"http://127.0.0.1:{bot_port}")
        await bot.start()
        engine = make_engine(bot_db)
        yield FaultStack(
            synapse=synapse,
            proxy=proxy,
            bot=bot,
            config=config,
            rooms=rooms,
            counsellors=counsellors,
            database=tmp / "bot.db",
            engine=engine,
            sessions=make_sessionmaker(engine),
            state_dir=tmp,
            postgres=postgres,
        )
    finally:
        for c in counsellors:
            await c.stop()
        if bot is not None:
            await bot.stop()
        if engine is not None:
            await engine.dispose()
        await proxy.stop()
        await synapse.local.stop()


@pytest.fixture(scope="module")
async def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[FaultStack]:
    """A stack of its own per test module, so faults never reach the shared one."""
    async with built_fault_stack(tmp_path_factory.mktemp("faults")) as stack:
        yield stack
