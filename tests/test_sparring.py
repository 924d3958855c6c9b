"""The sparring network across homeservers: counsellors of Vestby (hs1) and Østby (hs2)
talk in a sparring room; a case shared from a conversation arrives without anything that
links back to it; the outsider homeserver cannot get in; and a homeserver that was down
gets every message it missed."""

from __future__ import annotations

import aiohttp
import pytest

from bots.case_notes import identifying
from tests.federation_fixture import FederationFixture
from tests.matrix_helpers import Counsellor, Youth
from tests.network_fixture import Network

pytestmark = pytest.mark.synapse


async def test_counsellors_on_two_homeservers_spar(network: Network) -> None:
    room = network.sparring_room_id
    await network.vest.say(room, "Hvordan taler I med unge om selvskade?")
    await network.oest.sync_until(
        lambda: "Hvordan taler I med unge om selvskade?" in network.oest.texts_in(room)
    )
    await network.oest.say(room, "Vi spørger direkte og roligt.")
    await network.vest.sync_until(
        lambda: "Vi spørger direkte og roligt." in network.vest.texts_in(room)
    )


async def test_a_shared_case_carries_nothing_that_links_back(network: Network) -> None:
    vest, oest, room = network.vest, network.oest, network.sparring_room_id
    async with aiohttp.ClientSession() as http:
        youth = await Youth(network.intake, http).start("vestby", "plakat")
        conv = await network.conversations.repo.get(youth.conversation)
        assert conv is not None and conv.room_id
        await vest.join(conv.room_id)
        await vest.say(conv.room_id, "!emne ensomhed")
        refused = await vest.say(
            conv.room_id, "!del netvaerk Hun har nr. 22 33 44 55, hvad gør vi?"
        )
        assert (
            "telefonnummer"
            in (await vest.sync_until(lambda: vest.replies_to(conv.room_id, refused)))[0]
        )
        shared = await vest.say(
            conv.room_id, "!del netvaerk En pige på 15 føler sig alene i frikvartererne."
        )
        assert (
            "Delt anonymt"
            in (await vest.sync_until(lambda: vest.replies_to(conv.room_id, shared)))[0]
        )
        notes = await oest.sync_until(
            lambda: [t for t in oest.texts_in(room) if t.startswith("Fra en samtale")]
        )
        assert notes == [
            "Fra en samtale i Vestby, emne: ensomhed: "
            "En pige på 15 føler sig alene i frikvartererne."
        ]
        note_event = next(e for e in oest.sources(room) if e["content"]["body"] == notes[0])
        for identifier in (conv.room_id, conv.youth_user_id, vest.user_id, conv.id):
            assert identifier not in str(note_event["content"])
        assert not any("telefonnummer" in t or "22 33" in t for t in oest.texts_in(room))
        assert await youth.end() == 200


async def test_the_outsider_cannot_join_the_sparring_room(
    network: Network, federation: FederationFixture
) -> None:
    user_id, _, token = await federation.outsider.new_user("udenfor")
    outsider = Counsellor(federation.outsider.url, user_id, token)
    try:
        status, body = await outsider.request(
            "POST",
            f"/_matrix/client/v3/join/{network.sparring_room_id}"
            f"?server_name={federation.hs1.server_name}",
            {},
        )
        assert status == 403, body
    finally:
        await outsider.client.close()


async def test_a_homeserver_that_was_down_gets_every_sparring_message(
    network: Network, federation: FederationFixture
) -> None:
    vest, oest, room = network.vest, network.oest, network.sparring_room_id
    await oest.stop()
    await federation.hs2.local.stop()
    missed = [f"Mens Østby var nede, nr. {n}" for n in range(3)]
    try:
        for text in missed:
            await vest.say(room, text)
    finally:
        await federation.hs2.local.start()
    again = Counsellor(federation.hs2.url, oest.user_id, oest.client.access_token)
    await again.start()
    try:
        # hs2 is back: it catches up (a message from it tells hs1 so at once).
        await again.say(room, "Østby er tilbage.")
        await again.sync_until(lambda: all(t in again.texts_in(room) for t in missed), 60)
        assert [t for t in again.texts_in(room) if t in missed] == missed  # in order
    finally:
        await again.stop()


def test_what_identifies_by_accident_is_caught() -> None:
    assert identifying("ring 22334455") == ["et telefonnummer"]
    assert identifying("+45 22 33 44 55") == ["et telefonnummer"]
    assert identifying("cpr 010203-1234") == ["et CPR-nummer"]
    assert identifying("skriv til maja@skole.dk") == ["en e-mailadresse"]
    assert identifying("se https://facebook.com/maja") == ["et link"]
    assert identifying("@anna:halsnaes.dk sagde") == ["et Matrix-id"]
    assert identifying("en pige på 15 i 8. klasse, 3 gange om ugen") == []
