"""Rooms provisioning once made that the config no longer names (a municipality or a
sparring room taken out). They are reported, never deleted: a conversation may still be
going on in a municipality's space, and deleting is a person's decision."""

from __future__ import annotations

import re

from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.gateway import path
from bots.matrix.links import HomeserverLink

KINDS = {
    "space": "space",
    "lobby": "room",
    "letterbox": "room",
    "staff": "room",
    "sparring": "sparring room",
}


async def leftovers(link: HomeserverLink, known: set[str]) -> list[str]:
    """One line per room the bot is in, under a provisioning alias, not in `known`."""
    reg = link.registration
    ours = re.compile(
        rf"^#{re.escape(reg.prefix)}(space|lobby|letterbox|staff|sparring)_(.+):{re.escape(reg.server_name)}$"
    )
    joined = (await link.bot.request("GET", path(["joined_rooms"]))).get("joined_rooms", [])
    notes = []
    for room_id in sorted(set(joined) - known):
        try:
            alias = (await link.bot.get_state(room_id, "m.room.canonical_alias")).get("alias")
            name = (await link.bot.get_state(room_id, "m.room.name")).get("name")
        except (NotFound, Forbidden):
            continue
        match = ours.match(alias or "")
        if match:
            notes.append(f'{KINDS[match.group(1)]} "{name}" ({alias})')
    return notes
