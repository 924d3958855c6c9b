"""Carry out a plan, step by step, as the bot on each homeserver.

Every step can be repeated: a room whose alias already exists is taken, not made again;
an invite or a removal that has already happened counts as done. So when a step fails,
what was done stays, and the next `plan`/`apply` finds and finishes the rest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable

from bots.config.model import Config
from bots.matrix.errors import Forbidden, NotFound, RoomInUse
from bots.matrix.gateway import path
from bots.matrix.links import HomeserverLink
from provisioning import synapse_settings
from provisioning.actions import Action, merged_power_levels
from provisioning.registration import write_registration
from provisioning.rooms import RoomSpec, rooms_on
from provisioning.state import PRESENT

KICK_REASON = "Ikke længere på listen over rådgivere i ungechat."


class NotApplied(RuntimeError):
    """Some homeservers could not be read, so their part of the config was not applied."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{hs}: {why}" for hs, why in problems.items()))
        self.problems = problems


async def apply(
    config: Config,
    links: dict[str, HomeserverLink],
    actions: Iterable[Action],
    *,
    done: Callable[[Action], None] | None = None,
) -> None:
    """Carry out the steps in order; `done` is told of each one finished.

    Raises the first step's error (what came before stays done), or `NotApplied` at the
    end when the plan names homeservers it could not read."""
    run = _Run(config, links)
    for action in actions:
        await run.do(action)
        if done is not None:
            done(action)
    problems = getattr(actions, "problems", None)
    if problems:
        raise NotApplied(problems)


class _Run:
    def __init__(self, config: Config, links: dict[str, HomeserverLink]) -> None:
        self.config = config
        self.links = links
        self.specs = {
            (hs_id, spec.alias): spec
            for hs_id in config.homeservers
            for spec in rooms_on(config, hs_id)
        }
        self.room_ids: dict[tuple[str, str], str] = {}

    async def room_id(self, link: HomeserverLink, alias: str) -> str:
        if alias.startswith("!"):
            return alias  # a conversation room, by id
        key = (link.id, alias)
        if key not in self.room_ids:
            self.room_ids[key] = await link.bot.resolve_alias(alias)
        return self.room_ids[key]

    async def do(self, action: Action) -> None:
        link = self.links[action.homeserver]
        if action.kind in ("write_registration", "update_registration"):
            hs = self.config.homeservers[action.homeserver]
            assert hs.registration_file is not None
            if action.target == str(synapse_settings.fragment_path(hs.registration_file)):
                synapse_settings.write(self.config, action.homeserver)
            else:
                write_registration(hs.registration(), hs.registration_file)
            return
        spec = self.specs.get((action.homeserver, action.room))
        if action.kind == "kick":
            await self.kick(link, await self.room_id(link, action.room), action.target)
            return
        assert spec is not None, f"no room {action.room} in the config"
        server = link.registration.server_name
        if action.kind == "create_room":
            await self.create(link, spec)
            return
        room_id = await self.room_id(link, spec.alias)
        if action.kind == "link_child":
            child = self.specs[(action.homeserver, action.target)]
            child_id = await self.room_id(link, child.alias)
            content = child.child_content(server)
            await link.bot.put_state(room_id, "m.space.child", content, child_id)
        elif action.kind == "set_name":
            await link.bot.put_state(room_id, "m.room.name", {"name": spec.name})
        elif action.kind == "set_topic":
            await link.bot.put_state(room_id, "m.room.topic", {"topic": spec.topic})
        elif action.kind == "set_join_rules":
            parent = await self.room_id(link, spec.parent_alias) if spec.parent_alias else None
            await link.bot.put_state(room_id, "m.room.join_rules", spec.join_rules(parent))
        elif action.kind == "set_power_levels":
            current = await link.bot.get_state(room_id, "m.room.power_levels")
            keep = {u for u in current.get("users") or {} if link.registration.owns_user(u)}
            content = merged_power_levels(current, spec.power_levels, keep)
            await link.bot.put_state(room_id, "m.room.power_levels", content)
        elif action.kind == "invite":
            await self.invite(link, room_id, action.target)
        elif action.kind == "join":
            guest = next(
                other
                for other in self.links.values()
                if other.registration.bot_user_id == action.target
            )
            await self.invite(link, room_id, action.target)
            await guest.bot.join(room_id, via=[server])
        else:
            raise ValueError(f"unknown step {action.kind!r}")

    async def create(self, link: HomeserverLink, spec: RoomSpec) -> None:
        server = link.registration.server_name
        parent = await self.room_id(link, spec.parent_alias) if spec.parent_alias else None
        try:
            room_id = await link.bot.create_room(spec.create_body(server, parent))
        except RoomInUse:  # made by an earlier, interrupted apply: the alias is the key
            room_id = await link.bot.resolve_alias(spec.alias)
        self.room_ids[(link.id, spec.alias)] = room_id
        if parent is not None:
            await link.bot.put_state(parent, "m.space.child", spec.child_content(server), room_id)

    async def invite(self, link: HomeserverLink, room_id: str, user: str) -> None:
        try:
            await link.bot.invite(room_id, user)
        except Forbidden:
            if await _membership(link, room_id, user) not in PRESENT:
                raise  # e.g. banned: not something to paper over

    async def kick(self, link: HomeserverLink, room_id: str, user: str) -> None:
        try:
            await link.bot.kick(room_id, user, KICK_REASON)
        except (Forbidden, NotFound):
            if await _membership(link, room_id, user) in PRESENT:
                raise


async def _membership(link: HomeserverLink, room_id: str, user: str) -> str | None:
    with contextlib.suppress(NotFound, Forbidden):
        url = path(["rooms", room_id, "state", "m.room.member", user])
        return (await link.bot.request("GET", url)).get("membership")
    return None
