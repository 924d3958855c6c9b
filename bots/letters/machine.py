"""A letter's life: written, answered (and written to again), opened with the pickup
code, deleted. Its states are in bots/letters/store.py; its Brevkasse entry is
bots/letters/letterbox.py; its clock (expiry, pings, reminders) bots/letters/clock.py.

A letter is a room like a conversation (bots/conversation/room.py: the youth may only
send messages, counsellors of the space may join without an invite), with its own
ephemeral youth account, and it is deleted the way a conversation is
(bots/conversation/deletion.py). Its text goes only into the room: never into this
database, never into a log. Every step is written down before its side effects and each
side effect is idempotent (the room's alias, the youth's account, deterministic
transaction ids), so a set-up or deletion a crash cut off is finished by the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets

import structlog
from sqlalchemy.exc import IntegrityError

from bots.config.hours import COPENHAGEN
from bots.config.model import UNKNOWN_CHANNEL, Config, Municipality
from bots.conversation import room as shape
from bots.conversation.deletion import DeletionIncomplete, delete_everywhere, hold
from bots.conversation.duty import DutyRoster
from bots.conversation.tokens import hash_token, new_token
from bots.db.models import Letter, LetterStats, utcnow
from bots.letters.codes import hash_code, new_code, normalise
from bots.letters.letterbox import Letterbox, due, when
from bots.letters.store import LIVE, READABLE, LetterRepo, LetterState
from bots.matrix.errors import Forbidden, NotFound, RoomInUse, UserInUse
from bots.matrix.links import HomeserverLink, Homeservers
from bots.tasks import BackgroundTasks
from bots.texts import counsellor_text

log = structlog.get_logger(__name__)
SETUP_TIMEOUT = dt.timedelta(seconds=30)


class LetterNotWritten(RuntimeError):
    """The letter's room could not be made now; what was made is being deleted."""


def expires_at(letter: Letter, m: Municipality | None) -> dt.datetime:
    """When the letter is deleted unless the youth deletes it first: a number of days
    after it was last opened with an answer in it, or at its maximum age."""
    limits = m.letters if m is not None else None
    max_age = limits.max_age if limits else dt.timedelta(days=30)
    keep = limits.keep_after_read if limits else dt.timedelta(days=7)
    end = letter.created_at + max_age
    if letter.read_at is not None:
        end = min(end, letter.read_at + keep)
    return end


def stats_row(letter: Letter, ended_by: str, now: dt.datetime) -> LetterStats:
    local = letter.created_at.astimezone(COPENHAGEN)
    answered = letter.answered_at
    return LetterStats(
        kommune=letter.kommune,
        date=local.date(),
        hour=local.hour,
        weekday=local.weekday(),
        kanal=letter.kanal,
        answers=dict(letter.answers or {}),
        topics=list(letter.topics or []),
        answer_seconds=int((answered - letter.created_at).total_seconds()) if answered else None,
        answer_read=letter.read_at is not None,
        ended_by=ended_by,
        held=bool(letter.hold_days),
    )


class Letters:
    def __init__(
        self,
        config: Config,
        repo: LetterRepo,
        homeservers: Homeservers,
        letterbox: Letterbox,
        duty: DutyRoster,
        tasks: BackgroundTasks,
    ) -> None:
        self.config = config
        self.repo = repo
        self.homeservers = homeservers
        self.letterbox = letterbox
        self.duty = duty
        self.tasks = tasks

    # -- writing ---------------------------------------------------------------------------

    async def write(
        self, m: Municipality, kanal: str | None, answers: dict[str, str], body: str
    ) -> tuple[str, str]:
        """Make the letter's room with the youth's words in it; (letter id, pickup code)."""
        link = self.homeservers.of(m)
        now = utcnow()
        for _ in range(3):  # a code already in use (never seen in practice): draw again
            letter_id, code = secrets.token_hex(16), new_code()
            letter = Letter(
                id=letter_id,
                kommune=m.slug,
                homeserver=link.id,
                kanal=kanal,
                answers=answers,
                state=LetterState.REQUESTED,
                code_hash=await asyncio.to_thread(hash_code, code),
                youth_user_id=link.registration.youth_user_id(letter_id),
                created_at=now,
                youth_wrote_at=now,
            )
            try:
                await self.repo.add(letter)
                break
            except IntegrityError:
                continue
        else:
            raise LetterNotWritten("no free pickup code")
        bound = log.bind(letter=letter_id, kommune=m.slug)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT.total_seconds()):
                await self._set_up(letter, m, link, body)
        except Exception as exc:
            bound.error("letter_setup_failed", error=type(exc).__name__)
            await self.close(letter_id, "system", counted=False)
            raise LetterNotWritten(type(exc).__name__) from exc
        bound.info("letter_written", kanal=kanal)
        return letter_id, code

    async def _set_up(
        self, letter: Letter, m: Municipality, link: HomeserverLink, body: str
    ) -> None:
        reg = link.registration
        rooms = await self.homeservers.rooms(m)
        youth = letter.youth_user_id
        assert youth is not None
        with contextlib.suppress(UserInUse):
            await link.bot.register_appservice_user(youth.split(":", 1)[0][1:])
        await link.bot.set_displayname(youth, "Ung (anonym)")
        lang = m.counsellor_language
        alias_localpart = reg.letter_alias_localpart(letter.id)
        create = shape.create_room_body(
            alias_localpart=alias_localpart,
            name=counsellor_text("letter_room_name", lang, short=letter.id[:6]),
            topic=counsellor_text("letter_room_topic", lang, kanal=letter.kanal or UNKNOWN_CHANNEL),
            space_id=rooms.space_id,
            server_name=reg.server_name,
            bot_user_id=reg.bot_user_id,
            youth_user_id=youth,
            kommune=letter.kommune,
            kanal=letter.kanal,
        )
        try:
            room_id = await link.bot.create_room(create)
        except RoomInUse:
            room_id = await link.bot.resolve_alias(reg.alias(alias_localpart))
        await self.repo.set(letter.id, room_id=room_id)
        letter.room_id = room_id
        await link.bot.join(room_id, as_user=youth)
        hint = counsellor_text("letter_hint", lang, due=when(due(letter, m)))
        await link.bot.send(
            room_id, "m.room.message", {"msgtype": "m.notice", "body": hint}, f"l-{letter.id}-hint"
        )
        await link.bot.send(
            room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            f"y-{letter.id}-0",
            as_user=youth,
        )
        await link.bot.put_state(
            rooms.space_id, "m.space.child", shape.space_child_content([reg.server_name]), room_id
        )
        on_duty = await self.duty.on_duty(m.slug) if m.opening_hours.is_open(utcnow()) else []
        entry = await self.letterbox.announce(letter, m, on_duty, f"letterbox-{letter.id}")
        pinged = utcnow() if on_duty else None
        await self.repo.move(
            letter.id,
            [LetterState.REQUESTED],
            LetterState.WAITING,
            entry_event_id=entry,
            pinged_at=pinged,
        )

    # -- the youth, with the code or the token ------------------------------------------------

    async def open(self, typed_code: str) -> tuple[Letter, str] | None:
        """The letter a code opens and a fresh session token for it (the token of an
        earlier opening stops working); None for any code that opens nothing."""
        code = normalise(typed_code)
        # Hashed either way, so how long the answer takes says nothing about the code.
        hashed = await asyncio.to_thread(hash_code, code or typed_code[:200])
        letter = await self.repo.by_code_hash(hashed) if code is not None else None
        if letter is None or letter.state not in READABLE:
            return None
        token, now = new_token(), utcnow()
        first_read = letter.unread_since is not None
        values: dict[str, object] = {"token_hash": hash_token(token)}
        if letter.answered_at is not None:  # opened with an answer in it
            values.update(read_at=now, unread_since=None)
        await self.repo.set(letter.id, **values)
        for key, value in values.items():
            setattr(letter, key, value)
        if first_read and letter.state == LetterState.ANSWERED:
            self.tasks.spawn(
                self._entry(letter, "letterbox_answered", read=True), name=f"read-{letter.id}"
            )
        log.info("letter_opened", letter=letter.id)
        return letter, token

    async def reply(self, letter: Letter, body: str, txn_id: str) -> str:
        """The youth writes again: into the room as their account; the letter waits for
        an answer again (and the promise counts from now)."""
        link = self.homeservers.get(letter.homeserver)
        assert letter.room_id is not None and letter.youth_user_id is not None
        event_id = await link.bot.send(
            letter.room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            txn_id,
            as_user=letter.youth_user_id,
        )
        now = utcnow()
        if await self.repo.move(
            letter.id,
            [LetterState.ANSWERED],
            LetterState.WAITING,
            youth_wrote_at=now,
            pinged_at=None,
            reminded_at=None,
        ):
            letter.youth_wrote_at, letter.state = now, LetterState.WAITING
            m = self.config.municipality(letter.kommune)
            if m is not None:
                on_duty = await self.duty.on_duty(m.slug) if m.opening_hours.is_open(now) else []
                await self.letterbox.edit(
                    letter, m, "letterbox_again", f"again-{letter.id}-{txn_id}"
                )
                if on_duty:
                    await self.letterbox.ping(
                        letter, m, on_duty, "letter_ping_open", f"pa-{letter.id}-{txn_id}"
                    )
                    await self.repo.set(letter.id, pinged_at=now)
        log.info("letter_reply", letter=letter.id)
        return event_id

    # -- counsellors ----------------------------------------------------------------------

    async def answered(self, letter: Letter) -> None:
        """A counsellor wrote something the youth will see: the letter is answered."""
        now = utcnow()
        values: dict[str, object] = {"unread_since": now}
        if letter.answered_at is None:
            values["answered_at"] = now
        if await self.repo.move(letter.id, [LetterState.WAITING], LetterState.ANSWERED, **values):
            for key, value in values.items():
                setattr(letter, key, value)
            log.info("letter_answered", letter=letter.id)
            await self._entry(letter, "letterbox_answered", read=False)
        elif letter.state == LetterState.ANSWERED:
            await self.repo.set(letter.id, unread_since=now)

    async def _entry(self, letter: Letter, key: str, *, read: bool) -> None:
        m = self.config.municipality(letter.kommune)
        if m is None:
            return
        suffix = counsellor_text("letterbox_read", m.counsellor_language) if read else ""
        stamp = f"{key}-{letter.id}-{int(utcnow().timestamp() * 1000)}"
        await self.letterbox.edit(letter, m, key, stamp, read=suffix)

    async def keep(self, letter: Letter, days: int) -> None:
        """`!bevar N` in a letter room: kept read-only N days after its end (0: not kept)."""
        await self.repo.set(letter.id, hold_days=days or None)

    async def notice(self, letter: Letter, key: str, reply_to: str, **values: str) -> None:
        """Bot chatter for the counsellors in the letter's room (never shown to the youth)."""
        m = self.config.municipality(letter.kommune)
        assert letter.room_id is not None
        content = {
            "msgtype": "m.notice",
            "body": counsellor_text(key, m.counsellor_language if m else "da", **values),
            "m.relates_to": {"m.in_reply_to": {"event_id": reply_to}},
        }
        link = self.homeservers.get(letter.homeserver)
        txn = f"n-{letter.id}-{reply_to[1:20]}"
        await link.bot.send(letter.room_id, "m.room.message", content, txn)

    async def stranger(self, letter: Letter, user_id: str) -> None:
        """Someone not listed as a counsellor joined the letter's room: taken out."""
        link = self.homeservers.get(letter.homeserver)
        assert letter.room_id is not None
        m = self.config.municipality(letter.kommune)
        lang = m.counsellor_language if m else "da"
        with contextlib.suppress(NotFound, Forbidden):
            await link.bot.kick(
                letter.room_id, user_id, counsellor_text("unlisted_kick_reason", lang)
            )
        log.warning("unlisted_member_removed", letter=letter.id)

    # -- the end ----------------------------------------------------------------------------

    async def close(self, letter_id: str, ended_by: str, *, counted: bool = True) -> None:
        """Deleted by the youth, expired, or a failed set-up: counted once, then deleted
        (or held, when a counsellor asked for it)."""
        letter = await self.repo.get(letter_id)
        if letter is None:
            return
        now = utcnow()
        row = stats_row(letter, ended_by, now)
        if counted:
            moved = await self.repo.close(
                letter_id,
                LIVE,
                row,
                closed_at=now,
                ended_by=ended_by,
                token_hash=None,
                code_hash=None,
            )
        else:
            moved = await self.repo.move(
                letter_id,
                LIVE,
                LetterState.CLOSING,
                closed_at=now,
                ended_by=ended_by,
                token_hash=None,
                code_hash=None,
            )
        if moved:
            log.info("letter_closed", letter=letter_id, ended_by=ended_by)
        await self.finish(letter_id)

    async def delete_now(self, letter_id: str) -> None:
        """The youth deletes it: it is closed (and its token opens nothing) at once, and
        deleted from the homeserver in the background (the clock finishes it if this
        process dies first)."""
        letter = await self.repo.get(letter_id)
        if letter is None:
            return
        now = utcnow()
        row = stats_row(letter, "youth", now)
        fields = {"closed_at": now, "ended_by": "youth", "token_hash": None, "code_hash": None}
        if await self.repo.close(letter_id, LIVE, row, **fields):
            log.info("letter_closed", letter=letter_id, ended_by="youth")
            self.tasks.spawn(self.finish(letter_id), name=f"delete-letter-{letter_id}")

    async def finish(self, letter_id: str) -> None:
        """Carry out a closing letter's end: held, or deleted everywhere. Repeatable;
        DeletionIncomplete leaves it closing for the clock to try again."""
        letter = await self.repo.get(letter_id)
        if letter is None or letter.state != LetterState.CLOSING:
            return
        m = self.config.municipality(letter.kommune)
        link = self.homeservers.links.get(letter.homeserver)
        if link is None:
            raise DeletionIncomplete(letter_id, {"homeserver": "not configured"})
        if letter.hold_days and letter.hold_until is None and letter.room_id:
            until = utcnow() + dt.timedelta(days=letter.hold_days)
            await hold(letter, letter.room_id, link)
            await self.repo.move(
                letter_id, [LetterState.CLOSING], LetterState.HELD, hold_until=until
            )
            if m is not None:
                await self.letterbox.edit(
                    letter, m, "letterbox_held", f"held-{letter_id}", until=when(until)
                )
            log.info("letter_held", letter=letter_id)
            return
        if m is not None:
            with contextlib.suppress(NotFound):
                await self.letterbox.remove(letter, m, f"gone-{letter_id}")
            if letter.room_id:
                rooms = await self.homeservers.rooms(m)
                with contextlib.suppress(NotFound, Forbidden):
                    await link.bot.put_state(rooms.space_id, "m.space.child", {}, letter.room_id)
        if letter.room_id:
            await delete_everywhere(letter, letter.room_id, [link])
        elif letter.youth_user_id:
            with contextlib.suppress(NotFound):
                await link.admin.erase_user(letter.youth_user_id)
        await self.repo.forget(letter_id)
        log.info("letter_deleted", letter=letter_id)

    async def end_hold(self, letter: Letter) -> None:
        if await self.repo.move(letter.id, [LetterState.HELD], LetterState.CLOSING, hold_days=None):
            await self.finish(letter.id)
