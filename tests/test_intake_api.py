"""The intake API's answers to good and bad requests, in Matrix's error shape."""

from __future__ import annotations

import aiohttp
import pytest

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
        (["testby"], 400, "M_BAD_JSON", "object"),
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
    async with http.get(f"{stack.intake}/k/atlantis") as r:
        assert r.status == 404
