"""Declarative config → plan, by reading each homeserver as the bot.

The plan lists every change `apply` would make: the registration file (its content and
mode) and the Synapse settings to merge beside it (provisioning/synapse_settings.py),
rooms to create (each with the topic, join rule and power levels it gets), names,
topics, join rules and power levels to set, counsellors to invite, and former
counsellors to remove, from the live conversation rooms too (restricted join is only
checked when joining). Room aliases in the bot's exclusive namespace are the keys, so a
second apply finds what the first made and a failure midway is completed by the next.
"""

from __future__ import annotations

from bots.config.model import Config
from bots.config.namespaces import Registration
from bots.matrix.errors import MatrixError, Unreachable
from bots.matrix.gateway import path
from bots.matrix.links import HomeserverLink
from provisioning import synapse_settings
from provisioning.actions import Action, Plan, merged_power_levels, power_level_changes
from provisioning.apply import apply
from provisioning.leftovers import leftovers
from provisioning.registration import file_change
from provisioning.rooms import RoomSpec, rooms_on
from provisioning.state import RoomState, read_room, resolve

__all__ = ["Action", "Plan", "apply", "plan"]


async def plan(config: Config, links: dict[str, HomeserverLink]) -> Plan:
    result = Plan()
    for hs_id, hs in config.homeservers.items():
        if hs.registration_file is not None:
            change = file_change(hs.registration(), hs.registration_file)
            if change is not None:
                kind, text = change
                target = str(hs.registration_file)
                result.actions.append(Action(hs_id, "", kind, "", target, text))
            change = synapse_settings.file_change(config, hs_id)
            if change is not None:
                kind, text = change
                target = str(synapse_settings.fragment_path(hs.registration_file))
                result.actions.append(Action(hs_id, "", kind, "", target, text))
        try:
            actions, known = await _plan_homeserver(config, hs_id, links[hs_id])
            result.actions += actions
            result.leftovers[hs_id] = await leftovers(links[hs_id], known)
        except MatrixError as exc:
            result.problems[hs_id] = _explain(exc, hs.url)
    return result


def _explain(exc: MatrixError, url: str) -> str:
    if isinstance(exc, Unreachable):
        return f"cannot reach the homeserver at {url} ({exc.message})"
    if exc.errcode == "M_UNKNOWN_TOKEN":
        return (
            "the homeserver does not know the bot's as_token yet: add the registration "
            "file to homeserver.yaml (app_service_config_files) and restart Synapse"
        )
    return f"could not read the homeserver: {exc}"


async def _plan_homeserver(
    config: Config, hs_id: str, link: HomeserverLink
) -> tuple[list[Action], set[str]]:
    """The steps for one homeserver, and the rooms the config accounts for there."""
    reg = link.registration
    # Reading an alias needs no token, so first make sure the homeserver knows the bot.
    await link.bot.request("GET", path(["account", "whoami"]))
    specs = rooms_on(config, hs_id)
    ids = {spec.alias: await resolve(link, spec.alias) for spec in specs}
    states = {spec.alias: await _read(link, ids[spec.alias]) for spec in specs}
    every_counsellor = {user for m in config.municipalities for user in m.counsellors}
    changes: list[Action] = []
    for spec in specs:
        parent_id = ids[spec.parent_alias] if spec.parent_alias else None
        changes += _room_changes(hs_id, reg, spec, states[spec.alias], parent_id)
    changes += child_links(hs_id, reg.server_name, specs, ids, states)

    # Removals come last, and the space last of all: its membership is the record of who
    # was a counsellor here, so an interrupted apply still knows whom to remove.
    stale = {spec.alias: _stale(spec, states[spec.alias], reg) for spec in specs}
    kicks: list[Action] = []
    for spec in specs:
        if spec.role == "space":
            group = [s for s in specs if s.scope == spec.scope]
            leaving = {user for s in group for user in stale[s.alias]}
            kicks += await _conversation_kicks(
                link,
                spec,
                states[spec.alias],
                {ids[s.alias] for s in group},
                leaving,
                every_counsellor,
            )
            for s in sorted(group, key=lambda s: s.is_space):
                kicks += [_kick(hs_id, s, user) for user in stale[s.alias]]
        elif spec.role == "sparring":
            kicks += [_kick(hs_id, spec, user) for user in stale[spec.alias]]
    known = {room_id for room_id in ids.values() if room_id}
    known |= {child for state in states.values() if state for child in state.children}
    return changes + kicks, known


async def _read(link: HomeserverLink, room_id: str | None) -> RoomState | None:
    return await read_room(link, room_id) if room_id else None


def _stale(spec: RoomSpec, state: RoomState | None, reg: Registration) -> list[str]:
    """Joined or invited users the config no longer lists here."""
    welcome = set(spec.members) | {bot for _, bot in spec.guest_bots}
    present = state.present() if state else set()
    return sorted(u for u in present if u not in welcome and not reg.owns_user(u))


def _kick(hs_id: str, spec: RoomSpec, user: str) -> Action:
    return Action(hs_id, spec.scope, "kick", spec.alias, user, f'remove {user} from "{spec.name}"')


def _room_changes(
    hs_id: str, reg: Registration, spec: RoomSpec, state: RoomState | None, parent_id: str | None
) -> list[Action]:
    def act(kind: str, text: str, target: str = "", details: tuple[str, ...] = ()) -> Action:
        return Action(hs_id, spec.scope, kind, spec.alias, target, text, details)

    out: list[Action] = []
    if state is None:
        what = "space" if spec.is_space else "room"
        text = f'create {what} "{spec.name}" ({spec.alias})'
        out.append(act("create_room", text, details=creation_details(spec)))
    else:
        if state.name != spec.name:
            out.append(act("set_name", f'rename "{state.name}" → "{spec.name}"'))
        if state.topic != spec.topic:
            out.append(act("set_topic", f'set the topic of "{spec.name}": {spec.topic}'))
        # A lobby whose space is still to be made must be pointed at the new space.
        known = spec.parent_alias is None or parent_id is not None
        if not known or state.join_rules != spec.join_rules(parent_id):
            who = "members of the space" if spec.parent_alias else "invited members"
            out.append(act("set_join_rules", f'only {who} may join "{spec.name}"'))
        keep = {u for u in state.power_levels.get("users") or {} if reg.owns_user(u)}
        wanted = merged_power_levels(state.power_levels, spec.power_levels, keep)
        diff = power_level_changes(state.power_levels, wanted)
        if diff:
            out.append(act("set_power_levels", f'power levels in "{spec.name}": {diff}'))
    present = state.present() if state else set()
    membership = state.membership if state else {}
    out += [
        act("invite", f'invite {user} to "{spec.name}"', user)
        for user in spec.members
        if user not in present
    ]
    out += [
        act("join", f'the bot of homeserver {guest_hs} ({bot}) joins "{spec.name}"', bot)
        for guest_hs, bot in spec.guest_bots
        if membership.get(bot) != "join"
    ]
    return out


def creation_details(spec: RoomSpec) -> tuple[str, ...]:
    """What a new room is created with, beyond its name: topic, join rule, power levels."""
    levels = spec.power_levels
    users = [f"{user} {level}" for user, level in sorted(levels["users"].items())]
    users.append(f"everyone else {levels['users_default']}")
    rule = "members of the space only" if spec.parent_alias else "invited members only"
    return (f"topic: {spec.topic}", f"join rule: {rule}", f"power levels: {', '.join(users)}")


def child_links(
    hs_id: str,
    server_name: str,
    specs: list[RoomSpec],
    ids: dict[str, str | None],
    states: dict[str, RoomState | None],
) -> list[Action]:
    """Lobby and staff room listed in their space (a room made just before an
    interruption may not be yet)."""
    out = []
    for spec in specs:
        if spec.parent_alias is None or ids[spec.alias] is None:
            continue
        space = states[spec.parent_alias]
        child_id = ids[spec.alias]
        if space is None or space.children.get(child_id or "") != spec.child_content(server_name):
            text = f'list "{spec.name}" in the space'
            out.append(Action(hs_id, spec.scope, "link_child", spec.parent_alias, spec.alias, text))
    return out


async def _conversation_kicks(
    link: HomeserverLink,
    space: RoomSpec,
    state: RoomState | None,
    own_rooms: set[str | None],
    leaving: set[str],
    every_counsellor: set[str],
) -> list[Action]:
    """Former counsellors in the space's live conversation rooms: those leaving this
    municipality now, and local users who are no longer a counsellor anywhere (so a retry
    after an interrupted apply still finds them once they have left the space)."""
    if state is None:
        return []
    reg = link.registration
    out: list[Action] = []
    for room_id in sorted(set(state.children) - own_rooms):
        room = await read_room(link, room_id)
        if room is None:
            continue
        for user in sorted(room.present()):
            former = user.endswith(f":{reg.server_name}") and user not in every_counsellor
            if not reg.owns_user(user) and (user in leaving or former):
                text = f'remove {user} from the live conversation "{room.name}" ({room_id})'
                out.append(Action(link.id, space.scope, "kick", room_id, user, text))
    return out
