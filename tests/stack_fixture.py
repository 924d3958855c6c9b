"""The bot under test, running in this process against the fixture's real Synapse.

Two municipalities: `testby` (always open, two counsellors) and `lukketby` (open one
hour a week, three days from now, so it is closed during the test run).
They are made up, so they are marked `fictional` (not checked against the official list).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.assembly import Bot, assemble
from bots.config.load import parse_config
from bots.config.model import Config
from bots.intake.ratelimit import RateLimiter
from bots.keys import BOT, CODE_GUESSES, RATE_LIMITER
from bots.matrix.links import Directory, HomeserverLink, MunicipalityRooms
from bots.service import running
from bots.signals import Signals
from bots.tasks import BackgroundTasks
from provisioning.plan import apply, plan
from tests.matrix_helpers import Counsellor

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


@dataclass
class Stack:
    config: Config
    intake: str
    homeserver: str
    admin_token: str
    rooms: dict[str, MunicipalityRooms]
    counsellors: list[Counsellor]
    bot: Bot  # the running bot's parts
    synapse: Any
    limiter: RateLimiter
    code_guesses: RateLimiter

    async def admin(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        return await self.synapse.admin(method, path, body)

    def second_replica(self) -> Bot:
        """Another bot on the same database and homeservers, with nothing in memory: a
        restarted process, or a second replica."""
        return second_replica(self.bot)


def second_replica(bot: Bot) -> Bot:
    return assemble(bot.config, bot.sessions, bot.homeservers.links, Signals(), BackgroundTasks())


def config_data(synapse: Any, db_url: str, counsellors: list[str]) -> dict[str, Any]:
    closed_day = WEEKDAYS[(dt.date.today().weekday() + 3) % 7]
    question = {
        "id": "heard_from",
        "text": {"da": "Hvor har du hørt om chatten?", "en": "Where did you hear about the chat?"},
        "options": [
            {"id": "facebook", "da": "Facebook", "en": "Facebook"},
            {"id": "plakat", "da": "En plakat", "en": "A poster"},
        ],
    }
    return {
        "database": db_url,
        "listen": {"host": "127.0.0.1", "port": synapse.bot_port},
        "public_url": f"http://127.0.0.1:{synapse.bot_port}",
        # Every test youth shares 127.0.0.1; the limiter itself is tested on its own.
        "intake": {"starts_per_address_per_hour": 10000},
        "homeservers": {"local": synapse.homeserver_config()},
        "municipalities": [
            {
                "slug": "testby",
                "name": "Testby Kommune",
                "fictional": True,
                "homeserver": "local",
                "opening_hours": {"always_open": True},
                "counsellors": counsellors,
                "channels": ["facebook", "plakat", "kort"],
                "questions": [question],
            },
            {
                "slug": "lukketby",
                "name": "Lukketby Kommune",
                "fictional": True,
                "homeserver": "local",
                "opening_hours": {"weekly": {closed_day: ["10:00-11:00"]}},
                "counsellors": counsellors[:1],
                "channels": ["facebook"],
                "timeouts": {"hours_grace_minutes": 10},
            },
            {
                "slug": "nordby",
                "name": "Nordby Kommune",
                "fictional": True,
                "homeserver": "local",
                "opening_hours": {"always_open": True},
                "counsellors": counsellors[2:],
                "channels": ["facebook", "plakat"],
                "counsellor_language": "en",
            },
        ],
    }


@pytest.fixture(scope="session")
async def stack(synapse: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("bot")
    # All three work for testby; 0 also for lukketby, 2 also for nordby.
    users = [await synapse.new_user("raadgiver") for _ in range(3)]
    data = config_data(synapse, f"sqlite+aiosqlite:///{tmp / 'bot.db'}", [u[0] for u in users])
    config = parse_config(data, tmp)
    hs = config.homeservers["local"]
    link = HomeserverLink.connect("local", hs.url, hs.registration(), hs.admin_token)
    links = {"local": link}
    await apply(config, links, await plan(config, links))
    rooms = {m.slug: await Directory().rooms(link, m.slug) for m in config.municipalities}
    await link.close()
    counsellors = [Counsellor(synapse.url, user_id, token) for user_id, _, token in users]
    by_id = {c.user_id: c for c in counsellors}
    for m in config.municipalities:  # accept the invitations, as a counsellor would
        for user_id in m.counsellors:
            for room_id in rooms[m.slug].all_ids():
                await by_id[user_id].join(room_id)
    for c in counsellors:
        await c.start()
    async with running(config, "127.0.0.1", synapse.bot_port) as (app, port):
        yield Stack(
            config=config,
            intake=f"http://127.0.0.1:{port}",
            homeserver=synapse.url,
            admin_token=synapse.admin_token,
            rooms=rooms,
            counsellors=counsellors,
            bot=app[BOT],
            synapse=synapse,
            limiter=app[RATE_LIMITER],
            code_guesses=app[CODE_GUESSES],
        )
    for c in counsellors:
        await c.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
