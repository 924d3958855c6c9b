"""The counsellor's practice (issue 15), against a real Synapse with counsellors as
Matrix clients: prepared answers (`!svar`) reach the youth as the counsellor's own
message, with the municipality's details filled in; an urgent conversation goes first
in the queue, pings those on duty once and tells the youth about 112; after a heavy
conversation the counsellor gets a private, kind word and the staff room an anonymous
one."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import aiohttp
import pytest
from nio import RoomSendError

from bots.config.model import DANGER_QUESTION, LocalText
from bots.conversation.states import State
from tests.config_swap import municipality_changed, reconfigured
from tests.db_scan import tables_containing
from tests.matrix_helpers import Counsellor
from tests.stack_fixture import Stack
from tests.test_counsellors import command, started, stats_row, taken
from tests.waiting import wait_for_state

pytestmark = pytest.mark.synapse

SERVICES = LocalText(
    "Du kan også ringe til BørneTelefonen på 116 111 (døgnet rundt) eller skrive til "
    "{tjeneste} igen, når vi åbner {åbner}.",
    "You can also call BørneTelefonen on 116 111 (day and night).",
)


async def test_a_prepared_answer_reaches_the_youth_as_the_counsellors_message(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    config = stack.bot.config
    network = {"headspace": LocalText("headspace har rådgivning i {kommune}: headspace.dk")}
    own = {"tjenester": SERVICES}
    with (
        reconfigured(config, prepared_answers=network),
        municipality_changed(config, "testby", prepared_answers=own),
    ):
        c = stack.counsellors[0]
        youth, room_id, conv = await taken(stack, http, c)

        listed = (await command(c, room_id, "!svar"))[0]
        assert "!svar headspace" in listed and "!svar tjenester" in listed
        help_text = (await command(c, room_id, "!hjælp"))[0]
        assert "Forberedte svar (!svar NAVN): headspace, tjenester" in help_text

        await c.say(room_id, "!svar tjenester")
        shown = await youth.wait_for(lambda e: "BørneTelefonen" in str(e.get("body", "")))
        assert shown["from"] == "counsellor"  # as if they typed it: nothing says "prepared"
        assert "{" not in shown["body"] and "Ungechat Testby" in shown["body"]
        assert "key" not in shown

        await c.say(room_id, "!answer headspace")
        shown = await youth.wait_for(lambda e: "headspace.dk" in str(e.get("body", "")))
        assert shown == {**shown, "from": "counsellor", "body": shown["body"]}
        assert "rådgivning i Testby" in shown["body"]

        unknown = (await command(c, room_id, "!svar flyvemaskine"))[0]
        assert "flyvemaskine" in unknown and "!svar headspace" in unknown
        # The commands themselves never reach the youth; each answer exactly once.
        bodies = youth.messages()
        assert not [b for b in bodies if b.startswith("!")]
        assert sum("BørneTelefonen" in b for b in bodies) == 1
        assert conv.room_id == room_id


def coaching_room(c: Counsellor, short: str) -> str | None:
    """The supervised conversation's side room, once `c` is invited to it or in it."""
    rooms = {**c.client.invited_rooms, **c.client.rooms}
    name = f"Sparring om samtale {short}"
    return next((r for r, room in rooms.items() if room.name == name), None)


def care_room(c: Counsellor) -> str | None:
    """The counsellor's direct room with the bot, once invited to it or in it."""
    rooms = {**c.client.invited_rooms, **c.client.rooms}
    return next((r for r, room in rooms.items() if room.name == "Ungechat – til dig"), None)


async def test_after_a_heavy_conversation_the_counsellor_is_looked_after(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    config = stack.bot.config
    staff = stack.rooms["testby"].staff_id
    c, colleague = stack.counsellors[0], stack.counsellors[1]
    with municipality_changed(config, "testby", heavy_topics=("selvskade",)):
        # An ordinary ending: no word to anyone.
        youth, room_id, _ = await taken(stack, http, c)
        await command(c, room_id, "!luk krop")
        await wait_for_state(stack.bot.repo, youth.conversation, State.PURGED)

        # A heavy topic: a private, kind word to the counsellor, an anonymous note to
        # the staff room.
        youth, room_id, conv = await taken(stack, http, c)
        await command(c, room_id, "!luk selvskade")
        room = await c.sync_until(lambda: care_room(c))
        await c.join(room)
        private = await c.sync_until(lambda: [t for t in c.texts_in(room) if "tung" in t])
        assert "Tag en pause" in private[0] and "kollega" in private[0]
        note = "En tung samtale er lige afsluttet"
        await colleague.sync_until(lambda: any(note in t for t in colleague.texts_in(staff)))
        shared = [t for t in colleague.texts_in(staff) if note in t]
        assert len(shared) == 1  # only the heavy one
        for text in [*private, *shared]:  # nothing about the youth, the room or who
            assert "selvskade" not in text and conv.id[:6] not in text
            assert room_id not in text and c.user_id not in text

        # `!akut` during a conversation makes its end heavy too; the same room again.
        youth, room_id, conv = await taken(stack, http, c)
        await command(c, room_id, "!akut")
        await command(c, room_id, "!luk krop")
        await c.sync_until(lambda: len([t for t in c.texts_in(room) if "tung" in t]) == 2)
        assert care_room(c) == room
        await colleague.sync_until(
            lambda: len([t for t in colleague.texts_in(staff) if note in t]) == 2
        )


def pings(c: Counsellor, lobby: str, root: str) -> list[dict]:
    """The thread replies under a Kø entry that mention `c`."""
    return [
        e["content"]
        for e in c.sources(lobby)
        if (e["content"].get("m.relates_to") or {}).get("event_id") == root
        and c.user_id in (e["content"].get("m.mentions") or {}).get("user_ids", [])
    ]


async def test_an_urgent_conversation_goes_first_and_pings_once(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    config = stack.bot.config
    lobby = stack.rooms["testby"].lobby_id
    c = stack.counsellors[0]
    testby = config.require_municipality("testby")
    with municipality_changed(config, "testby", questions=(*testby.questions, DANGER_QUESTION)):
        await command(c, lobby, "!vagt start")
        try:
            first = await started(stack, http, "testby")
            second = await started(stack, http, "testby", answers={"fare": "ja"})
            # The one in danger is told what to do if it cannot wait, and goes first.
            told = await second.wait_for(lambda e: e.get("key") == "urgent_wait")
            assert "112" in told["body"]
            await second.wait_for(lambda e: e.get("type") == "queue" and e["position"] == 1)
            await first.wait_for(lambda e: e.get("type") == "queue" and e["position"] == 2)
            conv = await stack.bot.repo.get(second.conversation)
            assert conv is not None and conv.urgent_at is not None and conv.lobby_event_id
            entry = lambda: (c.queue(lobby).get(conv.lobby_event_id) or {}).get("body", "")  # noqa: E731
            await c.sync_until(lambda: entry().startswith("🔴 HASTER"))
            await c.sync_until(lambda: pings(c, lobby, conv.lobby_event_id))

            # A counsellor's `!haster ID` on the other: the same, once however often typed.
            other = await stack.bot.repo.get(first.conversation)
            assert other is not None and other.lobby_event_id
            short = other.id[:6]
            assert "haster nu" in (await command(c, lobby, f"!haster {short}"))[0]
            await command(c, lobby, f"!haster {short}")
            await first.wait_for(lambda e: e.get("key") == "urgent_wait")
            await c.sync_until(lambda: pings(c, lobby, other.lobby_event_id))
            assert len(pings(c, lobby, conv.lobby_event_id)) == 1
            assert len(pings(c, lobby, other.lobby_event_id)) == 1
            assert [e for e in first.received if e.get("key") == "urgent_wait"][1:] == []
            # Both urgent now: among them, whoever has waited longest goes first.
            for youth, place in ((first, 1), (second, 2)):
                now = await stack.bot.repo.get(youth.conversation)
                assert now is not None and await stack.bot.duty.queue_position(now) == place

            # Counted as urgent in the anonymous record.
            room = conv.room_id or ""
            await c.join(room)
            await wait_for_state(stack.bot.repo, second.conversation, State.ACTIVE)
            await command(c, room, "!luk seksualitet")
            await wait_for_state(stack.bot.repo, second.conversation, State.PURGED)
            row = await stats_row(stack, kommune="testby", topics=["seksualitet"], urgent=True)
            assert row.wait_seconds is not None
            assert await first.end() == 200
        finally:
            await command(c, lobby, "!vagt slut")


async def test_going_off_duty_with_conversations_asks_what_becomes_of_them(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    lobby = stack.rooms["testby"].lobby_id
    c = stack.counsellors[0]
    await command(c, lobby, "!vagt start")
    kept_youth, _, kept = await taken(stack, http, c)
    youth, room_id, conv = await taken(stack, http, c)

    asked = (await command(c, lobby, "!vagt slut"))[0]
    assert kept.id[:6] in asked and conv.id[:6] in asked and "overdrag" in asked
    assert c.user_id in await stack.bot.duty.on_duty("testby")  # nothing done yet

    # Handed over: out of both rooms, both back in the queue, the youths told.
    await command(c, lobby, "!vagt slut overdrag")
    for young, row in ((kept_youth, kept), (youth, conv)):
        await wait_for_state(stack.bot.repo, row.id, State.WAITING)
        await young.wait_for(lambda e: e.get("key") == "counsellor_left")
    assert c.user_id not in await stack.bot.duty.on_duty("testby")

    # Kept: off duty, still in the conversation, which goes on.
    await command(c, lobby, "!vagt start")
    await c.join(room_id)
    await wait_for_state(stack.bot.repo, conv.id, State.ACTIVE)
    await command(c, lobby, "!vagt slut behold")
    assert c.user_id not in await stack.bot.duty.on_duty("testby")
    await c.say(room_id, "Jeg er her stadig.")
    await youth.wait_for(lambda e: e.get("body") == "Jeg er her stadig.")
    assert (await stack.bot.repo.get(conv.id)).state == State.ACTIVE
    for young in (kept_youth, youth):
        assert await young.end() == 200


GUIDE = Path(__file__).parent.parent / "docs" / "counsellors.md"


async def test_the_guides_shift_is_a_real_run(stack: Stack, http: aiohttp.ClientSession) -> None:
    """docs/counsellors.md shows a shift as the bot really answers it, command by command,
    from this run against a real Synapse (Element itself is not packaged where this is
    built; these are the messages it shows). UNGECHAT_UPDATE_DOCS=1 writes the sample."""
    config = stack.bot.config
    lobby = stack.rooms["testby"].lobby_id
    c = stack.counsellors[0]
    answers = {"tjenester": SERVICES}
    shift: list[tuple[str, str]] = []

    async def run(room: str, text: str) -> None:
        shift.append((text, (await command(c, room, text))[0]))

    with municipality_changed(config, "testby", prepared_answers=answers):
        await run(lobby, "!vagt start")
        youth = await started(stack, http, "testby")
        conv = await wait_for_state(stack.bot.repo, youth.conversation, State.WAITING)
        await run(lobby, f"!haster {conv.id[:6]}")
        room = conv.room_id or ""
        await c.join(room)
        await wait_for_state(stack.bot.repo, conv.id, State.ACTIVE)
        await run(room, "!svar")
        await run(room, "!emne krop")
        await run(room, "!akut")
        await run(room, "!bevar 3")
        await run(room, "!bevar 0")
        await run(room, "!luk krop")
        await run(lobby, "!vagt slut")
    names = {c.user_id: "@anna:halsnaes.dk", conv.id[:6]: "3f2a9c"}
    text = ""
    for said, answered in shift:
        for real, sample in names.items():
            said, answered = said.replace(real, sample), answered.replace(real, sample)
        answered = re.sub(r"\d\d\.\d\d\.\d{4}", "05.12.2026", answered)
        text += f"> {said}\n" + "".join(f"  {line}\n" for line in answered.splitlines())
    docs = GUIDE.read_text(encoding="utf-8")
    marker = "<!-- generated: shift -->\n```\n"
    start = docs.index(marker) + len(marker)
    end = docs.index("```\n", start)
    if os.environ.get("UNGECHAT_UPDATE_DOCS"):
        docs = docs[:start] + text + docs[end:]
        GUIDE.write_text(docs, encoding="utf-8")
        end = start + len(text)
    assert docs[start:end] == text, (
        f"the shift in {GUIDE} is not what the bot answers; run this test with "
        f"UNGECHAT_UPDATE_DOCS=1 to write it:\n{text}"
    )


async def test_a_supervisor_reads_a_trainees_conversation_and_cannot_write(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Read-only by the room's power levels: the homeserver refuses the supervisor's
    message. The youth is told plainly that one more reads along."""
    config = stack.bot.config
    trainee, supervisor = stack.counsellors[0], stack.counsellors[1]
    with municipality_changed(
        config, "testby", trainees=(trainee.user_id,), supervisors=(supervisor.user_id,)
    ):
        youth, room_id, conv = await taken(stack, http, trainee)
        await youth.wait_for(lambda e: e.get("key") == "counsellor_joined")
        await supervisor.join(room_id)
        told = await youth.wait_for(lambda e: e.get("key") == "supervisor_reading")
        assert "læser med" in told["body"]

        refused = await supervisor.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": "Hej fra supervisor"}
        )
        assert isinstance(refused, RoomSendError) and refused.status_code == "M_FORBIDDEN"
        await trainee.say(room_id, "Hej, jeg er her.")
        await youth.wait_for(lambda e: e.get("body") == "Hej, jeg er her.")
        assert "Hej fra supervisor" not in youth.messages()
        assert not [e for e in youth.received if e.get("key") == "another_counsellor_joined"]

        # A side room for the two of them, in the space, deleted with the conversation.
        side = await trainee.sync_until(lambda: coaching_room(trainee, conv.id[:6]))
        await trainee.join(side)
        await supervisor.join(side)
        await supervisor.say(side, "Godt spørgsmål du stillede der.")
        assert "Godt spørgsmål du stillede der." not in youth.messages()
        canary = f"kanariefugl-{conv.id[:8]}"
        await trainee.say(side, f"Hvad gør jeg nu? {canary}")
        assert await youth.end() == 200
        await wait_for_state(stack.bot.repo, conv.id, State.PURGED)
        status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{side}")
        assert status == 404  # gone from the homeserver, with what was said in it
        found = await asyncio.to_thread(tables_containing, stack.synapse.database_path, canary)
        assert found == []
