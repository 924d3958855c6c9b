"""What keeps the counsellors' side honest when people forget or make mistakes: duty
that ends on its own, someone who is not a counsellor joining a conversation, a
counsellor who puts the youth out, a hold changed back, and steps a crash left undone.
Against a real Synapse, with counsellors as real Matrix clients."""

from __future__ import annotations

import datetime as dt

import aiohttp
import pytest
from sqlalchemy import update

from bots.config.hours import COPENHAGEN
from bots.conversation.states import State
from bots.conversation.steps import StepKind, add_step
from bots.conversation.store import transition_in
from bots.db.models import Duty, PendingStep, utcnow
from tests.matrix_helpers import Counsellor
from tests.stack_fixture import Stack
from tests.test_counsellors import command, stats_row, taken, wait_for_state

pytestmark = pytest.mark.synapse


async def set_shift_start(stack: Stack, kommune: str, user_id: str, since: dt.datetime) -> None:
    async with stack.bot.sessions.begin() as session:
        await session.execute(
            update(Duty).where(Duty.kommune == kommune, Duty.user_id == user_id).values(since=since)
        )


def last_opening_of_lukketby(stack: Stack, now: dt.datetime) -> dt.datetime:
    """A moment inside lukketby's most recent opening (it is open one hour, one day a week)."""
    m = stack.config.municipality("lukketby")
    assert m is not None
    for days in range(1, 8):
        day = (now - dt.timedelta(days=days)).astimezone(COPENHAGEN).date()
        for interval in m.opening_hours.intervals_on(day):
            opens, _ = interval.on(day)
            return opens + dt.timedelta(minutes=30)
    raise AssertionError("lukketby was never open last week")


async def test_duty_ends_when_the_chat_closes_or_lasts_too_long(stack: Stack) -> None:
    c0, c1 = stack.counsellors[:2]
    roster, now = stack.bot.duty, utcnow()
    lukketby, testby = stack.rooms["lukketby"].lobby_id, stack.rooms["testby"].lobby_id
    # c0 went on duty in lukketby during its last opening and forgot `!vagt slut`.
    await command(c0, lukketby, "!vagt start")
    await set_shift_start(stack, "lukketby", c0.user_id, last_opening_of_lukketby(stack, now))
    # c1 has been on duty in the always-open testby for 13 hours.
    await command(c1, testby, "!vagt start")
    await set_shift_start(stack, "testby", c1.user_id, now - dt.timedelta(hours=13))
    # Someone who is no longer a counsellor there is still on the roster.
    await roster.start("testby", "@tidligere:ungechat.test")
    assert await roster.count("testby") == 2

    assert await stack.bot.maintenance.run(now) >= 3
    assert await roster.on_duty("lukketby") == []
    assert await roster.on_duty("testby") == []
    closed = await c0.sync_until(
        lambda: [t for t in c0.texts_in(lukketby) if "Chatten er lukket" in t]
    )
    assert c0.user_id in closed[0] and "Tak for i dag" in closed[0]
    long = await c1.sync_until(lambda: [t for t in c1.texts_in(testby) if "12 timer" in t])
    assert c1.user_id in long[0] and "!vagt start" in long[0]
    # Nothing more is said about a former counsellor.
    await c1.sync_until(lambda: True)
    assert not any("tidligere" in t for t in c1.texts_in(testby))
    # A second pass finds nobody to take off and says nothing again.
    await stack.bot.maintenance.run(now + dt.timedelta(minutes=1))
    await c0.sync_until(lambda: True)
    assert len([t for t in c0.texts_in(lukketby) if "Chatten er lukket" in t]) == 1


async def test_going_on_duty_before_the_chat_opens_is_fine(stack: Stack) -> None:
    c0 = stack.counsellors[0]
    lukketby = stack.rooms["lukketby"].lobby_id
    m = stack.config.municipality("lukketby")
    assert m is not None and not m.opening_hours.is_open(utcnow())
    await command(c0, lukketby, "!vagt start")  # closed now: it opens later in the week
    await stack.bot.maintenance.run(utcnow())
    assert await stack.bot.duty.on_duty("lukketby") == [c0.user_id]
    await command(c0, lukketby, "!vagt slut")


async def test_someone_not_listed_who_joins_is_removed_and_never_obeyed(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    c0 = stack.counsellors[0]
    youth, room_id, _ = await taken(stack, http, c0)
    # A counsellor invites someone by mistake, a Matrix account not in the config: the
    # homeserver refuses, only the bot may invite (an invited outsider could read the
    # whole history before the bot took them out).
    user_id, _, token = await stack.synapse.new_user("udenfor")
    outsider = Counsellor(stack.homeserver, user_id, token)
    status, body = await c0.request(
        "POST", f"/_matrix/client/v3/rooms/{room_id}/invite", {"user_id": user_id}
    )
    assert status == 403, body
    # Someone unlisted can still be a member of the counsellors' space (put there by
    # hand), and the join rule lets the space's members in.
    bot = stack.bot.homeservers.get("local").bot
    space_id = stack.rooms["testby"].space_id
    await bot.invite(space_id, user_id)
    try:
        await outsider.join(space_id)
        await outsider.join(room_id)
        sent = [
            await outsider.request(
                "PUT",
                f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}",
                {"msgtype": "m.text", "body": body},
            )
            for txn, body in (("a", "!luk"), ("b", "Hej, jeg læser også med."))
        ]
        # Out of the room, and the counsellors are told why.
        notice = await c0.sync_until(
            lambda: [t for t in c0.texts_in(room_id) if "er ikke rådgiver" in t]
        )
        assert user_id in notice[0]
        status, members = await c0.request(
            "GET", f"/_matrix/client/v3/rooms/{room_id}/joined_members"
        )
        assert user_id not in members["joined"]
    finally:
        await bot.kick(space_id, user_id)
        await outsider.client.close()
    # Whatever they managed to send before they were out was not obeyed, nor shown.
    assert any(status == 200 for status, _ in sent), sent
    assert (await stack.bot.repo.get(youth.conversation)).state == State.ACTIVE
    await c0.say(room_id, "Er du her stadig?")
    await youth.wait_for(lambda e: e.get("body") == "Er du her stadig?")
    assert not any("læser også med" in str(e) for e in youth.received)
    assert not any(user_id in str(e) for e in youth.received)
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_a_counsellor_who_puts_the_youth_out_ends_the_conversation(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    c0 = stack.counsellors[0]
    youth, room_id, conv = await taken(stack, http, c0, kanal="kort")
    status, body = await c0.request(
        "POST", f"/_matrix/client/v3/rooms/{room_id}/kick", {"user_id": conv.youth_user_id}
    )
    assert status == 200, body
    await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    row = await stats_row(stack, kommune="testby", kanal="kort", ended_by="counsellor")
    assert row.outcome == "answered"
    await youth.stop_listening()


async def test_a_hold_taken_back_is_deleted_at_the_end(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    c0 = stack.counsellors[0]
    youth, room_id, _ = await taken(stack, http, c0)
    assert "3 dage" in (await command(c0, room_id, "!bevar 3"))[0]
    assert "slettes, når den slutter" in (await command(c0, room_id, "!bevar 0"))[0]
    await command(c0, room_id, "!luk skole")
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    assert (await stats_row(stack, kommune="testby", topics=["skole"])).held is False
    await youth.stop_listening()


async def test_what_a_crash_left_undone_after_a_counsellor_left_is_done_once(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The last counsellor left; the process recorded that (back to waiting, a step to
    take) and died before telling anyone. The next maintenance pass does it, once."""
    c0 = stack.counsellors[0]
    lobby = stack.rooms["testby"].lobby_id
    youth, _, _ = await taken(stack, http, c0)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    # What the crashed process had written, in one transaction, and nothing more.
    async with stack.bot.sessions.begin() as session:
        assert await transition_in(
            session,
            youth.conversation,
            [State.ACTIVE],
            State.WAITING,
            counsellors=[],
            waiting_since=utcnow(),
        )
        await add_step(session, youth.conversation, "left-crashed", StepKind.BACK_IN_QUEUE)
    later = utcnow() + dt.timedelta(minutes=2)  # the step is stale by then
    await stack.second_replica().maintenance.run(later)
    await stack.second_replica().maintenance.run(later)  # a second replica, or a retry
    await youth.wait_for(lambda e: e.get("key") == "counsellor_left")
    assert (
        "venter igen"
        in (await c0.sync_until(lambda: [t for t in c0.texts_in(lobby) if "venter igen" in t]))[0]
    )
    await c0.sync_until(lambda: True)
    assert sum(e.get("key") == "counsellor_left" for e in youth.received) == 1
    async with stack.bot.sessions() as session:
        assert await session.get(PendingStep, (youth.conversation, "left-crashed")) is None
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_a_claim_cut_off_by_a_crash_is_finished_without_a_second_hello(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The process died after telling the youth "a counsellor has joined" but before it
    recorded the claim as done: the next pass finishes it, and the youth hears it once."""
    c0 = stack.counsellors[0]
    youth, room_id, conv = await taken(stack, http, c0)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    # As the row was when that process died (not a move the machine makes: set by hand).
    await stack.bot.repo.set(
        conv.id,
        state=State.CLAIMING.value,
        claimed_by=c0.user_id,
        claimed_at=utcnow() - dt.timedelta(minutes=2),  # stale: its process is gone
    )
    await stack.second_replica().maintenance.run(utcnow())
    await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)
    await c0.say(room_id, "Hej igen.")
    await youth.wait_for(lambda e: e.get("body") == "Hej igen.")
    assert sum(e.get("key") == "counsellor_joined" for e in youth.received) == 1
    assert await youth.end() == 200
    await youth.stop_listening()
