"""One step of a provisioning plan, and how a change of power levels reads to a person."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# What each kind of step does, for the sign in front of it: + adds, ~ changes, - removes.
SIGNS = {
    "write_registration": "+",
    "update_registration": "~",
    "create_room": "+",
    "link_child": "+",
    "invite": "+",
    "join": "+",
    "set_name": "~",
    "set_topic": "~",
    "set_join_rules": "~",
    "set_power_levels": "~",
    "kick": "-",
}


@dataclass(frozen=True)
class Action:
    homeserver: str
    scope: str  # a municipality's slug, a sparring room's id, or "" for the registration
    kind: str  # one of SIGNS
    room: str  # the provisioned room's alias, or a live conversation room's id
    target: str = ""  # a user id, a child room's alias, or the registration file
    text: str = field(default="", compare=False)  # what a person reads in the plan
    # Lines shown under it: what a new room is created with.
    details: tuple[str, ...] = field(default=(), compare=False)

    def describe(self) -> str:
        return f"{SIGNS[self.kind]} {self.text}"


@dataclass
class Plan:
    """The steps, in order, and the homeservers that could not be read (so are not planned)."""

    actions: list[Action] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)  # homeserver id → why
    # Rooms once provisioned that the config no longer names: reported, left alone.
    leftovers: dict[str, list[str]] = field(default_factory=dict)  # homeserver id → rooms

    def __iter__(self) -> Iterator[Action]:
        return iter(self.actions)

    def __len__(self) -> int:
        return len(self.actions)

    def __bool__(self) -> bool:
        return bool(self.actions)


def power_level_changes(current: dict[str, Any], wanted: dict[str, Any]) -> str:
    """'@anna:x 0 → 50, redact 50 → 100', or '' when `current` already is `wanted`."""
    changes: list[str] = []
    old_users, new_users = current.get("users") or {}, wanted.get("users") or {}
    for user in sorted(set(old_users) | set(new_users)):
        if old_users.get(user) != new_users.get(user):
            changes.append(f"{user} {old_users.get(user, 0)} → {new_users.get(user, 0)}")
    for key, value in wanted.items():
        old = current.get(key)
        if key == "users" or old == value:
            continue
        if isinstance(value, dict):
            old = old if isinstance(old, dict) else {}
            changes += [
                f"{key}.{sub} {old.get(sub, '–')} → {value.get(sub, '–')}"
                for sub in sorted(set(old) | set(value))
                if old.get(sub) != value.get(sub)
            ]
        else:
            changes.append(f"{key} {old if old is not None else '–'} → {value}")
    return ", ".join(changes)


def merged_power_levels(
    current: dict[str, Any], managed: dict[str, Any], keep: set[str]
) -> dict[str, Any]:
    """The content to put: what we manage, everything else as it is; users in `keep` (the
    bot's own accounts, listed in rooms of older versions) keep their levels."""
    users = {u: lvl for u, lvl in (current.get("users") or {}).items() if u in keep}
    users.update(managed.get("users") or {})
    return {**current, **managed, "users": users}
