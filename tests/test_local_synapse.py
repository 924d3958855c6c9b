"""The fixture's homeserver is hardened the way a young person's privacy needs."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from deploy.local.synapse import LocalSynapse
from tests.synapse_fixture import SynapseFixture

pytestmark = pytest.mark.synapse


async def test_health(synapse: SynapseFixture, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{synapse.url}/health") as r:
        assert r.status == 200


async def test_open_registration_is_refused(
    synapse: SynapseFixture, http: aiohttp.ClientSession
) -> None:
    body = {"username": "nysgerrig", "password": "hemmeligt-123", "auth": {"type": "m.login.dummy"}}
    async with http.post(f"{synapse.url}/_matrix/client/v3/register", json=body) as r:
        assert r.status == 403
        assert (await r.json())["errcode"] == "M_FORBIDDEN"


async def test_guest_registration_is_refused(
    synapse: SynapseFixture, http: aiohttp.ClientSession
) -> None:
    url = f"{synapse.url}/_matrix/client/v3/register?kind=guest"
    async with http.post(url, json={}) as r:
        # Synapse 1.163 answers 403 with errcode M_UNKNOWN here, so check the reason.
        assert r.status == 403
        assert "guest access is disabled" in (await r.json())["error"].lower()


async def test_search_and_user_directory_find_nothing(
    synapse: SynapseFixture, http: aiohttp.ClientSession
) -> None:
    api = f"{synapse.url}/_matrix/client/v3"
    _, _, token = await synapse.new_user("soeger")
    other, _, other_token = await synapse.new_user("fundet")
    auth = {"Authorization": f"Bearer {token}"}
    # The two share a room, which would normally put `other` in the directory.
    async with http.post(f"{api}/createRoom", json={"invite": [other]}, headers=auth) as r:
        room_id = (await r.json())["room_id"]
    other_auth = {"Authorization": f"Bearer {other_token}"}
    async with http.post(f"{api}/join/{room_id}", json={}, headers=other_auth) as r:
        assert r.status == 200
    term = other[1:].split(":")[0]
    search = {"search_categories": {"room_events": {"search_term": "hej"}}}
    async with http.post(f"{api}/search", json=search, headers=auth) as r:
        assert r.status == 400
        assert "search is disabled" in (await r.json())["error"].lower()
    async with http.post(
        f"{api}/user_directory/search", json={"search_term": term}, headers=auth
    ) as r:
        assert r.status == 200 and (await r.json())["results"] == []


async def test_register_user_is_idempotent(
    synapse: SynapseFixture, http: aiohttp.ClientSession
) -> None:
    first = await synapse.local.register_user("gentaget", "samme-kodeord-42")
    again = await synapse.local.register_user("gentaget", "samme-kodeord-42")
    assert first[0] == again[0] == f"@gentaget:{synapse.server_name}"
    for _, token in (first, again):
        async with http.get(
            f"{synapse.url}/_matrix/client/v3/account/whoami",
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 200 and (await r.json())["user_id"] == first[0]


async def test_a_restart_keeps_its_state_and_its_port_unless_taken(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """A restarted demo keeps its address while it is free (a logged-in Element stays
    logged in) and moves to a free one when something else took it; accounts and the
    signing key are the same either way."""
    hs = LocalSynapse(tmp_path / "hs", "genstart.test", [])
    await hs.start()
    try:
        user_id, _ = await hs.register_user("raadgiver", "kodeord-1", admin=True)
    finally:
        await hs.stop()
        await hs.stop()  # twice is fine
    first_port = hs.port
    key = next(hs.state_dir.glob("*.signing.key")).read_text()

    async def same_account() -> None:
        again, token = await hs.register_user("raadgiver", "kodeord-1", admin=True)
        assert again == user_id
        async with http.get(
            f"{hs.url}/_matrix/client/v3/account/whoami",
            headers={"Authorization": f"Bearer {token}"},
        ) as r:
            assert r.status == 200 and (await r.json())["user_id"] == user_id
        assert next(hs.state_dir.glob("*.signing.key")).read_text() == key

    await hs.start()
    try:
        assert hs.port == first_port
        await same_account()
    finally:
        await hs.stop()
    with socket.socket() as squatter:  # another program takes the port meanwhile
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT
        squatter.bind(("127.0.0.1", first_port))
        squatter.listen()
        await hs.start()
        try:
            assert hs.port != first_port
            await same_account()
        finally:
            await hs.stop()
