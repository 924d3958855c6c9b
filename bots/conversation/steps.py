"""Steps the bot still has to take after a change it has already recorded: tell the
youth a counsellor left (and put the conversation back in the lobby's queue), tell them
a second counsellor joined, take someone out who is not a counsellor.

A step is written in the same database transaction as the change it follows and
deleted once done, so a crash between the two leaves a row that the maintenance pass
finishes (on any replica). The step's key is also the transaction id of what it sends,
so doing a step twice shows once.
"""

from __future__ import annotations

import contextlib
import enum

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.model import Config
from bots.conversation.coaching import CoachingRooms
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import Lobby
from bots.conversation.states import OPEN, State
from bots.conversation.store import ConversationRepo
from bots.conversation.voice import RoomVoice
from bots.db.models import Conversation, PendingStep, utcnow
from bots.db.sql import insert_for
from bots.matrix.errors import Forbidden, NotFound
from bots.matrix.links import Homeservers
from bots.signals import Signals
from bots.tasks import BackgroundTasks
from bots.texts import counsellor_text


class StepKind(enum.StrEnum):
    """What a recorded `PendingStep` does (see `Steps.run`)."""

    ANOTHER_COUNSELLOR = "another_counsellor"  # raise their power, tell the youth
    ONE_COUNSELLOR_LEFT = "one_counsellor_left"  # tell the youth one is still there
    BACK_IN_QUEUE = "back_in_queue"  # the last one left: youth, metadata, lobby, ping
    UNLISTED = "unlisted"  # someone not in the config joined: kick them


async def add_step(
    session: AsyncSession, conv_id: str, key: str, kind: StepKind, user_id: str | None = None
) -> None:
    """Record a step inside the caller's transaction (once, however often it is added)."""
    await session.execute(
        insert_for(session)(PendingStep)
        .values(
            conversation_id=conv_id, key=key, kind=kind.value, user_id=user_id, created_at=utcnow()
        )
        .on_conflict_do_nothing()
    )


class Steps:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        repo: ConversationRepo,
        homeservers: Homeservers,
        voice: RoomVoice,
        lobby: Lobby,
        duty: DutyRoster,
        signals: Signals,
        tasks: BackgroundTasks,
        coaching: CoachingRooms,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.repo = repo
        self.homeservers = homeservers
        self.voice = voice
        self.lobby = lobby
        self.duty = duty
        self.signals = signals
        self.tasks = tasks
        self.coaching = coaching

    async def record(
        self,
        conv_id: str,
        key: str,
        kind: StepKind,
        user_id: str,
        *,
        counsellors: list[str] | None = None,
    ) -> None:
        """Record a step about `user_id` (with the room's new list of counsellors, if it
        changed), then do it in the background."""
        async with self.sessions.begin() as session:
            if counsellors is not None:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conv_id)
                    .values(counsellors=counsellors)
                )
            await add_step(session, conv_id, key, kind, user_id)
        self.tasks.spawn(self.run(conv_id, key), name=f"{key}-{conv_id}")

    async def run(self, conv_id: str, key: str) -> None:
        """Do a recorded step, then forget it. Any replica may, any number of times: what
        it sends carries the step's key as its transaction id."""
        async with self.sessions() as session:
            step = await session.get(PendingStep, (conv_id, key))
        if step is None:
            return
        conv = await self.repo.get(conv_id)
        if conv is not None and conv.state in OPEN and conv.room_id:
            kind = StepKind(step.kind)
            if kind == StepKind.ANOTHER_COUNSELLOR and step.user_id:
                m = self.config.municipality(conv.kommune)
                first = conv.claimed_by or (conv.counsellors or [""])[0]
                if m is not None and step.user_id in m.supervisors_of(first):
                    # Reading a trainee's conversation: read-only (set at the claim), and
                    # the youth is told plainly, never silently; coaching goes in a side
                    # room for the two of them.
                    if conv.state in (State.ACTIVE, State.CLAIMING):
                        await self.voice.tell_youth(conv, "supervisor_reading", key)
                        await self.coaching.open(m, conv, first, step.user_id)
                else:
                    await self.voice.raise_power(conv, step.user_id)
                    if conv.state in (State.ACTIVE, State.CLAIMING):
                        await self.voice.tell_youth(conv, "another_counsellor_joined", key)
            elif kind == StepKind.ONE_COUNSELLOR_LEFT:
                await self.voice.tell_youth(conv, "one_counsellor_left", key)
            elif kind == StepKind.BACK_IN_QUEUE and conv.state == State.WAITING:
                await self._back_in_queue(conv, key)
            elif kind == StepKind.UNLISTED and step.user_id:
                await self._remove_unlisted(conv, step.user_id, key)
        async with self.sessions.begin() as session:
            await session.execute(
                delete(PendingStep).where(
                    PendingStep.conversation_id == conv_id, PendingStep.key == key
                )
            )

    async def _back_in_queue(self, conv: Conversation, key: str) -> None:
        m = self.config.require_municipality(conv.kommune)
        await self.voice.tell_youth(conv, "counsellor_left", key)
        await self.voice.set_metadata(conv, "waiting")
        if conv.lobby_event_id:
            txn = f"requeue-{conv.id}-{key}"
            await self.lobby.edit(conv, m, conv.lobby_event_id, "lobby_waiting_again", txn_id=txn)
            on_duty = await self.duty.on_duty(m.slug)
            if on_duty:
                await self.lobby.ping_in_thread(
                    m, conv.lobby_event_id, on_duty, "ping_waiting", txn_id=f"p-{txn}"
                )
        self.signals.notify(conv.id)

    async def _remove_unlisted(self, conv: Conversation, user_id: str, key: str) -> None:
        """Out they go; the counsellors in the room are told why (the youth is not)."""
        m = self.config.require_municipality(conv.kommune)
        assert conv.room_id is not None
        lang = m.counsellor_language
        with contextlib.suppress(Forbidden, NotFound):  # already gone
            await self.homeservers.get(conv.homeserver).bot.kick(
                conv.room_id, user_id, counsellor_text("unlisted_kick_reason", lang)
            )
        await self.voice.notice(conv, counsellor_text("unlisted_removed", lang, who=user_id), key)
