"""The benchmark's actors, on plain aiohttp: a Matrix client (a counsellor, the floor's
bare client, two clients messaging directly), and a youth as the page is, speaking only
to the intake.

Arrivals are timed where they are read: a client's /sync loop and the youth's event
stream note the monotonic time at which each awaited text appears. The texts are
made-up markers, never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

CLIENT = "/_matrix/client/v3"
SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "timeline": {"limit": 20, "types": ["m.room.message"]},
        "state": {"lazy_load_members": True, "types": []},
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
    },
}


def q(part: str) -> str:
    return quote(part, safe="")


class HttpError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {str(body)[:200]}")
        self.status, self.body = status, body


class Arrivals:
    """Awaited texts, and the time each one arrived."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[float]] = {}

    def expect(self, text: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[text] = future
        return future

    def seen(self, text: Any) -> None:
        future = self._waiting.pop(text, None) if isinstance(text, str) else None
        if future is not None and not future.done():
            future.set_result(time.monotonic())


class MatrixClient:
    def __init__(self, homeserver: str, user_id: str, token: str) -> None:
        self.homeserver = homeserver.rstrip("/")
        self.user_id = user_id
        self.token = token
        self.arrivals = Arrivals()
        self._http: aiohttp.ClientSession | None = None
        self._sync: asyncio.Task[None] | None = None
        self._synced = asyncio.Event()

    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession(
                headers={"Authorization": f"Bearer {self.token}"},
                connector=aiohttp.TCPConnector(limit=0),
                timeout=aiohttp.ClientTimeout(total=120),
            )
        return self._http

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        url = self.homeserver + path + ("?" + urlencode(query) if query else "")
        async with self.http().request(method, url, json=body) as r:
            data = await r.json(content_type=None)
            if r.status >= 400:
                raise HttpError(r.status, data)
            return data if isinstance(data, dict) else {}

    async def join(self, room_id: str) -> None:
        await self.request("POST", f"{CLIENT}/join/{q(room_id)}", {})

    async def send_text(self, room_id: str, text: str) -> str:
        path = f"{CLIENT}/rooms/{q(room_id)}/send/m.room.message/{secrets.token_hex(8)}"
        data = await self.request("PUT", path, {"msgtype": "m.text", "body": text})
        return data["event_id"]

    async def create_room(self, body: dict[str, Any]) -> str:
        return (await self.request("POST", f"{CLIENT}/createRoom", body))["room_id"]

    # -- /sync, as Element keeps it running ------------------------------------------------

    async def start_sync(self) -> None:
        """Sync in the background from now on (the initial sync's timeline is skipped)."""
        if self._sync is None:
            first = await self.request(
                "GET", f"{CLIENT}/sync", query={"filter": json.dumps(SYNC_FILTER), "timeout": 0}
            )
            self._sync = asyncio.create_task(self._sync_loop(first["next_batch"]))

    async def _sync_loop(self, since: str) -> None:
        query = {"filter": json.dumps(SYNC_FILTER), "timeout": 30000}
        while True:
            try:
                data = await self.request("GET", f"{CLIENT}/sync", query={**query, "since": since})
            except (aiohttp.ClientError, HttpError, TimeoutError):
                await asyncio.sleep(0.5)
                continue
            for room in (data.get("rooms") or {}).get("join", {}).values():
                for event in (room.get("timeline") or {}).get("events", []):
                    self.arrivals.seen((event.get("content") or {}).get("body"))
            since = data["next_batch"]

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sync
            self._sync = None
        if self._http is not None:
            await self._http.close()
            self._http = None


class Youth:
    """A young person's page: the intake API and its event stream, nothing else."""

    def __init__(self, intake: str, http: aiohttp.ClientSession) -> None:
        self.intake = intake
        self.http = http
        self.conversation = ""
        self.token = ""
        self.arrivals = Arrivals()
        self.stream_open = asyncio.Event()
        self.closed = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def url(self, what: str) -> str:
        return f"{self.intake}/api/v1/conversations/{self.conversation}/{what}"

    async def start(self, kommune: str, *, retry_busy: bool = True) -> int:
        """Start a conversation; returns how many times the intake said "try again"
        (503, as the page does: it waits the time it is told and tries again)."""
        body = {"kommune": kommune, "kanal": "plakat", "answers": {"heard_from": "plakat"}}
        busy = 0
        while True:
            async with self.http.post(f"{self.intake}/api/v1/conversations", json=body) as r:
                data = await r.json(content_type=None)
                if r.status == 201:
                    self.conversation, self.token = data["conversation"], data["token"]
                    return busy
                if r.status != 503 or not retry_busy:
                    raise HttpError(r.status, data)
            busy += 1
            await asyncio.sleep(min(data.get("retry_after_ms", 1000), 3000) / 1000)

    async def send(self, text: str) -> None:
        body = {"body": text, "client_id": secrets.token_hex(8)}
        async with self.http.post(self.url("messages"), json=body, headers=self.auth) as r:
            if r.status != 202:
                raise HttpError(r.status, await r.text())

    async def end(self) -> None:
        async with self.http.post(self.url("end"), headers=self.auth) as r:
            if r.status >= 400:
                raise HttpError(r.status, await r.text())

    @property
    def listening(self) -> bool:
        return self._reader is not None

    def listen(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with self.http.get(self.url("events"), headers=self.auth, timeout=timeout) as r:
            if r.status != 200:
                raise HttpError(r.status, await r.text())
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if not line.startswith("data: "):
                    continue
                item = json.loads(line[6:])
                # Open once the first status is there: the stream has read its room.
                self.stream_open.set()
                if item.get("type") == "message":
                    self.arrivals.seen(item.get("body"))
                elif item.get("type") == "status" and item.get("status") == "closed":
                    self.closed.set()

    async def stop_listening(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError, HttpError):
                await self._reader
            self._reader = None
