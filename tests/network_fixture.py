"""One bot serving two municipalities on two federating homeservers: Vestby on hs1,
Østby on hs2, each with one counsellor (a real Matrix client), and a sparring room for
the whole network hosted on hs1. Function-scoped: each test gets a fresh bot and
database; the homeservers are the session's `federation`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bots.assembly import Bot
from bots.config.load import parse_config
from bots.config.model import Config
from bots.keys import BOT
from bots.matrix.links import Directory, HomeserverLink, MunicipalityRooms
from bots.service import running
from provisioning.plan import apply, plan
from tests.federation_fixture import FederationFixture
from tests.matrix_helpers import Counsellor
from tests.synapse_fixture import SynapseFixture


def municipality(slug: str, name: str, hs: str, counsellors: list[str]) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "fictional": True,
        "homeserver": hs,
        "opening_hours": {"always_open": True},
        "counsellors": counsellors,
        "channels": ["plakat"],
    }


@dataclass
class Network:
    config: Config
    rooms: dict[str, MunicipalityRooms]
    sparring_room_id: str  # "netvaerk", on hs1
    vest: Counsellor
    oest: Counsellor
    port: int  # where the bot listens (the homeservers push there)
    intake: str = ""
    bot: Bot = field(init=False)
    _bot: contextlib.AbstractAsyncContextManager[Any] | None = None

    async def start_bot(self) -> None:
        self._bot = running(self.config, "127.0.0.1", self.port)
        app, port = await self._bot.__aenter__()
        self.intake, self.bot = f"http://127.0.0.1:{port}", app[BOT]

    async def stop_bot(self) -> None:
        if self._bot is not None:
            bot, self._bot = self._bot, None
            await bot.__aexit__(None, None, None)


@pytest.fixture
async def network(federation: FederationFixture, tmp_path: Path) -> AsyncIterator[Network]:
    vest_id, _, vest_token = await federation.hs1.new_user("vest")
    oest_id, _, oest_token = await federation.hs2.new_user("oest")
    data = {
        "database": f"sqlite:///{tmp_path / 'bot.db'}",
        "public_url": f"http://127.0.0.1:{federation.bot_port}",
        "homeservers": {
            "hs1": federation.hs1.homeserver_config(),
            "hs2": federation.hs2.homeserver_config(),
        },
        "municipalities": [
            municipality("vestby", "Vestby Kommune", "hs1", [vest_id]),
            municipality("oestby", "Østby Kommune", "hs2", [oest_id]),
        ],
        "sparring_rooms": [
            {
                "id": "netvaerk",
                "name": "Netværket – sparring",
                "homeserver": "hs1",
                "municipalities": "all",
            }
        ],
        "digest": {"room": "netvaerk", "every": "week"},
    }
    config = parse_config(data, tmp_path)
    links = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    try:
        await apply(config, links, await plan(config, links))
        directory = Directory()
        rooms = {
            "vestby": await directory.rooms(links["hs1"], "vestby"),
            "oestby": await directory.rooms(links["hs2"], "oestby"),
        }
        sparring = await directory.sparring_room(links["hs1"], links["hs1"], "netvaerk")
    finally:
        for link in links.values():
            await link.close()
    vest = Counsellor(federation.hs1.url, vest_id, vest_token)
    oest = Counsellor(federation.hs2.url, oest_id, oest_token)
    for c, slug in ((vest, "vestby"), (oest, "oestby")):
        for room_id in (*rooms[slug].all_ids(), sparring):
            await c.join(room_id)
        await c.start()
    network = Network(config, rooms, sparring, vest, oest, federation.bot_port)
    try:
        await network.start_bot()
        yield network
    finally:
        await network.stop_bot()
        await vest.stop()
        await oest.stop()


async def room_gone(hs: SynapseFixture, room_id: str) -> bool:
    status, _ = await hs.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    return status == 404
