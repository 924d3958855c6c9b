"""The intake API's answers to good and bad requests, in Matrix's error shape, checked
against its OpenAPI file; the event stream's queue, typing, read marks, corrections and
deletions with real counsellors on a real Synapse."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bots.config import parse_config
from bots.db.models import ConversationStats, State
from bots.hours import COPENHAGEN
from bots.intake.info import hours_fields
from bots.intake.pages import STATIC_DIR
from bots.lifecycle import OPEN_STATES
from tests.intake_helpers import conforms, on_duty, partners
from tests.matrix_helpers import Youth
from tests.offline_config import offline_config_data
from tests.stack_fixture import Stack

pytestmark = pytest.mark.synapse


async def test_municipality_info(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{stack.intake}/api/v1/kommuner/testby") as r:
        assert r.status == 200
        info = await r.json()
    assert info["name"] == "Testby Kommune"
    assert info["open"] is True
    assert info["questions"][0]["text"] == "Hvor har du hørt om chatten?"
    assert [o["label"] for o in info["questions"][0]["options"]] == ["Facebook", "En plakat"]
    async with http.get(f"{stack.intake}/api/v1/kommuner/testby?lang=en") as r:
        assert (await r.json())["questions"][0]["text"] == "Where did you hear about the chat?"
    async with http.get(f"{stack.intake}/api/v1/kommuner/lukketby") as r:
        closed = await r.json()
    assert closed["open"] is False and closed["next_opening"] and closed["next_opening_text"]
    conforms(info, "Municipality")
    conforms(closed, "Municipality")
    assert info["hours"] == [] and info["closes_at"] is None  # always open
    assert closed["hours"] == [{"day": closed["hours"][0]["day"], "hours": "10–11"}]
    assert closed["closes_at"] is None and closed["overflow"] is None
    assert info["system"]["counsellor_joined"].startswith("En rådgiver er kommet ind")
    assert "{kommune}" in info["system"]["transferred"]  # the page fills it in


async def test_who_is_ready_and_which_partner_to_offer(stack: Stack, http: aiohttp.ClientSession):
    url = f"{stack.intake}/api/v1/kommuner"
    c0 = stack.counsellors[0].user_id
    with partners(stack, "lukketby", ("testby",)):
        async with http.get(f"{url}/lukketby") as r:
            assert (await r.json())["overflow"] is None  # nobody on duty in testby
        async with on_duty(stack, "testby", c0) as ready:
            async with http.get(f"{url}/testby?lang=en") as r:
                testby = await r.json()
            async with http.get(f"{url}/lukketby") as r:
                lukketby = await r.json()
    assert testby["on_duty"] == ready >= 1
    assert testby["overflow"] is None  # it answers itself
    assert lukketby["overflow"] == {
        "slug": "testby",
        "name": "Testby Kommune",
        "service_name": "Ungechat Testby",
        "on_duty": ready,
    }
    conforms(lukketby, "Municipality")
    async with http.get(f"{url}/lukketby") as r:
        assert (await r.json())["overflow"] is None  # partners are back to none


async def test_starting_at_a_partner(stack: Stack, http: aiohttp.ClientSession) -> None:
    url = f"{stack.intake}/api/v1/conversations"
    body = {"kommune": "testby", "kanal": "facebook", "overflow_from": "lukketby"}
    async with http.post(url, json=body) as r:
        assert r.status == 400
        assert "not a partner of 'lukketby'" in (await r.json())["error"]
    async with http.post(url, json={**body, "overflow_from": "atlantis"}) as r:
        assert r.status == 404
    with partners(stack, "lukketby", ("testby",)):
        # The questions answered were lukketby's (it has none), not testby's.
        answers = {"answers": {"heard_from": "plakat"}}
        async with http.post(url, json={**body, **answers}) as r:
            assert r.status == 400 and "unknown question" in (await r.json())["error"]
        started = []
        for kanal in ("facebook", "plakat"):  # plakat is testby's channel, not lukketby's
            async with http.post(url, json={**body, "kanal": kanal}) as r:
                assert r.status == 201
                started.append(await r.json())
    for data, kanal in zip(started, ("facebook", "ukendt"), strict=True):
        conv = await stack.conversations.repo.get(data["conversation"])
        assert conv is not None
        assert (conv.kommune, conv.transferred_from, conv.kanal) == ("testby", "lukketby", kanal)
        await Youth(stack.intake, http, data["conversation"], data["token"]).end()


@pytest.mark.parametrize(
    ("body", "status", "errcode", "reason"),
    [
        ({"kommune": "atlantis"}, 404, "M_NOT_FOUND", "atlantis"),
        ({"kanal": "plakat"}, 400, "M_BAD_JSON", "kommune"),
        ({"kommune": 7}, 400, "M_BAD_JSON", "kommune"),
        ({"kommune": "testby", "kanal": 3}, 400, "M_BAD_JSON", "kanal"),
        ({"kommune": "testby", "answers": []}, 400, "M_BAD_JSON", "answers"),
        (
            {"kommune": "testby", "answers": {"shoe_size": "42"}},
            400,
            "M_INVALID_PARAM",
            "shoe_size",
        ),
        ({"kommune": "testby", "answers": {"heard_from": "tv"}}, 400, "M_INVALID_PARAM", "tv"),
        # Every field of the body, of every wrong JSON type: a reason, never a 500.
        ({"kommune": "testby", "answers": {"heard_from": ["x"]}}, 400, "M_BAD_JSON", "heard_from"),
        (
            {"kommune": "testby", "answers": {"heard_from": {"x": 1}}},
            400,
            "M_BAD_JSON",
            "heard_from",
        ),
        ({"kommune": "testby", "answers": {"heard_from": 7}}, 400, "M_BAD_JSON", "heard_from"),
        ({"kommune": "testby", "answers": {"heard_from": None}}, 400, "M_BAD_JSON", "heard_from"),
        ({"kommune": "testby", "answers": "heard_from"}, 400, "M_BAD_JSON", "answers"),
        ({"kommune": ["testby"]}, 400, "M_BAD_JSON", "kommune"),
        ({"kommune": {"slug": "testby"}}, 400, "M_BAD_JSON", "kommune"),
        ({"kommune": None}, 400, "M_BAD_JSON", "kommune"),
        ({"kommune": "testby", "kanal": ["plakat"]}, 400, "M_BAD_JSON", "kanal"),
        ({"kommune": "testby", "kanal": {"a": "b"}}, 400, "M_BAD_JSON", "kanal"),
        ({"kommune": "testby", "overflow_from": ["lukketby"]}, 400, "M_BAD_JSON", "overflow_from"),
        ({"kommune": "testby", "overflow_from": 1}, 400, "M_BAD_JSON", "overflow_from"),
        (["testby"], 400, "M_BAD_JSON", "object"),
        ("testby", 400, "M_BAD_JSON", "object"),
        ({"kommune": "lukketby"}, 409, "DK_UNGECHAT_CLOSED", "closed"),
    ],
)
async def test_bad_start_requests_get_a_reason(
    stack: Stack, http: aiohttp.ClientSession, body, status, errcode, reason
) -> None:
    async with http.post(f"{stack.intake}/api/v1/conversations", json=body) as r:
        assert r.status == status
        error = await r.json()
    assert error["errcode"] == errcode
    assert reason in error["error"]
    if status == 409:
        assert error["next_opening"]


async def test_body_that_is_not_json(stack: Stack, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{stack.intake}/api/v1/conversations", data=b"{nope") as r:
        assert r.status == 400
        assert (await r.json())["errcode"] == "M_NOT_JSON"


async def test_unknown_channel_is_not_recorded_as_given(stack: Stack, http: aiohttp.ClientSession):
    """A free-form tag could single a young person out; only configured channels count."""
    body = {"kommune": "testby", "kanal": "til-maja-fra-mor"}
    async with http.post(f"{stack.intake}/api/v1/conversations", json=body) as r:
        assert r.status == 201
        started = await r.json()
    conv = await stack.conversations.repo.get(started["conversation"])
    assert conv is not None and conv.kanal == "ukendt"
    headers = {"Authorization": f"Bearer {started['token']}"}
    url = f"{stack.intake}/api/v1/conversations/{started['conversation']}"
    async with http.post(f"{url}/messages", json={"body": ""}, headers=headers) as r:
        assert r.status == 400
    async with http.post(f"{url}/end", headers=headers) as r:
        assert r.status == 200


async def test_youth_page_is_served_with_a_strict_policy(stack: Stack, http: aiohttp.ClientSession):
    async with http.get(f"{stack.intake}/k/testby?kanal=plakat") as r:
        assert r.status == 200
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "Set-Cookie" not in r.headers
        assert '<html lang="da"' in await r.text()
    # A link to no chat says so in the page's language, as the page would choose it.
    url = f"{stack.intake}/k/atlantis"
    async with http.get(url) as r:
        assert r.status == 404
        assert (await r.text()).startswith("Den chat findes ikke")
        assert r.headers["Content-Language"] == "da"
    for query, accept in [("?lang=en", "da"), ("", "en-GB,en;q=0.9,da;q=0.8")]:
        async with http.get(url + query, headers={"Accept-Language": accept}) as r:
            assert r.status == 404
            assert (await r.text()).startswith("That chat does not exist")
            assert r.headers["Content-Language"] == "en"
    async with http.get(url, headers={"Accept-Language": "de, da;q=0.9, en;q=0.8"}) as r:
        assert (await r.text()).startswith("Den chat findes ikke")


def test_open_until_today_and_past_midnight_in_words(tmp_path: Path) -> None:
    """ "Åben nu til {when}" / "Open now until {when}": a time today, or tomorrow's."""
    data = offline_config_data()
    data["municipalities"][0]["opening_hours"] = {
        "weekly": {
            "monday": ["18:00-21:00"],
            "friday": ["22:00-24:00"],
            "saturday": ["00:00-01:00"],
        }
    }
    m = parse_config(data, tmp_path).municipalities[0]
    monday_evening = dt.datetime(2026, 11, 23, 19, 30, tzinfo=COPENHAGEN)
    friday_night = dt.datetime(2026, 11, 27, 23, 0, tzinfo=COPENHAGEN)
    closes = {
        (when, lang): hours_fields(m, lang, when)
        for when in (monday_evening, friday_night)
        for lang in ("da", "en")
    }
    assert all(fields["open"] for fields in closes.values())
    assert closes[monday_evening, "da"]["closes_at_text"] == "kl. 21"
    assert closes[monday_evening, "en"]["closes_at_text"] == "21:00"
    assert closes[friday_night, "da"]["closes_at_text"] == "i morgen kl. 1"
    assert closes[friday_night, "en"]["closes_at_text"] == "tomorrow at 01:00"


async def test_typing_read_and_feedback(stack: Stack, http: aiohttp.ClientSession) -> None:
    youth = await Youth(stack.intake, http).start("testby")
    other = await Youth(stack.intake, http).start("testby")

    async def call(method: str, what: str, body: object, who: Youth = youth) -> tuple[int, dict]:
        headers = {**youth.auth, **(who.auth if who is not youth else {})}
        async with http.request(method, youth.url(what), json=body, headers=headers) as r:
            return r.status, await r.json()

    assert (await call("PUT", "typing", {"typing": "yes"}))[0] == 400
    assert await call("PUT", "typing", {"typing": True}) == (200, {})
    assert await call("PUT", "typing", {"typing": False}) == (200, {})
    assert (await call("PUT", "typing", {"typing": True}, other))[0] == 403
    status, error = await call("POST", "read", {"id": "not-an-event"})
    assert status == 400 and "'id'" in error["error"]
    assert (await call("POST", "read", {"id": "$" + "x" * 300}))[0] == 400
    status, error = await call("POST", "feedback", {"answer": "yes"})
    assert status == 409 and error["errcode"] == "DK_UNGECHAT_NOT_ENDED"
    status, error = await call("POST", "feedback", {"answer": "yes"}, other)
    assert status == 403  # another youth's token learns nothing about this conversation

    assert await youth.end() == 200
    status, error = await call("PUT", "typing", {"typing": True})
    assert status in (404, 409)  # ended; gone once deleted
    status, error = await call("POST", "feedback", {"answer": "maybe"})
    assert status == 400 and "yes, partly, no" in error["error"]
    assert await call("POST", "feedback", {"answer": "partly"}) == (200, {"recorded": True})
    status, error = await call("POST", "feedback", {"answer": "yes"})
    assert status == 404  # once only
    async with stack.conversations.sessions() as session:
        rows = (await session.scalars(select(ConversationStats.feedback))).all()
    assert "partly" in rows
    await other.end()


async def test_a_beacon_ends_only_its_own_conversation(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The quick exit's `navigator.sendBeacon`: no headers, the token in a text/plain body."""
    youth = await Youth(stack.intake, http).start("testby")
    other = await Youth(stack.intake, http).start("testby")

    async def beacon(body: bytes | None) -> tuple[int, dict]:
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        async with http.post(youth.url("end"), data=body, headers=headers) as r:
            return r.status, await r.json()

    async def state(who: Youth) -> State:
        conv = await stack.conversations.repo.get(who.conversation)
        assert conv is not None
        return State(conv.state)

    assert (await beacon(None))[0] == 401
    status, error = await beacon(b'{"token": 7}')
    assert status == 401 and "token" in error["error"]
    assert (await beacon(b"{nope"))[0] == 400
    assert (await beacon(json.dumps({"token": "guessed"}).encode()))[0] == 403
    # Another conversation's token does not end this one.
    assert (await beacon(json.dumps({"token": other.token}).encode()))[0] == 403
    assert await state(youth) in OPEN_STATES
    assert await beacon(json.dumps({"token": youth.token}).encode()) == (200, {"status": "closed"})
    assert await state(youth) not in OPEN_STATES
    conv = await stack.conversations.repo.get(youth.conversation)
    assert conv is not None and conv.ended_by == "youth"
    assert await state(other) in OPEN_STATES
    await other.end()


async def test_the_stream_relays_corrections_and_deletions(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """A counsellor corrects a message, deletes another and replies the way nheko and older
    Element do (quoting the note replied to); a new stream (a reload) gets the newest
    text only, and neither the deleted message nor the quote."""
    counsellor = stack.counsellors[2]
    youth = await Youth(stack.intake, http).start("nordby")
    youth.listen()
    fresh = Youth(stack.intake, http, youth.conversation, youth.token)
    try:
        conv = await stack.conversations.repo.get(youth.conversation)
        assert conv is not None and conv.room_id
        room = conv.room_id
        await counsellor.join(room)
        await youth.wait_for(lambda e: e == {"type": "status", "status": "active"})

        wrong = await counsellor.say(room, "Vi ses på torsdag.")
        await youth.wait_for(lambda e: e.get("id") == wrong)
        await counsellor.edit(room, wrong, "Vi ses på fredag.")
        corrected = await youth.wait_for(lambda e: e["type"] == "edit")
        assert corrected == {
            "type": "edit",
            "id": wrong,
            "from": "counsellor",
            "body": "Vi ses på fredag.",
        }

        mistake = await counsellor.say(room, "Ring til Anna på 12 34 56 78.")
        await youth.wait_for(lambda e: e.get("id") == mistake)
        await counsellor.client.room_redact(room, mistake)
        assert await youth.wait_for(lambda e: e["type"] == "removed") == {
            "type": "removed",
            "id": mistake,
        }

        note = await counsellor.say(room, "!intern hun virker bange")
        reply = {
            "msgtype": "m.text",
            "body": f"> <{counsellor.user_id}> !intern hun virker bange\n\nDet lyder svært.",
            "format": "org.matrix.custom.html",
            "formatted_body": f"<mx-reply><blockquote>{counsellor.user_id} !intern hun virker "
            "bange</blockquote></mx-reply>Det lyder svært.",
            "m.relates_to": {"m.in_reply_to": {"event_id": note}},
        }
        answer = await counsellor.client.room_send(room, "m.room.message", reply)
        await youth.wait_for(lambda e: e.get("body") == "Det lyder svært.")

        # A dropped stream resumes with Last-Event-ID: a correction made meanwhile (of a
        # message this new stream never read) arrives, and nothing comes twice.
        await youth.stop_listening()
        assert youth.last_event_id
        better = {
            "msgtype": "m.text",
            "body": "* Det lyder rigtig svært.",
            "m.new_content": {"msgtype": "m.text", "body": "Det lyder rigtig svært."},
            "m.relates_to": {"rel_type": "m.replace", "event_id": answer.event_id},
        }
        await counsellor.client.room_send(room, "m.room.message", better)
        youth.listen()
        assert await youth.wait_for(lambda e: e.get("body") == "Det lyder rigtig svært.") == {
            "type": "edit",
            "id": answer.event_id,
            "from": "counsellor",
            "body": "Det lyder rigtig svært.",
        }
        relayed = [
            (e["type"], e["id"], e.get("body"))
            for e in youth.received
            if e["type"] in ("message", "edit", "removed")
        ]
        assert len(relayed) == len(set(relayed))

        fresh.listen()
        await fresh.wait_for(lambda e: e.get("id") == answer.event_id)
        shown = [e for e in fresh.received if e["type"] == "message" and e["from"] != "system"]
        assert [(e["from"], e["body"], e.get("edited")) for e in shown] == [
            ("counsellor", "Vi ses på fredag.", True),
            ("counsellor", "Det lyder rigtig svært.", True),
        ]
        for received in (youth.received, fresh.received):
            wire = json.dumps(received, ensure_ascii=False)
            assert counsellor.user_id not in wire and "!intern" not in wire
            for event in received:
                conforms(event, "StreamEvent")
        wire = json.dumps(fresh.received, ensure_ascii=False)
        assert "torsdag" not in wire and "12 34 56 78" not in wire
    finally:
        await youth.stop_listening()
        await fresh.stop_listening()
        await youth.end()


async def test_the_stream_carries_queue_typing_and_read(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Two youths wait in nordby; its counsellor takes the first, types and reads."""
    counsellor = stack.counsellors[2]
    first = await Youth(stack.intake, http).start("nordby")
    second = await Youth(stack.intake, http).start("nordby")
    first.listen()
    second.listen()
    try:
        ahead = await first.wait_for(lambda e: e["type"] == "queue")
        behind = await second.wait_for(lambda e: e["type"] == "queue")
        assert behind["position"] == ahead["position"] + 1
        assert ahead["on_duty"] == await stack.conversations.duty.count("nordby")

        conv = await stack.conversations.repo.get(first.conversation)
        assert conv is not None and conv.room_id
        await first.send("Hej")
        await counsellor.join(conv.room_id)
        await first.wait_for(lambda e: e == {"type": "status", "status": "active"})
        # The one behind moves up while it waits.
        await second.wait_for(lambda e: e["type"] == "queue" and e["position"] == ahead["position"])
        await counsellor.client.room_typing(conv.room_id, True)
        await first.wait_for(lambda e: e == {"type": "typing", "typing": True})
        await counsellor.client.room_typing(conv.room_id, False)
        await first.wait_for(lambda e: e == {"type": "typing", "typing": False})
        hej = await first.wait_for(lambda e: e.get("from") == "youth")
        await counsellor.client.room_read_markers(conv.room_id, hej["id"], hej["id"])
        read = await first.wait_for(lambda e: e["type"] == "read")
        assert read == {"type": "read", "id": hej["id"], "ts": hej["ts"]}
        assert all(counsellor.user_id not in str(e) for e in first.received)
        await first.end()
        await first.wait_for(lambda e: e == {"type": "status", "status": "closed"})
        assert first.received[-2:] == [
            {"type": "ended", "by": "youth"},
            {"type": "status", "status": "closed"},
        ]
        for event in first.received + second.received:
            conforms(event, "StreamEvent")
    finally:
        await first.stop_listening()
        await second.stop_listening()
        await first.end()
        await second.end()


def test_the_page_with_its_scripts_and_styles_is_under_60_kb() -> None:
    """Everything chat.html loads (from this origin only), uncompressed."""
    html = (STATIC_DIR / "chat.html").read_text(encoding="utf-8")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/chat.js", "/static/chat.css"} <= set(assets)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)  # nothing from elsewhere
    files = [STATIC_DIR / "chat.html", *(STATIC_DIR / Path(a).name for a in set(assets))]
    total = sum(f.stat().st_size for f in files)
    print(f"youth page: {total} bytes in {len(files)} files")
    assert total < 60_000
