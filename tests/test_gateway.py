"""The gateway's paths and its reading of the homeserver's answers (unit tests; the
integration tests use it against a real Synapse everywhere)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bots.matrix.errors import Forbidden, MatrixError, NotFound, RoomInUse, Unreachable
from bots.matrix.gateway import ADMIN, MatrixGateway, path


def test_every_part_of_a_path_is_escaped_and_an_empty_state_key_left_off() -> None:
    assert (
        path(["rooms", "!abc:hs.dk", "state", "m.room.name", ""])
        == "/_matrix/client/v3/rooms/%21abc%3Ahs.dk/state/m.room.name"
    )
    assert path(["directory", "room", "#_x_c_1:hs.dk"]).endswith("/room/%23_x_c_1%3Ahs.dk")
    assert path(["rooms", "a/b?c"], {"dir": "b", "limit": 5}) == (
        "/_matrix/client/v3/rooms/a%2Fb%3Fc?dir=b&limit=5"
    )
    assert path(["v2", "rooms", "!r:h"], base=ADMIN) == "/_synapse/admin/v2/rooms/%21r%3Ah"


@pytest.fixture
async def homeserver() -> AsyncIterator[tuple[str, list, list]]:
    """A stand-in that answers what the test asks, to see how the gateway reads it."""
    seen: list[web.Request] = []
    answers: list[web.Response] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        return answers.pop(0)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield url, answers, seen
    await runner.cleanup()


async def test_errors_are_typed_and_a_slow_down_is_waited_out(homeserver: tuple) -> None:
    url, answers, seen = homeserver
    gw = MatrixGateway(url, "secret")
    try:
        answers.append(web.json_response({"errcode": "M_FORBIDDEN", "error": "no"}, status=403))
        with pytest.raises(Forbidden):
            await gw.request("GET", path(["x"]))
        answers.append(web.json_response({"errcode": "M_ROOM_IN_USE", "error": ""}, status=400))
        with pytest.raises(RoomInUse):
            await gw.request("POST", path(["createRoom"]), {})
        answers.append(web.Response(status=404, text="<html>not here</html>"))
        with pytest.raises(NotFound):
            await gw.request("GET", path(["y"]))
        answers.append(web.Response(status=502, text="bad gateway"))
        with pytest.raises(MatrixError) as failing:
            await gw.request("GET", path(["z"]))
        assert failing.value.http_status == 502
        # Told to slow down: waits as long as it is told, then succeeds.
        limited = {"errcode": "M_LIMIT_EXCEEDED", "error": "slow", "retry_after_ms": 50}
        answers.append(web.json_response(limited, status=429))
        answers.append(web.json_response({"event_id": "$e"}))
        sent = await gw.request("PUT", path(["send"]), {"body": "hej"}, as_user="@_u_1:hs")
        assert sent == {"event_id": "$e"}
        assert all(r.headers["Authorization"] == "Bearer secret" for r in seen)
        assert seen[-1].query["user_id"] == "@_u_1:hs" and len(seen) == 6
    finally:
        await gw.close()


async def test_a_homeserver_that_does_not_answer_is_unreachable() -> None:
    gw = MatrixGateway("http://127.0.0.1:9", "secret")  # discard port: nothing listens
    try:
        with pytest.raises(Unreachable):
            await gw.request("GET", "/_matrix/client/versions", timeout=2)
        assert not await gw.reachable(timeout=2)
    finally:
        await gw.close()
