"""The rooms provisioning keeps, as the config says they should be.

Per municipality: the counsellors' space, its lobby "Kø" (the queue), its "Brevkasse"
(one entry per letter) and its staff room "Rådgivere – internt" (where `!akut` calls for
help). Per sparring room: one room on its
homeserver shared by counsellors of several municipalities. Each is keyed by an alias in
the bot's exclusive namespace, so a rename changes the room and never makes a new one.
Pure functions of the config: what to compare the homeserver with, and how to create.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bots.config.model import Config, Municipality, SparringRoom
from bots.config.namespaces import Registration
from bots.conversation.room import COUNSELLOR_POWER, ROOM_VERSION, space_child_content

LOBBY_NAME = "Kø"
LOBBY_TOPIC = (
    "Her dukker nye samtaler op. Åbn linket i en besked for at gå ind i samtalen – "
    "den unge ser dig kun som »Rådgiver«."
)
LETTERBOX_NAME = "Brevkasse"
LETTERBOX_TOPIC = (
    "Anonyme breve fra unge, skrevet når som helst. Hvert brev er et rum: svar med en "
    "almindelig besked – den unge læser svaret med sin kode og ser dig kun som »Rådgiver«."
)
STAFF_NAME = "Rådgivere – internt"
STAFF_TOPIC = (
    "Kun for rådgiverne. Her kalder !akut fra en samtale på kollegerne på vagt, når "
    "nogen har brug for hjælp nu."
)
SPARRING_TOPIC = (
    "Sparring mellem ungerådgivere på tværs af kommuner. Del erfaringer og spørgsmål – "
    "aldrig noget, der kan føre tilbage til en ung."
)
LETTERBOX = (LETTERBOX_NAME, LETTERBOX_TOPIC)
# Only the bot changes what a room is: its name, avatar, alias, rules and power levels.
ADMIN_EVENTS = (
    "m.room.avatar",
    "m.room.canonical_alias",
    "m.room.encryption",
    "m.room.history_visibility",
    "m.room.name",
    "m.room.power_levels",
    "m.room.server_acl",
    "m.room.tombstone",
    "m.space.child",
)


@dataclass(frozen=True)
class RoomSpec:
    """One provisioned room as it should be."""

    role: str  # space | lobby | letterbox | staff | sparring
    scope: str  # a municipality's slug, or a sparring room's id
    alias_localpart: str
    alias: str
    name: str
    topic: str
    members: tuple[str, ...]  # counsellors who must be joined or invited
    power_levels: dict[str, Any] = field(compare=False)
    parent_alias: str | None = None  # lobby and staff: only the space's members may join
    child_order: str | None = None  # their place in the space
    guest_bots: tuple[tuple[str, str], ...] = ()  # (homeserver id, bot user) that join

    @property
    def is_space(self) -> bool:
        return self.role == "space"

    def join_rules(self, parent_id: str | None) -> dict[str, Any]:
        if self.parent_alias is None:
            return {"join_rule": "invite"}
        allow = [{"type": "m.room_membership", "room_id": parent_id}]
        return {"join_rule": "restricted", "allow": allow}

    def child_content(self, server_name: str) -> dict[str, Any]:
        return {**space_child_content(server_name), "order": self.child_order or "9"}

    def create_body(self, server_name: str, parent_id: str | None) -> dict[str, Any]:
        creation: dict[str, Any] = {"m.federate": True}
        if self.is_space:
            creation["type"] = "m.space"
        state = [
            _state("m.room.join_rules", self.join_rules(parent_id)),
            _state("m.room.guest_access", {"guest_access": "forbidden"}),
        ]
        if parent_id is not None:
            state.append(_state("m.space.parent", {"via": [server_name]}, parent_id))
        return {
            "room_version": ROOM_VERSION,
            "room_alias_name": self.alias_localpart,
            "name": self.name,
            "topic": self.topic,
            "visibility": "private",
            "preset": "private_chat",
            "creation_content": creation,
            "power_level_content_override": self.power_levels,
            "initial_state": state,
        }


def _state(kind: str, content: dict[str, Any], key: str = "") -> dict[str, Any]:
    return {"type": kind, "state_key": key, "content": content}


def power_levels(role: str, counsellors: tuple[str, ...]) -> dict[str, Any]:
    """Counsellors are moderators in their own rooms (in the staff room they may pin and
    tidy up); in a sparring room everyone is equal. The bot, the room's creator, has
    unlimited power in room version 12 and must not be listed."""
    speak = 100 if role == "space" else 0
    staff = role == "staff"
    events = {event: 100 for event in ADMIN_EVENTS}
    events["m.room.pinned_events"] = COUNSELLOR_POWER if staff else 100
    moderators = counsellors if role in ("space", "lobby", "letterbox", "staff") else ()
    return {
        "users": {user: COUNSELLOR_POWER for user in sorted(moderators)},
        "users_default": 0,
        "events_default": speak,
        "events": events,
        "state_default": 100,
        "invite": 100,
        "kick": 100,
        "ban": 100,
        "redact": COUNSELLOR_POWER if staff else 100,
        "notifications": {"room": COUNSELLOR_POWER if staff else 100},
    }


def municipality_rooms(m: Municipality, reg: Registration) -> list[RoomSpec]:
    space_lp = reg.space_alias_localpart(m.slug)
    space_alias = reg.alias(space_lp)
    counsellors = tuple(m.counsellors)

    def room(role: str, localpart: str, name: str, topic: str, order: str | None) -> RoomSpec:
        return RoomSpec(
            role=role,
            scope=m.slug,
            alias_localpart=localpart,
            alias=reg.alias(localpart),
            name=name,
            topic=topic,
            members=counsellors,
            power_levels=power_levels(role, counsellors),
            parent_alias=None if role == "space" else space_alias,
            child_order=order,
        )

    return [
        room(
            "space",
            space_lp,
            f"{m.service_name} – rådgivere",
            f"Ungerådgivernes rum i {m.name}. Nye samtaler ligger her som rum.",
            None,
        ),
        room("lobby", reg.lobby_alias_localpart(m.slug), LOBBY_NAME, LOBBY_TOPIC, "0"),
        *(
            [room("letterbox", reg.letterbox_alias_localpart(m.slug), *LETTERBOX, "01")]
            if m.letters.enabled
            else []
        ),
        room("staff", reg.staff_alias_localpart(m.slug), STAFF_NAME, STAFF_TOPIC, "1"),
    ]


def sparring_room(
    room: SparringRoom, reg: Registration, guest_bots: tuple[tuple[str, str], ...]
) -> RoomSpec:
    localpart = reg.sparring_alias_localpart(room.id)
    return RoomSpec(
        role="sparring",
        scope=room.id,
        alias_localpart=localpart,
        alias=reg.alias(localpart),
        name=room.name,
        topic=room.topic or SPARRING_TOPIC,
        members=room.members,
        power_levels=power_levels("sparring", room.members),
        guest_bots=guest_bots,
    )


def rooms_on(config: Config, hs_id: str) -> list[RoomSpec]:
    """Every room that should exist on one homeserver, in the order to create them."""
    reg = config.homeservers[hs_id].registration()
    specs = [
        spec
        for m in config.municipalities
        if m.homeserver == hs_id
        for spec in municipality_rooms(m, reg)
    ]
    # The bots of the other homeservers join, so they can post there (case notes, digests).
    guests = tuple(
        (other_id, hs.registration().bot_user_id)
        for other_id, hs in config.homeservers.items()
        if other_id != hs_id
    )
    specs += [sparring_room(r, reg, guests) for r in config.sparring_rooms if r.homeserver == hs_id]
    return specs
