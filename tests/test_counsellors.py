"""The counsellors' side in Element, against a real Synapse: duty, the lobby as the queue,
commands and their helpful refusals, notes that never reach the youth, more counsellors
joining and leaving, idle and end-of-hours endings, reminders, transfers and holds.

All three counsellors work for testby; 0 also for lukketby, 2 also for nordby
(whose counsellors read English); see tests/stack_fixture.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.config.hours import COPENHAGEN, Interval
from bots.conversation.states import State
from bots.db.models import Conversation, ConversationStats, utcnow
from tests.config_swap import municipality_changed
from tests.matrix_helpers import Counsellor, Youth
from tests.stack_fixture import Stack
from tests.waiting import wait_for_state

pytestmark = pytest.mark.synapse


async def room_of(stack: Stack, youth: Youth) -> str:
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.room_id
    return conv.room_id


async def command(c: Counsellor, room_id: str, text: str) -> list[str]:
    """Send a command as Element would, and wait for the bot's reply to it."""
    event_id = await c.say(room_id, text)
    return await c.sync_until(lambda: c.replies_to(room_id, event_id))


async def stats_row(stack: Stack, **where: Any) -> ConversationStats:
    async with stack.bot.sessions() as session:
        rows = (await session.execute(select(ConversationStats))).scalars().all()
    matching = [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]
    assert len(matching) == 1, [(r.kommune, r.topics, r.outcome) for r in rows]
    return matching[0]


def entry_id(c: Counsellor, lobby: str, room_id: str) -> str | None:
    """The lobby message that first linked to the conversation's room."""
    for event in c.sources(lobby):
        content = event["content"]
        if "m.relates_to" not in content and room_id in content.get("formatted_body", ""):
            return event["event_id"]
    return None


def entry(c: Counsellor, lobby: str, room_id: str) -> Callable[[], str | None]:
    """The lobby's current entry for a conversation, with its latest edit applied (None
    once it is gone from the queue)."""

    def find() -> str | None:
        event_id = entry_id(c, lobby, room_id)
        shown = c.queue(lobby).get(event_id or "")
        return shown["body"] if shown else None

    return find


async def entry_removed(c: Counsellor, lobby: str, room_id: str) -> str:
    """Wait until the conversation's entry is redacted, with its edits and thread (the
    channel and the answers must not outlive the conversation); returns the reason."""
    event_id = entry_id(c, lobby, room_id)
    assert event_id is not None
    await c.sync_until(lambda: event_id in c.redacted(lobby))
    related = [
        e["event_id"]
        for e in c.sources(lobby)
        if (e["content"].get("m.relates_to") or {}).get("event_id") == event_id
    ]
    await c.sync_until(lambda: set(related) <= set(c.redacted(lobby)))
    return c.redacted(lobby)[event_id]


async def entry_becomes(c: Counsellor, lobby: str, room_id: str, start: str) -> str:
    """Wait until the conversation's lobby entry starts with `start` (an emoji state)."""
    current = entry(c, lobby, room_id)
    await c.sync_until(lambda: (current() or "").startswith(start))
    return current() or ""


async def started(stack: Stack, http: aiohttp.ClientSession, kommune: str, **kw: Any) -> Youth:
    youth = await Youth(stack.intake, http).start(kommune, **kw)
    youth.listen()
    return youth


async def taken(
    stack: Stack, http: aiohttp.ClientSession, c: Counsellor, kommune: str = "testby", **kw: Any
) -> tuple[Youth, str, Conversation]:
    """A youth starts a conversation and counsellor `c` takes it: (youth, room, row)."""
    youth = await started(stack, http, kommune, **kw)
    room_id = await room_of(stack, youth)
    await c.join(room_id)
    return youth, room_id, await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)


async def test_duty_and_the_lobby_as_the_queue(stack: Stack, http: aiohttp.ClientSession):
    c0, c1 = stack.counsellors[:2]
    lobby = stack.rooms["testby"].lobby_id
    assert "er på vagt. På vagt nu: 1" in (await command(c0, lobby, "!vagt start"))[0]
    assert "På vagt nu: 2" in (await command(c1, lobby, "!duty start"))[0]
    assert "allerede på vagt" in (await command(c1, lobby, "!vagt start"))[0]
    assert await stack.bot.duty.count("testby") == 2

    youths = [
        await started(stack, http, "testby", kanal="plakat", answers={"heard_from": "facebook"}),
        await started(stack, http, "testby", kanal="facebook"),
        await started(stack, http, "testby", kanal="kort"),
    ]
    rooms = [await room_of(stack, y) for y in youths]
    # Three entries, waiting, with channel and answers; each pinged those on duty once.
    for room_id, kanal in zip(rooms, ["plakat", "facebook", "kort"], strict=True):
        text = await entry_becomes(c0, lobby, room_id, "🟡")
        assert f"kanal: {kanal}" in text and "venter siden" in text
    first = entry(c0, lobby, rooms[0])() or ""
    assert "Hvor har du hørt om chatten? Facebook" in first
    originals = [e for e in c0.sources(lobby) if rooms[0] in e["content"].get("body", "")]
    assert originals[0]["content"]["msgtype"] == "m.text"  # notices would not ping
    assert sorted(originals[0]["content"]["m.mentions"]["user_ids"]) == sorted(
        [c0.user_id, c1.user_id]
    )

    await c0.join(rooms[0])
    await c1.join(rooms[1])
    assert (await entry_becomes(c0, lobby, rooms[0], "🟢")).startswith("🟢 Samtale i gang")
    await entry_becomes(c0, lobby, rooms[1], "🟢")
    assert (entry(c0, lobby, rooms[2])() or "").startswith("🟡")  # still in the queue

    await command(c0, rooms[0], "!luk familie")
    # Out of the queue; Element shows the reason where the entry was.
    assert "afsluttet og slettet" in await entry_removed(c0, lobby, rooms[0])
    assert entry(c0, lobby, rooms[1])() is not None  # the others are still there
    assert await youths[1].end() == 200
    assert await youths[2].end() == 200
    await entry_removed(c0, lobby, rooms[1])
    await entry_removed(c0, lobby, rooms[2])
    assert not [room for room in rooms if entry(c0, lobby, room)()]
    # Every edit left the queue without a single new ping.
    edits = [e["content"] for e in c0.sources(lobby) if "m.new_content" in e["content"]]
    assert edits and all(e["m.mentions"] == {} for e in edits)

    assert (await stats_row(stack, kommune="testby", kanal="plakat", topics=["familie"])).outcome
    row = await stats_row(stack, kommune="testby", kanal="kort", outcome="left_while_waiting")
    assert row.ended_by == "youth" and row.wait_seconds is None
    assert "gået af vagt" in (await command(c0, lobby, "!vagt slut"))[0]
    assert "På vagt nu: 0" in (await command(c1, lobby, "!vagt slut"))[0]
    for youth in youths:
        await youth.stop_listening()


async def test_commands_help_and_refuse_kindly(stack: Stack, http: aiohttp.ClientSession):
    c0 = stack.counsellors[0]
    youth, room_id, _ = await taken(stack, http, c0)

    assert "Ukendt kommando: !flyv" in (await command(c0, room_id, "!flyv"))[0]
    refused = (await command(c0, room_id, "!luk flyvemaskine"))[0]
    assert "Ukendt emne: flyvemaskine" in refused and "ensomhed" in refused
    assert (await stack.bot.repo.get(youth.conversation)).state == State.ACTIVE
    assert "skole, venner" in (await command(c0, room_id, "!emne skole venner"))[0]
    help_text = (await command(c0, room_id, "!hjælp"))[0]
    for bound in stack.bot.router.commands.registry.commands:
        assert f"!{bound.spec.name}" in help_text
    assert "Kø" in (await command(c0, room_id, "!vagt start"))[0]  # works in the lobby
    assert "!overfør" in (await command(c0, room_id, "!overfør"))[0]
    assert "nordby" in (await command(c0, room_id, "!overfør atlantis"))[0]

    await command(c0, room_id, "!luk")
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    row = await stats_row(stack, kommune="testby", topics=["skole", "venner"])
    assert row.outcome == "answered" and row.ended_by == "counsellor"
    await youth.stop_listening()


async def test_english_for_counsellors_who_read_english(stack: Stack, http: aiohttp.ClientSession):
    c2 = stack.counsellors[2]
    lobby = stack.rooms["nordby"].lobby_id
    assert "is on duty. On duty now: 1" in (await command(c2, lobby, "!duty start"))[0]
    assert "Commands" in (await command(c2, lobby, "!help"))[0]
    assert "On duty now: 0" in (await command(c2, lobby, "!duty end"))[0]


async def test_only_counsellors_are_obeyed_and_notes_stay_inside(
    stack: Stack, http: aiohttp.ClientSession
):
    c0 = stack.counsellors[0]
    youth = await started(stack, http, "testby")
    room_id = await room_of(stack, youth)
    assert await youth.send("!luk") == 202  # a young person writing, not a command
    await c0.join(room_id)
    await c0.sync_until(lambda: "!luk" in c0.texts_in(room_id))
    await c0.say(room_id, "!intern Den unge virker presset – bliv lidt på.")
    await c0.say(room_id, "Hej, hvor godt du skriver.")
    await youth.wait_for(lambda e: e.get("body") == "Hej, hvor godt du skriver.")
    await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)  # not closed by "!luk"
    assert youth.messages("youth") == ["!luk"]
    assert not any("presset" in str(e) for e in youth.received)
    assert not any(e.get("from") == "system" and "Ukendt" in e["body"] for e in youth.received)
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_more_counsellors_join_and_leave(stack: Stack, http: aiohttp.ClientSession):
    c0, c1 = stack.counsellors[:2]
    lobby = stack.rooms["testby"].lobby_id
    youth = await started(stack, http, "testby")
    room_id = await room_of(stack, youth)
    await c0.join(room_id)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
    await c1.join(room_id)
    await youth.wait_for(lambda e: e.get("key") == "another_counsellor_joined")
    await c1.leave(room_id)
    await youth.wait_for(lambda e: e.get("key") == "one_counsellor_left")
    assert (await stack.bot.repo.get(youth.conversation)).state == State.ACTIVE
    await c0.leave(room_id)
    await youth.wait_for(lambda e: e.get("key") == "counsellor_left")
    await youth.wait_for(lambda e: e == {"type": "status", "status": "waiting"})
    assert "venter igen" in await entry_becomes(c1, lobby, room_id, "🟡 Samtalen venter igen")
    await c1.join(room_id)
    await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)
    await youth.wait_for(
        lambda _: sum(x.get("key") == "counsellor_joined" for x in youth.received) == 2
    )
    for event in youth.received:  # never a name or a Matrix id
        assert "@" not in str(event.get("body", ""))
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_idle_conversations_end(stack: Stack, http: aiohttp.ClientSession):
    c0 = stack.counsellors[0]
    answered = await started(stack, http, "testby", kanal="facebook")
    unanswered = await started(stack, http, "testby", kanal="kort")
    patient = await started(stack, http, "testby", kanal="hjemmeside")
    await c0.join(await room_of(stack, answered))
    await wait_for_state(stack.bot.repo, answered.conversation, State.ACTIVE)
    later = utcnow() + dt.timedelta(minutes=31)
    # The patient youth's page is still open a minute before: waiting is not being idle.
    await stack.bot.repo.mark_youth_seen(patient.conversation, later - dt.timedelta(minutes=1))
    assert await stack.bot.maintenance.run(later) >= 2
    for youth in (answered, unanswered):
        await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
        await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    assert any(e.get("key") == "closed_idle" for e in answered.received)
    assert any(e.get("key") == "closed_unanswered" for e in unanswered.received)
    for kanal, outcome in (("facebook", "answered"), ("kort", "unanswered")):
        row = await stats_row(stack, kommune="testby", kanal=kanal, ended_by="idle")
        assert row.outcome == outcome
    assert (await stack.bot.repo.get(patient.conversation)).state == State.WAITING
    assert await patient.end() == 200
    for youth in (answered, unanswered, patient):
        await youth.stop_listening()


@contextlib.contextmanager
def open_all_day_today(stack: Stack, slug: str) -> Iterator[dt.datetime]:
    """The running bot's config with `slug` open all of today (Danish time), as a dated
    exception would make it; yields when it closes tonight. The bot's own maintenance
    loop, which runs on the real clock, then leaves its conversations alone."""
    today = utcnow().astimezone(COPENHAGEN).date()
    hours = stack.config.require_municipality(slug).opening_hours
    all_day = {today: (Interval.parse("00:00-24:00"),)}
    opening_hours = dataclasses.replace(hours, exceptions=all_day)
    with municipality_changed(stack.config, slug, opening_hours=opening_hours):
        yield dt.datetime.combine(today + dt.timedelta(days=1), dt.time(0), COPENHAGEN)


async def test_end_of_opening_hours_with_grace(stack: Stack, http: aiohttp.ClientSession):
    """Lukketby's conversations at the end of its opening hours (open all of today here;
    the bot's maintenance is driven to the moment it closes tonight and past it)."""
    c0 = stack.counsellors[0]
    convs = stack.bot
    with open_all_day_today(stack, "lukketby") as closes:
        m = stack.config.municipality("lukketby")
        assert m is not None and m.opening_hours.is_open(utcnow())
        assert not m.opening_hours.is_open(closes)
        talking_id, talking_token = await convs.conversations.start(m, "facebook", {})
        waiting_id, waiting_token = await convs.conversations.start(m, None, {})
        talking = Youth(stack.intake, http, conversation=talking_id, token=talking_token)
        waiting = Youth(stack.intake, http, conversation=waiting_id, token=waiting_token)
        talking.listen()
        waiting.listen()
        conv = await convs.repo.get(talking_id)
        await c0.join(conv.room_id)
        await wait_for_state(stack.bot.repo, talking_id, State.ACTIVE)
        # As if both had written just before closing time (nobody is idle then).
        for conv_id in (talking_id, waiting_id):
            await convs.repo.set(conv_id, last_activity_at=closes - dt.timedelta(minutes=2))

        await stack.bot.maintenance.run(closes - dt.timedelta(minutes=1))  # still open
        assert (await convs.repo.get(waiting_id)).state == State.WAITING
        closed = closes + dt.timedelta(seconds=1)
        await stack.bot.maintenance.run(closed)
        # Nobody had answered the waiting youth: told so at once, and closed.
        await waiting.wait_for(lambda e: e.get("key") == "closed_unanswered")
        await wait_for_state(stack.bot.repo, waiting_id, State.PURGED)
        # The talking youth gets a kind word and ten minutes to round off.
        warning = await talking.wait_for(lambda e: e.get("key") == "hours_ending")
        assert "10 minutter" in warning["body"]
        await stack.bot.maintenance.run(closed + dt.timedelta(minutes=5))
        assert (await convs.repo.get(talking_id)).state == State.ACTIVE
        await stack.bot.maintenance.run(closed + dt.timedelta(minutes=10, seconds=1))
        await talking.wait_for(lambda e: e == {"type": "status", "status": "closed"})
        await wait_for_state(stack.bot.repo, talking_id, State.PURGED)
    row = await stats_row(stack, kommune="lukketby", kanal="facebook", ended_by="hours")
    assert row.outcome == "answered"
    for youth in (talking, waiting):
        await youth.stop_listening()


async def test_a_waiting_youth_with_nobody_on_duty_is_reminded(
    stack: Stack, http: aiohttp.ClientSession
):
    c2 = stack.counsellors[2]
    lobby = stack.rooms["nordby"].lobby_id
    assert await stack.bot.duty.count("nordby") == 0
    youth = await started(stack, http, "nordby")
    conv = await wait_for_state(stack.bot.repo, youth.conversation, State.WAITING)
    await stack.bot.maintenance.run(utcnow() + dt.timedelta(minutes=4))
    await stack.bot.maintenance.run(utcnow() + dt.timedelta(minutes=6))
    await stack.bot.maintenance.run(utcnow() + dt.timedelta(minutes=7))  # not twice
    await c2.sync_until(lambda: c2.thread(lobby, conv.lobby_event_id))
    # A second reminder would have been sent before this, and arrive before it.
    marker = await c2.say(lobby, "Jeg kigger på køen.")
    await c2.sync_until(lambda: any(e["event_id"] == marker for e in c2.sources(lobby)))
    reminders = c2.thread(lobby, conv.lobby_event_id)
    assert len(reminders) == 1
    assert reminders[0]["msgtype"] == "m.text"
    assert reminders[0]["m.mentions"] == {"user_ids": [c2.user_id]}
    assert "nobody is on duty" in reminders[0]["body"]
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_transfer_to_another_municipality(stack: Stack, http: aiohttp.ClientSession):
    c0, c2 = stack.counsellors[0], stack.counsellors[2]
    youth, room_id, _ = await taken(stack, http, c0, kanal="plakat")
    # Not to a chat that is closed, nor to one where nobody would take it.
    closed = (await command(c0, room_id, "!overfør lukketby"))[0]
    assert "Lukketby Kommunes chat er lukket lige nu (den åbner" in closed
    nobody = (await command(c0, room_id, "!overfør nordby"))[0]
    assert "Ingen i Nordby Kommune er på vagt" in nobody
    assert (await stack.bot.repo.get(youth.conversation)).state == State.ACTIVE
    nordby_lobby = stack.rooms["nordby"].lobby_id
    await command(c2, nordby_lobby, "!duty start")
    assert "Nordby Kommune" in (await command(c0, room_id, "!overfør nordby"))[0]
    moved = await youth.wait_for(lambda e: e.get("key") == "transferred")
    assert "Nordby" in moved["body"]
    await wait_for_state(stack.bot.repo, youth.conversation, State.WAITING)
    # Now in nordby's space and queue, out of testby's; the testby entry's removal says where.
    assert room_id in await c2.space_children(stack.rooms["nordby"].space_id)
    assert room_id not in await c0.space_children(stack.rooms["testby"].space_id)
    incoming = await entry_becomes(c2, stack.rooms["nordby"].lobby_id, room_id, "🟡")
    assert "transferred from Testby Kommune" in incoming
    assert "Nordby" in await entry_removed(c0, stack.rooms["testby"].lobby_id, room_id)

    await c2.join(room_id)  # allowed through nordby's space
    await wait_for_state(stack.bot.repo, youth.conversation, State.ACTIVE)
    await c2.sync_until(lambda: "!overfør nordby" in c2.texts_in(room_id))  # history
    await command(c2, room_id, "!close")
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    row = await stats_row(stack, kommune="testby", transferred_to="nordby")
    assert row.outcome == "transferred" and row.kanal == "plakat"
    await command(c2, nordby_lobby, "!duty end")
    await youth.stop_listening()


async def test_a_transfer_cut_off_by_a_crash_is_finished(stack: Stack, http: aiohttp.ClientSession):
    youth = await started(stack, http, "testby")
    conv = await wait_for_state(stack.bot.repo, youth.conversation, State.WAITING)
    # What `!overfør nordby` persists before its side effects, and then the process died.
    assert await stack.bot.repo.transition(
        conv.id,
        [State.WAITING],
        State.TRANSFERRING,
        kommune="nordby",
        previous_kommune="testby",
        transferred_from="testby",
        last_activity_at=utcnow() - dt.timedelta(minutes=2),
    )
    assert await stack.bot.maintenance.resume(utcnow(), stale_only=True) >= 1
    await wait_for_state(stack.bot.repo, conv.id, State.WAITING)
    await youth.wait_for(lambda e: e.get("key") == "transferred")
    c2 = stack.counsellors[2]
    assert conv.room_id in await c2.space_children(stack.rooms["nordby"].space_id)
    assert await youth.end() == 200
    await youth.stop_listening()


async def test_a_hold_keeps_the_room_until_it_runs_out(stack: Stack, http: aiohttp.ClientSession):
    c0 = stack.counsellors[0]
    youth, room_id, _ = await taken(stack, http, c0)
    assert await youth.send("Min stedfar slår mig.") == 202
    capped = (await command(c0, room_id, "!bevar 365"))[0]
    assert "Højst 14 dage" in capped and "14 dage" in capped
    assert "3 dage" in (await command(c0, room_id, "!bevar 3"))[0]
    assert "bevares skrivebeskyttet" in (await command(c0, room_id, "!luk vold familie"))[0]

    held = await wait_for_state(stack.bot.repo, youth.conversation, State.HELD)
    await youth.wait_for(lambda e: e == {"type": "status", "status": "closed"})
    async with http.get(youth.url("events"), headers=youth.auth) as r:
        assert r.status == 404  # the youth's token opens nothing any more
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 200
    status, user = await stack.admin("GET", f"/_synapse/admin/v2/users/{held.youth_user_id}")
    assert user["deactivated"] is True
    # Read-only for counsellors, who can still read what the youth wrote.
    status, body = await c0.request(
        "PUT",
        f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t-{held.id}",
        {"msgtype": "m.text", "body": "hej"},
    )
    assert status == 403, body
    assert "Min stedfar slår mig." in c0.texts_in(room_id)
    row = await stats_row(stack, kommune="testby", topics=["vold", "familie"])
    assert row.held is True
    # Three days from the end, not from when `!bevar` was typed.
    kept = held.hold_until - held.closed_at
    assert abs(kept - dt.timedelta(days=3)) < dt.timedelta(seconds=1)

    await stack.bot.maintenance.run(utcnow() + dt.timedelta(days=2))
    assert (await stack.bot.repo.get(held.id)).state == State.HELD
    await stack.bot.maintenance.run(utcnow() + dt.timedelta(days=3, minutes=1))
    await wait_for_state(stack.bot.repo, held.id, State.PURGED)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    status, user = await stack.admin("GET", f"/_synapse/admin/v2/users/{held.youth_user_id}")
    assert user["erased"] is True
    await youth.stop_listening()


async def test_delete_a_held_conversation_sooner(stack: Stack, http: aiohttp.ClientSession):
    c0 = stack.counsellors[0]
    lobby = stack.rooms["testby"].lobby_id
    youth, room_id, _ = await taken(stack, http, c0)
    await command(c0, room_id, "!bevar")
    await command(c0, room_id, "!luk")
    await wait_for_state(stack.bot.repo, youth.conversation, State.HELD)
    short = youth.conversation[:6]
    held_entry = await entry_becomes(c0, lobby, room_id, "🔒")
    assert f"!slet {short}" in held_entry
    assert short in (await command(c0, lobby, "!slet"))[0]  # lists what is kept
    assert "slettes nu" in (await command(c0, lobby, f"!slet {short}"))[0]
    await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room_id}")
    assert status == 404
    await youth.stop_listening()


async def test_akut_alerts_colleagues_in_the_staff_room(stack: Stack, http: aiohttp.ClientSession):
    c0, c1 = stack.counsellors[:2]
    lobby, staff = stack.rooms["testby"].lobby_id, stack.rooms["testby"].staff_id
    await command(c1, lobby, "!vagt start")
    youth, room_id, _ = await taken(stack, http, c0)
    assert "personalerummet" in (await command(c0, room_id, "!akut"))[0]
    alerts = await c1.sync_until(
        lambda: [e["content"] for e in c1.sources(staff) if room_id in e["content"]["body"]]
    )
    assert alerts[0]["msgtype"] == "m.text"
    assert alerts[0]["m.mentions"] == {"user_ids": [c1.user_id]}
    assert not any("🚨" in str(e) for e in youth.received)
    await command(c1, lobby, "!vagt slut")
    assert await youth.end() == 200
    await youth.stop_listening()
