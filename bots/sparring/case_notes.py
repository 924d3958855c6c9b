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

from bots.config.model import Config, SparringRoom
from bots.db.models import Conversation
from bots.matrix.errors import Forbidden, MatrixError, NotFound, Unreachable
from bots.matrix.gateway import path
from bots.matrix.links import Directory, HomeserverLink, Homeservers, NotProvisioned
from bots.texts import counsellor_text

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


class CaseNotes:
    """`!del RUM tekst`: who may share where, what may not be shared, what goes with it."""

    def __init__(self, config: Config, homeservers: Homeservers) -> None:
        self.config = config
        self.homeservers = homeservers

    def rooms_of(self, counsellor: str) -> list[SparringRoom]:
        """The sparring rooms the counsellor is a member of (the only ones they share in)."""
        return [r for r in self.config.sparring_rooms if counsellor in r.members]

    async def share(
        self, counsellor: str, room_word: str, text: str, conv: Conversation, lang: str, txn: str
    ) -> tuple[str, dict[str, str]]:
        """Share `text` about `conv` in the room the counsellor named; returns what to
        answer them (a counsellor text's key and its values)."""
        mine = self.rooms_of(counsellor)
        rooms = ", ".join(r.id for r in mine) or "–"
        if not room_word or not text:
            example = mine[0].id if mine else "netvaerk"
            return "case_note_usage", {"example": example, "rooms": rooms}
        room = next((r for r in mine if r.id == room_word.lower()), None)
        if room is None:
            return "case_note_not_member", {"room": room_word, "rooms": rooms}
        found = identifying(text, lang)
        if found:
            return "case_note_identifying", {"what": ", ".join(found)}
        # The municipality the youth is talking to now, and its topics so far.
        m = self.config.require_municipality(conv.kommune)
        topics = conv.topics or []
        body = counsellor_text(
            "case_note",
            lang,
            kommune=m.name.removesuffix(" Kommune"),
            topics=counsellor_text("case_note_topics", lang, topics=", ".join(topics))
            if topics
            else "",
            text=text,
        )
        await self._post(room, counsellor, {"msgtype": "m.text", "body": body}, txn)
        return "case_note_shared", {"room": room.name}

    async def _post(
        self, room: SparringRoom, sender: str, content: dict[str, Any], txn_id: str
    ) -> HomeserverLink:
        """Through the bot of `sender`'s own homeserver (then the room's host, then any
        other of ours); returns the homeserver that took it."""
        server = sender.partition(":")[2]
        mine = [lk for lk in self.homeservers if lk.registration.server_name == server]
        prefer = [*mine[:1], self.homeservers.get(room.homeserver)]
        return await post_in_sparring_room(self.homeservers, room, content, txn_id, prefer)


async def post_in_sparring_room(
    homeservers: Homeservers,
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
    host = homeservers.get(room.homeserver)
    order = list(dict.fromkeys([*(lk.id for lk in prefer), *homeservers.links]))
    reasons: dict[str, str] = {}
    for hs_id in order:
        link = homeservers.get(hs_id)
        if not await link.bot.reachable():
            reasons[hs_id] = "unreachable"
            continue
        try:
            room_id = await sparring_room_id(link, host, room.id, homeservers.directory)
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
