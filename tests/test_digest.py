"""The network digest: posted once when a period ends, in the sparring room, with the
report's suppressed numbers, and seen by counsellors on the other homeserver; posted
through another homeserver's bot while the room's own homeserver is down."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bots.config.hours import COPENHAGEN
from bots.db.models import ConversationStats, utcnow
from bots.sparring.digest import last_complete, title
from bots.stats.period import Period
from tests.federation_fixture import FederationFixture, full_state_reached
from tests.matrix_helpers import Counsellor
from tests.network_fixture import Network
from tests.stack_fixture import second_replica


def stats(
    kommune: str, day: dt.date, topics: list[str], kanal: str = "plakat"
) -> ConversationStats:
    return ConversationStats(
        kommune=kommune,
        date=day,
        hour=19,
        weekday=day.weekday(),
        kanal=kanal,
        answers={},
        topics=topics,
        wait_seconds=60,
        duration_seconds=900,
        outcome="answered",
        ended_by="counsellor",
    )


@pytest.mark.synapse
async def test_the_digest_is_posted_once_with_suppressed_numbers(network: Network) -> None:
    # A week in the future, which the bot's own maintenance loop does not reach meanwhile.
    now = utcnow() + dt.timedelta(weeks=4)
    week = last_complete("week", now)
    tuesday = week.start + dt.timedelta(days=1)
    rows = [stats("vestby", tuesday, ["ensomhed"]) for _ in range(6)]
    rows += [stats("vestby", tuesday, ["skole"]) for _ in range(3)]
    rows += [stats("oestby", tuesday, ["familie"], kanal="facebook") for _ in range(3)]
    async with network.bot.sessions.begin() as session:
        session.add_all(rows)

    # Two replicas see the week end at the same moment: one of them posts.
    replicas = (network.bot.digests, second_replica(network.bot).digests)
    posted = await asyncio.gather(*(r.post_due(now) for r in replicas))
    assert sorted(posted) == [False, True]
    # Posted: not again, by either.
    assert not any([await r.post_due(now + dt.timedelta(minutes=1)) for r in replicas])
    room, oest = network.sparring_room_id, network.oest
    heading = f"📊 Netværkets tal for uge {week.start.isocalendar().week} "

    def ours() -> list[str]:  # the bot's loop posts the real last week's digest beside it
        return [t for t in oest.texts_in(room) if t.startswith(heading)]

    (text,) = await oest.sync_until(ours)
    await oest.sync_until(lambda: True)
    assert len(ours()) == 1
    assert "Østby <5" in text  # three conversations: never shown as 3
    # Twelve in all and nine in Vestby would give Østby's three away: one is hidden too.
    assert not ("12 i alt" in text and "Vestby 9" in text)
    assert "Flest handlede om: ensomhed." in text  # skole (3) and familie (3) are too few
    assert "Flest unge kom via: Plakater." in text
    for secret in ("3 ", "familie", "skole"):
        assert secret not in text.replace("<5", "").split("\n", 1)[1]


@pytest.mark.synapse
async def test_the_digest_is_posted_while_the_rooms_homeserver_is_down(
    network: Network, federation: FederationFixture
) -> None:
    """hs1 hosts the sparring room and is down when the period ends: Østby's homeserver
    (hs2), whose bot is in the room, takes the digest, and hs1 gets it when it returns."""
    now = utcnow() + dt.timedelta(weeks=8)  # a week nobody else posts
    week = last_complete("week", now)
    room, vest, oest = network.sparring_room_id, network.vest, network.oest
    hs1, hs2 = federation.hs1, federation.hs2
    heading = f"📊 Netværkets tal for uge {week.start.isocalendar().week} "

    def ours(texts: list[str]) -> list[str]:
        return [t for t in texts if t.startswith(heading)]

    await full_state_reached(hs2, room)  # hs2 holds all of the sparring room
    await vest.stop()
    await hs1.local.stop()
    try:
        assert await second_replica(network.bot).digests.post_due(now)
        (text,) = await oest.sync_until(lambda: ours(oest.texts_in(room)))
        event = next(e for e in oest.sources(room) if e["content"]["body"] == text)
        assert event["sender"] == hs2.registration.bot_user_id
    finally:
        await hs1.local.start()
    again = await Counsellor(hs1.url, vest.user_id, vest.client.access_token).start()
    try:
        assert await again.sync_until(lambda: ours(again.texts_in(room)), 60) == [text]
    finally:
        await again.stop()


def test_periods_just_ended() -> None:
    wednesday = dt.datetime(2026, 11, 25, 12, tzinfo=COPENHAGEN)
    assert last_complete("week", wednesday) == Period(dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert last_complete("month", wednesday) == Period(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert last_complete("quarter", wednesday) == Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    january = dt.datetime(2027, 1, 2, tzinfo=COPENHAGEN)
    assert last_complete("quarter", january) == Period(dt.date(2026, 10, 1), dt.date(2026, 12, 31))
    assert title("month", last_complete("month", wednesday)) == "oktober 2026"
    assert title("week", last_complete("week", wednesday)) == "uge 47 (16.–22. november 2026)"
    assert title("quarter", last_complete("quarter", wednesday)) == "3. kvartal 2026"
