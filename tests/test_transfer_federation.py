"""A conversation transferred to a municipality on another homeserver: its counsellors
take it over federation, and closing it leaves no copy of it on either homeserver, also
when one of them is down at the time (its copy goes when it returns)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets

import aiohttp
import pytest

from bots.conversation.deletion import delete_everywhere, taking_part
from bots.conversation.states import State
from bots.db.models import utcnow
from tests.db_scan import tables_containing
from tests.federation_fixture import FederationFixture, full_state_reached
from tests.matrix_helpers import Youth
from tests.network_fixture import Network, room_gone
from tests.synapse_fixture import SynapseFixture
from tests.waiting import wait_for_state

pytestmark = pytest.mark.synapse


async def test_transfer_to_a_municipality_on_another_homeserver(
    network: Network, federation: FederationFixture
) -> None:
    convs, vest, oest = network.bot, network.vest, network.oest
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

        await convs.duty.start("oestby", oest.user_id)  # someone there to hand it to
        await vest.say(room_id, "!overfør oestby")
        moved = await youth.wait_for(lambda e: e.get("key") == "transferred")
        assert "Østby" in moved["body"]
        await wait_for_state(convs.repo, youth.conversation, State.WAITING)
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
        await wait_for_state(convs.repo, youth.conversation, State.PURGED)
        await youth.stop_listening()

    # Gone from both homeservers, with the text.
    for hs in (federation.hs1, federation.hs2):
        assert await room_gone(hs, room_id)
        assert await asyncio.to_thread(tables_containing, hs.database_path, canary) == []


async def test_a_homeserver_down_at_close_keeps_only_its_own_copy(
    network: Network, federation: FederationFixture
) -> None:
    """Østby's homeserver (hs2) is down when a conversation transferred to it closes:
    the home copy on hs1 is purged and the youth's account erased at once; hs2's copy
    waits, the conversation stays `closing`, and the maintenance pass after hs2 returns
    purges it too. Doing it all again is harmless."""
    convs, vest, oest = network.bot, network.vest, network.oest
    hs1, hs2 = federation.hs1, federation.hs2
    canary = f"kanariefugl-{secrets.token_hex(8)}"
    async with aiohttp.ClientSession() as http:
        youth = await Youth(network.intake, http).start("vestby", "plakat")
        conv = await convs.repo.get(youth.conversation)
        assert conv is not None and conv.room_id and conv.youth_user_id
        room_id, youth_id = conv.room_id, conv.youth_user_id
        await vest.join(room_id)
        await wait_for_state(convs.repo, conv.id, State.ACTIVE)
        assert await youth.send(f"Jeg bor ved stranden. {canary}") == 202
        await vest.sync_until(lambda: any(canary in t for t in vest.texts_in(room_id)))
        await convs.duty.start("oestby", oest.user_id)  # someone there to hand it to
        await vest.say(room_id, "!overfør oestby")
        await wait_for_state(convs.repo, conv.id, State.WAITING)
        await oest.join(room_id)
        assert any(canary in text for text in await oest.history(room_id))
        await full_state_reached(hs2, room_id)
        conv = await convs.repo.get(conv.id)
        assert conv is not None and conv.homeservers == ["hs2"]
        for hs in (hs1, hs2):  # both hold the text now
            assert await asyncio.to_thread(tables_containing, hs.database_path, canary)

        await oest.stop()
        await hs2.local.stop()
        try:
            assert await youth.end() == 200
            await convs.tasks.drain()  # the close, as far as it gets
            # The home copy, with the text, is gone at once; so is the youth's account.
            assert await room_gone(hs1, room_id)
            assert await asyncio.to_thread(tables_containing, hs1.database_path, canary) == []
            assert (await user_info(hs1, youth_id))["erased"] is True
            assert (await convs.repo.get(conv.id)).state == State.CLOSING  # hs2's part waits
            await convs.maintenance.run(utcnow() + dt.timedelta(minutes=2))  # hs2 still down
            assert (await convs.repo.get(conv.id)).state == State.CLOSING
        finally:
            await hs2.local.start()

    await convs.maintenance.run(utcnow() + dt.timedelta(minutes=2))
    await wait_for_state(convs.repo, conv.id, State.PURGED)
    for hs in (hs1, hs2):
        assert await room_gone(hs, room_id)
        assert await asyncio.to_thread(tables_containing, hs.database_path, canary) == []
    # Every part again, as a pass that crashed before recording it would: all done already.
    await delete_everywhere(conv, room_id, taking_part(conv, convs.homeservers.links))


async def user_info(hs: SynapseFixture, user_id: str) -> dict:
    status, body = await hs.admin("GET", f"/_synapse/admin/v2/users/{user_id}")
    assert status == 200, body
    return body
