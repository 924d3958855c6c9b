"""A conversation transferred to a municipality on another homeserver: its counsellors
take it over federation, and closing it leaves no copy of it on either homeserver."""

from __future__ import annotations

import asyncio
import secrets

import aiohttp
import pytest

from bots.db.models import State
from tests.db_scan import tables_containing
from tests.federation_fixture import FederationFixture
from tests.matrix_helpers import Youth
from tests.network_fixture import Network, room_gone, wait_for_state

pytestmark = pytest.mark.synapse


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
