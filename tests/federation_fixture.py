"""A federating network of real Synapses on loopback, with TLS: `federation`.

hs1 and hs2 form the network (each whitelists both); the outsider is a third homeserver
that whitelists hs1 and hs2 too, but is not in their whitelist — so when it is refused,
the network refuses it. Server names are `127.0.0.1:PORT` (deploy/local/network.py);
one throwaway CA signs every certificate. Each homeserver has the bot's appservice
registration (its own tokens, one shared `bot_port`: one bot process serves them all),
an admin account and `new_user`, exactly like the single `synapse` fixture.

Only tests that request `federation` start these three.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from deploy.local.network import FederationMode, reserve_server_names
from deploy.local.synapse import free_port
from deploy.local.tls import CertificateAuthority
from tests.synapse_fixture import SynapseFixture, bot_homeserver, start_with_admin


@dataclass
class FederationFixture:
    hs1: SynapseFixture
    hs2: SynapseFixture
    outsider: SynapseFixture
    network: list[str]  # server names of hs1 and hs2: each one's federation whitelist
    ca: CertificateAuthority  # ca.cert_path verifies every homeserver's TLS listener
    bot_port: int
    started_in: float  # seconds for all three to be up, with admins registered

    @property
    def homeservers(self) -> list[SynapseFixture]:
        return [self.hs1, self.hs2, self.outsider]


@pytest.fixture(scope="session")
async def federation(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FederationFixture]:
    base = tmp_path_factory.mktemp("federation")
    ca = CertificateAuthority.load_or_create(base / "ca")
    hs1_name, hs2_name, outsider_name = reserve_server_names(3)
    network = [hs1_name, hs2_name]
    bot_port = free_port()
    hs1 = bot_homeserver(base / "hs1", hs1_name, bot_port, FederationMode(ca, network))
    hs2 = bot_homeserver(base / "hs2", hs2_name, bot_port, FederationMode(ca, network))
    # The outsider would federate with the network; the network will not with it.
    outsider_mode = FederationMode(ca, [*network, outsider_name])
    outsider = bot_homeserver(base / "outsider", outsider_name, bot_port, outsider_mode)
    homeservers = [hs1, hs2, outsider]
    began = time.monotonic()
    try:
        results = await asyncio.gather(
            *(start_with_admin(hs) for hs in homeservers), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        started_in = time.monotonic() - began
        yield FederationFixture(hs1, hs2, outsider, network, ca, bot_port, started_in)
    finally:
        await asyncio.gather(*(hs.local.stop() for hs in homeservers))


def count_rows(hs: SynapseFixture, table: str, room_id: str) -> int:
    """How many rows about the room a table of the homeserver's database holds."""
    with sqlite3.connect(f"file:{hs.database_path}?mode=ro", uri=True) as db:
        query = f"SELECT COUNT(*) FROM {table} WHERE room_id = ?"
        return db.execute(query, (room_id,)).fetchone()[0]


async def full_state_reached(hs: SynapseFixture, room_id: str, timeout: float = 20) -> None:
    """Wait until the homeserver has finished its "faster join": it joins a remote room
    with partial state first and fetches the rest from the room's server afterwards (a
    restart resumes that, which would wake the other server as a side effect, and a
    homeserver cannot use a room it holds only partly while that server is down)."""
    async with asyncio.timeout(timeout):
        # Polled: a database file has no event to await.
        while count_rows(hs, "partial_state_rooms", room_id):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
