"""The intake API's answers to good and bad requests, in Matrix's error shape, checked
against its OpenAPI file; the event stream's queue, typing, read marks, corrections and
deletions with real counsellors on a real Synapse."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bots.config.hours import COPENHAGEN
from bots.config.load import parse_config
from bots.conversation.states import OPEN, State
from bots.db.models import ConversationStats, PageView
from bots.intake.errors import error_middleware
from bots.intake.info import hours_fields
from bots.intake.pages import STATIC_DIR
from bots.matrix.errors import MatrixError
from bots.matrix.gateway import MatrixGateway
from deploy.local.synapse import free_port
from tests.config_swap import reconfigured
from tests.intake_helpers import (
    Stream,
    conforms,
    conversation_ids,
    embedding,
    on_duty,
    partners,
)
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
        conv = await stack.bot.repo.get(data["conversation"])
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


START = {"kommune": "testby", "kanal": "plakat", "answers": {}}
EVIL = "https://evil.example"


def multipart() -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("kommune", "testby")
    form.add_field("file", b"{}", filename="x.json", content_type="application/json")
    return form


@pytest.mark.parametrize(
    ("data", "headers", "status"),
    [
        # A hostile page's fetch(…, {mode: "no-cors"}): text/plain, from its own origin.
        (json.dumps(START), {"Content-Type": "text/plain", "Origin": EVIL}, 403),
        (json.dumps(START), {"Content-Type": "application/json", "Origin": EVIL}, 403),
        # A form on another site: the browser says where it came from.
        (START, {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}, 403),
        (json.dumps(START), {"Sec-Fetch-Site": "cross-site"}, 403),  # no Origin, but cross-site
        (json.dumps(START), {"Content-Type": "application/json", "Origin": "null"}, 403),
        # The same bodies from no browser at all: still not JSON.
        (json.dumps(START), {"Content-Type": "text/plain"}, 415),
        (START, {}, 415),  # form-encoded
        (multipart(), {}, 415),
        (json.dumps(START).encode(), {}, 415),  # no Content-Type at all
    ],
    ids=[
        "no-cors",
        "json-cross-site",
        "form",
        "fetch-metadata",
        "opaque",
        "text",
        "form-plain",
        "multipart",
        "untyped",
    ],
)
async def test_other_websites_cannot_start_conversations(
    stack: Stack, http: aiohttp.ClientSession, data, headers, status
) -> None:
    """What another website could make a visitor's browser send: refused, and nothing
    starts (no room, no lobby entry, nothing in the stats)."""
    before = await conversation_ids(stack)
    url = f"{stack.intake}/api/v1/conversations"
    untyped = ("Content-Type",) if isinstance(data, bytes) else ()  # not even octet-stream
    async with http.post(url, data=data, headers=headers, skip_auto_headers=untyped) as r:
        assert r.status == status
        error = await r.json()
    assert error["errcode"] == ("M_FORBIDDEN" if status == 403 else "M_NOT_JSON")
    assert ("other websites" if status == 403 else "application/json") in error["error"]
    conforms(error, "Error")
    assert await conversation_ids(stack) == before


async def test_the_page_itself_and_the_municipalitys_sites_may_start(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    url = f"{stack.intake}/api/v1/conversations"
    school = "https://www.testby-ungdomsskole.dk"
    allowed = [
        {"Sec-Fetch-Site": "same-origin", "Origin": stack.config.public_url},  # the page
        {"Origin": stack.config.public_url},  # a browser without fetch metadata
        {"Sec-Fetch-Site": "same-origin"},  # a same-origin request may leave Origin out
        {},  # no browser: a monitor, a script, the tests
    ]
    started = []
    with embedding(stack, "testby", school):
        for headers in [*allowed, {"Origin": school, "Sec-Fetch-Site": "cross-site"}]:
            async with http.post(url, json=START, headers=headers) as r:
                assert r.status == 201, headers
                started.append(await r.json())
    # Once the site is no longer listed, it is another website again.
    async with http.post(url, json=START, headers={"Origin": school}) as r:
        assert r.status == 403
    for data in started:
        assert await Youth(stack.intake, http, data["conversation"], data["token"]).end() == 200


DEEP = b"[" * 20_000 + b"]" * 20_000  # well under the 64 KB a body may have
MALFORMED = [
    pytest.param(b"{nope", 400, "M_NOT_JSON", "not valid JSON", id="not-json"),
    pytest.param(b"", 400, "M_NOT_JSON", "not valid JSON", id="empty"),
    pytest.param(DEEP, 400, "M_NOT_JSON", "nested too deeply", id="deep-array"),
    pytest.param(b'{"a":' * 5_000 + b"1" + b"}" * 5_000, 400, "M_NOT_JSON", "nested", id="deep"),
    pytest.param(b'{"body": "\xff\xfe"}', 400, "M_NOT_JSON", "not valid JSON", id="not-utf8"),
    pytest.param(b'{"body": "\\ud800"}', 400, "M_NOT_JSON", "no Unicode", id="lone-surrogate"),
    pytest.param(b'{"body": ' + b"9" * 5000 + b"}", 400, "M_NOT_JSON", "JSON", id="long-number"),
    pytest.param(b"[1, 2]", 400, "M_BAD_JSON", "object", id="array"),
    pytest.param(b'"x" ' * 30_000, 413, "M_TOO_LARGE", "", id="over-64kb"),
]


@pytest.mark.parametrize(("body", "status", "errcode", "reason"), MALFORMED)
async def test_every_malformed_body_gets_a_reason(
    stack: Stack, http: aiohttp.ClientSession, body: bytes, status: int, errcode: str, reason: str
) -> None:
    """Starting, writing and feedback read a body; each malformed one is a 4xx with a
    reason, never a 500, and a refused start creates nothing."""
    youth = await Youth(stack.intake, http).start("testby")
    json_type = {"Content-Type": "application/json"}
    before = await conversation_ids(stack)
    try:
        for url, headers in [
            (f"{stack.intake}/api/v1/conversations", json_type),
            (youth.url("messages"), {**json_type, **youth.auth}),
            (youth.url("typing"), {**json_type, **youth.auth}),
            (youth.url("feedback"), {**json_type, **youth.auth}),
        ]:
            method = "PUT" if url.endswith("typing") else "POST"
            async with http.request(method, url, data=body, headers=headers) as r:
                error = await r.json()
                assert (r.status, error["errcode"]) == (status, errcode), (url, error)
            assert reason in error["error"]
            conforms(error, "Error")
        # Ending does not read a body: a malformed one does not keep the youth in.
        async with http.post(youth.url("end"), data=body, headers=json_type) as r:
            assert r.status in (401, 413)  # no token, or too large to read at all
        assert await conversation_ids(stack) == before
    finally:
        assert await youth.end() == 200


async def test_unknown_channel_is_not_recorded_as_given(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """A free-form tag could single a young person out; only configured channels count."""
    body = {"kommune": "testby", "kanal": "til-maja-fra-mor"}
    async with http.post(f"{stack.intake}/api/v1/conversations", json=body) as r:
        assert r.status == 201
        started = await r.json()
    conv = await stack.bot.repo.get(started["conversation"])
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
        assert r.headers["Server"] == "ungechat"  # no software, no versions
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


def frame_ancestors(csp: str) -> list[str]:
    directive = next(d.strip() for d in csp.split(";") if "frame-ancestors" in d)
    return directive.split()[1:]


async def test_only_the_chat_and_the_municipalitys_own_sites_may_frame_its_page(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """No other site can put the youth page in a frame and pass itself off as the
    municipality; its own sites (embed_origins) can, each only for its own chat."""

    async def ancestors(path: str) -> list[str]:
        async with http.get(f"{stack.intake}{path}") as r:
            return frame_ancestors(r.headers["Content-Security-Policy"])

    assert await ancestors("/k/testby") == ["'self'"]
    with embedding(stack, "testby", "https://www.testby.dk", "https://ung.testby.dk"):
        assert await ancestors("/k/testby?embed=1") == [
            "'self'",
            "https://www.testby.dk",
            "https://ung.testby.dk",
        ]
        assert await ancestors("/k/nordby?embed=1") == ["'self'"]  # not nordby's site
    # Nothing else is ever framed: the assets, the API, a chat that does not exist.
    for path in ("/static/chat.js", "/api/v1/kommuner/testby", "/k/atlantis", "/embed.js"):
        assert await ancestors(path) == ["'none'"], path


async def nordby_views_today(stack: Stack) -> int:
    async with stack.bot.sessions() as session:
        query = select(PageView.count).where(
            PageView.kommune == "nordby",
            PageView.kanal == "plakat",
            PageView.date == dt.datetime.now(COPENHAGEN).date(),
        )
        return await session.scalar(query) or 0


async def test_page_views_count_only_from_the_page_and_a_few_per_address(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The funnel's first figure: asking again and again, from a script or from another
    site, adds nothing; the page itself counts, up to five a day from one address."""
    url = f"{stack.intake}/api/v1/kommuner/nordby?lang=da&kanal=plakat&view=1"
    # Behind "our proxy" on 127.0.0.1, so each test visitor has an address of its own.
    behind_our_proxy = reconfigured(stack.config, trusted_proxies=(ip_network("127.0.0.1/32"),))

    async def visit(address: str, **headers: str) -> None:
        async with http.get(url, headers={"X-Forwarded-For": address, **headers}) as r:
            assert r.status == 200  # the page loads the same, counted or not

    with behind_our_proxy:
        before = await nordby_views_today(stack)
        for _ in range(5):
            await visit("198.51.100.20")  # a script: no fetch metadata
        await visit("198.51.100.21", **{"Sec-Fetch-Site": "none"})
        assert await nordby_views_today(stack) == before
        async with http.get(url, headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"}) as r:
            assert r.status == 403  # another site's page cannot even ask
        for _ in range(8):
            await visit("198.51.100.22", **{"Sec-Fetch-Site": "same-origin"})
        assert await nordby_views_today(stack) == before + 5
        await visit("2001:db8:7:7::1", **{"Sec-Fetch-Site": "same-origin"})
        await visit("198.51.100.23", **{"Sec-Fetch-Site": "same-origin"})
        assert await nordby_views_today(stack) == before + 7


async def test_the_server_names_no_software(stack: Stack, http: aiohttp.ClientSession) -> None:
    for method, path in [
        ("GET", "/k/testby"),
        ("GET", "/api/v1/kommuner/atlantis"),
        ("POST", "/api/v1/conversations"),
        ("GET", "/healthz"),
        ("GET", "/nowhere"),
    ]:
        async with http.request(method, f"{stack.intake}{path}") as r:
            assert r.headers["Server"] == "ungechat", path
            assert "Python" not in str(r.headers) and "aiohttp" not in str(r.headers)


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
    async with stack.bot.sessions() as session:
        rows = (await session.scalars(select(ConversationStats.feedback))).all()
    assert "partly" in rows
    await other.end()


async def test_only_the_token_in_the_header_ends_a_conversation(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """The quick exit sends its end with `fetch(…, {keepalive: true})` and the token in
    the header; a beacon-style text/plain body with the token is no way in any more."""
    youth = await Youth(stack.intake, http).start("testby")
    other = await Youth(stack.intake, http).start("testby")

    async def end(data: bytes | None, headers: dict[str, str]) -> tuple[int, dict]:
        async with http.post(youth.url("end"), data=data, headers=headers) as r:
            return r.status, await r.json()

    async def state(who: Youth) -> State:
        conv = await stack.bot.repo.get(who.conversation)
        assert conv is not None
        return State(conv.state)

    token_body = json.dumps({"token": youth.token}).encode()
    assert (await end(token_body, {"Content-Type": "text/plain;charset=UTF-8"}))[0] == 415
    assert (await end(token_body, {"Content-Type": "application/json"}))[0] == 401
    assert (await end(None, {"Authorization": "Bearer guessed"}))[0] == 403
    assert (await end(None, other.auth))[0] == 403  # another conversation's token
    assert await state(youth) in OPEN
    keepalive = {**youth.auth, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
    assert await end(None, keepalive) == (200, {"status": "closed"})
    conv = await stack.bot.repo.get(youth.conversation)
    assert conv is not None and conv.state not in OPEN and conv.ended_by == "youth"
    assert await state(other) in OPEN
    await other.end()


async def test_a_flood_of_messages_is_held_back_and_a_fast_chat_is_not(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """A youth who writes fast, a line at a time with typing in between, is never held
    back; a script posting in a loop is, with a clear 429 and when to try again, and only
    in its own conversation. What is refused is not sent; what is accepted arrives."""
    youth = await Youth(stack.intake, http).start("testby")
    other = await Youth(stack.intake, http).start("testby")

    async def send(who: Youth, text: str) -> tuple[int, dict, str | None]:
        async with http.post(who.url("messages"), json={"body": text}, headers=who.auth) as r:
            return r.status, await r.json(), r.headers.get("Retry-After")

    async def typing(on: bool) -> int:
        body = {"typing": on}
        async with http.put(youth.url("typing"), json=body, headers=youth.auth) as r:
            return r.status

    try:
        began = time.monotonic()
        for n, line in enumerate(["hej", "jeg ved ikke", "hvordan jeg skal sige det", "men"]):
            assert await typing(True) == 200
            assert (await send(youth, f"{n} {line}"))[0] == 202
        answers = [await send(youth, f"flood {n}") for n in range(40)]
        statuses = [status for status, _, _ in answers]
        assert set(statuses) == {202, 429}
        # The burst of 30, less the fast chat before it, plus one a second meanwhile.
        refilled = time.monotonic() - began
        assert 30 - 4 <= statuses.index(429) <= 30 - 4 + refilled + 1
        first_refused = statuses.index(429)
        _, error, retry_after = answers[first_refused]
        assert error["errcode"] == "M_LIMIT_EXCEEDED" and "messages" in error["error"]
        assert 0 < error["retry_after_ms"] <= 1000 and retry_after == "1"
        conforms(error, "Retry")
        assert (await send(other, "og mig?"))[0] == 202  # another conversation is not held
        await asyncio.sleep(error["retry_after_ms"] / 1000)  # when the answer said to
        assert (await send(youth, "igen"))[0] == 202

        youth.listen()
        await youth.wait_for(lambda e: e.get("body") == "igen")
        sent = [f"flood {n}" for n, status in enumerate(statuses) if status == 202]
        received = [b for b in youth.messages("youth") if b.startswith("flood")]
        assert received == sent  # every accepted one, in order; no refused one

        # Typing notices are held back the same way.
        typing_answers = [await typing(n % 2 == 0) for n in range(60)]
        assert typing_answers[:25] == [200] * 25 and typing_answers[-1] == 429
    finally:
        await youth.stop_listening()
        await youth.end()
        await other.end()


async def test_a_new_stream_replays_the_last_messages_and_a_resume_is_exact(
    stack: Stack, http: aiohttp.ClientSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload reads only the end of a long conversation (here the last 5 messages, 200
    in production), found backwards from the end; a stream that resumes with
    Last-Event-ID gets exactly what it had not seen, from however far back."""
    monkeypatch.setattr("bots.intake.stream.REPLAY_MESSAGES", 5)
    youth = await Youth(stack.intake, http).start("testby")
    early = Youth(stack.intake, http, youth.conversation, youth.token)
    fresh = Youth(stack.intake, http, youth.conversation, youth.token)
    lines = [f"linje {n}" for n in range(9)]
    try:
        early.listen()
        for line in lines[:2]:
            assert await youth.send(line) == 202
        await early.wait_for(lambda e: e.get("body") == lines[1])
        await early.stop_listening()
        for line in lines[2:]:
            assert await youth.send(line) == 202

        fresh.listen()
        await fresh.wait_for(lambda e: e.get("body") == lines[-1])
        assert fresh.messages("youth") == lines[-5:]

        early.listen()  # resumes from after "linje 1"
        await early.wait_for(lambda e: e.get("body") == lines[-1])
        assert early.messages("youth") == lines

        # A resume point the homeserver does not know starts afresh, like a reload.
        made_up = Youth(stack.intake, http, youth.conversation, youth.token)
        made_up.last_event_id = "not-a-token"
        made_up.listen()
        await made_up.wait_for(lambda e: e.get("type") == "status")
        assert await youth.send("mere") == 202
        await made_up.wait_for(lambda e: e.get("body") == "mere")
        await made_up.stop_listening()
    finally:
        for stream in (early, fresh):
            await stream.stop_listening()
        await youth.end()


async def health_seconds(stack: Stack, http: aiohttp.ClientSession) -> float:
    began = time.monotonic()
    async with http.get(f"{stack.intake}/healthz") as r:
        assert r.status == 200
    return time.monotonic() - began


async def test_many_streams_on_one_token_cost_little_and_the_newest_wins(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    """Twenty streams opened on one token (a script, or a page reloaded in a loop): the
    service stays fast, at most three stay open (the newest; the oldest are ended), the
    rest are told when to try again, and the newest still receives what the counsellor
    writes."""
    counsellor = stack.counsellors[0]
    youth = await Youth(stack.intake, http).start("testby")
    for n in range(30):
        assert await youth.send(f"besked {n}") == 202
    opened: list[Stream] = []
    refused: list[dict] = []
    try:
        for _ in range(20):
            stream = await Stream.open(http, youth)
            if isinstance(stream, dict):
                refused.append(stream)
                continue
            opened.append(stream)
            await stream.wait_for(lambda e: e.get("body") == "besked 29")
            assert await health_seconds(stack, http) < 0.5
        assert 3 < len(opened) <= 11 and len(opened) + len(refused) == 20
        for error in refused:
            assert error["errcode"] == "M_LIMIT_EXCEEDED" and error["retry_after_ms"] > 0
            conforms(error, "Retry")
        async with asyncio.timeout(10):  # the older ones are ended by the server
            for older in opened[:-3]:
                await older.until_ended()
        assert [s.ended() for s in opened[-3:]] == [False, False, False]

        conv = await stack.bot.repo.get(youth.conversation)
        assert conv is not None and conv.room_id
        await counsellor.join(conv.room_id)
        said = await counsellor.say(conv.room_id, "Jeg er her nu.")
        await opened[-1].wait_for(lambda e: e.get("id") == said)
        assert await health_seconds(stack, http) < 0.5
    finally:
        for stream in opened:
            await stream.close()
        await youth.end()


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
        conv = await stack.bot.repo.get(youth.conversation)
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
        assert ahead["on_duty"] == await stack.bot.duty.count("nordby")

        conv = await stack.bot.repo.get(first.conversation)
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


async def test_what_cannot_be_reached_is_a_retryable_503_and_a_bug_a_500() -> None:
    """The one place that maps failures: a homeserver that does not answer or fails, a
    database that is down (SQLite's file, PostgreSQL refusing) is `503 M_UNAVAILABLE`
    with when to try again; a homeserver's refusal or a bug stays a 500 with a reference."""
    closed = f"127.0.0.1:{free_port()}"
    homeserver = MatrixGateway(f"http://{closed}", "not-a-token")
    sqlite = create_async_engine("sqlite+aiosqlite:////nonexistent/dir/bot.db")
    postgres = create_async_engine(f"postgresql+asyncpg://ungechat@{closed}/ungechat")

    async def send(_: web.Request) -> web.Response:
        await homeserver.send("!room:x", "m.room.message", {"body": "hej"}, "t1", as_user="@y:x")
        return web.json_response({})

    def query(engine: Any) -> Any:
        async def handler(_: web.Request) -> web.Response:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return web.json_response({})

        return handler

    def raising(exc: Exception) -> Any:
        async def handler(_: web.Request) -> web.Response:
            raise exc

        return handler

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/send", send)
    app.router.add_get("/sqlite", query(sqlite))
    app.router.add_get("/postgres", query(postgres))
    app.router.add_get("/bad-gateway", raising(MatrixError(None, "<html>502</html>", 502)))
    app.router.add_get("/refused", raising(MatrixError("M_FORBIDDEN", "no", 403)))
    app.router.add_get("/bug", raising(KeyError("oops")))
    try:
        async with TestClient(TestServer(app)) as client:
            for path in ("/send", "/sqlite", "/postgres", "/bad-gateway"):
                r = await client.request("POST" if path == "/send" else "GET", path)
                error = await r.json()
                assert (r.status, error["errcode"]) == (503, "M_UNAVAILABLE"), path
                assert error["retry_after_ms"] > 0 and r.headers["Retry-After"] == "3"
                conforms(error, "Retry")
            for path in ("/refused", "/bug"):
                r = await client.get(path)
                error = await r.json()
                assert (r.status, error["errcode"]) == (500, "M_UNKNOWN"), path
                assert re.fullmatch(r"Internal error \(reference [0-9a-f]{8}\)", error["error"])
    finally:
        await homeserver.close()
        await sqlite.dispose()
        await postgres.dispose()


def test_the_page_with_its_scripts_and_styles_is_under_60_kb() -> None:
    """Everything chat.html loads (from this origin only), uncompressed: its assets and
    every module its script imports, and theirs."""
    html = (STATIC_DIR / "chat.html").read_text(encoding="utf-8")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert {"/static/chat.js", "/static/chat.css"} <= set(assets)
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', html)  # nothing from elsewhere
    names = {Path(a).name for a in assets}
    scripts = [n for n in names if n.endswith(".js")]
    while scripts:
        js = (STATIC_DIR / scripts.pop()).read_text(encoding="utf-8")
        for spec in re.findall(r'\b(?:from|import)\s*\(?\s*"([^"]+)"', js):
            assert re.fullmatch(r"\./[\w-]+\.js", spec), spec  # a module next to it, no other
            if spec[2:] not in names:
                names.add(spec[2:])
                scripts.append(spec[2:])
    files = [STATIC_DIR / "chat.html", *(STATIC_DIR / n for n in names)]
    total = sum(f.stat().st_size for f in files)
    print(f"youth page: {total} bytes in {len(files)} files")
    assert total < 60_000
