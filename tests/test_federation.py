"""Counsellors on different homeservers of the network talk over real federation (TLS
checked against the network's CA); a homeserver outside the network gets nothing; a
homeserver that is down gets what it missed when it returns."""

from __future__ import annotations

import re
import socket
import sqlite3
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest

from deploy.federation import federation_config
from deploy.local.network import FederationMode, reserve_server_names
from deploy.local.synapse import LocalSynapse, SynapseError
from deploy.local.tls import CertificateAuthority
from tests.federation_fixture import FederationFixture, count_rows, full_state_reached
from tests.matrix_helpers import Counsellor
from tests.synapse_fixture import SynapseFixture

NewClient = Callable[[SynapseFixture, str], Awaitable[Counsellor]]


@pytest.fixture
async def new_client() -> AsyncIterator[NewClient]:
    """A fresh account on a homeserver, signed in and syncing; stopped after the test."""
    started: list[Counsellor] = []

    async def make(hs: SynapseFixture, prefix: str) -> Counsellor:
        user_id, _, token = await hs.new_user(prefix)
        client = await Counsellor(hs.url, user_id, token).start()
        started.append(client)
        return client

    yield make
    for client in started:
        await client.stop()


async def create_room(creator: Counsellor, invite: list[str], public: bool = False) -> str:
    body = {
        "room_version": "12",
        "preset": "public_chat" if public else "private_chat",
        "invite": invite,
    }
    status, data = await creator.request("POST", "/_matrix/client/v3/createRoom", body)
    assert status == 200, data
    return data["room_id"]


async def accept_invite(member: Counsellor, room_id: str) -> None:
    await member.sync_until(lambda: room_id in member.client.invited_rooms)
    await member.join(room_id)


@dataclass
class Pair:
    alice: Counsellor  # on hs1, created the room
    bob: Counsellor  # on hs2, joined over federation
    room_id: str


@pytest.fixture(scope="module")
async def pair(federation: FederationFixture) -> AsyncIterator[Pair]:
    alice_id, _, alice_token = await federation.hs1.new_user("alice")
    bob_id, _, bob_token = await federation.hs2.new_user("bob")
    alice = await Counsellor(federation.hs1.url, alice_id, alice_token).start()
    bob = await Counsellor(federation.hs2.url, bob_id, bob_token).start()
    try:
        room_id = await create_room(alice, invite=[bob_id])
        await accept_invite(bob, room_id)
        yield Pair(alice, bob, room_id)
    finally:
        await alice.stop()
        await bob.stop()


@pytest.mark.synapse
async def test_counsellors_on_two_homeservers_talk(
    pair: Pair, federation: FederationFixture
) -> None:
    alice, bob, room_id = pair.alice, pair.bob, pair.room_id
    await alice.say(room_id, "Hej fra Halsnæs")
    await bob.sync_until(lambda: "Hej fra Halsnæs" in bob.texts_in(room_id))
    await bob.say(room_id, "Hej tilbage fra Ringkøbing-Skjern")
    await alice.sync_until(lambda: "Hej tilbage fra Ringkøbing-Skjern" in alice.texts_in(room_id))
    # hs2 holds its own copy of the room, in the version hs1 created it in.
    state = f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.create/"
    status, create = await bob.request("GET", state)
    assert status == 200 and create["room_version"] == "12", create
    assert bob.user_id.endswith(":" + federation.hs2.server_name)


@pytest.mark.synapse
async def test_servers_fetch_each_others_signing_keys_directly(
    pair: Pair, federation: FederationFixture
) -> None:
    """With `trusted_key_servers: []` no notary is asked: each got the other's key from
    the other itself, over the TLS listener."""
    context = ssl.create_default_context(cafile=federation.ca.cert_path)
    for here, there in [(federation.hs1, federation.hs2), (federation.hs2, federation.hs1)]:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{there.local.federation_url}/_matrix/key/v2/server", ssl=context) as r,
        ):
            published = set((await r.json())["verify_keys"])
        with sqlite3.connect(f"file:{here.database_path}?mode=ro", uri=True) as db:
            rows = db.execute(
                "SELECT key_id, from_server FROM server_keys_json WHERE server_name = ?",
                (there.server_name,),
            ).fetchall()
        assert rows and {key_id for key_id, _ in rows} == published
        assert {source for _, source in rows} == {there.server_name}


@pytest.mark.synapse
async def test_federation_port_needs_the_network_ca(federation: FederationFixture) -> None:
    url = f"{federation.hs1.local.federation_url}/_matrix/key/v2/server"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with http.get(url):  # the system's CAs do not know the network's CA
                pass
        context = ssl.create_default_context(cafile=federation.ca.cert_path)
        async with http.get(url, ssl=context) as r:
            assert r.status == 200
            assert (await r.json())["server_name"] == federation.hs1.server_name


@pytest.mark.synapse
async def test_a_homeserver_outside_the_network_gets_nothing(
    federation: FederationFixture, new_client: NewClient
) -> None:
    hs1, hs2, outsider = federation.hs1, federation.hs2, federation.outsider
    alice = await new_client(hs1, "alice")
    bob = await new_client(hs2, "bob")
    carol = await new_client(outsider, "carol")
    # A public room, so that only federation can keep carol out.
    room_id = await create_room(alice, invite=[bob.user_id], public=True)
    await accept_invite(bob, room_id)
    denied = {"errcode": "M_FORBIDDEN", "error": f"Federation denied with {outsider.server_name}."}

    # hs1 will not even send her an invite …
    invite = f"/_matrix/client/v3/rooms/{quote(room_id)}/invite"
    assert await alice.request("POST", invite, {"user_id": carol.user_id}) == (403, denied)
    # … nor let her join through it or through hs2 (the outsider does ask them).
    for via in (hs1, hs2):
        join = f"/_matrix/client/v3/join/{quote(room_id)}?server_name={quote(via.server_name)}"
        assert await carol.request("POST", join, {}) == (403, denied)
    # The other way round: the outsider sends its invite, and hs2 refuses it.
    status, body = await carol.request("POST", "/_matrix/client/v3/createRoom", {})
    assert status == 200, body
    outsider_invite = f"/_matrix/client/v3/rooms/{quote(body['room_id'])}/invite"
    status, refused = await carol.request("POST", outsider_invite, {"user_id": bob.user_id})
    assert status == 403 and refused["errcode"] == "M_FORBIDDEN", refused

    await alice.say(room_id, "Kun for netværket")
    await bob.sync_until(lambda: "Kun for netværket" in bob.texts_in(room_id))
    messages = f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b"
    status, body = await carol.request("GET", messages)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
    assert room_id not in carol.client.rooms and room_id not in carol.client.invited_rooms
    assert carol.texts_in(room_id) == []
    assert count_rows(outsider, "events", room_id) == 0  # none of it reached her server
    assert count_rows(hs2, "events", room_id) > 0


@pytest.mark.synapse
async def test_messages_sent_while_a_homeserver_is_down_arrive_after_restart(
    federation: FederationFixture, new_client: NewClient
) -> None:
    hs2 = federation.hs2
    alice = await new_client(federation.hs1, "alice")
    bob_id, _, bob_token = await hs2.new_user("bob")
    bob = await Counsellor(hs2.url, bob_id, bob_token).start()
    room_id = await create_room(alice, invite=[bob_id])
    try:
        await accept_invite(bob, room_id)
        await bob.say(room_id, "Jeg er med")
        await alice.sync_until(lambda: alice.texts_in(room_id) == ["Jeg er med"])
    finally:
        await bob.stop()
    # Settled: hs2 has nothing left to ask hs1, so only hs1 can bring what bob misses.
    await full_state_reached(hs2, room_id)

    sent = ["Er du der?", "Vi har en samtale, der skal overføres", "Skriv når du er tilbage"]
    await hs2.local.stop()
    try:
        for text in sent:  # hs1 takes them as usual: a neighbour being down stops nothing
            await alice.say(room_id, text)
        await alice.sync_until(lambda: alice.texts_in(room_id)[1:] == sent)
    finally:
        await hs2.local.start()

    # Bob signs in again (his token survived the restart) and finds every message.
    bob = await Counsellor(hs2.url, bob_id, bob_token).start()
    try:
        await bob.sync_until(lambda: bob.texts_in(room_id)[-3:] == sent, timeout=60)
    finally:
        await bob.stop()


def test_the_network_config_names_a_bad_server_name() -> None:
    for bad, why in [
        ("halsnaes dk", "'halsnaes dk' is not a Matrix server name"),
        ("rksk.dk:99999", "'rksk.dk:99999': port '99999' is not a TCP port"),
        ("[::1", "'[::1' is not a Matrix server name"),
    ]:
        with pytest.raises(ValueError, match=rf"^network\[1\]: {re.escape(why)}$"):
            federation_config(["halsnaes.dk", bad])
    with pytest.raises(ValueError, match="at least one"):
        federation_config([])


def test_the_network_config_federates_with_the_network_only() -> None:
    network = ["halsnaes.dk", "rksk.dk:8448", "[::1]:8448", "halsnaes.dk"]
    config = federation_config(network)
    assert config["federation_domain_whitelist"] == network[:3]
    assert config["federation_verify_certificates"] is True
    assert config["trusted_key_servers"] == []
    assert "federation_custom_ca_list" not in config  # the system's CAs, unless told


async def test_a_federating_homeserver_refuses_a_name_or_port_it_cannot_keep(
    tmp_path: Path,
) -> None:
    (name,) = reserve_server_names(1)
    mode = FederationMode(CertificateAuthority.load_or_create(tmp_path / "ca"), [name])
    with pytest.raises(ValueError, match=re.escape("must be 127.0.0.1:PORT")):
        LocalSynapse(tmp_path / "hs", "halsnaes.dk", [], federation=mode)
    hs = LocalSynapse(tmp_path / "hs", name, [], federation=mode)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(name.rsplit(":", 1)[1])))
        holder.listen()
        with pytest.raises(
            SynapseError, match=rf"port \d+ is in use, and server {re.escape(name)} can only"
        ):
            await hs.start()
    assert not hs.config_path.exists()  # nothing was written for a start that cannot be
