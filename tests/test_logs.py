"""The logs never carry a young person's address: not even aiohttp's own error lines."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from bots.logs import configure_logging


async def test_a_failing_request_is_logged_without_the_clients_address(
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_logging()

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("the handler failed")

    app = web.Application()
    app.router.add_get("/", broken)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"http://127.0.0.1:{port}/", headers={"User-Agent": "Telefon/1.0"}) as r,
        ):
            assert r.status == 500
        # A request aiohttp cannot even parse.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"NOT HTTP \x00\r\n\r\n")
        await writer.drain()
        assert (await reader.read(100)).startswith(b"HTTP/1.0 400")
        writer.close()
        await writer.wait_closed()
    finally:
        await runner.cleanup()
    err = capfd.readouterr().err
    assert "web_server_problem" in err and "error=RuntimeError" in err  # the event is kept
    for detail in ("127.0.0.1", "Telefon", "the handler failed", "Traceback"):
        assert detail not in err, f"{detail!r} reached the log"
