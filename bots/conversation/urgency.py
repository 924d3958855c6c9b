"""Urgency first: a conversation marked urgent — the youth answered the municipality's
"Er du i fare lige nu?" with yes, or a counsellor typed `!haster` — goes first in the
queue (bots/conversation/duty.py), its entry in Kø says so, everyone on duty is pinged
once, and the waiting youth is told what to do if it cannot wait (112). The anonymous
record says it was urgent; nothing else about it is kept."""

from __future__ import annotations

import structlog
from sqlalchemy import update

from bots.config.model import DANGER_ANSWER, DANGER_QUESTION, Config
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import Lobby
from bots.conversation.states import IN_QUEUE, OPEN
from bots.conversation.store import ConversationRepo
from bots.conversation.voice import RoomVoice
from bots.db.models import Conversation, utcnow
from bots.db.sql import rows_changed

log = structlog.get_logger(__name__)


def answered_in_danger(answers: dict[str, str]) -> bool:
    return answers.get(DANGER_QUESTION.id) == DANGER_ANSWER


class Urgency:
    def __init__(
        self,
        config: Config,
        repo: ConversationRepo,
        lobby: Lobby,
        voice: RoomVoice,
        duty: DutyRoster,
    ) -> None:
        self.config = config
        self.repo = repo
        self.lobby = lobby
        self.voice = voice
        self.duty = duty

    async def mark(self, conv_id: str) -> bool:
        """Mark it urgent, once: False if it already was, or has ended."""
        async with self.repo.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conv_id,
                    Conversation.urgent_at.is_(None),
                    Conversation.state.in_([s.value for s in OPEN]),
                )
                .values(urgent_at=utcnow(), event_seq=Conversation.event_seq + 1)
            )
            if rows_changed(result) != 1:
                return False
        conv = await self.repo.get(conv_id)
        assert conv is not None
        log.info("conversation_urgent", conversation=conv_id)
        await self.announce(conv)
        return True

    async def announce(self, conv: Conversation) -> None:
        """What marking it urgent shows: the Kø entry, one ping, the youth told. Each has
        its own transaction id, so a repeat sends nothing twice."""
        if conv.state not in IN_QUEUE or conv.room_id is None:
            return
        m = self.config.require_municipality(conv.kommune)
        if conv.lobby_event_id:
            await self.lobby.edit(
                conv, m, conv.lobby_event_id, "lobby_waiting", txn_id=f"urgent-edit-{conv.id}"
            )
            on_duty = await self.duty.on_duty(m.slug)
            users = on_duty or list(m.counsellors)
            await self.lobby.ping_in_thread(
                m, conv.lobby_event_id, users, "urgent_ping", txn_id=f"urgent-ping-{conv.id}"
            )
        await self.voice.tell_youth(conv, "urgent_wait", "urgent")
