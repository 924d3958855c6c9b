"""A conversation transferred to a municipality on another homeserver: its counsellors
take it over federation, and closing it leaves no copy of it on either homeserver.

Vestby is on hs1, Østby on hs2; one bot serves both (as the appservice of each).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bots.config import Config, parse_config
from bots.db.models import State
from bots.keys import CONVERSATIONS
from bots.lifecycle import Conversations
from bots.matrix.links import Directory, HomeserverLink, MunicipalityRooms
from bots.service import running
from provisioning.plan import apply, plan
from tests.db_scan import tables_containing
from tests.federation_fixture import FederationFixture
from tests.matrix_helpers import Counsellor, Youth
from tests.synapse_fixture import SynapseFixture

pytestmark = pytest.mark.synapse


def homeserver(hs: SynapseFixture) -> dict[str, Any]:
    reg = hs.registration
    return {
        "server_name": hs.server_name,
        "url": hs.url,
        "admin_token": hs.admin_token,
        "appservice": {
            "id": reg.id,
            "as_token": reg.as_token,
            "hs_token": reg.hs_token,
            "sender_localpart": reg.sender_localpart,
            "url": reg.url,
        },
    }


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
    intake: str
    conversations: Conversations
    rooms: dict[str, MunicipalityRooms]
    vest: Counsellor
    oest: Counsellor


@pytest.fixture
async def network(federation: FederationFixture, tmp_path: Path) -> AsyncIterator[Network]:
    vest_id, _, vest_token = await federation.hs1.new_user("vest")
    oest_id, _, oest_token = await federation.hs2.new_user("oest")
    data = {
        "database": f"sqlite:///{tmp_path / 'bot.db'}",
        "public_url": f"http://127.0.0.1:{federation.bot_port}",
        "homeservers": {"hs1": homeserver(federation.hs1), "hs2": homeserver(federation.hs2)},
        "municipalities": [
            municipality("vestby", "Vestby Kommune", "hs1", [vest_id]),
            municipality("oestby", "Østby Kommune", "hs2", [oest_id]),
        ],
    }
    config = parse_config(data, tmp_path)
    links = {
        hs_id: HomeserverLink.connect(hs_id, hs.url, hs.registration(), hs.admin_token)
        for hs_id, hs in config.homeservers.items()
    }
    try:
        await apply(config, links, await plan(config, links))
        rooms = {
            "vestby": await Directory().rooms(links["hs1"], "vestby"),
            "oestby": await Directory().rooms(links["hs2"], "oestby"),
        }
    finally:
        for link in links.values():
            await link.close()
    vest = Counsellor(federation.hs1.url, vest_id, vest_token)
    oest = Counsellor(federation.hs2.url, oest_id, oest_token)
    for c, slug in ((vest, "vestby"), (oest, "oestby")):
        for room_id in rooms[slug].all_ids():
            await c.join(room_id)
        await c.start()
    try:
        async with running(config, "127.0.0.1", federation.bot_port) as (app, port):
            yield Network(config, f"http://127.0.0.1:{port}", app[CONVERSATIONS], rooms, vest, oest)
    finally:
        await vest.stop()
        await oest.stop()


async def wait_for_state(convs: Conversations, conversation: str, state: State) -> None:
    async with asyncio.timeout(60):
        while True:
            conv = await convs.repo.get(conversation)
            if conv is not None and conv.state == state:
                return
            await asyncio.sleep(0.1)


async def room_gone(hs: SynapseFixture, room_id: str) -> bool:
    headers = {"Authorization": f"Bearer {hs.admin_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{hs.url}/_synapse/admin/v1/rooms/{room_id}", headers=headers) as r,
    ):
        return r.status == 404


async def test_transfer_to_a_municipality_on_another_homeserver(
    network: Network, federation: FederationFixture
) -> None:
    convs, vest, oest = network.conversations, network.vest, network.oest
    canary = f"kanariefugl-{secrets.token_hex(8)}"
    async with aiohttp.ClientSession() as http:
        youth = await Youth(network.intake, http).start("vestby", "plakat")
        youth.listen()
        conv = await convs.repo.get(youth.conversation)
        assert conv is not None and conv.room_id
        room_id = conv.room_id
        await vest.join(room_id)
        await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
        assert await youth.send(f"Jeg bor ved stranden. {canary}") == 202
        await vest.sync_until(lambda: any(canary in t for t in vest.texts_in(room_id)))

        await vest.say(room_id, "!overfør oestby")
        moved = await youth.wait_for(lambda e: e.get("key") == "transferred")
        assert "Østby" in moved["body"]
        await wait_for_state(convs, youth.conversation, State.WAITING)
        # Østby's counsellor finds it in their own space, on their own homeserver …
        assert room_id in await oest.space_children(network.rooms["oestby"].space_id)
        # … joins through Østby's space, without an invite, and reads the history.
        await oest.join(room_id)
        assert any(canary in text for text in await oest.history(room_id))
        await youth.wait_for(
            lambda _: sum(e.get("key") == "counsellor_joined" for e in youth.received) == 2
        )
        await oest.say(room_id, "Hej, jeg er rådgiver i Østby. Fortæl endelig videre.")
        reply = await youth.wait_for(lambda e: "Østby. Fortæl" in e.get("body", ""))
        assert reply["from"] == "counsellor"
        assert await youth.send("Tak.") == 202
        await oest.sync_until(lambda: "Tak." in oest.texts_in(room_id))

        await oest.say(room_id, "!luk familie")
        await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
        await wait_for_state(convs, youth.conversation, State.PURGED)
        await youth.stop_listening()

    # Gone from both homeservers, with the text.
    for hs in (federation.hs1, federation.hs2):
        assert await room_gone(hs, room_id)
        assert await asyncio.to_thread(tables_containing, hs.database_path, canary) == []
