"""The session's real Synapse: SQLite in a temporary directory, loopback, free ports;
and, for the tests that need it, one on PostgreSQL (`synapse_on_postgres`).

The bot's appservice registration is written before Synapse starts, pointing at
`bot_port`, where the bot under test (tests/stack_fixture.py) will listen.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest

from bots.config.namespaces import Registration
from deploy.local.network import FederationMode
from deploy.local.postgres import libpq_args
from deploy.local.synapse import LocalSynapse, free_port
from provisioning.registration import write_registration

if TYPE_CHECKING:  # imported at run time it would precede its registration as a plugin
    from tests.db_fixture import FreshDatabase

SERVER_NAME = "ungechat.test"


@dataclass
class SynapseFixture:
    local: LocalSynapse
    registration: Registration
    bot_port: int
    admin_token: str = ""
    # The SQLAlchemy URL of its PostgreSQL database; None on SQLite (see database_path).
    postgres_url: str | None = None
    _numbers: itertools.count = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        return self.local.url

    @property
    def server_name(self) -> str:
        return self.local.server_name

    @property
    def database_path(self) -> Path:
        return self.local.database_path

    def homeserver_config(self, **appservice: str) -> dict[str, Any]:
        """This homeserver as an entry under `homeservers:` in the bot's config."""
        reg = self.registration
        return {
            "server_name": self.server_name,
            "url": self.url,
            "admin_token": self.admin_token,
            "appservice": {
                "id": reg.id,
                "as_token": reg.as_token,
                "hs_token": reg.hs_token,
                "sender_localpart": reg.sender_localpart,
                "url": reg.url,
                **appservice,
            },
        }

    async def admin(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """A request with the admin's token: (status, JSON body)."""
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.url + path, json=body, headers=headers) as r,
        ):
            return r.status, await r.json(content_type=None)

    async def new_user(self, prefix: str) -> tuple[str, str, str]:
        """A fresh account: (user_id, password, access_token)."""
        localpart = f"{prefix}{next(self._numbers)}_{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        user_id, token = await self.local.register_user(localpart, password)
        return user_id, password, token


def bot_homeserver(
    state_dir: Path,
    server_name: str,
    bot_port: int,
    federation: FederationMode | None = None,
    *,
    postgres_url: str | None = None,
) -> SynapseFixture:
    """A homeserver (not started yet) that knows the bot under test as its appservice,
    listening on `bot_port`, with fresh tokens; on SQLite in `state_dir`, or in the
    PostgreSQL database at `postgres_url` (UTF8, collation 'C')."""
    registration = Registration(
        id="ungechat",
        url=f"http://127.0.0.1:{bot_port}",
        as_token=secrets.token_urlsafe(32),
        hs_token=secrets.token_urlsafe(32),
        sender_localpart="ungechat",
        server_name=server_name,
    )
    registration_file = write_registration(registration, state_dir / "appservice.yaml")
    postgres = libpq_args(postgres_url) if postgres_url is not None else None
    local = LocalSynapse(
        state_dir / "homeserver",
        server_name,
        [registration_file],
        federation=federation,
        postgres=postgres,
    )
    return SynapseFixture(local, registration, bot_port, postgres_url=postgres_url)


async def start_with_admin(hs: SynapseFixture) -> None:
    await hs.local.start()
    _, hs.admin_token = await hs.local.register_user("admin", secrets.token_urlsafe(16), True)


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SynapseFixture]:
    hs = bot_homeserver(tmp_path_factory.mktemp("synapse"), SERVER_NAME, free_port())
    try:
        await start_with_admin(hs)
        yield hs
    finally:
        await hs.local.stop()


@pytest.fixture(scope="module")
async def synapse_on_postgres(
    tmp_path_factory: pytest.TempPathFactory, pg_databases: FreshDatabase
) -> AsyncIterator[SynapseFixture]:
    """Like `synapse`, but on a fresh database of the tests' PostgreSQL (tests/db_fixture.py);
    the tests of one module share it."""
    url = await pg_databases(synapse=True)
    state_dir = tmp_path_factory.mktemp("synapse-pg")
    hs = bot_homeserver(state_dir, SERVER_NAME, free_port(), postgres_url=url)
    try:
        await start_with_admin(hs)
        yield hs
    finally:
        await hs.local.stop()
