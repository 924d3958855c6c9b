"""The conversation's life, as one persisted state machine.

    requested ──set up──▶ waiting ──counsellor joins──▶ claiming ──announced──▶ active
        │                   │                                                   │
        └──(setup failed)───┴───────────── close ──────────────────────────────┘
                                             ▼
                                          closing ──room and youth account deleted──▶ purged

Every step is persisted before its side effects, and every side effect is idempotent
(room alias as the key of room creation, deterministic transaction ids for messages),
so `resume()` after a crash or restart finishes whatever was under way from the
database alone. Handlers for homeserver events persist and hand the slow part
(announcing, purging) to background tasks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots import conversation_room as shape
from bots.config import Config, Municipality
from bots.db.models import Conversation, ConversationStats, Outcome, State
from bots.db.repo import ConversationRepo, transition_in, utcnow
from bots.feedback import FEEDBACK_WINDOW, feedback_key, hash_token
from bots.matrix.errors import Forbidden, NotFound, RoomInUse, UserInUse
from bots.matrix.links import Directory, HomeserverLink
from bots.signals import Signals
from bots.tasks import BackgroundTasks
from bots.texts import COUNSELLOR, youth_text

log = structlog.get_logger(__name__)
COPENHAGEN = ZoneInfo("Europe/Copenhagen")
OPEN_STATES = (State.REQUESTED, State.WAITING, State.CLAIMING, State.ACTIVE)
# A step left unfinished this long is taken as abandoned by a crashed process.
STALE_AFTER = dt.timedelta(seconds=60)
# Matrix clients repeat typing notifications while typing; one lasts this long unless renewed.
TYPING_SHOWN_FOR = dt.timedelta(seconds=30)


class SetupFailed(RuntimeError):
    """The conversation could not be set up on the homeserver; it is being cleaned up."""


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything here is stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Conversations:
    def __init__(
        self,
        config: Config,
        sessions: async_sessionmaker[AsyncSession],
        links: dict[str, HomeserverLink],
        signals: Signals,
        tasks: BackgroundTasks,
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.repo = ConversationRepo(sessions)
        self.links = links
        self.directory = Directory()
        self.signals = signals
        self.tasks = tasks

    def link_for(self, conv: Conversation) -> HomeserverLink:
        return self.links[conv.homeserver]

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
        link = self.links[municipality.homeserver]
        conv_id = secrets.token_hex(16)
        token = secrets.token_urlsafe(32)
        conv = Conversation(
            id=conv_id,
            kommune=municipality.slug,
            homeserver=link.id,
            kanal=kanal,
            answers=answers,
            state=State.REQUESTED,
            token_hash=hash_token(token),
            transferred_from=overflow_from,
            youth_user_id=link.registration.youth_user_id(conv_id),
            created_at=utcnow(),
        )
        await self.repo.add(conv)
        bound = log.bind(conversation=conv_id, kommune=municipality.slug)
        try:
            await self._set_up(conv, municipality, link)
        except Exception as exc:
            bound.error("setup_failed", error=type(exc).__name__)
            await self.close(conv_id, outcome=Outcome.SETUP_FAILED)
            raise SetupFailed(str(exc)) from exc
        bound.info("conversation_started", kanal=kanal)
        return conv_id, token

    async def _set_up(self, conv: Conversation, m: Municipality, link: HomeserverLink) -> None:
        reg = link.registration
        rooms = await self.directory.rooms(link, m.slug)
        youth = conv.youth_user_id
        assert youth is not None
        with contextlib.suppress(UserInUse):  # registered before a crash
            await link.bot.register_appservice_user(youth.split(":", 1)[0][1:])
        await link.bot.set_displayname(youth, "Ung (anonym)")
        alias_localpart = reg.conversation_alias_localpart(conv.id)
        body = shape.create_room_body(
            alias_localpart=alias_localpart,
            name=COUNSELLOR["room_name"].format(short=conv.id[:6]),
            topic=COUNSELLOR["room_topic"].format(kanal=conv.kanal or "ukendt"),
            space_id=rooms.space_id,
            server_name=reg.server_name,
            bot_user_id=reg.bot_user_id,
            youth_user_id=youth,
            kommune=conv.kommune,
            kanal=conv.kanal,
        )
        try:
            room_id = await link.bot.create_room(body)
        except RoomInUse:  # created before a crash: the alias is the key
            room_id = await link.bot.resolve_alias(reg.alias(alias_localpart))
        await self.repo.set(conv.id, room_id=room_id)
        conv.room_id = room_id
        await link.bot.join(room_id, as_user=youth)
        await link.bot.put_state(
            rooms.space_id, "m.space.child", shape.space_child_content(reg.server_name), room_id
        )
        lobby_event = await link.bot.send(
            rooms.lobby_id,
            "m.room.message",
            self._lobby_notice(conv, link, "lobby_waiting"),
            f"lobby-{conv.id}",
        )
        await self.repo.transition(
            conv.id,
            [State.REQUESTED],
            State.WAITING,
            lobby_event_id=lobby_event,
            last_activity_at=utcnow(),
        )

    def _lobby_notice(self, conv: Conversation, link: HomeserverLink, key: str) -> dict[str, Any]:
        answers = "".join(f" · {k}: {v}" for k, v in sorted((conv.answers or {}).items()))
        server = link.registration.server_name
        link_text = f"https://matrix.to/#/{conv.room_id}?via={server}"
        body = COUNSELLOR[key].format(kanal=conv.kanal or "ukendt", answers=answers, link=link_text)
        return {"msgtype": "m.notice", "body": body}

    async def _edit_lobby(self, conv: Conversation, key: str) -> None:
        if not conv.lobby_event_id:
            return
        link = self.link_for(conv)
        rooms = await self.directory.rooms(link, conv.kommune)
        new = self._lobby_notice(conv, link, key)
        content = {
            "msgtype": "m.notice",
            "body": f"* {new['body']}",
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": conv.lobby_event_id},
        }
        await link.bot.send(rooms.lobby_id, "m.room.message", content, f"{key}-{conv.id}")

    # -- waiting → claiming → active ------------------------------------------------------

    async def on_counsellor_join(self, room_id: str, user_id: str) -> None:
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN_STATES:
            return
        if await self.repo.transition(
            conv.id, [State.WAITING], State.CLAIMING, claimed_by=user_id, claimed_at=utcnow()
        ):
            log.info("conversation_claimed", conversation=conv.id, kommune=conv.kommune)
            self.tasks.spawn(self._finish_claim(conv.id), name=f"claim-{conv.id}")
        else:
            # A second counsellor: give them the same powers, say nothing to the youth yet.
            self.tasks.spawn(self._raise_power(conv, user_id), name=f"power-{conv.id}")

    async def _raise_power(self, conv: Conversation, user_id: str) -> None:
        link = self.link_for(conv)
        assert conv.room_id is not None
        levels = await link.bot.get_state(conv.room_id, "m.room.power_levels")
        if levels.get("users", {}).get(user_id, 0) >= shape.COUNSELLOR_POWER:
            return
        levels.setdefault("users", {})[user_id] = shape.COUNSELLOR_POWER
        await link.bot.put_state(conv.room_id, "m.room.power_levels", levels)

    async def _finish_claim(self, conv_id: str) -> None:
        conv = await self.repo.get(conv_id)
        if conv is None or conv.state != State.CLAIMING or conv.claimed_by is None:
            return
        link = self.link_for(conv)
        assert conv.room_id is not None
        # The youth hears first, so the announcement comes before the counsellor's hello.
        await link.bot.send(
            conv.room_id,
            "m.room.message",
            {
                "msgtype": "m.notice",
                "body": youth_text("counsellor_joined"),
                shape.YOUTH_VISIBLE: "counsellor_joined",
            },
            f"claimed-{conv.id}",
        )
        await self._raise_power(conv, conv.claimed_by)
        await link.bot.put_state(
            conv.room_id,
            shape.METADATA_EVENT,
            shape.metadata(kommune=conv.kommune, kanal=conv.kanal, status="active"),
        )
        await self._edit_lobby(conv, "lobby_active")
        if await self.repo.transition(conv.id, [State.CLAIMING], State.ACTIVE, claimed_by=None):
            self.signals.notify(conv.id)

    # -- messages and commands ------------------------------------------------------------

    async def on_room_message(self, room_id: str, sender: str, content: dict[str, Any]) -> None:
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN_STATES:
            return
        link = self.link_for(conv)
        body = content.get("body")
        from_counsellor = sender not in (conv.youth_user_id, link.registration.bot_user_id)
        if from_counsellor and isinstance(body, str) and body.startswith("!"):
            await self._command(conv, body)
            return
        await self.repo.bump(conv.id, activity=sender == conv.youth_user_id)
        self.signals.notify(conv.id)

    async def _command(self, conv: Conversation, body: str) -> None:
        # Issue-sized command set; the full registry with !hjælp comes with the counsellor work.
        name, *args = body[1:].split()
        if name.lower() in ("luk", "close"):
            await self.close(conv.id, outcome=Outcome.ANSWERED, topics=args)
            return
        link = self.link_for(conv)
        assert conv.room_id is not None
        await link.bot.send(
            conv.room_id,
            "m.room.message",
            {"msgtype": "m.notice", "body": COUNSELLOR["unknown_command"].format(command=name)},
            f"unknown-{conv.id}-{secrets.token_hex(4)}",
        )

    async def on_counsellor_typing(self, room_id: str, typing: bool) -> None:
        """Persisted, so the youth's stream on any replica shows "Rådgiveren skriver …"."""
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN_STATES:
            return
        until = utcnow() + TYPING_SHOWN_FOR if typing else None
        if (conv.counsellor_typing_until is None) != (until is None) or typing:
            await self.repo.bump(conv.id, counsellor_typing_until=until)
            self.signals.notify(conv.id)

    async def on_counsellor_read(self, room_id: str, event_id: str) -> None:
        conv = await self.repo.by_room(room_id)
        if conv is None or conv.state not in OPEN_STATES:
            return
        if conv.counsellor_read_event_id != event_id:
            await self.repo.bump(conv.id, counsellor_read_event_id=event_id)
            self.signals.notify(conv.id)

    async def send_youth_message(self, conv: Conversation, body: str, txn_id: str) -> str:
        link = self.link_for(conv)
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

    # -- close → closing → purged ---------------------------------------------------------

    async def end_by_youth(self, conv: Conversation) -> None:
        outcome = Outcome.ANSWERED if conv.claimed_at else Outcome.LEFT_WAITING
        await self.close(conv.id, outcome=outcome)

    async def close(
        self, conv_id: str, *, outcome: Outcome, topics: Sequence[str] = (), wait: bool = False
    ) -> bool:
        """Record the one anonymous stats row and enter `closing`, atomically; then purge."""
        closed_at = utcnow()
        async with self.sessions.begin() as session:
            conv = await session.get(Conversation, conv_id)
            if conv is None or conv.state not in OPEN_STATES:
                return False
            moved = await transition_in(
                session,
                conv_id,
                [State(conv.state)],
                State.CLOSING,
                closed_at=closed_at,
                outcome=outcome.value,
                topics=list(topics),
            )
            if not moved:
                return False
            session.add(stats_row(conv, closed_at, outcome, topics))
        log.info("conversation_closed", conversation=conv_id, outcome=outcome.value)
        self.signals.notify(conv_id)
        if wait:
            await self._purge(conv_id)
        else:
            self.tasks.spawn(self._purge(conv_id), name=f"purge-{conv_id}")
        return True

    async def _purge(self, conv_id: str) -> None:
        conv = await self.repo.get(conv_id)
        if conv is None or conv.state != State.CLOSING:
            return
        link = self.link_for(conv)
        room_id = conv.room_id
        if room_id is None:  # setup stopped before the room id was saved
            alias = link.registration.alias(link.registration.conversation_alias_localpart(conv.id))
            try:
                room_id = await link.bot.resolve_alias(alias)
            except NotFound:
                room_id = None
        if room_id is not None:
            await self._unlist(conv, link, room_id)
            await link.admin.delete_room_media(room_id)
            await link.admin.purge_room(room_id)
        if conv.youth_user_id:
            await link.admin.erase_user(conv.youth_user_id)
        await self.repo.transition(
            conv.id,
            [State.CLOSING],
            State.PURGED,
            purged_at=utcnow(),
            room_id=None,
            youth_user_id=None,
            token_hash=None,
            lobby_event_id=None,
            claimed_by=None,
            answers={},
        )
        log.info("conversation_purged", conversation=conv.id)
        self.signals.notify(conv.id)

    async def _unlist(self, conv: Conversation, link: HomeserverLink, room_id: str) -> None:
        """Take the room out of the space and mark its lobby notice closed."""
        try:
            rooms = await self.directory.rooms(link, conv.kommune)
            await link.bot.put_state(rooms.space_id, "m.space.child", {}, room_id)
            await self._edit_lobby(conv, "lobby_closed")
        except (NotFound, Forbidden) as exc:
            log.warning("unlist_failed", conversation=conv.id, error=exc.errcode)

    # -- resuming from the database -------------------------------------------------------

    async def resume(self, *, stale_only: bool = False) -> int:
        """Finish every step left under way; returns how many conversations were touched."""
        now = utcnow()
        touched = 0
        for conv in await self.repo.in_states([State.REQUESTED, State.CLAIMING, State.CLOSING]):
            since = aware(
                {State.REQUESTED: conv.created_at, State.CLAIMING: conv.claimed_at}.get(
                    State(conv.state), conv.closed_at
                )
            )
            if stale_only and since is not None and now - since < STALE_AFTER:
                continue
            # A REQUESTED row whose setup is not running any more never handed its token to
            # a browser (the 201 is sent only after `waiting`), so it is closed.
            if conv.state == State.REQUESTED:
                if since is not None and now - since < STALE_AFTER:
                    continue  # possibly still being set up by a live request
                await self.close(conv.id, outcome=Outcome.SETUP_FAILED, wait=True)
            elif conv.state == State.CLAIMING:
                await self._finish_claim(conv.id)
            else:
                await self._purge(conv.id)
            touched += 1
        if touched:
            log.info("conversations_resumed", count=touched)
        return touched


def stats_row(
    conv: Conversation, closed_at: dt.datetime, outcome: Outcome, topics: Sequence[str]
) -> ConversationStats:
    """The anonymous record: local date and hour, channel, answers, topics, wait, duration."""
    created = aware(conv.created_at) or closed_at
    claimed = aware(conv.claimed_at)
    local = created.astimezone(COPENHAGEN)
    return ConversationStats(
        # Counted for the municipality whose link brought the youth; who answered is
        # `transferred_to` when another municipality's counsellors took it over.
        kommune=conv.transferred_from or conv.kommune,
        transferred_to=conv.kommune if conv.transferred_from else None,
        date=local.date(),
        hour=local.hour,
        weekday=local.weekday(),
        kanal=conv.kanal,
        answers=dict(conv.answers or {}),
        topics=list(topics),
        wait_seconds=int((claimed - created).total_seconds()) if claimed else None,
        duration_seconds=int((closed_at - (claimed or created)).total_seconds()),
        outcome=outcome.value,
        feedback_token_hash=feedback_key(conv.token_hash) if conv.token_hash else None,
        feedback_until=closed_at + FEEDBACK_WINDOW if conv.token_hash else None,
    )
