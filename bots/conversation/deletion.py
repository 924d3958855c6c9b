"""Deleting a conversation from every homeserver that took part, or keeping it on hold.

Deletion uses the Synapse Admin API, because the client API cannot do it. On each
homeserver the media uploaded in the room is deleted first (a room purge leaves it, and
Synapse finds it through the room's events), then the room is deleted and purged; the
youth's account is deactivated and erased on its home.

One homeserver being down must not keep the conversation on the others: each part (one
homeserver's copy, the youth's account) is done on its own, the room's home first, and
what could not be done is raised at the end as `DeletionIncomplete`, so the
conversation stays `closing` and the next maintenance pass runs the whole deletion
again. Every part can be repeated safely: a room already purged, media already deleted
and an account already erased count as done.

A hold (`!bevar`, a counsellor's duty to notify) removes the young person and makes the
room read-only for counsellors instead; it is deleted when the hold ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Iterable
from typing import Any, Protocol

import structlog

from bots.conversation.room import BOT_POWER
from bots.db.models import Conversation
from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.links import HomeserverLink

log = structlog.get_logger(__name__)


class Deletable(Protocol):
    """What deletion reads of a conversation, or of a letter (bots/letters/)."""

    @property
    def id(self) -> str: ...

    @property
    def youth_user_id(self) -> str | None: ...


class DeletionIncomplete(RuntimeError):
    """Some parts of a conversation could not be deleted yet (a homeserver was down);
    everything else is gone. The conversation stays `closing`, and the next pass retries."""

    def __init__(self, conversation: str, pending: dict[str, str]) -> None:
        parts = "; ".join(f"{part}: {why}" for part, why in pending.items())
        super().__init__(f"conversation {conversation} not yet deleted on {parts}")
        self.pending = pending


def taking_part(conv: Conversation, links: dict[str, HomeserverLink]) -> list[HomeserverLink]:
    """The homeserver that hosts the room first, then any that joined it by a transfer."""
    ids = [conv.homeserver, *[h for h in conv.homeservers or [] if h != conv.homeserver]]
    return [links[i] for i in ids if i in links]


async def delete_everywhere(conv: Deletable, room_id: str, links: Iterable[HomeserverLink]) -> None:
    """On every homeserver, the room's home first: its media, then the room; then the
    youth's account at home. Every part that can be done is done; DeletionIncomplete
    names the rest."""
    links = list(links)
    pending: dict[str, str] = {}
    first_error: Exception | None = None

    async def part(name: str, step: Awaitable[object]) -> None:
        nonlocal first_error
        try:
            await step
        except Exception as exc:  # this part waits for the next pass; the others go on
            pending[name] = type(exc).__name__
            first_error = first_error or exc
            log.warning(
                "deletion_part_pending", conversation=conv.id, part=name, error=pending[name]
            )

    for link in links:
        await part(f"room on {link.id}", delete_room_copy(link, room_id))
        if link is links[0] and conv.youth_user_id:  # the room's home holds the account
            await part(f"youth account on {link.id}", link.admin.erase_user(conv.youth_user_id))
    if pending:
        raise DeletionIncomplete(conv.id, pending) from first_error


async def delete_room_copy(link: HomeserverLink, room_id: str) -> None:
    """One homeserver's copy of the room: the media uploaded in it, then its events."""
    await link.admin.delete_room_media(room_id)
    await link.admin.purge_room(room_id)


async def hold(conv: Deletable, room_id: str, link: HomeserverLink) -> None:
    """Remove the young person, keep the room read-only for the counsellors."""
    if conv.youth_user_id:
        with contextlib.suppress(NotFound, Forbidden):  # already out
            await link.bot.kick(room_id, conv.youth_user_id, "samtalen er slut")
        # Deactivated, not yet erased: an erased sender's messages would be hidden from
        # counsellors who join the room later, and the hold is for them to read.
        await link.admin.deactivate_user(conv.youth_user_id)
    levels: dict[str, Any] = await link.bot.get_state(room_id, "m.room.power_levels")
    read_only = {**levels, "events_default": BOT_POWER, "events": {"m.room.message": BOT_POWER}}
    read_only["invite"] = max(levels.get("invite", BOT_POWER), BOT_POWER)
    if read_only != levels:
        await link.bot.put_state(room_id, "m.room.power_levels", read_only)
    log.info("conversation_held", conversation=conv.id)
