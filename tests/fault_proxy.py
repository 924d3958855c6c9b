"""A reverse proxy that injects faults between the bot under test and its homeserver.

The bot is configured with the proxy's URL as its homeserver `url`, so every
client-server and Admin API request it makes passes through here; the homeserver's
pushes to the bot go directly, not through it. The proxy can

- go `down()` and `up()`: while down, new connections are refused (the listening
  socket is closed) and open ones, with any request in flight, are cut;
- `hold()` the bot's requests that match a method and a path: the test waits until the
  bot has made one (`arrived`), and then `release`s it: forwarded with the answer passed
  back, forwarded with the answer lost (the homeserver did it, the bot never heard), or
  dropped (the homeserver never saw it);
- keep a log of every request seen, as (method, path).

When the homeserver itself does not answer, the bot's connection is cut too, as it would
be without the proxy (never an answer the homeserver did not give).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

HOST = "127.0.0.1"
# Per connection, not end to end: never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass
class Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes


@dataclass
class _Request:
    method: str
    path_qs: str
    headers: CIMultiDict[str]
    body: bytes
    # The homeserver's answer to pass back, or None to cut the bot's connection.
    outcome: asyncio.Future[Answer | None]


@dataclass
class Hold:
    """Requests matching `method` and `path` (a regex searched in the decoded path) are
    held from the moment the hold is made until it is released."""

    proxy: FaultProxy
    method: str
    path: re.Pattern[str]
    held: list[_Request] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.path.search(path) is not None

    async def arrived(self, timeout: float = 30) -> str:
        """Wait until the bot has made a matching request; returns its path and query."""
        async with asyncio.timeout(timeout):
            await self._arrived.wait()
        return self.held[0].path_qs

    async def release(self, forward: bool, *, answer: bool = True) -> None:
        """Stop holding. Every held request is forwarded to the homeserver (and waited
        for) if `forward`, else dropped; the bot gets the homeserver's answer only if
        `forward` and `answer`, otherwise its connection is cut."""
        if self not in self.proxy._holds:
            return  # released already
        self.proxy._holds.remove(self)
        for request in self.held:
            result = await self.proxy._forward(request) if forward else None
            if not request.outcome.done():
                request.outcome.set_result(result if answer else None)


class FaultProxy:
    def __init__(self, target: str) -> None:
        self.target = target.rstrip("/")
        self.seen: list[tuple[str, str]] = []  # (method, decoded path), in order
        self._holds: list[Hold] = []
        self._down = False
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        self._http = aiohttp.ClientSession(
            auto_decompress=False, timeout=aiohttp.ClientTimeout(total=120)
        )
        self._site = web.TCPSite(self._runner, HOST, 0)
        await self._site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for hold in list(self._holds):
            await hold.release(forward=False)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    # -- controls ---------------------------------------------------------------------

    async def down(self) -> None:
        """The homeserver went away: refuse new connections, cut the open ones."""
        if self._down:
            return
        self._down = True
        assert self._runner is not None and self._site is not None
        await self._site.stop()
        server = self._runner.server
        for handler in list(server.connections if server else []):
            if handler.transport is not None:
                handler.transport.abort()

    async def up(self) -> None:
        """Back again, on the same port."""
        if not self._down:
            return
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, HOST, self.port)
        await self._site.start()
        self._down = False

    async def reset(self) -> None:
        """Up, and nothing held (what is held goes on to the homeserver)."""
        for hold in list(self._holds):
            await hold.release(forward=True)
        if self._down:
            await self.up()

    def hold(self, method: str, path_regex: str) -> Hold:
        hold = Hold(self, method.upper(), re.compile(path_regex))
        self._holds.append(hold)
        return hold

    def requests(self, method: str, path_regex: str) -> list[str]:
        """The paths of the requests seen so far that match."""
        pattern = re.compile(path_regex)
        return [p for m, p in self.seen if m == method.upper() and pattern.search(p)]

    # -- proxying ---------------------------------------------------------------------

    async def _forward(self, request: _Request) -> Answer | None:
        """The homeserver's answer, or None if it did not give one."""
        assert self._http is not None
        try:
            async with self._http.request(
                request.method,
                self.target + request.path_qs,
                headers=request.headers,
                data=request.body or None,
                allow_redirects=False,
            ) as r:
                body = await r.read()
                headers = CIMultiDict(
                    (k, v) for k, v in r.headers.items() if k.lower() not in HOP_BY_HOP
                )
                return Answer(r.status, headers, body)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.method, request.path))
        if self._down:
            return self._cut(request)
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        held = _Request(
            request.method,
            request.path_qs,
            headers,
            await request.read(),
            asyncio.get_running_loop().create_future(),
        )
        hold = next((h for h in self._holds if h.matches(request.method, request.path)), None)
        if hold is not None:
            hold.held.append(held)
            hold._arrived.set()
            result = await held.outcome
        else:
            result = await self._forward(held)
        if result is None or self._down:
            return self._cut(request)
        return web.Response(status=result.status, headers=result.headers, body=result.body)

    @staticmethod
    def _cut(request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer (the client sees it reset)."""
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=599)  # never reaches the client: the connection is gone
