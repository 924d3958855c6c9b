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
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.local.network import FederationMode, reserve_server_names
from deploy.local.synapse import LocalSynapse, free_port
from deploy.local.tls import CertificateAuthority
from provisioning.registration import Registration
from tests.synapse_fixture import SynapseFixture


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


def _homeserver(
    state_dir: Path, server_name: str, bot_port: int, mode: FederationMode
) -> SynapseFixture:
    registration = Registration(
        id="ungechat",
        url=f"http://127.0.0.1:{bot_port}",
        as_token=secrets.token_urlsafe(32),
        hs_token=secrets.token_urlsafe(32),
        sender_localpart="ungechat",
        server_name=server_name,
    )
    registration_file = registration.write(state_dir / "appservice.yaml")
    local = LocalSynapse(
        state_dir / "homeserver", server_name, [registration_file], federation=mode
    )
    return SynapseFixture(local, registration, bot_port)


async def _start(hs: SynapseFixture) -> None:
    await hs.local.start()
    _, hs.admin_token = await hs.local.register_user("admin", secrets.token_urlsafe(16), True)


@pytest.fixture(scope="session")
async def federation(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[FederationFixture]:
    base = tmp_path_factory.mktemp("federation")
    ca = CertificateAuthority.load_or_create(base / "ca")
    hs1_name, hs2_name, outsider_name = reserve_server_names(3)
    network = [hs1_name, hs2_name]
    bot_port = free_port()
    hs1 = _homeserver(base / "hs1", hs1_name, bot_port, FederationMode(ca, network))
    hs2 = _homeserver(base / "hs2", hs2_name, bot_port, FederationMode(ca, network))
    # The outsider would federate with the network; the network will not with it.
    outsider_mode = FederationMode(ca, [*network, outsider_name])
    outsider = _homeserver(base / "outsider", outsider_name, bot_port, outsider_mode)
    homeservers = [hs1, hs2, outsider]
    began = time.monotonic()
    try:
        results = await asyncio.gather(*(_start(hs) for hs in homeservers), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        started_in = time.monotonic() - began
        yield FederationFixture(hs1, hs2, outsider, network, ca, bot_port, started_in)
    finally:
        await asyncio.gather(*(hs.local.stop() for hs in homeservers))
