"""What the bot does for conversations on its own, on a clock: finishing steps a crash
left under way, reminding counsellors of a youth waiting with nobody on duty, ending
idle conversations, closing at the end of the opening hours (after a grace period and a
kind word to the youth), taking counsellors off duty when the chat has closed (or they
have been on for too long, or are no longer counsellors), deleting held conversations
whose hold has run out, and forgetting the rows of purged conversations.

`run(now)` is one pass over the database. Every replica runs it; each action is a
conditional update or an idempotent step, so two replicas never do a thing twice.
Taking `now` as an argument keeps the rules testable without waiting for them.
"""

from __future__ import annotations

import datetime as dt

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.model import Config, Municipality
from bots.conversation.deletion import DeletionIncomplete
from bots.conversation.duty import DutyRoster
from bots.conversation.feedback import forget_expired_feedback_keys
from bots.conversation.lobby import Lobby
from bots.conversation.machine import SETUP_TIMEOUT, Conversations, short_hash
from bots.conversation.states import LIVE, UNFINISHED, EndedBy, Outcome, State
from bots.conversation.steps import Steps
from bots.conversation.store import ConversationRepo
from bots.conversation.transfer import Transfers
from bots.conversation.voice import RoomVoice
from bots.db.models import Conversation, Duty, PendingStep, utcnow
from bots.matrix.links import Homeservers
from bots.texts import counsellor_text

log = structlog.get_logger(__name__)
# A step left unfinished this long is taken as abandoned by a crashed process; a set-up
# sooner, since it gives itself up after SETUP_TIMEOUT (a youth is waiting for it).
STALE_AFTER = dt.timedelta(seconds=60)
SETUP_ABANDONED_AFTER = SETUP_TIMEOUT + dt.timedelta(seconds=5)
# A purged conversation's stripped row stays this long, so a youth's stream that is still
# open can say the conversation ended; then it is deleted.
PURGED_ROW_KEPT = dt.timedelta(minutes=10)


class Maintenance:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        repo: ConversationRepo,
        conversations: Conversations,
        transfers: Transfers,
        steps: Steps,
        duty: DutyRoster,
        lobby: Lobby,
        voice: RoomVoice,
        homeservers: Homeservers,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.repo = repo
        self.conversations = conversations
        self.transfers = transfers
        self.steps = steps
        self.duty = duty
        self.lobby = lobby
        self.voice = voice
        self.homeservers = homeservers
        self._next_due: dt.datetime | None = None

    def next_due(self) -> dt.datetime | None:
        """When a step the last pass left to a process that may still be running it will
        count as abandoned (the loop comes back then rather than a whole interval later)."""
        return self._next_due

    async def run(self, now: dt.datetime | None = None, *, stale_only: bool = True) -> int:
        """One pass; returns how many conversations it acted on."""
        now = now or utcnow()
        acted = await self.resume(now, stale_only=stale_only)
        for conv in await self.repo.in_states(LIVE):
            m = self.config.municipality(conv.kommune)
            if m is None:
                continue
            try:
                acted += await self._live(conv, m, now)
            except Exception:
                # One conversation (or one homeserver being down) must not stop the rest.
                log.exception("maintenance_step_failed", conversation=conv.id)
        for conv in await self.repo.in_states([State.HELD]):
            hold_until = conv.hold_until
            if (hold_until is None or hold_until <= now) and await self.conversations.release_hold(
                conv.id
            ):
                log.info("hold_expired", conversation=conv.id)
                acted += 1
        acted += await self._end_shifts(now)
        await forget_expired_feedback_keys(self.sessions)
        await self._forget_purged(now)
        return acted

    async def resume(self, now: dt.datetime, *, stale_only: bool = False) -> int:
        """Finish every step left under way (all of them at start-up, later the stale)."""
        touched = 0
        self._next_due = None
        for conv in await self.repo.in_states(UNFINISHED):
            since = {
                State.REQUESTED: conv.created_at,
                State.CLAIMING: conv.claimed_at,
                State.CLOSING: conv.closed_at,
            }.get(State(conv.state), conv.last_activity_at)
            stale = SETUP_ABANDONED_AFTER if conv.state == State.REQUESTED else STALE_AFTER
            recent = since is not None and now - since < stale
            # A REQUESTED row whose set-up is not running any more never handed its token
            # to a browser (the 201 is sent only after `waiting`), so it is closed.
            if (stale_only or conv.state == State.REQUESTED) and recent:
                assert since is not None
                self._next_due = min(self._next_due or since + stale, since + stale)
                continue
            try:
                if conv.state == State.REQUESTED:
                    await self.conversations.close(
                        conv.id, EndedBy.SYSTEM, outcome=Outcome.SETUP_FAILED, wait=True
                    )
                elif conv.state == State.CLAIMING:
                    await self.conversations.finish_claim(conv.id)
                elif conv.state == State.TRANSFERRING:
                    await self.transfers.finish(conv.id)
                else:
                    await self.conversations.finish_close(conv.id)
            except DeletionIncomplete as exc:  # a homeserver is down: expected, retried
                log.warning("deletion_waits", conversation=conv.id, parts=len(exc.pending))
                continue
            except Exception:
                log.exception("resume_failed", conversation=conv.id, state=conv.state)
                continue
            touched += 1
        touched += await self._resume_steps(now, stale_only=stale_only)
        if touched:
            log.info("conversations_resumed", count=touched)
        return touched

    async def _resume_steps(self, now: dt.datetime, *, stale_only: bool) -> int:
        """Recorded steps whose process died before doing them."""
        query = select(PendingStep.conversation_id, PendingStep.key)
        if stale_only:
            query = query.where(PendingStep.created_at < now - STALE_AFTER)
        async with self.sessions() as session:
            steps = (await session.execute(query)).all()
        for conv_id, key in steps:
            try:
                await self.steps.run(conv_id, key)
            except Exception:
                log.exception("step_failed", conversation=conv_id)
        return len(steps)

    async def _forget_purged(self, now: dt.datetime) -> None:
        async with self.sessions.begin() as session:
            gone = select(Conversation.id).where(
                Conversation.state == State.PURGED.value,
                Conversation.purged_at < now - PURGED_ROW_KEPT,
            )
            await session.execute(delete(PendingStep).where(PendingStep.conversation_id.in_(gone)))
            await session.execute(delete(Conversation).where(Conversation.id.in_(gone)))

    async def _end_shifts(self, now: dt.datetime) -> int:
        """Nobody stays on duty by forgetting `!vagt slut`: the youth page would count
        them, the reminder for an unanswered youth would never go out, and no partner
        would be offered."""
        ended = 0
        for shift in await self.duty.shifts():
            m = self.config.municipality(shift.kommune)
            since = shift.since
            if m is None or shift.user_id not in m.counsellors:
                reason = None  # no longer a counsellor there: nobody to tell
            elif shift_is_over(m, since, now):
                reason = "duty_ended_closed"
            elif now - since >= m.timeouts.max_duty:
                reason = "duty_ended_long"
            else:
                continue
            if not await self.duty.end_shift(shift.kommune, shift.user_id, shift.since):
                continue
            log.info("duty_ended_by_maintenance", kommune=shift.kommune, reason=reason)
            ended += 1
            if m is not None and reason is not None:
                try:
                    await self._tell_lobby(m, shift, reason)
                except Exception:
                    log.exception("duty_end_notice_failed", kommune=m.slug)
        return ended

    async def _tell_lobby(self, m: Municipality, shift: Duty, key: str) -> None:
        link = self.homeservers.of(m)
        rooms = await self.homeservers.rooms(m)
        text = counsellor_text(
            key,
            m.counsellor_language,
            who=shift.user_id,
            count=str(await self.duty.count(m.slug)),
            hours=str(int(m.timeouts.max_duty.total_seconds() // 3600)),
        )
        since = int(shift.since.timestamp())
        content = {"msgtype": "m.notice", "body": text}
        txn = f"offduty-{m.slug}-{short_hash(shift.user_id)}-{since}"
        await link.bot.send(rooms.lobby_id, "m.room.message", content, txn)

    async def _live(self, conv: Conversation, m: Municipality, now: dt.datetime) -> int:
        if await self._end_of_hours(conv, m, now):
            return 1
        last = conv.last_activity_at or conv.created_at or now
        if conv.state == State.WAITING:  # waiting with the page open is not idle
            last = max(last, conv.youth_seen_at or last)
        if now - last >= m.timeouts.idle:
            key = "closed_idle" if conv.claimed_at else "closed_unanswered"
            await self.voice.tell_youth(conv, key, "idle")
            if await self.conversations.close(conv.id, EndedBy.IDLE):
                log.info("conversation_idle", conversation=conv.id)
                return 1
        waiting_since = conv.waiting_since or conv.created_at or now
        if (
            conv.state == State.WAITING
            and conv.reminded_at is None
            and now - waiting_since >= m.timeouts.remind_after
            and await self.duty.count(m.slug) == 0
            and await self.repo.transition(conv.id, [State.WAITING], State.WAITING, reminded_at=now)
        ):
            await self._remind(conv, m, now - waiting_since)
            return 1
        return 0

    async def _remind(self, conv: Conversation, m: Municipality, waited: dt.timedelta) -> None:
        if not conv.lobby_event_id or not m.counsellors:
            return
        await self.lobby.ping_in_thread(
            m,
            conv.lobby_event_id,
            list(m.counsellors),
            "reminder_nobody_on_duty",
            txn_id=f"remind-{conv.id}-{int((conv.waiting_since or utcnow()).timestamp())}",
            minutes=int(waited.total_seconds() // 60),
        )

    async def _end_of_hours(self, conv: Conversation, m: Municipality, now: dt.datetime) -> bool:
        """Outside the hours: a kind word and a grace period to round off, then the end.
        A youth nobody has answered yet is told so at once, with where to get help."""
        if m.opening_hours.is_open(now):
            return False
        warned = conv.hours_warned_at
        grace = m.timeouts.hours_grace
        if warned is None and conv.claimed_at is None:
            await self.voice.tell_youth(conv, "closed_unanswered", "hours")
            return await self.conversations.close(conv.id, EndedBy.HOURS)
        if warned is None and grace > dt.timedelta(0):
            minutes = str(int(grace.total_seconds() // 60))
            await self.repo.set(conv.id, hours_warned_at=now)
            await self.voice.tell_youth(conv, "hours_ending", "hours", minutes=minutes)
            return True
        if warned is None or now - warned >= grace:
            await self.voice.tell_youth(conv, "closed_hours", "hours-closed")
            return await self.conversations.close(conv.id, EndedBy.HOURS)
        return False


def shift_is_over(m: Municipality, since: dt.datetime, now: dt.datetime) -> bool:
    """The chat has closed (and its grace period passed) since the counsellor went on
    duty. Going on duty early, before the chat opens, is fine."""
    hours = m.opening_hours
    if hours.always_open or hours.is_open(now):
        return False
    start = since if hours.is_open(since) else hours.next_opening(since)
    if start is None or start > now:
        return False
    closes = hours.closes_at(start)
    return closes is not None and closes + m.timeouts.hours_grace <= now
