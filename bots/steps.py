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
from typing import TYPE_CHECKING

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.db.models import OPEN_STATES, Conversation, PendingStep, State
from bots.db.repo import insert_for, utcnow
from bots.matrix.errors import Forbidden, NotFound
from bots.texts import counsellor_text

if TYPE_CHECKING:
    from bots.lifecycle import Conversations


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
    def __init__(self, convs: Conversations) -> None:
        self.convs = convs

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
        async with self.convs.sessions.begin() as session:
            if counsellors is not None:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conv_id)
                    .values(counsellors=counsellors)
                )
            await add_step(session, conv_id, key, kind, user_id)
        self.convs.tasks.spawn(self.run(conv_id, key), name=f"{key}-{conv_id}")

    async def run(self, conv_id: str, key: str) -> None:
        """Do a recorded step, then forget it. Any replica may, any number of times: what
        it sends carries the step's key as its transaction id."""
        async with self.convs.sessions() as session:
            step = await session.get(PendingStep, (conv_id, key))
        if step is None:
            return
        conv = await self.convs.repo.get(conv_id)
        if conv is not None and conv.state in OPEN_STATES and conv.room_id:
            kind = StepKind(step.kind)
            if kind == StepKind.ANOTHER_COUNSELLOR and step.user_id:
                await self.convs.raise_power(conv, step.user_id)
                if conv.state in (State.ACTIVE, State.CLAIMING):
                    await self.convs.tell_youth(conv, "another_counsellor_joined", key)
            elif kind == StepKind.ONE_COUNSELLOR_LEFT:
                await self.convs.tell_youth(conv, "one_counsellor_left", key)
            elif kind == StepKind.BACK_IN_QUEUE and conv.state == State.WAITING:
                await self._back_in_queue(conv, key)
            elif kind == StepKind.UNLISTED and step.user_id:
                await self._remove_unlisted(conv, step.user_id, key)
        async with self.convs.sessions.begin() as session:
            await session.execute(
                delete(PendingStep).where(
                    PendingStep.conversation_id == conv_id, PendingStep.key == key
                )
            )

    async def _back_in_queue(self, conv: Conversation, key: str) -> None:
        m = self.convs.municipality(conv.kommune)
        link = self.convs.links[m.homeserver]
        await self.convs.tell_youth(conv, "counsellor_left", key)
        await self.convs.set_metadata(conv, "waiting")
        if conv.lobby_event_id:
            txn = f"requeue-{conv.id}-{key}"
            await self.convs.lobby.edit(
                conv, m, link, conv.lobby_event_id, "lobby_waiting_again", txn_id=txn
            )
            on_duty = await self.convs.duty.on_duty(m.slug)
            if on_duty:
                await self.convs.lobby.ping_in_thread(
                    m, link, conv.lobby_event_id, on_duty, "ping_waiting", txn_id=f"p-{txn}"
                )
        self.convs.signals.notify(conv.id)

    async def _remove_unlisted(self, conv: Conversation, user_id: str, key: str) -> None:
        """Out they go; the counsellors in the room are told why (the youth is not)."""
        m = self.convs.municipality(conv.kommune)
        assert conv.room_id is not None
        lang = m.counsellor_language
        with contextlib.suppress(Forbidden, NotFound):  # already gone
            await self.convs.link_for(conv).bot.kick(
                conv.room_id, user_id, counsellor_text("unlisted_kick_reason", lang)
            )
        await self.convs.notice(conv, counsellor_text("unlisted_removed", lang, who=user_id), key)
