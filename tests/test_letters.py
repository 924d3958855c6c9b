"""The letterbox against a real Synapse: a letter written while the chat is closed,
answered by a counsellor in Element's way (matrix-nio), read with the code, replied to,
and deleted by each route (the youth's DELETE, expiry, the end of a hold) with the
letter's text gone from every table of both databases; and an attacker's wrong codes,
foreign tokens and floods."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bots.db.models import LetterStats, utcnow
from bots.letters.codes import words
from tests.db_scan import tables_containing
from tests.letter_helpers import Writer, letter_room, letter_state, letterbox_of
from tests.stack_fixture import Stack

pytestmark = pytest.mark.synapse


@pytest.fixture(autouse=True)
def no_earlier_wrong_codes(stack: Stack) -> None:
    """Other tests (the fuzz) try codes from the same address; each test starts afresh."""
    stack.code_guesses.clear()


def canary() -> str:
    return f"kanariefugl-{secrets.token_hex(8)}"


async def nowhere(stack: Stack, needle: str) -> None:
    """`needle` is in no table of Synapse's database nor of the bot's."""
    assert await asyncio.to_thread(tables_containing, stack.synapse.database_path, needle) == []
    bot_db = Path(stack.config.database.split("///", 1)[1])
    assert await asyncio.to_thread(tables_containing, bot_db, needle) == []


async def test_a_letter_written_while_closed_is_answered_read_replied_to_and_deleted(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    secret = canary()
    youth = await Writer(stack.intake, http).write(
        "lukketby", f"Hej. Jeg tør ikke sige det til nogen. {secret}", kanal="facebook"
    )
    # The code: six words of the list, shown once.
    assert re.fullmatch(r"[a-zæøå]+(-[a-zæøå]+){5}", youth.code)
    assert all(w in words() for w in youth.code.split("-"))

    # The counsellor finds it in the Brevkasse (not in Kø) with a link, and joins it.
    counsellor = stack.counsellors[0]
    box = await letterbox_of(stack, "lukketby", counsellor)
    room = await letter_room(stack, youth.letter)
    entry = await counsellor.sync_until(lambda: [t for t in counsellor.texts_in(box) if room in t])
    assert "venter på svar" in entry[0] and "facebook" in entry[0]
    assert not [t for t in counsellor.texts_in(stack.rooms["lukketby"].lobby_id) if room in t]
    await counsellor.join(room)
    assert any(secret in t for t in await counsellor.history(room))

    # Nothing to read yet but the letter itself.
    status, _ = await youth.open()
    assert status == 200
    status, read = await youth.read()
    assert status == 200 and read["state"] == "waiting"
    assert [m["from"] for m in read["messages"]] == ["youth"]

    # A note stays hidden; an ordinary message answers the letter.
    await counsellor.say(room, "!intern hun lyder bange, tag den blidt")
    await counsellor.say(room, "Hej, tak for dit brev. Det var modigt at skrive.")
    await letter_state(stack, youth.letter, "answered")
    await counsellor.sync_until(
        lambda: any("er besvaret" in str(c.get("body")) for c in counsellor.queue(box).values())
    )

    # Read on another device: the code typed in capitals with spaces.
    other = Writer(stack.intake, http, letter=youth.letter)
    status, opened = await other.open(youth.code.upper().replace("-", "  "))
    assert status == 200 and opened["letter"] == youth.letter
    status, read = await other.read()
    assert status == 200 and read["state"] == "answered"
    assert [(m["from"], m["body"]) for m in read["messages"]] == [
        ("youth", f"Hej. Jeg tør ikke sige det til nogen. {secret}"),
        ("counsellor", "Hej, tak for dit brev. Det var modigt at skrive."),
    ]
    assert dt.datetime.fromisoformat(read["expires_at"]) > utcnow() + dt.timedelta(days=6)
    for value in map(str, read["messages"]):
        assert counsellor.user_id not in value and "intern" not in value
    # The first device's token was replaced by the second opening.
    assert (await youth.read())[0] == 403

    # The slow conversation goes on: the youth writes back, the letter waits again.
    assert await other.reply("Tak. Må jeg skrive igen, hvis det bliver værre?") == 202
    await letter_state(stack, youth.letter, "waiting")
    await counsellor.sync_until(
        lambda: "Tak. Må jeg skrive igen, hvis det bliver værre?" in counsellor.texts_in(room)
    )

    # Deleted at once by the youth: the room, the account, the entry; the text nowhere.
    assert await other.delete() == 200
    assert (await other.read())[0] == 404
    assert (await other.open(youth.code))[0] == 404
    await letter_state(stack, youth.letter, None)
    status, _ = await stack.admin("GET", f"/_synapse/admin/v1/rooms/{room}")
    assert status == 404
    await counsellor.sync_until(
        lambda: (
            not [
                e
                for e in counsellor.queue(box)
                if room in str(counsellor.queue(box)[e].get("body"))
            ]
        )
    )
    await nowhere(stack, secret)
    async with stack.bot.sessions() as session:
        rows = (await session.execute(select(LetterStats))).scalars().all()
    assert any(
        r.kommune == "lukketby"
        and r.kanal == "facebook"
        and r.answer_read
        and r.ended_by == "youth"
        for r in rows
    )


async def test_letters_expire_after_being_read_or_at_their_maximum_age(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The clock, driven through days: the counsellors are reminded before the promised
    answer time runs out; a letter read with an answer goes a week after, one never
    opened at its maximum age; both leave no text behind."""
    counsellor = stack.counsellors[0]
    box = await letterbox_of(stack, "testby", counsellor)
    read_secret, unread_secret = canary(), canary()
    read = await Writer(stack.intake, http).write("testby", f"Første brev {read_secret}")
    unread = await Writer(stack.intake, http).write("testby", f"Andet brev {unread_secret}")
    room = await letter_room(stack, read.letter)
    await letter_room(stack, unread.letter)
    clock, now = stack.bot.letter_clock, utcnow()

    # Two days in (three were promised), nobody has answered: a reminder that pings.
    await clock.run(now + dt.timedelta(days=2, hours=1))
    reminders = await counsellor.sync_until(
        lambda: [
            c for c in counsellor.sources(box) if "skal besvares senest" in c["content"]["body"]
        ]
    )
    assert counsellor.user_id in reminders[0]["content"]["m.mentions"]["user_ids"]

    await counsellor.join(room)
    await counsellor.say(room, "Hej! Her er mit svar.")
    await letter_state(stack, read.letter, "answered")
    assert (await read.open())[0] == 200

    # Seven days after it was last opened with its answer, the read one goes.
    await clock.run(utcnow() + dt.timedelta(days=7, minutes=1))
    await letter_state(stack, read.letter, None)
    assert (await unread.open())[0] == 200  # not read with an answer: still there
    await nowhere(stack, read_secret)

    # At thirty days every letter goes.
    await clock.run(now + dt.timedelta(days=30, minutes=1))
    await letter_state(stack, unread.letter, None)
    assert (await unread.open())[0] == 404
    await nowhere(stack, unread_secret)


async def test_a_kept_letter_stays_read_only_until_its_hold_runs_out(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    secret = canary()
    youth = await Writer(stack.intake, http).write("testby", f"Der sker noget derhjemme {secret}")
    room = await letter_room(stack, youth.letter)
    counsellor = stack.counsellors[1]
    await counsellor.join(room)
    await counsellor.say(room, "!bevar 3")
    await counsellor.sync_until(
        lambda: any("bevares i 3 dage" in t for t in counsellor.texts_in(room))
    )
    assert (await youth.open())[0] == 200
    assert await youth.delete() == 200

    # Gone for the youth, kept for the counsellors to write the notification from.
    await letter_state(stack, youth.letter, "held")
    assert (await youth.open(youth.code))[0] == 404
    assert any(secret in t for t in await counsellor.history(room))

    await stack.bot.letter_clock.run(utcnow() + dt.timedelta(days=3, minutes=1))
    await letter_state(stack, youth.letter, None)
    await nowhere(stack, secret)


async def test_wrong_codes_foreign_tokens_and_floods_open_nothing(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    stack.code_guesses.clear()  # the other tests' deleted letters' codes counted too
    mine = await Writer(stack.intake, http).write("testby", "Mit brev")
    theirs = await Writer(stack.intake, http).write("testby", "Et andet brev")
    assert (await mine.open())[0] == 200 and (await theirs.open())[0] == 200

    # Another letter's token opens nothing of mine; no token, no letter.
    assert (await mine.read(token=theirs.token))[0] == 403
    async with http.get(mine.url()) as r:
        assert r.status == 401
    async with http.delete(mine.url(), headers=theirs.auth) as r:
        assert r.status == 403

    # Wrong codes, one word off, made-up words, rubbish: all the same answer.
    one_off = mine.code.split("-")
    one_off[-1] = next(w for w in words() if w != one_off[-1])
    tries = ["-".join(one_off), "hest-hest-hest-hest-hest-hest", "x" * 150, ""]
    answers = [await mine.open(code) for code in tries]
    assert {status for status, _ in answers} == {404}
    assert len({str(body) for _, body in answers}) == 1
    try:
        # A flood: refused after 20 wrong codes, then even the right code is refused.
        for i in range(16):
            assert (await mine.open(f"forkert {i}"))[0] == 404
        status, body = await mine.open()
        assert status == 429 and body["errcode"] == "M_LIMIT_EXCEEDED"
    finally:
        stack.code_guesses.clear()
    assert (await mine.open())[0] == 200
    await asyncio.gather(mine.delete(), theirs.delete())
