"""Declarative config → plan → apply, on each homeserver.

The plan is computed by reading the homeserver; `apply` carries it out. The stable keys
are room aliases in the bot's exclusive namespace (`#_<id>_space_<slug>`,
`#_<id>_lobby_<slug>`), so a second apply finds what the first created and a failure
midway is completed by the next apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bots.config import Config, Municipality
from bots.conversation_room import ROOM_VERSION, space_child_content
from bots.matrix.errors import NotFound
from bots.matrix.links import HomeserverLink

LOBBY_NAME = "Kø"
STAFF_NAME = "Rådgivere – internt"
STAFF_TOPIC = (
    "Kun for rådgiverne. Her kalder !akut fra en samtale på kollegerne på vagt, når "
    "nogen har brug for hjælp nu."
)
LOBBY_TOPIC = (
    "Her dukker nye samtaler op. Åbn linket i en besked for at gå ind i samtalen – "
    "den unge ser dig kun som »Rådgiver«."
)


@dataclass(frozen=True)
class Action:
    homeserver: str
    kind: str  # create_space | create_lobby | create_staff | invite
    slug: str
    target: str  # an alias or a user id
    detail: dict[str, Any] = field(default_factory=dict, compare=False)

    def describe(self) -> str:
        what = {
            "create_space": "create counsellor space",
            "create_lobby": "create lobby room",
            "create_staff": "create staff room",
            "invite": "invite counsellor to space and lobby",
        }[self.kind]
        return f"[{self.homeserver}] {self.slug}: {what} {self.target}"


async def _resolve(link: HomeserverLink, alias: str) -> str | None:
    try:
        return await link.bot.resolve_alias(alias)
    except NotFound:
        return None


async def _members(link: HomeserverLink, room_id: str) -> set[str]:
    """Users who are joined or invited."""
    url = f"/_matrix/client/v3/rooms/{room_id}/members"
    events = (await link.bot.request("GET", url)).get("chunk", [])
    return {
        e["state_key"]
        for e in events
        if e.get("content", {}).get("membership") in ("join", "invite")
    }


async def plan(config: Config, links: dict[str, HomeserverLink]) -> list[Action]:
    actions: list[Action] = []
    for m in config.municipalities:
        link = links[m.homeserver]
        reg = link.registration
        space_alias = reg.alias(reg.space_alias_localpart(m.slug))
        lobby_alias = reg.alias(reg.lobby_alias_localpart(m.slug))
        space_id = await _resolve(link, space_alias)
        lobby_id = await _resolve(link, lobby_alias)
        if space_id is None:
            actions.append(Action(link.id, "create_space", m.slug, space_alias))
        if lobby_id is None:
            actions.append(Action(link.id, "create_lobby", m.slug, lobby_alias))
        staff_alias = reg.alias(reg.staff_alias_localpart(m.slug))
        staff_id = await _resolve(link, staff_alias)
        if staff_id is None:
            actions.append(Action(link.id, "create_staff", m.slug, staff_alias))
        present = await _members(link, space_id) if space_id else set()
        for room_id in (lobby_id, staff_id):
            if room_id:
                present &= await _members(link, room_id)
        actions += [
            Action(link.id, "invite", m.slug, user) for user in m.counsellors if user not in present
        ]
    return actions


def _space_body(m: Municipality, alias_localpart: str) -> dict[str, Any]:
    return {
        "room_version": ROOM_VERSION,
        "room_alias_name": alias_localpart,
        "name": f"{m.service_name} – rådgivere",
        "topic": f"Ungerådgivernes rum i {m.name}. Nye samtaler ligger her som rum.",
        "visibility": "private",
        "preset": "private_chat",
        "creation_content": {"type": "m.space", "m.federate": True},
        "power_level_content_override": {
            "events_default": 100,
            "state_default": 100,
            "invite": 100,
            "kick": 100,
            "ban": 100,
            "redact": 100,
        },
        "initial_state": [
            {
                "type": "m.room.guest_access",
                "state_key": "",
                "content": {"guest_access": "forbidden"},
            }
        ],
    }


def _lobby_body(
    m: Municipality,
    alias_localpart: str,
    space_id: str,
    server: str,
    name: str = LOBBY_NAME,
    topic: str = LOBBY_TOPIC,
) -> dict[str, Any]:
    """A room in the counsellors' space that only members of the space may join."""
    return {
        "room_version": ROOM_VERSION,
        "room_alias_name": alias_localpart,
        "name": name,
        "topic": topic,
        "visibility": "private",
        "preset": "private_chat",
        "creation_content": {"m.federate": True},
        "power_level_content_override": {
            "events_default": 0,
            "state_default": 100,
            "invite": 100,
            "kick": 100,
            "ban": 100,
            "redact": 100,
        },
        "initial_state": [
            {
                "type": "m.room.join_rules",
                "state_key": "",
                "content": {
                    "join_rule": "restricted",
                    "allow": [{"type": "m.room_membership", "room_id": space_id}],
                },
            },
            {
                "type": "m.room.guest_access",
                "state_key": "",
                "content": {"guest_access": "forbidden"},
            },
            {"type": "m.space.parent", "state_key": space_id, "content": {"via": [server]}},
        ],
    }


async def apply(config: Config, links: dict[str, HomeserverLink], actions: list[Action]) -> None:
    """Carry out a plan in order; every step can be repeated safely."""
    for action in actions:
        link = links[action.homeserver]
        reg = link.registration
        m = config.municipality(action.slug)
        assert m is not None
        space_alias = reg.alias(reg.space_alias_localpart(m.slug))
        if action.kind == "create_space":
            await link.bot.create_room(_space_body(m, reg.space_alias_localpart(m.slug)))
        elif action.kind == "create_lobby":
            space_id = await link.bot.resolve_alias(space_alias)
            lobby_id = await link.bot.create_room(
                _lobby_body(m, reg.lobby_alias_localpart(m.slug), space_id, reg.server_name)
            )
            child = {**space_child_content(reg.server_name), "order": "0"}
            await link.bot.put_state(space_id, "m.space.child", child, lobby_id)
        elif action.kind == "create_staff":
            space_id = await link.bot.resolve_alias(space_alias)
            staff_id = await link.bot.create_room(
                _lobby_body(
                    m,
                    reg.staff_alias_localpart(m.slug),
                    space_id,
                    reg.server_name,
                    STAFF_NAME,
                    STAFF_TOPIC,
                )
            )
            child = {**space_child_content(reg.server_name), "order": "1"}
            await link.bot.put_state(space_id, "m.space.child", child, staff_id)
        elif action.kind == "invite":
            space_id = await link.bot.resolve_alias(space_alias)
            lobby_id = await link.bot.resolve_alias(reg.alias(reg.lobby_alias_localpart(m.slug)))
            staff_id = await link.bot.resolve_alias(reg.alias(reg.staff_alias_localpart(m.slug)))
            for room_id in (space_id, lobby_id, staff_id):
                if action.target not in await _members(link, room_id):
                    await link.bot.invite(room_id, action.target)
