"""The letters' clock, one pass at a time (the bot's own loop calls it, on every replica:
each action is a conditional move or idempotent):

- a letter is deleted when it expires: some days after the youth last opened it with an
  answer in it, or at its maximum age (bots/letters/machine.py `expires_at`);
- a held letter is deleted when its hold runs out;
- a letter waiting for an answer pings whoever is on duty once the chat is open and
  someone is (it was written while nobody was), and reminds the counsellors a day
  before the promised answer time runs out;
- a set-up a crash cut off is deleted, and a deletion a homeserver kept from finishing
  is tried again.

It takes `now`, so tests drive it through days without waiting.
"""

from __future__ import annotations

import datetime as dt

import structlog

from bots.config.model import Config, Municipality
from bots.conversation.duty import DutyRoster
from bots.db.models import Letter, utcnow
from bots.letters.letterbox import Letterbox, due
from bots.letters.machine import SETUP_TIMEOUT, Letters, expires_at
from bots.letters.store import LetterRepo, LetterState
from bots.outages import is_outage

log = structlog.get_logger(__name__)
# A set-up older than this was cut off by a crash; a deletion older than this is not
# still running in some process.
ABANDONED_AFTER = SETUP_TIMEOUT + dt.timedelta(seconds=5)
STUCK_DELETION_AFTER = dt.timedelta(minutes=2)
# The reminder comes this long before the promised answer time runs out (at most half
# of it, for a promise of a single day).
REMIND_BEFORE = dt.timedelta(days=1)


class LetterClock:
    def __init__(
        self,
        config: Config,
        repo: LetterRepo,
        letters: Letters,
        letterbox: Letterbox,
        duty: DutyRoster,
    ) -> None:
        self.config = config
        self.repo = repo
        self.letters = letters
        self.letterbox = letterbox
        self.duty = duty

    async def run(self, now: dt.datetime | None = None) -> None:
        now = now or utcnow()
        for letter in await self.repo.in_states(list(LetterState)):
            try:
                await self._one(letter, self.config.municipality(letter.kommune), now)
            except Exception as exc:
                if is_outage(exc):
                    raise
                log.exception("letter_clock_failed", letter=letter.id)

    async def _one(self, letter: Letter, m: Municipality | None, now: dt.datetime) -> None:
        state = LetterState(letter.state)
        if state == LetterState.REQUESTED:
            if letter.created_at < now - ABANDONED_AFTER:
                await self.letters.close(letter.id, "system", counted=False)
            return
        if state == LetterState.CLOSING:
            if (letter.closed_at or letter.created_at) < utcnow() - STUCK_DELETION_AFTER:
                await self.letters.finish(letter.id)
            return
        if state == LetterState.HELD:
            if letter.hold_until is not None and letter.hold_until <= now:
                await self.letters.end_hold(letter)
            return
        if now >= expires_at(letter, m):
            await self.letters.close(letter.id, "expired")
            return
        if state != LetterState.WAITING or m is None:
            return
        if letter.pinged_at is None and m.opening_hours.is_open(now):
            on_duty = await self.duty.on_duty(m.slug)
            if on_duty:
                await self.letterbox.ping(
                    letter, m, on_duty, "letter_ping_open", f"ping-{letter.id}-{_stamp(letter)}"
                )
                await self.repo.set(letter.id, pinged_at=now)
        deadline = due(letter, m)
        before = min(REMIND_BEFORE, m.letters.answer_within / 2)
        if letter.reminded_at is None and now >= deadline - before:
            users = await self.duty.on_duty(m.slug) or list(m.counsellors)
            await self.letterbox.ping(
                letter, m, users, "letter_reminder", f"remind-{letter.id}-{_stamp(letter)}"
            )
            await self.repo.set(letter.id, reminded_at=now)


def _stamp(letter: Letter) -> int:
    """The youth's latest words, as a number: one ping and one reminder for each."""
    return int((letter.youth_wrote_at or letter.created_at).timestamp())
