"""From a homeserver's room event to the part of the bot it concerns.

Events come in batches, pushed by the homeserver (bots/appservice.py) or read back by the
catch-up (bots/catch_up.py). Each is handled once per homeserver that delivers it, by
event id: one already handled, or being handled right now in this process, is skipped.
An event that fails because a homeserver or the database is away stops the batch (it is
delivered again); one that fails for any other reason is logged and skipped, so it can't
block the others.

A conversation room's events may arrive from more than one homeserver once it has been
transferred across the network; they are handled only as delivered by the homeserver
that hosts the room, so nothing is done twice. A lobby's events are handled as
delivered by the municipality's own homeserver.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from bots.appservice.handled import HandledEvents
from bots.config.model import Config, Municipality
from bots.conversation.machine import Conversations
from bots.conversation.states import HEARD, OPEN
from bots.conversation.store import ConversationRepo
from bots.counsellors.dispatch import CounsellorCommands
from bots.counsellors.invocation import Invocation
from bots.counsellors.registry import parse
from bots.counsellors.text import is_command
from bots.db.models import Letter
from bots.letters.machine import Letters
from bots.letters.store import LIVE as LETTER_LIVE
from bots.letters.store import READABLE as LETTER_READABLE
from bots.matrix.links import HomeserverLink, Homeservers, NotProvisioned
from bots.outages import is_outage

log = structlog.get_logger(__name__)


def well_formed(event: Any) -> bool:
    """A room event the router can read at all (anything else is skipped and logged)."""
    return (
        isinstance(event, dict)
        and isinstance(event.get("event_id"), str)
        and isinstance(event.get("type"), str)
        and isinstance(event.get("room_id"), str)
        and isinstance(event.get("sender"), str)
        and isinstance(event.get("content", {}), dict)
    )


class EventRouter:
    def __init__(
        self,
        config: Config,
        repo: ConversationRepo,
        conversations: Conversations,
        commands: CounsellorCommands,
        homeservers: Homeservers,
        handled: HandledEvents,
        letters: Letters,
    ) -> None:
        self.config = config
        self.letters = letters
        self.repo = repo
        self.conversations = conversations
        self.commands = commands
        self.homeservers = homeservers
        self.handled = handled
        self._in_flight: set[tuple[str, str]] = set()  # (homeserver, event id)

    async def handle_events(self, link: HomeserverLink, events: Sequence[Any]) -> None:
        """Handle each new event of a batch once; raises if a homeserver or the database
        is away, after recording what was done."""
        batch = [e for e in events if well_formed(e)]
        if len(batch) < len(events):
            log.warning("malformed_events_skipped", count=len(events) - len(batch))
        seen = await self.handled.handled(link.id, {e["event_id"] for e in batch})
        taken: list[tuple[str, str]] = []  # in flight here until recorded as handled
        done: list[str] = []
        try:
            for event in batch:
                event_id = event["event_id"]
                delivery = (link.id, event_id)
                if event_id in seen or delivery in self._in_flight:
                    continue
                seen.add(event_id)  # the same event twice in one batch
                self._in_flight.add(delivery)
                taken.append(delivery)
                try:
                    await self.handle_event(link, event)
                except Exception as exc:
                    if is_outage(exc):
                        raise
                    log.exception("event_failed", event_type=event["type"])
                done.append(event_id)
        finally:
            try:
                if done:
                    await self.handled.record(link.id, done)
            finally:
                self._in_flight.difference_update(taken)

    async def handle_event(self, link: HomeserverLink, event: dict[str, Any]) -> None:
        room_id, sender = event.get("room_id"), event.get("sender")
        content = event.get("content") or {}
        event_id = event.get("event_id") or ""
        if not isinstance(room_id, str) or not isinstance(sender, str):
            return
        if not isinstance(content, dict):
            return
        conv = await self.repo.by_room(room_id)
        if conv is not None and conv.homeserver != link.id:
            return  # the hosting homeserver delivers it too
        if conv is None and (letter := await self.letters.repo.by_room(room_id)) is not None:
            if letter.homeserver == link.id:
                await self._letter_event(letter, event, sender, content)
            return
        if event.get("type") == "m.room.member":
            member, membership = event.get("state_key"), content.get("membership")
            if conv is not None and isinstance(member, str) and isinstance(membership, str):
                await self.conversations.on_member(room_id, member, membership, event_id, sender)
            return
        if conv is not None and conv.state in OPEN and _changes_what_was_said(event):
            await self.conversations.on_message(conv, sender)  # the youth's page shows it at once
            return
        if event.get("type") != "m.room.message":
            return
        body = content.get("body")
        if not isinstance(body, str):
            return
        if conv is not None:
            if conv.state not in HEARD:
                return
            m = self.config.municipality(conv.kommune)
            if m is not None and sender != conv.youth_user_id:
                inv = Invocation(sender, [], "", event_id, room_id, m, link, conv)
                if await self.commands.handle(inv, body):
                    return
            if conv.state in OPEN:
                await self.conversations.on_message(conv, sender)
            return
        m = await self._lobby_of(link, room_id)
        if m is not None:
            await self.commands.handle(Invocation(sender, [], "", event_id, room_id, m, link), body)

    async def _letter_event(
        self, letter: Letter, event: dict[str, Any], sender: str, content: dict[str, Any]
    ) -> None:
        """A letter's room (bots/letters/): a stranger who joins is taken out; a listed
        counsellor's message the youth will see answers it; `!bevar N` keeps it. Notes
        and other commands are the counsellors' own, as in a conversation."""
        if letter.state not in LETTER_LIVE or not self.config.is_counsellor(sender):
            if event.get("type") == "m.room.member" and content.get("membership") == "join":
                member = event.get("state_key")
                if (
                    isinstance(member, str)
                    and not self.homeservers.is_ours(member)
                    and not self.config.is_counsellor(member)
                ):
                    await self.letters.stranger(letter, member)
            return
        body = content.get("body")
        if event.get("type") != "m.room.message" or not isinstance(body, str):
            return
        if "m.new_content" in content:  # an edit changes an answer, it is no new one
            return
        command = parse(body)
        if command is not None:
            name, args, _ = command
            if name in ("bevar", "keep"):
                await self._keep_letter(letter, sender, args, event.get("event_id") or "")
            return
        if not is_command(body) and letter.state in LETTER_READABLE:
            await self.letters.answered(letter)

    async def _keep_letter(
        self, letter: Letter, sender: str, args: list[str], event_id: str
    ) -> None:
        m = self.config.municipality(letter.kommune)
        if m is None:
            return
        most = m.timeouts.max_hold.days
        days = int(args[0]) if args and args[0].isdigit() else (most if not args else -1)
        if not 0 <= days <= most:
            await self.letters.notice(letter, "letter_keep_usage", event_id, max=str(most))
            return
        await self.letters.keep(letter, days)
        key = "letter_kept" if days else "letter_not_kept"
        await self.letters.notice(letter, key, event_id, days=str(days))
        log.info("letter_keep", letter=letter.id, days=days)

    async def _lobby_of(self, link: HomeserverLink, room_id: str) -> Municipality | None:
        """The municipality whose lobby this is (aliases are resolved once and cached)."""
        for m in self.config.municipalities:
            if m.homeserver != link.id:
                continue
            try:
                rooms = await self.homeservers.rooms(m)
            except NotProvisioned:
                continue
            if rooms.lobby_id == room_id:
                return m
        return None

    async def handle_ephemeral(self, link: HomeserverLink, edu: Any) -> None:
        """Typing and read receipts in a conversation room, from the counsellors."""
        if not isinstance(edu, dict):
            return
        room_id, content = edu.get("room_id"), edu.get("content") or {}
        if not isinstance(room_id, str) or not isinstance(content, dict):
            return
        if edu.get("type") == "m.typing":
            typing = [u for u in content.get("user_ids") or [] if isinstance(u, str)]
            counsellors = [u for u in typing if not self.homeservers.is_ours(u)]
            await self.conversations.on_counsellor_typing(room_id, bool(counsellors))
        elif edu.get("type") == "m.receipt":
            for event_id, kinds in content.items():
                if not isinstance(kinds, dict):
                    continue
                readers = {**(kinds.get("m.read") or {}), **(kinds.get("m.read.private") or {})}
                if any(not self.homeservers.is_ours(u) for u in readers):
                    await self.conversations.on_counsellor_read(room_id, event_id)


def _changes_what_was_said(event: dict[str, Any]) -> bool:
    """An edit or a redaction: never a new command, but the youth's page must see it."""
    if event.get("type") == "m.room.redaction":
        return True
    content = event.get("content") or {}
    return event.get("type") == "m.room.message" and "m.new_content" in content
