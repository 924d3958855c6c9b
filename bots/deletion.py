"""Deleting a conversation from every homeserver that took part, or keeping it on hold.

Deletion uses the Synapse Admin API, because the client API cannot do it: the media
uploaded in the room is deleted first (a room purge leaves it, and Synapse finds it
through the room's events), then the room is deleted and purged, and the youth's
account is deactivated and erased. Every step can be repeated safely.

A hold (`!bevar`, a counsellor's duty to notify) removes the young person and makes the
room read-only for counsellors instead; it is deleted when the hold ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

import structlog

from bots.conversation_room import COUNSELLOR_POWER
from bots.db.models import Conversation
from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.links import HomeserverLink

log = structlog.get_logger(__name__)


def taking_part(conv: Conversation, links: dict[str, HomeserverLink]) -> list[HomeserverLink]:
    """The homeserver that hosts the room first, then any that joined it by a transfer."""
    ids = [conv.homeserver, *[h for h in conv.homeservers or [] if h != conv.homeserver]]
    return [links[i] for i in ids if i in links]


async def delete_everywhere(
    conv: Conversation, room_id: str, links: Iterable[HomeserverLink]
) -> None:
    """Media, then the room, on every homeserver; then the youth's account at home."""
    links = list(links)
    for link in links:
        await link.admin.delete_room_media(room_id)
    # The remote copies first: they forget the room; then its home purges the original.
    for link in reversed(links):
        await link.admin.purge_room(room_id)
    if conv.youth_user_id:
        await links[0].admin.erase_user(conv.youth_user_id)


async def hold(conv: Conversation, room_id: str, link: HomeserverLink) -> None:
    """Remove the young person, keep the room read-only for the counsellors."""
    if conv.youth_user_id:
        with contextlib.suppress(NotFound, Forbidden):  # already out
            await link.bot.kick(room_id, conv.youth_user_id, "samtalen er slut")
        # Deactivated, not yet erased: an erased sender's messages would be hidden from
        # counsellors who join the room later, and the hold is for them to read.
        await link.admin.deactivate_user(conv.youth_user_id)
    levels: dict[str, Any] = await link.bot.get_state(room_id, "m.room.power_levels")
    read_only = {**levels, "events_default": 100, "events": {"m.room.message": 100}}
    read_only["invite"] = max(levels.get("invite", COUNSELLOR_POWER), 100)
    if read_only != levels:
        await link.bot.put_state(room_id, "m.room.power_levels", read_only)
    log.info("conversation_held", conversation=conv.id)
