"""`!overfør SLUG`: hand a conversation to another municipality's counsellors, on the
same homeserver or another one in the network.

The room stays where it is (its homeserver holds the youth's account). For a target on
another homeserver, the bot's account there joins the room first, with the power to
invite: that makes the target homeserver a resident of the room, so it can itself let
its counsellors in through the restricted join rule (a homeserver can only vouch for
membership of a space it is in). The room then federates, which is why conversation
rooms are created with `m.federate: true`.

`refusal` says why a conversation cannot be handed to a municipality now (the chat is
closed, nobody is on duty there, its homeserver cannot be reached): a youth would only
end up unanswered. `start` persists the move (state `transferring`, the new
municipality); `finish` does the rest, every step repeatable, so a crash in between is
finished by maintenance.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import structlog

from bots.config.hours import describe_next_opening
from bots.config.model import Config, Municipality
from bots.conversation import room as shape
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import Lobby
from bots.conversation.states import TRANSFERABLE, State
from bots.conversation.store import ConversationRepo
from bots.conversation.voice import RoomVoice
from bots.db.models import Conversation, utcnow
from bots.matrix.errors import Forbidden, MatrixError
from bots.matrix.links import Homeservers
from bots.signals import Signals
from bots.tasks import BackgroundTasks

log = structlog.get_logger(__name__)


class Transfers:
    def __init__(
        self,
        config: Config,
        repo: ConversationRepo,
        homeservers: Homeservers,
        voice: RoomVoice,
        lobby: Lobby,
        duty: DutyRoster,
        signals: Signals,
        tasks: BackgroundTasks,
    ) -> None:
        self.config = config
        self.repo = repo
        self.homeservers = homeservers
        self.voice = voice
        self.lobby = lobby
        self.duty = duty
        self.signals = signals
        self.tasks = tasks

    async def refusal(
        self, target: Municipality, now: dt.datetime, lang: str
    ) -> tuple[str, dict[str, str]] | None:
        """Why a conversation cannot go to `target` now, as a counsellor text's key and
        values; None if it can."""
        if not await self.homeservers.of(target).bot.reachable():
            return "transfer_unreachable", {"target": target.name}
        # Handing a youth to a chat that is closed, or has nobody to answer, would only
        # end in "we did not manage to answer you": it stays where it is instead.
        if not target.opening_hours.is_open(now):
            opens = target.opening_hours.next_opening(now)
            when = describe_next_opening(now, opens, lang) if opens else "–"
            return "transfer_closed", {"target": target.name, "when": when}
        if await self.duty.count(target.slug) == 0:
            return "transfer_nobody_on_duty", {"target": target.name}
        return None

    async def start(self, conv: Conversation, target: Municipality) -> bool:
        """Persist the move to `target`; the slow part runs in the background."""
        extra = list(conv.homeservers or [])
        if target.homeserver != conv.homeserver and target.homeserver not in extra:
            extra.append(target.homeserver)
        moved = await self.repo.transition(
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
            self.tasks.spawn(self.finish(conv.id), name=f"transfer-{conv.id}")
        return moved

    async def finish(self, conv_id: str) -> None:
        conv = await self.repo.get(conv_id)
        if conv is None or conv.state != State.TRANSFERRING or conv.room_id is None:
            return
        room_id = conv.room_id
        home = self.homeservers.get(conv.homeserver)
        target = self.config.require_municipality(conv.kommune)
        there = self.homeservers.of(target)
        target_rooms = await self.homeservers.rooms(target)
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
        previous = self.config.municipality(conv.previous_kommune or "")
        if previous is not None:
            await self._leave_previous(conv, previous, target)
        await self.voice.set_metadata(conv, "waiting", kommune=target.slug)
        await self.voice.tell_youth(
            conv,
            "transferred",
            f"transferred-{target.slug}",
            kommune=target.name.removesuffix(" Kommune"),
        )
        conv.waiting_since = utcnow()
        lobby_event = await self.lobby.announce(
            conv,
            target,
            on_duty=await self.duty.on_duty(target.slug),
            key="lobby_transferred_in",
            txn_id=f"lobby-{conv.id}-{target.slug}",
            origin=(previous.name if previous else conv.transferred_from or "?"),
        )
        if await self.repo.transition(
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
            self.signals.notify(conv.id)

    async def _leave_previous(
        self, conv: Conversation, previous: Municipality, target: Municipality
    ) -> None:
        """Out of the previous municipality's space and queue (the entry's redaction reason
        says where it went)."""
        link = self.homeservers.of(previous)
        rooms = await self.homeservers.rooms(previous)
        assert conv.room_id is not None
        try:
            await link.bot.put_state(rooms.space_id, "m.space.child", {}, conv.room_id)
            await self.homeservers.get(conv.homeserver).bot.put_state(
                conv.room_id, "m.space.parent", {}, rooms.space_id
            )
            if conv.lobby_event_id:
                await self.lobby.remove(
                    previous,
                    conv.lobby_event_id,
                    "lobby_removed_transferred",
                    txn_id=f"out-{conv.id}-{target.slug}",
                    target=target.name,
                )
        except MatrixError as exc:  # tidy-up only: the transfer itself goes on
            log.warning("transfer_unlist_failed", conversation=conv.id, error=type(exc).__name__)
