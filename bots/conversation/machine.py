"""The conversation's life, as one persisted state machine: set-up, claim, counsellors
coming and going, messages, close, hold and deletion. Its states and the moves between
them are declared in bots/conversation/states.py; handing a conversation to another
municipality is bots/conversation/transfer.py.

Every step is persisted before its side effects, and every side effect is idempotent
(the room alias is the key of room creation, messages use deterministic transaction
ids, state changes are conditional updates), so `Maintenance` can finish any step a
crash left under way from the database alone, on any replica. Handlers for homeserver
events persist and hand slow work (announcing, transferring, deleting) to background
tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import secrets
from collections.abc import Awaitable, Sequence
from typing import Any, TypeVar

import structlog
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.hours import COPENHAGEN
from bots.config.model import UNKNOWN_CHANNEL, Config, Municipality
from bots.conversation import room as shape
from bots.conversation.admission import Admission
from bots.conversation.deletion import delete_everywhere, hold, taking_part
from bots.conversation.duty import DutyRoster
from bots.conversation.lobby import Lobby
from bots.conversation.record import FORGOTTEN_AT_PURGE, outcome_of, stats_row
from bots.conversation.states import OPEN, EndedBy, Outcome, State
from bots.conversation.steps import StepKind, Steps, add_step
from bots.conversation.store import ConversationRepo, transition_in
from bots.conversation.tokens import hash_token, new_token
from bots.conversation.voice import RoomVoice
from bots.db.models import Conversation, utcnow
from bots.db.sql import rows_changed
from bots.matrix.errors import MatrixError, NotFound, RoomInUse, UserInUse
from bots.matrix.links import HomeserverLink, Homeservers
from bots.signals import Signals
from bots.tasks import BackgroundTasks
from bots.texts import counsellor_text

log = structlog.get_logger(__name__)
T = TypeVar("T")
# A set-up that takes longer is given up (the youth is told to try again), so a set-up
# row older than this is abandoned for certain: its process died (bots/maintenance.py).
SETUP_TIMEOUT = dt.timedelta(seconds=30)
# Matrix clients repeat typing notifications while typing; one lasts this long unless renewed.
TYPING_SHOWN_FOR = dt.timedelta(seconds=30)


# What counsellors see the youth called (in the youth's join event).
YOUTH_NAME = "Ung (anonym)"


class SetupFailed(RuntimeError):
    """The conversation could not be set up on the homeserver; it is being cleaned up."""


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


async def _together(*steps: Awaitable[Any]) -> list[Any]:
    """Run steps at once; the first failure cancels the others and is raised as itself
    (not wrapped in a group), once they have all stopped."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _first_error(step: Awaitable[T], *, also: asyncio.Future[Any]) -> T:
    """`step`'s result, while `also` (started earlier, awaited later) runs beside it: if
    `also` fails first, that failure is raised at once rather than after `step`."""
    task = asyncio.ensure_future(step)
    try:
        await asyncio.wait([task, also], return_when=asyncio.FIRST_EXCEPTION)
        if also.done() and not also.cancelled() and also.exception() is not None:
            also.result()  # raises
        return await task
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def _stopped(*futures: asyncio.Future[Any] | None) -> None:
    """Cancel what is still running; a failure nobody awaited is not left unread."""
    running = [f for f in futures if f is not None]
    for future in running:
        future.cancel()
    await asyncio.gather(*running, return_exceptions=True)


class Conversations:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        repo: ConversationRepo,
        homeservers: Homeservers,
        voice: RoomVoice,
        lobby: Lobby,
        duty: DutyRoster,
        steps: Steps,
        signals: Signals,
        tasks: BackgroundTasks,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.repo = repo
        self.homeservers = homeservers
        self.voice = voice
        self.lobby = lobby
        self.duty = duty
        self.steps = steps
        self.signals = signals
        self.tasks = tasks
        self.admission = Admission()

    # -- requested → waiting --------------------------------------------------------------

    async def start(
        self,
        municipality: Municipality,
        kanal: str | None,
        answers: dict[str, str],
        *,
        overflow_from: str | None = None,
    ) -> tuple[str, str]:
        """Create the youth account and the room; returns (conversation id, session token).

        `overflow_from`: the municipality whose link the youth came by, when its chat
        could not answer and the youth accepted a partner's; its channel keeps the credit.
        """
        async with self.admission.place():  # Busy when the homeserver cannot take more
            return await self._start(municipality, kanal, answers, overflow_from)

    async def _start(
        self,
        municipality: Municipality,
        kanal: str | None,
        answers: dict[str, str],
        overflow_from: str | None,
    ) -> tuple[str, str]:
        link = self.homeservers.of(municipality)
        conv_id = secrets.token_hex(16)
        token = new_token()
        now = utcnow()
        conv = Conversation(
            id=conv_id,
            kommune=municipality.slug,
            homeserver=link.id,
            kanal=kanal,
            answers=answers,
            state=State.REQUESTED,
            token_hash=hash_token(token),
            transferred_from=overflow_from,
            overflow=overflow_from is not None,
            youth_user_id=link.registration.youth_user_id(conv_id),
            created_at=now,
            waiting_since=now,
            last_activity_at=now,
        )
        await self.repo.add(conv)
        bound = log.bind(conversation=conv_id, kommune=municipality.slug)
        try:
            async with asyncio.timeout(SETUP_TIMEOUT.total_seconds()):
                await self._set_up(conv, municipality, link)
        except Exception as exc:
            bound.error("setup_failed", error=type(exc).__name__)
            await self.close(conv_id, EndedBy.SYSTEM, outcome=Outcome.SETUP_FAILED)
            raise SetupFailed(str(exc)) from exc
        bound.info("conversation_started", kanal=kanal)
        return conv_id, token

    async def _set_up(self, conv: Conversation, m: Municipality, link: HomeserverLink) -> None:
        """The homeserver requests of a set-up, each made as soon as what it needs is
        there, so the set-up takes about as long as its longest chain (the room, then the
        space child or the lobby entry), not as long as all of them one after another:

            youth account ─────────────────────────┐
            room (inviting the youth) ─▶ room id saved ─┼▶ youth joins, named "Ung (anonym)"
                                                        ├▶ space child
                                                        └▶ lobby entry
            ─▶ waiting (or claiming, if a counsellor joined meanwhile)

        The room invites the youth by id before the account exists (the homeserver takes
        an invite for an account in the bot's namespace that is not registered yet), and
        the youth's name is in its join event rather than set on the account first. The
        room id is saved before the room is in the space or the lobby, so a counsellor who
        joins from there is found by it and claims the conversation (see
        _claim_during_set_up). Every request is idempotent as before (account in use, the
        alias as the room's key, the lobby entry's transaction id, a repeated join is the
        same event), so maintenance cleans up after a crash at any point as it always has;
        a failing request cancels the others and its error is raised as itself."""
        reg = link.registration
        youth = conv.youth_user_id
        assert youth is not None
        alias_localpart = reg.conversation_alias_localpart(conv.id)
        # Started now, needed later; whatever is left of them is stopped in `finally`.
        on_duty = asyncio.ensure_future(self.duty.on_duty(m.slug))
        registered: asyncio.Future[None] | None = None
        try:
            rooms = await self.homeservers.rooms(m)
            lang = m.counsellor_language
            body = shape.create_room_body(
                alias_localpart=alias_localpart,
                name=counsellor_text("room_name", lang, short=conv.id[:6]),
                topic=counsellor_text("room_topic", lang, kanal=conv.kanal or UNKNOWN_CHANNEL),
                space_id=rooms.space_id,
                server_name=reg.server_name,
                bot_user_id=reg.bot_user_id,
                youth_user_id=youth,
                kommune=conv.kommune,
                kanal=conv.kanal,
            )

            async def register() -> None:
                with contextlib.suppress(UserInUse):  # registered before a crash
                    await link.bot.register_appservice_user(youth.split(":", 1)[0][1:])

            async def create_room() -> str:
                try:
                    return await link.bot.create_room(body)
                except RoomInUse:  # created before a crash: the alias is the key
                    return await link.bot.resolve_alias(reg.alias(alias_localpart))

            registered = asyncio.ensure_future(register())
            room_id = await _first_error(create_room(), also=registered)
            await self.repo.set(conv.id, room_id=room_id)
            conv.room_id = room_id

            async def youth_joins() -> None:
                assert registered is not None
                await registered
                await link.bot.join_as(room_id, youth, {"displayname": YOUTH_NAME})

            async def in_space() -> None:
                await link.bot.put_state(
                    rooms.space_id,
                    "m.space.child",
                    shape.space_child_content([reg.server_name]),
                    room_id,
                )

            async def in_lobby() -> str:
                return await self.lobby.announce(
                    conv, m, on_duty=await on_duty, txn_id=f"lobby-{conv.id}"
                )

            _, _, lobby_event = await _together(youth_joins(), in_space(), in_lobby())
        finally:
            await _stopped(on_duty, registered)
        # The room is in the space before this: a counsellor may already have joined it,
        # and was recorded as the one to claim it (see _claim_during_set_up).
        if await self.repo.finish_set_up(conv.id, lobby_event_id=lobby_event) == State.CLAIMING:
            log.info("conversation_claimed", conversation=conv.id, kommune=conv.kommune)
            self.tasks.spawn(self.finish_claim(conv.id), name=f"claim-{conv.id}")

    # -- membership: claim, more counsellors, leaving -------------------------------------

    async def on_member(
        self, room_id: str, user_id: str, membership: str, event_id: str, sender: str = ""
    ) -> None:
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN:
            return
        if user_id == conv.youth_user_id and membership in ("leave", "ban"):
            if sender and not self.homeservers.is_ours(sender):  # a counsellor put the youth out
                await self.close(conv.id, EndedBy.COUNSELLOR)
            return
        if self.homeservers.is_ours(user_id):
            return
        if membership == "join":
            if not self.config.is_counsellor(user_id):
                # Restricted join lets in any member of the space, and a counsellor may
                # invite: someone not listed in the config must not read along unseen.
                log.warning("unlisted_member_joined", conversation=conv.id)
                key = f"unlisted-{short_hash(event_id)}"
                await self.steps.record(conv.id, key, StepKind.UNLISTED, user_id)
                return
            await self._counsellor_joined(conv, user_id, event_id)
        elif membership in ("leave", "ban") and user_id in conv.counsellors:
            await self._counsellor_left(conv, user_id, event_id)

    async def _counsellor_joined(self, conv: Conversation, user_id: str, event_id: str) -> None:
        counsellors = [*conv.counsellors, user_id] if user_id not in conv.counsellors else None
        if counsellors is None:
            return  # a profile change, not a new join
        if conv.state == State.REQUESTED and await self._claim_during_set_up(conv, user_id):
            return
        if await self.repo.transition(
            conv.id,
            [State.WAITING],
            State.CLAIMING,
            claimed_by=user_id,
            claimed_at=conv.claimed_at or utcnow(),
            counsellors=counsellors,
        ):
            log.info("conversation_claimed", conversation=conv.id, kommune=conv.kommune)
            self.tasks.spawn(self.finish_claim(conv.id), name=f"claim-{conv.id}")
            return
        key = f"more-{short_hash(event_id)}"
        await self.steps.record(
            conv.id, key, StepKind.ANOTHER_COUNSELLOR, user_id, counsellors=counsellors
        )

    async def _claim_during_set_up(self, conv: Conversation, user_id: str) -> bool:
        """A counsellor joined while the room is still being set up (it is in the space
        before its lobby entry exists): they are recorded as the one claiming it, and the
        set-up's last step makes it a claim. False if the set-up finished meanwhile."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == conv.id,
                    Conversation.state == State.REQUESTED.value,
                    Conversation.claimed_by.is_(None),
                )
                .values(
                    claimed_by=user_id,
                    claimed_at=utcnow(),
                    counsellors=[*conv.counsellors, user_id],
                )
            )
        if rows_changed(result) == 1:
            log.info("claimed_during_set_up", conversation=conv.id)
            return True
        fresh = await self.repo.get(conv.id)
        if fresh is not None and fresh.state == State.REQUESTED:
            # Someone else is already claiming it during set-up: one more counsellor.
            return False
        if fresh is not None:
            conv.state, conv.counsellors = fresh.state, fresh.counsellors
        return False

    async def _counsellor_left(self, conv: Conversation, user_id: str, event_id: str) -> None:
        remaining = [c for c in conv.counsellors if c != user_id]
        key = f"left-{short_hash(event_id)}"
        async with self.sessions.begin() as session:
            back_in_queue = not remaining and await transition_in(
                session,
                conv.id,
                [State.ACTIVE, State.CLAIMING],
                State.WAITING,
                counsellors=remaining,
                claimed_by=None,
                waiting_since=utcnow(),
                reminded_at=None,
            )
            if not back_in_queue:
                await session.execute(
                    update(Conversation)
                    .where(Conversation.id == conv.id)
                    .values(counsellors=remaining)
                )
            if not back_in_queue and not remaining:
                return  # waiting or being transferred: nobody to tell
            kind = StepKind.BACK_IN_QUEUE if back_in_queue else StepKind.ONE_COUNSELLOR_LEFT
            await add_step(session, conv.id, key, kind)
        self.tasks.spawn(self.steps.run(conv.id, key), name=f"{key}-{conv.id}")

    async def finish_claim(self, conv_id: str) -> None:
        conv = await self.repo.get(conv_id)
        if conv is None or conv.state != State.CLAIMING or conv.claimed_by is None:
            return
        m = self.config.require_municipality(conv.kommune)
        # One announcement per time in the queue, however often this step is retried.
        queued = conv.waiting_since or conv.created_at or utcnow()
        # The youth hears first, so the announcement comes before the counsellor's hello.
        await self.voice.tell_youth(conv, "counsellor_joined", f"claimed-{int(queued.timestamp())}")
        await self.voice.raise_power(conv, conv.claimed_by, m.supervisors_of(conv.claimed_by))
        await self.voice.set_metadata(conv, "active")
        if conv.lobby_event_id:
            await self.lobby.edit(
                conv,
                m,
                conv.lobby_event_id,
                "lobby_active",
                txn_id=f"active-{conv.id}-{int(queued.timestamp())}",
            )
        hint = counsellor_text("claimed_hint", m.counsellor_language)
        await self.voice.notice(conv, hint, "hint")
        if await self.repo.transition(conv.id, [State.CLAIMING], State.ACTIVE, claimed_by=None):
            self.signals.notify(conv.id)

    # -- messages -------------------------------------------------------------------------

    async def on_message(self, conv: Conversation, sender: str) -> None:
        """A person wrote (youth or counsellor): the conversation is not idle."""
        person = sender == conv.youth_user_id or not self.homeservers.is_ours(sender)
        await self.repo.bump(conv.id, activity=person)
        self.signals.notify(conv.id)

    async def on_counsellor_typing(self, room_id: str, typing: bool) -> None:
        """Persisted, so the youth's stream on any replica shows "Rådgiveren skriver …"."""
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN:
            return
        until = utcnow() + TYPING_SHOWN_FOR if typing else None
        if (conv.counsellor_typing_until is None) != (until is None) or typing:
            await self.repo.bump(conv.id, counsellor_typing_until=until)
            self.signals.notify(conv.id)

    async def on_counsellor_read(self, room_id: str, event_id: str) -> None:
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN:
            return
        if conv.counsellor_read_event_id != event_id:
            await self.repo.bump(conv.id, counsellor_read_event_id=event_id)
            self.signals.notify(conv.id)

    async def send_youth_message(self, conv: Conversation, body: str, txn_id: str) -> str:
        link = self.homeservers.get(conv.homeserver)
        assert conv.room_id is not None and conv.youth_user_id is not None
        event_id = await link.bot.send(
            conv.room_id,
            "m.room.message",
            {"msgtype": "m.text", "body": body},
            txn_id,
            as_user=conv.youth_user_id,
        )
        self.signals.notify(conv.id)
        return event_id

    # -- close → closing → (held →) purged ------------------------------------------------

    async def end_by_youth(self, conv: Conversation) -> None:
        await self.close(conv.id, EndedBy.YOUTH)

    async def close(
        self,
        conv_id: str,
        ended_by: EndedBy,
        *,
        outcome: Outcome | None = None,
        topics: Sequence[str] = (),
        wait: bool = False,
    ) -> bool:
        """Record the one anonymous stats row and enter `closing`, atomically; then finish
        (purge, or hold). False if the conversation was no longer open."""
        closed_at = utcnow()
        async with self.sessions.begin() as session:
            conv = await session.get(Conversation, conv_id)
            if conv is None or conv.state not in OPEN:
                return False
            outcome = outcome or outcome_of(conv, ended_by)
            all_topics = list(dict.fromkeys([*(conv.topics or []), *topics]))
            hold_until = closed_at + dt.timedelta(days=conv.hold_days) if conv.hold_days else None
            moved = await transition_in(
                session,
                conv_id,
                [State(conv.state)],
                State.CLOSING,
                closed_at=closed_at,
                outcome=outcome.value,
                ended_by=ended_by.value,
                topics=all_topics,
                counsellor_typing_until=None,
                hold_until=hold_until,
            )
            if not moved:
                return False
            session.add(stats_row(conv, closed_at, outcome, ended_by, all_topics))
        log.info("conversation_closed", conversation=conv_id, outcome=outcome.value)
        self.signals.notify(conv_id)
        if wait:
            await self.finish_close(conv_id)
        else:
            self.tasks.spawn(self.finish_close(conv_id), name=f"finish-{conv_id}")
        return True

    async def finish_close(self, conv_id: str) -> None:
        conv = await self.repo.get(conv_id)
        if conv is None or conv.state != State.CLOSING:
            return
        room_id = conv.room_id or await self._room_by_alias(conv)
        hold_until = conv.hold_until
        if room_id is not None and hold_until is not None and hold_until > utcnow():
            await self._hold(conv, room_id, hold_until)
            return
        if room_id is not None:
            await self._unlist(conv, room_id)
            m = self.config.municipality(conv.kommune)
            if m is not None and m.supervisors:  # a supervised conversation's side room
                await self.steps.coaching.remove(m, conv)
            await delete_everywhere(conv, room_id, taking_part(conv, self.homeservers.links))
        elif conv.youth_user_id:
            await self.homeservers.get(conv.homeserver).admin.erase_user(conv.youth_user_id)
        # Only the id and state stay, for a stream still open to say it ended, until
        # maintenance deletes the row: the stats row is the one record of it.
        await self.repo.transition(
            conv.id,
            [State.CLOSING],
            State.PURGED,
            purged_at=utcnow(),
            **FORGOTTEN_AT_PURGE,
        )
        log.info("conversation_purged", conversation=conv.id)
        self.signals.notify(conv.id)

    async def _hold(self, conv: Conversation, room_id: str, until: dt.datetime) -> None:
        await hold(conv, room_id, self.homeservers.get(conv.homeserver))
        m = self.config.require_municipality(conv.kommune)
        if conv.lobby_event_id:
            await self.lobby.edit(
                conv,
                m,
                conv.lobby_event_id,
                "lobby_held",
                txn_id=f"held-{conv.id}",
                with_link=True,
                until=until.astimezone(COPENHAGEN).strftime("%d.%m.%Y"),
                short=conv.id[:6],
            )
        await self.repo.transition(
            conv.id, [State.CLOSING], State.HELD, token_hash=None, claimed_by=None
        )
        self.signals.notify(conv.id)

    async def release_hold(self, conv_id: str) -> bool:
        """A hold that ran out, or `!slet`: delete the conversation now."""
        if not await self.repo.transition(
            conv_id, [State.HELD], State.CLOSING, hold_until=None, hold_days=None
        ):
            return False
        self.tasks.spawn(self.finish_close(conv_id), name=f"release-{conv_id}")
        return True

    async def _room_by_alias(self, conv: Conversation) -> str | None:
        """Set-up stopped before the room id was saved: find the room by its alias."""
        reg = self.homeservers.get(conv.homeserver).registration
        try:
            return await self.homeservers.get(conv.homeserver).bot.resolve_alias(
                reg.alias(reg.conversation_alias_localpart(conv.id))
            )
        except NotFound:
            return None

    async def _unlist(self, conv: Conversation, room_id: str) -> None:
        """Take the room out of the space and its entry out of the lobby."""
        try:
            m = self.config.require_municipality(conv.kommune)
            link = self.homeservers.of(m)
            rooms = await self.homeservers.rooms(m)
            await link.bot.put_state(rooms.space_id, "m.space.child", {}, room_id)
            # Not known when the bot died between posting the entry and hearing its id.
            entry = conv.lobby_event_id or await self.lobby.find_entry(m, room_id)
            if entry:
                await self.lobby.remove(
                    m, entry, "lobby_removed_closed", txn_id=f"closed-{conv.id}"
                )
        except (MatrixError, LookupError) as exc:  # a homeserver down: the next pass
            log.warning("unlist_failed", conversation=conv.id, error=type(exc).__name__)
