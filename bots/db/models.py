"""The bot's tables. No message text, no IP address, no user agent is ever stored here.

`conversations` holds the conversations in flight and drives the persisted state machine
(its states and moves: bots/conversation/states.py). A purged conversation's row is
stripped to its id and state at once, and deleted by maintenance after PURGED_ROW_KEPT.
`conversation_stats` is the anonymous record kept after a conversation ends: it has no
key that links back to a conversation, room or person.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import JSON, Boolean, DateTime, Dialect, Integer, MetaData, String, false, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Named constraints, so later migrations can alter them (SQLite's batch mode needs names).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment, stored in UTC and read back aware. SQLite keeps no time zone: without
    this, a Danish-time value would be stored as its wall-clock time and read back an
    hour or two off, and values would come back naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"a naive datetime cannot be stored: {value!r}")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, list[str]: JSON}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kommune: Mapped[str] = mapped_column(String(64), index=True)
    homeserver: Mapped[str] = mapped_column(String(64))
    kanal: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True, default="requested")
    # sha256 of the youth's session token; the token itself is only in the browser.
    token_hash: Mapped[str | None] = mapped_column(String(64))
    youth_user_id: Mapped[str | None] = mapped_column(String(255))
    room_id: Mapped[str | None] = mapped_column(String(255), index=True)
    lobby_event_id: Mapped[str | None] = mapped_column(String(255))
    # The counsellor whose join is being announced; cleared once the claim is done.
    claimed_by: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str | None] = mapped_column(String(32))
    topics: Mapped[list[str]] = mapped_column(default=list)
    # Bumped on every room event the youth may see; event streams on any replica
    # poll it to know when to fetch from the homeserver.
    event_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Counsellors in the room now, in the order they came (recorded, never guessed from
    # member counts); and homeserver ids besides `homeserver` that hold a copy of the
    # room after a transfer, so closing purges it from every one of them.
    counsellors: Mapped[list[str]] = mapped_column(default=list)
    homeservers: Mapped[list[str]] = mapped_column(default=list)
    # When the youth last joined the queue (at the start, after a transfer, or when the
    # counsellor left); the lobby shows it and the reminder counts from it.
    waiting_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # What the youth page shows of the counsellors' side: typing until, and the last
    # youth message a counsellor has read. Written from the homeserver's ephemeral push.
    counsellor_typing_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    counsellor_read_event_id: Mapped[str | None] = mapped_column(String(255))
    # The municipality the youth came to, when the conversation was transferred away
    # (it keeps the credit in the stats); and, while a transfer is being carried out,
    # the municipality it is leaving.
    transferred_from: Mapped[str | None] = mapped_column(String(64))
    previous_kommune: Mapped[str | None] = mapped_column(String(64))
    # Reminders already sent, so a restart does not send them twice.
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    hours_warned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # A counsellor's `!bevar N`: kept (read-only, youth removed) for N days after the end
    # instead of purged; `hold_until` is set from it when the conversation closes.
    hold_days: Mapped[int | None] = mapped_column(Integer)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(16))
    # The youth came by a closed municipality's link and accepted an open partner's chat
    # (`transferred_from` is that municipality); cleared if it is later handed on by
    # `!overfør`, which makes it a transfer.
    overflow: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # When the youth's page was last connected (its event stream marks it about once a
    # minute): a youth who waits with the page open stays in the queue.
    youth_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When a counsellor called colleagues with `!akut`: its end is followed by care.
    akut_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Marked urgent (the youth's answer, or `!haster`): first in the queue.
    urgent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class PendingStep(Base):
    """What the bot still has to do for a conversation after a change that is already
    recorded (tell the youth a counsellor left, put it back in the lobby's queue, …).

    Written in the same database transaction as the change it follows, deleted once done,
    so a crash between the two leaves a row that the maintenance pass finishes. `key` is
    also the transaction id of what it sends, so doing it twice shows once.
    """

    __tablename__ = "pending_steps"

    conversation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class ConversationStats(Base):
    """One anonymous row per ended conversation."""

    __tablename__ = "conversation_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kommune: Mapped[str] = mapped_column(String(64), index=True)
    date: Mapped[dt.date] = mapped_column()
    hour: Mapped[int] = mapped_column(Integer)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    kanal: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    topics: Mapped[list[str]] = mapped_column(default=list)
    wait_seconds: Mapped[int | None] = mapped_column(Integer)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    ended_by: Mapped[str | None] = mapped_column(String(16))
    transferred_to: Mapped[str | None] = mapped_column(String(64))
    # The conversation was kept after its end by a counsellor's hold (duty to notify).
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The youth's one-tap "Fik du hjælp?" after the end, if given.
    feedback: Mapped[str | None] = mapped_column(String(16))
    # sha256 of a one-time token the youth's page gets at the end to give feedback with;
    # cleared once used or after a day, so the row links to nothing for long.
    feedback_token_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    feedback_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Duty(Base):
    """Who is on duty now (`!vagt start` / `!vagt slut`); the youth page shows only a count."""

    __tablename__ = "duty"

    kommune: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class HandledEvent(Base):
    """Room events the bot has handled, by the homeserver that delivered them and the
    event id, so an event pushed again (a retried transaction, or found again by the
    catch-up) is not handled twice.

    Event ids are the one thing that cannot repeat: a homeserver's transaction ids can
    (Synapse on SQLite numbers them from 1 again after a restart). A room that spans two
    homeservers (after a transfer) has each event delivered by both, and each delivery is
    the router's to judge (bots/events.py). Kept for `HANDLED_EVENTS_KEPT`
    (bots/handled_events.py), longer than the catch-up looks back.
    """

    __tablename__ = "handled_events"

    homeserver: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    handled_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class CatchUpHorizon(Base):
    """Since when the catch-up (bots/catch_up.py) reads a homeserver's rooms: events from
    before the bot first caught up there were handled before event ids were recorded,
    and must not be handled again."""

    __tablename__ = "catch_up_horizons"

    homeserver: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PageView(Base):
    """Youth-page visits counted per municipality, channel and local day: a count only,
    nothing per visit or per person, no time finer than the day (see bots/intake/page_views.py)."""

    __tablename__ = "page_views"

    kommune: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A configured channel, or "ukendt" for none or a tag the municipality does not use.
    kanal: Mapped[str] = mapped_column(String(64), primary_key=True)
    date: Mapped[dt.date] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Digest(Base):
    """A network digest for one period: posted once, by whichever replica claims it first.

    `claimed_at` is the lease of the replica posting it: only one may hold it, and a lease
    left by a replica that died runs out so another posts instead. `posted_at` is set once
    the message is sent; the message's transaction id keeps a retry from showing twice.
    """

    __tablename__ = "digests"

    room: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[dt.date] = mapped_column(primary_key=True)
    period_end: Mapped[dt.date] = mapped_column(primary_key=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Letter(Base):
    """A letter in the letterbox (bots/letters/): one room in the municipality's space,
    found by a young person only with the pickup code, of which only a slow hash is kept.

    The letter's text lives only in its Matrix room, like a chat's; this row holds what
    the bot needs to run it and delete it: its state, its room, its Brevkasse entry,
    and the moments that decide when it is deleted.
    """

    __tablename__ = "letters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kommune: Mapped[str] = mapped_column(String(64), index=True)
    homeserver: Mapped[str] = mapped_column(String(64))
    kanal: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # requested → waiting ⇄ answered → closing → (row deleted); held after closing.
    state: Mapped[str] = mapped_column(String(16), index=True, default="requested")
    # The pickup code's slow hash (bots/letters/codes.py), and the sha256 of the session
    # token the last opening handed out; neither opens anything from the database alone.
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64))
    youth_user_id: Mapped[str | None] = mapped_column(String(255))
    room_id: Mapped[str | None] = mapped_column(String(255), index=True)
    entry_event_id: Mapped[str | None] = mapped_column(String(255))
    topics: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # The first counsellor answer, and the latest one the youth has not opened yet.
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    unread_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the youth last opened it with an answer in it (the deletion counts from it).
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # When the youth last wrote (the letter and each reply): the promise counts from it.
    youth_wrote_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Pings and reminders already sent for the youth's latest words.
    pinged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reminded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    ended_by: Mapped[str | None] = mapped_column(String(16))
    hold_days: Mapped[int | None] = mapped_column(Integer)
    hold_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class LetterStats(Base):
    """One anonymous row per letter, written when it is deleted: no key back to it."""

    __tablename__ = "letter_stats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kommune: Mapped[str] = mapped_column(String(64), index=True)
    date: Mapped[dt.date] = mapped_column()
    hour: Mapped[int] = mapped_column(Integer)
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    kanal: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    topics: Mapped[list[str]] = mapped_column(default=list)
    # From the letter to the first answer (None: never answered).
    answer_seconds: Mapped[int | None] = mapped_column(Integer)
    answer_read: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    ended_by: Mapped[str | None] = mapped_column(String(16))
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
