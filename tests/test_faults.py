"""A homeserver that is down stops only its own municipalities: the bot reports it and
goes on serving the others, and nothing is lost when it returns."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bots.conversation.states import State
from tests.federation_fixture import FederationFixture
from tests.matrix_helpers import Youth
from tests.network_fixture import Network
from tests.waiting import eventually, wait_for_state

pytestmark = pytest.mark.synapse


async def health(network: Network, http: aiohttp.ClientSession) -> dict[str, str]:
    async with http.get(f"{network.intake}/healthz") as r:
        assert r.status == 200  # the bot itself is fine
        return (await r.json())["homeservers"]


async def health_says(network: Network, http: aiohttp.ClientSession, **answers: str) -> None:
    """Until the health check says so (it looks at the homeservers every few seconds)."""

    async def says() -> bool:
        return await health(network, http) == answers

    await eventually(says, timeout=15)


async def test_one_homeserver_down_stops_only_its_own(
    network: Network, federation: FederationFixture
) -> None:
    vest = network.vest
    async with aiohttp.ClientSession() as http:
        assert await health(network, http) == {"hs1": "ok", "hs2": "ok"}
        await network.oest.stop()
        await federation.hs2.local.stop()
        try:
            await health_says(network, http, hs1="ok", hs2="unreachable")
            # Østby's chat cannot start a conversation, and says so plainly.
            body = {"kommune": "oestby", "kanal": "plakat"}
            async with http.post(f"{network.intake}/api/v1/conversations", json=body) as r:
                assert r.status == 503
                assert (await r.json())["errcode"] == "M_UNAVAILABLE"
            # Vestby's goes on as if nothing happened.
            youth = await Youth(network.intake, http).start("vestby", "plakat")
            youth.listen()
            conv = await network.bot.repo.get(youth.conversation)
            assert conv is not None and conv.room_id
            await vest.join(conv.room_id)
            await wait_for_state(network.bot.repo, conv.id, State.ACTIVE)
            asked = await vest.say(conv.room_id, "!overfør oestby")
            reply = await vest.sync_until(lambda: vest.replies_to(conv.room_id, asked))
            assert "kan ikke nås lige nu" in reply[0]
            assert (await network.bot.repo.get(conv.id)).state == State.ACTIVE
            # The clock-driven work runs through without stopping at the dead server.
            await network.bot.maintenance.run()
            await vest.say(conv.room_id, "Jeg er her stadig.")
            await youth.wait_for(lambda e: e.get("body") == "Jeg er her stadig.")
            assert await youth.end() == 200
            await youth.stop_listening()
        finally:
            await federation.hs2.local.start()
        await health_says(network, http, hs1="ok", hs2="ok")
        # Østby can start conversations again.
        again = await Youth(network.intake, http).start("oestby", "plakat")
        assert await again.end() == 200


async def test_what_happened_while_the_bot_was_down_arrives_when_it_is_back(
    network: Network,
) -> None:
    """The homeserver backs off from a bot that does not answer; the bot asks for a ping
    as it starts, so what is queued arrives at once instead of minutes later."""
    async with aiohttp.ClientSession() as http:
        youth = await Youth(network.intake, http).start("vestby", "plakat")
        conv = await network.bot.repo.get(youth.conversation)
        assert conv is not None and conv.room_id
        await network.stop_bot()
        await network.vest.join(conv.room_id)  # pushed to a bot that is not there
        await asyncio.sleep(7)  # long enough for the homeserver to back off twice
        await network.start_bot()
        async with asyncio.timeout(5):  # the next retry without a ping: 8 s or later
            await wait_for_state(network.bot.repo, conv.id, State.ACTIVE)
        assert await youth.end() == 200
