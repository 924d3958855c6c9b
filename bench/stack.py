"""What the benchmark runs against: a real Synapse, the municipality provisioned, the bot
as its own OS process, and counsellors as plain Matrix clients.

One municipality (`benchby`, always open, one optional question, two counsellors), as
tests/stack_fixture.py has it. The bot runs `ungechat run -c FILE` in a process of its
own, so its CPU time and memory are its own (read from /proc), apart from Synapse's
and from this harness's clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import yaml
from sqlalchemy.engine import make_url

from bench.clients import MatrixClient
from bots.config.load import parse_config
from bots.config.model import Config
from bots.config.namespaces import Registration
from bots.matrix.links import Directory, HomeserverLink, MunicipalityRooms
from deploy.local.postgres import libpq_args
from deploy.local.synapse import LocalSynapse, free_port
from provisioning.plan import apply, plan
from provisioning.registration import write_registration

SERVER_NAME = "bench.test"
SLUG = "benchby"
UNGECHAT = Path(sys.executable).parent / "ungechat"
# Enough descriptors for thousands of event streams, on both ends.
OPEN_FILES = 65536


@dataclass
class Usage:
    """A process's CPU seconds (user + system) and resident memory, from /proc."""

    cpu: float
    rss_mb: float


def usage(pid: int | None) -> Usage:
    if pid is None:
        return Usage(0.0, 0.0)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return Usage(cpu, rss)


def raise_open_files() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class BotChild:
    """`ungechat run -c FILE`, output in a log file (structured, no personal data)."""

    def __init__(
        self, config_path: Path, log_path: Path, url: str, profile: Path | None = None
    ) -> None:
        self.config_path, self.log_path, self.url = config_path, log_path, url
        self.profile = profile  # run under cProfile, writing here (bench/profiled_bot.py)
        self._proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def start(self, timeout: float = 60) -> None:
        with self.log_path.open("ab") as log:
            command = [str(UNGECHAT), "run"]
            if self.profile is not None:
                command = [sys.executable, "-m", "bench.profiled_bot", str(self.profile)]
            self._proc = await asyncio.create_subprocess_exec(
                *command,
                "-c",
                str(self.config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
                cwd=Path(__file__).resolve().parent.parent,
            )
        async with (
            asyncio.timeout(timeout),
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        ):
            while True:
                if self._proc.returncode is not None:
                    tail = "\n".join(self.log_path.read_text().splitlines()[-20:])
                    raise RuntimeError(f"the bot exited with {self._proc.returncode}:\n{tail}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(f"{self.url}/healthz") as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            async with asyncio.timeout(15):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


@dataclass
class Stack:
    synapse: LocalSynapse
    registration: Registration
    admin_token: str
    bot: BotChild
    config: Config
    rooms: MunicipalityRooms
    counsellors: list[MatrixClient]
    bot_database: str  # the bot's SQLAlchemy URL
    state_dir: Path

    @property
    def intake(self) -> str:
        return self.bot.url

    @property
    def homeserver(self) -> str:
        return self.synapse.url

    def appservice_client(self) -> MatrixClient:
        """A bare client with the appservice's token: what the floor is measured with."""
        reg = self.registration
        return MatrixClient(self.homeserver, reg.bot_user_id, reg.as_token)

    def admin_client(self) -> MatrixClient:
        return MatrixClient(self.homeserver, f"@admin:{SERVER_NAME}", self.admin_token)

    async def new_user(self, prefix: str) -> MatrixClient:
        localpart = f"{prefix}_{secrets.token_hex(4)}"
        user_id, token = await self.synapse.register_user(localpart, secrets.token_urlsafe(16))
        return MatrixClient(self.homeserver, user_id, token)


def bot_config(
    synapse: LocalSynapse,
    registration: Registration,
    admin_token: str,
    bot_port: int,
    database: str,
    counsellors: list[str],
) -> dict[str, Any]:
    return {
        "database": database,
        "listen": {"host": "127.0.0.1", "port": bot_port},
        "public_url": f"http://127.0.0.1:{bot_port}",
        # Every benchmark youth shares 127.0.0.1.
        "intake": {"starts_per_address_per_hour": 1_000_000},
        "homeservers": {
            "local": {
                "server_name": SERVER_NAME,
                "url": synapse.url,
                "admin_token": admin_token,
                "appservice": {
                    "id": registration.id,
                    "as_token": registration.as_token,
                    "hs_token": registration.hs_token,
                    "sender_localpart": registration.sender_localpart,
                    "url": registration.url,
                },
            }
        },
        "municipalities": [
            {
                "slug": SLUG,
                "name": "Benchby Kommune",
                "fictional": True,
                "homeserver": "local",
                "opening_hours": {"always_open": True},
                "counsellors": counsellors,
                "channels": ["facebook", "plakat"],
                "questions": [
                    {
                        "id": "heard_from",
                        "text": {"da": "Hvor har du hørt om chatten?", "en": "Where from?"},
                        "options": [
                            {"id": "facebook", "da": "Facebook", "en": "Facebook"},
                            {"id": "plakat", "da": "En plakat", "en": "A poster"},
                        ],
                    }
                ],
            }
        ],
    }


async def _admin_connection(url: str) -> asyncpg.Connection:
    parsed = make_url(url)
    return await asyncpg.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database or "postgres",
    )


async def drop_databases(url: str, urls: tuple[str, str]) -> None:
    conn = await _admin_connection(url)
    try:
        for database in urls:
            name = make_url(database).database
            await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await conn.close()


async def postgres_databases(url: str) -> tuple[str, str]:
    """Two fresh databases on the server at `url` (a superuser's SQLAlchemy URL): one for
    Synapse (UTF8, collation C) and one for the bot; their URLs. Dropped after the run."""
    parsed = make_url(url)
    suffix = secrets.token_hex(3)
    names = (f"bench_synapse_{suffix}", f"bench_ungechat_{suffix}")
    conn = await _admin_connection(url)
    try:
        await conn.execute(
            f"CREATE DATABASE {names[0]} ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
        await conn.execute(f"CREATE DATABASE {names[1]}")
    finally:
        await conn.close()
    synapse_url = parsed.set(database=names[0]).render_as_string(hide_password=False)
    bot_url = parsed.set(drivername="postgresql+asyncpg", database=names[1]).render_as_string(
        hide_password=False
    )
    return synapse_url, bot_url


@contextlib.asynccontextmanager
async def running_stack(
    state_dir: Path, postgres: str | None = None, profile: Path | None = None
) -> AsyncIterator[Stack]:
    raise_open_files()
    state_dir.mkdir(parents=True, exist_ok=True)
    bot_port = free_port()
    registration = Registration(
        id="ungechat",
        url=f"http://127.0.0.1:{bot_port}",
        as_token=secrets.token_urlsafe(32),
        hs_token=secrets.token_urlsafe(32),
        sender_localpart="ungechat",
        server_name=SERVER_NAME,
    )
    reg_file = write_registration(registration, state_dir / "appservice.yaml")
    bot_db = f"sqlite+aiosqlite:///{state_dir / 'bot.db'}"
    pg_args = None
    databases: tuple[str, str] | None = None
    if postgres is not None:
        databases = await postgres_databases(postgres)
        synapse_url, bot_db = databases
        pg_args = libpq_args(synapse_url)
    synapse = LocalSynapse(state_dir / "synapse", SERVER_NAME, [reg_file], postgres=pg_args)
    bot: BotChild | None = None
    counsellors: list[MatrixClient] = []
    try:
        await synapse.start()
        _, admin_token = await synapse.register_user("admin", secrets.token_urlsafe(16), True)
        for i in range(2):
            user_id, token = await synapse.register_user(f"raadgiver{i}", secrets.token_urlsafe(16))
            counsellors.append(MatrixClient(synapse.url, user_id, token))
        data = bot_config(
            synapse, registration, admin_token, bot_port, bot_db, [c.user_id for c in counsellors]
        )
        config_path = state_dir / "ungechat.yaml"
        config_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        config = parse_config(data, state_dir)
        hs = config.homeservers["local"]
        link = HomeserverLink.connect("local", hs.url, hs.registration(), hs.admin_token)
        try:
            await apply(config, {"local": link}, await plan(config, {"local": link}))
            rooms = await Directory().rooms(link, SLUG)
        finally:
            await link.close()
        for c in counsellors:  # accept the invitations, as a counsellor would
            for room_id in rooms.all_ids():
                await c.join(room_id)
        bot = BotChild(config_path, state_dir / "bot.log", f"http://127.0.0.1:{bot_port}", profile)
        await bot.start()
        yield Stack(
            synapse=synapse,
            registration=registration,
            admin_token=admin_token,
            bot=bot,
            config=config,
            rooms=rooms,
            counsellors=counsellors,
            bot_database=bot_db,
            state_dir=state_dir,
        )
    finally:
        for c in counsellors:
            await c.close()
        if bot is not None:
            await bot.stop()
        await synapse.stop()
        if postgres is not None and databases is not None:
            await drop_databases(postgres, databases)
