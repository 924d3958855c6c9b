"""`!del RUM tekst`: share a case with the network's counsellors without the person.

The note goes to a sparring room as the bot, saying only which municipality and which
topics it is about: no room, no counsellor, no young person. (Like every Matrix event it
has a timestamp: the members see when it was shared.) The text is the counsellor's own,
so it is checked for what most often identifies someone by accident (a phone number, an
e-mail or web address, a Matrix id, a CPR number) and refused with the reason if it
seems to hold one.

Posting goes through the bot of the counsellor's own homeserver, which is a member of
every sparring room (provisioning joins each homeserver's bot): that homeserver takes
the note at once and federation delivers it to the others, to the room's own homeserver
too when it is down and returns. The room's id is found in the local homeserver's copy
of the room, so a case note never waits on the homeserver that hosts the room. The
network digest (bots/digest.py) posts the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import structlog

from bots.config import SparringRoom
from bots.lifecycle import Conversations
from bots.matrix.errors import Forbidden, MatrixError, NotFound, Unreachable
from bots.matrix.gateway import path
from bots.matrix.links import Directory, HomeserverLink, NotProvisioned

log = structlog.get_logger(__name__)

# What identifies a person most often by accident; each with what to tell the counsellor.
IDENTIFYING: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (
        re.compile(r"\b\d{6}-?\d{4}\b"),
        {"da": "et CPR-nummer", "en": "a CPR number"},
    ),
    (
        re.compile(r"(?<!\d)(?:\+45[ -]?)?(?:\d[ -]?){8}(?!\d)"),
        {"da": "et telefonnummer", "en": "a phone number"},
    ),
    (
        re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
        {"da": "en e-mailadresse", "en": "an e-mail address"},
    ),
    (
        re.compile(r"https?://|www\.|matrix\.to", re.IGNORECASE),
        {"da": "et link", "en": "a link"},
    ),
    (
        re.compile(r"[@!#][\w.=/+-]+:[\w.-]+"),
        {"da": "et Matrix-id", "en": "a Matrix id"},
    ),
]


def identifying(text: str, lang: str = "da") -> list[str]:
    """What in `text` looks like it could identify someone, in words (empty if nothing)."""
    return [what.get(lang, what["da"]) for pattern, what in IDENTIFYING if pattern.search(text)]


class NotPosted(RuntimeError):
    """No homeserver's bot could post in the sparring room (each one's reason inside)."""

    def __init__(self, room: str, reasons: Mapping[str, str]) -> None:
        tried = "; ".join(f"{hs}: {why}" for hs, why in reasons.items()) or "no homeserver"
        super().__init__(f"could not post in sparring room {room!r} ({tried})")
        self.reasons = dict(reasons)


def own_homeserver(user_id: str, links: Mapping[str, HomeserverLink]) -> HomeserverLink | None:
    """The homeserver of ours that holds `user_id`'s account, if any."""
    server = user_id.partition(":")[2]
    return next((lk for lk in links.values() if lk.registration.server_name == server), None)


async def post_case_note(
    convs: Conversations, room: SparringRoom, sender: str, content: dict[str, Any], txn_id: str
) -> HomeserverLink:
    """Post a case note in `room` through the bot of `sender`'s own homeserver (then the
    room's host, then any other of ours); returns the homeserver that took it."""
    links = convs.links
    mine = own_homeserver(sender, links)
    prefer = [*([mine] if mine is not None else []), links[room.homeserver]]
    return await post_in_sparring_room(links, convs.directory, room, content, txn_id, prefer)


async def post_in_sparring_room(
    links: Mapping[str, HomeserverLink],
    directory: Directory,
    room: SparringRoom,
    content: dict[str, Any],
    txn_id: str,
    prefer: Iterable[HomeserverLink] = (),
) -> HomeserverLink:
    """Send `content` into a sparring room through the first homeserver's bot that answers
    and is in the room: those in `prefer` first, then every other homeserver of ours.

    Each homeserver that is down, or whose bot is not in the room, is passed over; the
    one that takes the event delivers it to the others over federation. Raises NotPosted
    when none could. The transaction id makes a retry through the same bot harmless."""
    host = links[room.homeserver]
    order = list(dict.fromkeys([*(lk.id for lk in prefer), *links]))
    reasons: dict[str, str] = {}
    for hs_id in order:
        link = links[hs_id]
        if not await link.bot.reachable():
            reasons[hs_id] = "unreachable"
            continue
        try:
            room_id = await sparring_room_id(link, host, room.id, directory)
            await link.bot.send(room_id, "m.room.message", content, txn_id)
        except (MatrixError, NotProvisioned) as exc:
            reasons[hs_id] = f"{type(exc).__name__}: {exc}"
            continue
        if reasons:
            log.info("sparring_post_rerouted", room=room.id, via=hs_id, passed_over=reasons)
        return link
    raise NotPosted(room.id, reasons)


async def sparring_room_id(
    link: HomeserverLink, host: HomeserverLink, room: str, directory: Directory
) -> str:
    """A sparring room's id (the same on every homeserver): from its alias on the host,
    known once and then remembered; while the host is down and it is not known yet, from
    `link`'s homeserver's own copy of the rooms its bot is in (the canonical alias the
    host's bot set when it made the room)."""
    try:
        return await directory.sparring_room(host, host, room)
    except Unreachable:
        if link is host:
            raise
    alias = host.registration.alias(host.registration.sparring_alias_localpart(room))
    joined = (await link.bot.request("GET", path(["joined_rooms"]))).get("joined_rooms", [])
    for room_id in joined:
        url = path(["rooms", room_id, "state", "m.room.canonical_alias", ""], {"format": "event"})
        try:
            event = await link.bot.request("GET", url)
        except (NotFound, Forbidden):  # no alias, or a room being left
            continue
        if (
            event.get("sender") == host.registration.bot_user_id
            and (event.get("content") or {}).get("alias") == alias
        ):
            return room_id
    raise NotProvisioned(f"{link.id}'s bot is not in sparring room {room!r}")
