"""What a homeserver holds now, read as the bot: a room's whole state in one request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.gateway import path
from bots.matrix.links import HomeserverLink

PRESENT = ("join", "invite")


@dataclass
class RoomState:
    room_id: str
    name: str | None = None
    topic: str | None = None
    join_rules: dict[str, Any] = field(default_factory=dict)
    power_levels: dict[str, Any] = field(default_factory=dict)
    membership: dict[str, str] = field(default_factory=dict)  # user → join/invite/leave/ban
    children: dict[str, dict[str, Any]] = field(default_factory=dict)  # live m.space.child

    def present(self) -> set[str]:
        """Users who are joined or invited."""
        return {user for user, m in self.membership.items() if m in PRESENT}


async def resolve(link: HomeserverLink, alias: str) -> str | None:
    try:
        return await link.bot.resolve_alias(alias)
    except NotFound:
        return None


async def read_room(link: HomeserverLink, room_id: str) -> RoomState | None:
    """The room's current state, or None when the bot is not in it (or it is gone)."""
    try:
        answer = await link.bot.request("GET", path(["rooms", room_id, "state"]))
    except (NotFound, Forbidden):
        return None
    state = RoomState(room_id)
    for event in answer.get("value", []):
        kind, key, content = event.get("type"), event.get("state_key"), event.get("content") or {}
        if kind == "m.room.name":
            state.name = content.get("name")
        elif kind == "m.room.topic":
            state.topic = content.get("topic")
        elif kind == "m.room.join_rules":
            state.join_rules = content
        elif kind == "m.room.power_levels":
            state.power_levels = content
        elif kind == "m.room.member" and isinstance(key, str):
            state.membership[key] = content.get("membership", "leave")
        elif kind == "m.space.child" and isinstance(key, str) and content.get("via"):
            state.children[key] = content
    return state
