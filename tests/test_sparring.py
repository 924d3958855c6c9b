"""The sparring network across homeservers: counsellors of Vestby (hs1) and Østby (hs2)
talk in a sparring room; a case shared from a conversation arrives without anything that
links back to it, also while the homeserver that hosts the sparring room is down; the
outsider homeserver cannot get in; and a homeserver that was down gets every message it
missed."""

from __future__ import annotations

import re
from urllib.parse import quote

import aiohttp
import pytest

from bots.matrix.errors import Forbidden
from bots.sparring.case_notes import identifying
from tests.federation_fixture import FederationFixture, count_rows, full_state_reached
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
        conv = await network.bot.repo.get(youth.conversation)
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
    """The room is invite-only, but that is not what keeps the outsider out: the network
    refuses its homeserver. Even the bot, which may invite anyone, cannot invite her."""
    room, outsider = network.sparring_room_id, federation.outsider
    user_id, _, token = await outsider.new_user("udenfor")
    carol = Counsellor(outsider.url, user_id, token)
    denied = {"errcode": "M_FORBIDDEN", "error": f"Federation denied with {outsider.server_name}."}
    try:
        with pytest.raises(Forbidden, match=re.escape(denied["error"])):
            await network.bot.homeservers.links["hs1"].bot.invite(room, user_id)
        for via in (federation.hs1, federation.hs2):
            join = f"/_matrix/client/v3/join/{quote(room)}?server_name={quote(via.server_name)}"
            assert await carol.request("POST", join, {}) == (403, denied)
        assert count_rows(outsider, "events", room) == 0
    finally:
        await carol.client.close()


async def test_a_homeserver_that_was_down_gets_every_sparring_message(
    network: Network, federation: FederationFixture
) -> None:
    """Nothing is sent from Østby's homeserver after it returns: what it missed comes
    from Vestby's on its own."""
    vest, oest, room, hs2 = network.vest, network.oest, network.sparring_room_id, federation.hs2
    # Settled: hs2 has nothing left to ask hs1 about the room, which would wake hs1.
    await full_state_reached(hs2, room)
    await oest.stop()
    await hs2.local.stop()
    missed = [f"Mens Østby var nede, nr. {n}" for n in range(3)]
    try:
        for text in missed:  # hs1 takes them as usual
            await vest.say(room, text)
    finally:
        await hs2.local.start()
    again = await Counsellor(hs2.url, oest.user_id, oest.client.access_token).start()
    try:
        await again.sync_until(lambda: all(t in again.texts_in(room) for t in missed), 60)
        assert [t for t in again.texts_in(room) if t in missed] == missed  # in order
    finally:
        await again.stop()


async def test_a_case_is_shared_while_the_sparring_rooms_homeserver_is_down(
    network: Network, federation: FederationFixture
) -> None:
    """Østby's counsellor shares a case while hs1, which hosts the sparring room, is
    down: Østby's own homeserver takes the note at once, and hs1's counsellors get it
    when hs1 returns."""
    vest, oest, room = network.vest, network.oest, network.sparring_room_id
    hs1, hs2 = federation.hs1, federation.hs2
    await full_state_reached(hs2, room)  # hs2 holds all of the sparring room
    note = "En dreng på 16 sover dårligt før prøver."
    async with aiohttp.ClientSession() as http:
        youth = await Youth(network.intake, http).start("oestby", "plakat")
        conv = await network.bot.repo.get(youth.conversation)
        assert conv is not None and conv.room_id and conv.homeserver == "hs2"
        await oest.join(conv.room_id)
        await vest.stop()
        await hs1.local.stop()
        try:
            shared = await oest.say(conv.room_id, f"!del netvaerk {note}")
            (reply,) = await oest.sync_until(lambda: oest.replies_to(conv.room_id, shared), 30)
            assert reply == "Delt anonymt i »Netværket – sparring«."
            # Østby's counsellors read it at once, from their own homeserver's copy …
            posted = f"Fra en samtale i Østby: {note}"
            await oest.sync_until(lambda: posted in oest.texts_in(room))
            event = next(e for e in oest.sources(room) if e["content"]["body"] == posted)
            assert event["sender"] == hs2.registration.bot_user_id
            assert await youth.end() == 200
        finally:
            await hs1.local.start()
    # … and Vestby's get it when hs1 is back, without anything more from hs2.
    again = await Counsellor(hs1.url, vest.user_id, vest.client.access_token).start()
    try:
        await again.sync_until(lambda: posted in again.texts_in(room), 60)
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
