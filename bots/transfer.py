"""`!overfør SLUG`: hand a conversation to another municipality's counsellors, on the
same homeserver or another one in the network.

The room stays where it is (its homeserver holds the youth's account). For a target on
another homeserver, the bot's account there joins the room first, with the power to
invite: that makes the target homeserver a resident of the room, so it can itself let
its counsellors in through the restricted join rule (a homeserver can only vouch for
membership of a space it is in). The room then federates, which is why conversation
rooms are created with `m.federate: true`.

`start` persists the move (state `transferring`, the new municipality); `finish` does
the rest, every step repeatable, so a crash in between is finished by `Maintenance`.
"""

from __future__ import annotations

import contextlib

import structlog

from bots import conversation_room as shape
from bots.config import Municipality
from bots.db.models import Conversation, State
from bots.db.repo import utcnow
from bots.lifecycle import Conversations
from bots.matrix.errors import Forbidden, MatrixError

log = structlog.get_logger(__name__)
TRANSFERABLE = (State.WAITING, State.CLAIMING, State.ACTIVE)


async def start_transfer(convs: Conversations, conv: Conversation, target: Municipality) -> bool:
    """Persist the move to `target`; the slow part runs in the background."""
    extra = list(conv.homeservers or [])
    if target.homeserver != conv.homeserver and target.homeserver not in extra:
        extra.append(target.homeserver)
    moved = await convs.repo.transition(
        conv.id,
        TRANSFERABLE,
        State.TRANSFERRING,
        kommune=target.slug,
        previous_kommune=conv.kommune,
        transferred_from=conv.transferred_from or conv.kommune,
        overflow=False,  # handed on by a counsellor: a transfer now, whatever it was
        homeservers=extra,
    )
    if moved:
        log.info("conversation_transfer", conversation=conv.id, to=target.slug)
        convs.tasks.spawn(finish_transfer(convs, conv.id), name=f"transfer-{conv.id}")
    return moved


async def finish_transfer(convs: Conversations, conv_id: str) -> None:
    conv = await convs.repo.get(conv_id)
    if conv is None or conv.state != State.TRANSFERRING or conv.room_id is None:
        return
    room_id = conv.room_id
    home = convs.link_for(conv)
    target = convs.municipality(conv.kommune)
    there = convs.links[target.homeserver]
    target_rooms = await convs.directory.rooms(there, target.slug)
    servers = sorted({home.registration.server_name, there.registration.server_name})

    if there is not home:
        # The target homeserver's bot account joins with the power to invite, so that
        # homeserver can authorise its own counsellors' restricted joins.
        levels = await home.bot.get_state(room_id, "m.room.power_levels")
        bot_there = there.registration.bot_user_id
        if levels.get("users", {}).get(bot_there) != shape.BOT_POWER:
            levels.setdefault("users", {})[bot_there] = shape.BOT_POWER
            await home.bot.put_state(room_id, "m.room.power_levels", levels)
        with contextlib.suppress(Forbidden):  # already invited or joined
            await home.bot.invite(room_id, bot_there)
        await there.bot.join(room_id, via=[home.registration.server_name])

    # Only the new municipality's counsellors may join from now on (those already in
    # the room stay until they leave).
    await home.bot.put_state(
        room_id,
        "m.room.join_rules",
        {
            "join_rule": "restricted",
            "allow": [{"type": "m.room_membership", "room_id": target_rooms.space_id}],
        },
    )
    await home.bot.put_state(
        room_id,
        "m.space.parent",
        {"via": [there.registration.server_name], "canonical": True},
        target_rooms.space_id,
    )
    await there.bot.put_state(
        target_rooms.space_id, "m.space.child", shape.space_child_content(servers), room_id
    )
    previous = convs.config.municipality(conv.previous_kommune or "")
    if previous is not None:
        await _leave_previous(convs, conv, previous, target)
    await home.bot.put_state(
        room_id,
        shape.METADATA_EVENT,
        shape.metadata(kommune=target.slug, kanal=conv.kanal, status="waiting"),
    )
    await convs.tell_youth(
        conv,
        "transferred",
        f"transferred-{target.slug}",
        kommune=target.name.removesuffix(" Kommune"),
    )
    conv.waiting_since = utcnow()
    lobby_event = await convs.lobby.announce(
        conv,
        target,
        there,
        on_duty=await convs.duty.on_duty(target.slug),
        key="lobby_transferred_in",
        txn_id=f"lobby-{conv.id}-{target.slug}",
        origin=(previous.name if previous else conv.transferred_from or "?"),
    )
    if await convs.repo.transition(
        conv.id,
        [State.TRANSFERRING],
        State.WAITING,
        lobby_event_id=lobby_event,
        previous_kommune=None,
        claimed_by=None,
        waiting_since=conv.waiting_since,
        reminded_at=None,
        hours_warned_at=None,
    ):
        convs.signals.notify(conv.id)


async def _leave_previous(
    convs: Conversations, conv: Conversation, previous: Municipality, target: Municipality
) -> None:
    """Out of the previous municipality's space and queue (the entry's redaction reason
    says where it went)."""
    link = convs.links[previous.homeserver]
    rooms = await convs.directory.rooms(link, previous.slug)
    assert conv.room_id is not None
    try:
        await link.bot.put_state(rooms.space_id, "m.space.child", {}, conv.room_id)
        await convs.link_for(conv).bot.put_state(conv.room_id, "m.space.parent", {}, rooms.space_id)
        if conv.lobby_event_id:
            await convs.lobby.remove(
                previous,
                link,
                conv.lobby_event_id,
                "lobby_removed_transferred",
                txn_id=f"out-{conv.id}-{target.slug}",
                target=target.name,
            )
    except MatrixError as exc:  # tidy-up only: the transfer itself goes on
        log.warning("transfer_unlist_failed", conversation=conv.id, error=type(exc).__name__)
