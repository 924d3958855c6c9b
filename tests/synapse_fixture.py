"""The session's real Synapse: SQLite in a temporary directory, loopback, free ports.

The bot's appservice registration is written before Synapse starts, pointing at
`bot_port`, where the bot under test (tests/stack_fixture.py) will listen.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from deploy.local.synapse import LocalSynapse, free_port
from provisioning.registration import Registration

SERVER_NAME = "ungechat.test"


@dataclass
class SynapseFixture:
    local: LocalSynapse
    registration: Registration
    bot_port: int
    admin_token: str = ""
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

    async def new_user(self, prefix: str) -> tuple[str, str, str]:
        """A fresh account: (user_id, password, access_token)."""
        localpart = f"{prefix}{next(self._numbers)}_{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        user_id, token = await self.local.register_user(localpart, password)
        return user_id, password, token


@pytest.fixture(scope="session")
async def synapse(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SynapseFixture]:
    state_dir = tmp_path_factory.mktemp("synapse")
    bot_port = free_port()
    registration = Registration(
        id="ungechat",
        url=f"http://127.0.0.1:{bot_port}",
        as_token=secrets.token_urlsafe(32),
        hs_token=secrets.token_urlsafe(32),
        sender_localpart="ungechat",
        server_name=SERVER_NAME,
    )
    registration_file = registration.write(state_dir / "appservice.yaml")
    local = LocalSynapse(state_dir / "homeserver", SERVER_NAME, [registration_file])
    await local.start()
    try:
        hs = SynapseFixture(local, registration, bot_port)
        _, hs.admin_token = await local.register_user("admin", secrets.token_urlsafe(16), True)
        yield hs
    finally:
        await local.stop()
