"""What the bot does on its own, on a clock: finishing steps a crash left under way,
reminding counsellors of a youth waiting with nobody on duty, ending idle conversations,
closing at the end of the opening hours (after a grace period and a kind word to the
youth), and deleting held conversations whose hold has run out.

`run(now)` is one pass over the database. Every replica runs it; each action is a
conditional update or an idempotent step, so two replicas never do a thing twice.
Taking `now` as an argument keeps the rules testable without waiting for them.
"""

from __future__ import annotations

import datetime as dt

import structlog

from bots.config import Municipality
from bots.db.models import Conversation, EndedBy, State
from bots.db.repo import utcnow
from bots.digest import Digests
from bots.feedback import forget_expired_feedback_keys
from bots.lifecycle import Conversations, aware
from bots.transfer import finish_transfer

log = structlog.get_logger(__name__)
# A step left unfinished this long is taken as abandoned by a crashed process.
STALE_AFTER = dt.timedelta(seconds=60)
LIVE_STATES = (State.WAITING, State.CLAIMING, State.ACTIVE)


class Maintenance:
    def __init__(self, convs: Conversations) -> None:
        self.convs = convs
        self.digests = Digests(convs)

    async def run(self, now: dt.datetime | None = None, *, stale_only: bool = True) -> int:
        """One pass; returns how many conversations it acted on."""
        now = now or utcnow()
        acted = await self.resume(now, stale_only=stale_only)
        for conv in await self.convs.repo.in_states(LIVE_STATES):
            m = self.convs.config.municipality(conv.kommune)
            if m is None:
                continue
            try:
                acted += await self._live(conv, m, now)
            except Exception:
                # One conversation (or one homeserver being down) must not stop the rest.
                log.exception("maintenance_step_failed", conversation=conv.id)
        for conv in await self.convs.repo.in_states([State.HELD]):
            hold_until = aware(conv.hold_until)
            if (hold_until is None or hold_until <= now) and await self.convs.release_hold(conv.id):
                log.info("hold_expired", conversation=conv.id)
                acted += 1
        await forget_expired_feedback_keys(self.convs.sessions)
        try:
            acted += await self.digests.post_due(now)
        except Exception:
            log.exception("digest_failed")  # posted on a later pass
        return acted

    async def resume(self, now: dt.datetime, *, stale_only: bool = False) -> int:
        """Finish every step left under way (all of them at start-up, later the stale)."""
        touched = 0
        steps = [State.REQUESTED, State.CLAIMING, State.TRANSFERRING, State.CLOSING]
        for conv in await self.convs.repo.in_states(steps):
            since = aware(
                {
                    State.REQUESTED: conv.created_at,
                    State.CLAIMING: conv.claimed_at,
                    State.CLOSING: conv.closed_at,
                }.get(State(conv.state), conv.last_activity_at)
            )
            recent = since is not None and now - since < STALE_AFTER
            # A REQUESTED row whose set-up is not running any more never handed its token
            # to a browser (the 201 is sent only after `waiting`), so it is closed.
            if (stale_only or conv.state == State.REQUESTED) and recent:
                continue
            try:
                if conv.state == State.REQUESTED:
                    await self.convs.close(conv.id, EndedBy.SYSTEM, wait=True)
                elif conv.state == State.CLAIMING:
                    await self.convs.finish_claim(conv.id)
                elif conv.state == State.TRANSFERRING:
                    await finish_transfer(self.convs, conv.id)
                else:
                    await self.convs.finish_close(conv.id)
            except Exception:
                log.exception("resume_failed", conversation=conv.id, state=conv.state)
                continue
            touched += 1
        if touched:
            log.info("conversations_resumed", count=touched)
        return touched

    async def _live(self, conv: Conversation, m: Municipality, now: dt.datetime) -> int:
        if await self._end_of_hours(conv, m, now):
            return 1
        last = aware(conv.last_activity_at) or aware(conv.created_at) or now
        if now - last >= m.timeouts.idle:
            key = "closed_idle" if conv.claimed_at else "closed_unanswered"
            await self.convs.tell_youth(conv, key, "idle")
            if await self.convs.close(conv.id, EndedBy.IDLE):
                log.info("conversation_idle", conversation=conv.id)
                return 1
        waiting_since = aware(conv.waiting_since) or aware(conv.created_at) or now
        if (
            conv.state == State.WAITING
            and conv.reminded_at is None
            and now - waiting_since >= m.timeouts.remind_after
            and await self.convs.duty.count(m.slug) == 0
            and await self.convs.repo.transition(
                conv.id, [State.WAITING], State.WAITING, reminded_at=now
            )
        ):
            await self._remind(conv, m, now - waiting_since)
            return 1
        return 0

    async def _remind(self, conv: Conversation, m: Municipality, waited: dt.timedelta) -> None:
        if not conv.lobby_event_id or not m.counsellors:
            return
        await self.convs.lobby.ping_in_thread(
            m,
            self.convs.links[m.homeserver],
            conv.lobby_event_id,
            list(m.counsellors),
            "reminder_nobody_on_duty",
            txn_id=f"remind-{conv.id}-{int((aware(conv.waiting_since) or utcnow()).timestamp())}",
            minutes=int(waited.total_seconds() // 60),
        )

    async def _end_of_hours(self, conv: Conversation, m: Municipality, now: dt.datetime) -> bool:
        """Outside the hours: a kind word and a grace period to round off, then the end.
        A youth nobody has answered yet is told so at once, with where to get help."""
        if m.opening_hours.is_open(now):
            return False
        warned = aware(conv.hours_warned_at)
        grace = m.timeouts.hours_grace
        if warned is None and conv.claimed_at is None:
            await self.convs.tell_youth(conv, "closed_unanswered", "hours")
            return await self.convs.close(conv.id, EndedBy.HOURS)
        if warned is None and grace > dt.timedelta(0):
            minutes = str(int(grace.total_seconds() // 60))
            await self.convs.repo.set(conv.id, hours_warned_at=now)
            await self.convs.tell_youth(conv, "hours_ending", "hours", minutes=minutes)
            return True
        if warned is None or now - warned >= grace:
            await self.convs.tell_youth(conv, "closed_hours", "hours-closed")
            return await self.convs.close(conv.id, EndedBy.HOURS)
        return False
