"""Config and Matrix helpers for the provisioning tests, against the session's Synapse.

The municipalities here are real ones the other tests do not use, so provisioning them
does not disturb the stack fixture's `testby`/`lukketby`/`nordby`.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp

from bots import cli
from bots.config.load import parse_config
from bots.config.model import Config
from bots.conversation.room import create_room_body, space_child_content
from bots.matrix.links import HomeserverLink
from provisioning.actions import Plan
from provisioning.plan import apply, plan
from tests.matrix_helpers import Counsellor


def municipality(slug: str, name: str, counsellors: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "name": name,
        "homeserver": "local",
        "opening_hours": {"weekly": {"monday": ["18:00-21:00"], "thursday": ["18:00-21:00"]}},
        "counsellors": counsellors,
        "channels": ["plakat", "kort", "hjemmeside"],
        # The provisioning tests count the rooms of a municipality without a letterbox;
        # its Brevkasse is tested where it is used (tests/test_letters.py).
        "letters": {"enabled": False},
        **extra,
    }


def config_data(
    synapse: Any, tmp: Path, municipalities: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    return {
        "database": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "public_url": "https://chat.example.dk",
        "homeservers": {"local": synapse.homeserver_config(registration_file="registration.yaml")},
        "municipalities": municipalities,
        **extra,
    }


class Provisioner:
    """plan/apply on one config at a time, over one connection to the homeserver."""

    def __init__(self, synapse: Any, tmp: Path, hs_id: str = "local") -> None:
        self.synapse = synapse
        self.tmp = tmp
        self.hs_id = hs_id  # the homeserver's id in the config
        reg = synapse.registration
        self.link = HomeserverLink.connect(hs_id, synapse.url, reg, synapse.admin_token)

    def config(self, data: dict[str, Any]) -> Config:
        return parse_config(data, self.tmp)

    async def plan(self, config: Config) -> Plan:
        return await plan(config, {self.hs_id: self.link})

    async def apply(self, config: Config, the_plan: Plan | None = None) -> None:
        the_plan = the_plan if the_plan is not None else await self.plan(config)
        await apply(config, {self.hs_id: self.link}, the_plan)

    async def room_id(self, alias_localpart: str) -> str:
        return await self.link.bot.resolve_alias(self.link.registration.alias(alias_localpart))

    async def live_conversation(self, slug: str, conversation: str | None = None) -> str:
        """A conversation room as the bot makes it, in the municipality's space."""
        reg = self.link.registration
        conversation = conversation or secrets.token_hex(8)
        youth = reg.youth_user_id(conversation)
        await self.link.bot.register_appservice_user(youth.split(":", 1)[0][1:])
        space_id = await self.room_id(reg.space_alias_localpart(slug))
        room_id = await self.link.bot.create_room(
            create_room_body(
                alias_localpart=reg.conversation_alias_localpart(conversation),
                name=f"Samtale {conversation[:6]}",
                topic="Kanal: plakat",
                space_id=space_id,
                server_name=reg.server_name,
                bot_user_id=reg.bot_user_id,
                youth_user_id=youth,
                kommune=slug,
                kanal="plakat",
            )
        )
        await self.link.bot.join(room_id, as_user=youth)
        content = space_child_content([reg.server_name])
        await self.link.bot.put_state(space_id, "m.space.child", content, room_id)
        return room_id

    async def close(self) -> None:
        await self.link.close()


async def room_count(synapse: Any) -> int:
    """Every room on the homeserver, by the Admin API."""
    headers = {"Authorization": f"Bearer {synapse.admin_token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{synapse.url}/_synapse/admin/v1/rooms?limit=1", headers=headers) as r,
    ):
        assert r.status == 200
        return (await r.json())["total_rooms"]


async def state_as(counsellor: Counsellor, room_id: str, kind: str) -> tuple[int, dict]:
    """A room's state event as the counsellor's client reads it."""
    return await counsellor.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state/{kind}/")


def run_command(*argv: str) -> int:
    """An `ungechat` command in this process, as the console script runs it, except that
    logging is left as the test session set it up (configuring it here would point the
    shared logger at this test's captured output)."""
    args = cli.build_parser().parse_args(list(argv))
    try:
        return int(args.func(args))
    except SystemExit as exc:
        return int(exc.code or 0)
