"""Test actors: a counsellor as a real Matrix client (matrix-nio, doing what Element does)
and a youth as a browser would be, speaking only to the intake API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinError,
    RedactionEvent,
    RoomLeaveResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

JOIN_PATIENCE = 15.0  # seconds a counsellor keeps clicking "Join" (see Counsellor.join)


class Counsellor:
    """A logged-in Matrix client that syncs in the background, like Element does."""

    def __init__(self, homeserver: str, user_id: str, access_token: str) -> None:
        self.client = AsyncClient(homeserver, user_id, config=AsyncClientConfig(max_timeouts=3))
        self.client.access_token = access_token
        self.client.user_id = user_id
        self.user_id = user_id
        self._synced = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.events: list[tuple[str, Any]] = []  # (room_id, nio event)
        self.redactions: list[tuple[str, dict[str, Any]]] = []  # (room_id, raw event)

    @classmethod
    async def login(cls, homeserver: str, user_id: str, password: str) -> Counsellor:
        client = AsyncClient(homeserver, user_id)
        resp = await client.login(password)
        await client.close()
        assert getattr(resp, "access_token", None), f"login failed: {resp}"
        return cls(homeserver, user_id, resp.access_token)

    async def start(self) -> Counsellor:
        async def on_sync(_: SyncResponse) -> None:
            async with self._synced:
                self._synced.notify_all()

        def on_event(room: Any, event: Any) -> None:
            self.events.append((room.room_id, event))

        def on_redaction(room: Any, event: Any) -> None:
            self.redactions.append((room.room_id, event.source))

        self.client.add_response_callback(on_sync, SyncResponse)
        self.client.add_event_callback(on_event, (RoomMessageText, RoomMessageNotice))
        self.client.add_event_callback(on_redaction, RedactionEvent)
        self._task = asyncio.create_task(self.client.sync_forever(timeout=1000, full_state=True))
        return self

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()

    async def sync_until(self, predicate: Callable[[], Any], timeout: float = 20) -> Any:
        """Wait on sync results until predicate() is truthy (Complement's MustSyncUntil)."""
        async with asyncio.timeout(timeout):
            async with self._synced:
                while not (result := predicate()):
                    await self._synced.wait()
        return result

    def texts_in(self, room_id: str) -> list[str]:
        return [e.body for r, e in self.events if r == room_id]

    async def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.client.access_token}"}
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.client.homeserver + path, json=body, headers=headers) as r,
        ):
            return r.status, await r.json(content_type=None)

    async def space_children(self, space_id: str, name_prefix: str = "") -> list[str]:
        """Rooms in a space as Element lists them (optionally only those named so)."""
        status, body = await self.request("GET", f"/_matrix/client/v1/rooms/{space_id}/hierarchy")
        assert status == 200, body
        return [
            r["room_id"]
            for r in body["rooms"]
            if r["room_id"] != space_id and r.get("name", "").startswith(name_prefix)
        ]

    async def join(self, room_id: str) -> None:
        """Join as Element's "Join" does. With Synapse's workers, a join in the first
        moments of a room may reach a worker that has not yet heard (by replication) who
        is in it, and is refused with M_UNABLE_TO_GRANT_JOIN; the counsellor clicks again,
        and so does this, for a few seconds."""
        async with asyncio.timeout(JOIN_PATIENCE):
            while True:
                resp = await self.client.join(room_id)
                if getattr(resp, "status_code", None) != "M_UNABLE_TO_GRANT_JOIN":
                    break
                await asyncio.sleep(0.5)
        assert not isinstance(resp, JoinError), f"join failed: {resp}"

    async def say(self, room_id: str, body: str) -> str:
        """Send a text; returns its event id."""
        resp = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}
        )
        assert isinstance(resp, RoomSendResponse), resp
        return resp.event_id

    async def edit(self, room_id: str, event_id: str, body: str) -> None:
        """Correct a message as Element does (`m.replace`)."""
        content = {
            "msgtype": "m.text",
            "body": f"* {body}",
            "m.new_content": {"msgtype": "m.text", "body": body},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        resp = await self.client.room_send(room_id, "m.room.message", content)
        assert isinstance(resp, RoomSendResponse), resp

    def sources(self, room_id: str) -> list[dict[str, Any]]:
        """The raw message events seen in a room, in order."""
        return [e.source for r, e in self.events if r == room_id]

    def redacted(self, room_id: str) -> dict[str, str]:
        """Ids of the events redacted in a room, with the reason given."""
        out = {}
        for r, event in self.redactions:
            target = event.get("redacts") or event.get("content", {}).get("redacts")
            if r == room_id and target:
                out[target] = event.get("content", {}).get("reason", "")
        return out

    def queue(self, room_id: str) -> dict[str, dict[str, Any]]:
        """A lobby as Element shows it: each message (not thread replies or replies to
        commands, not redacted ones) with its latest edit applied, by original event id."""
        current: dict[str, dict[str, Any]] = {}
        gone = self.redacted(room_id)
        for event in self.sources(room_id):
            if event["event_id"] in gone:
                continue
            content = event.get("content", {})
            relation = content.get("m.relates_to") or {}
            if relation.get("rel_type") == "m.replace":
                if relation.get("event_id") in current:
                    current[relation["event_id"]] = content["m.new_content"]
            elif not relation:
                current[event["event_id"]] = content
        return current

    def replies_to(self, room_id: str, event_id: str) -> list[str]:
        """Bodies of the bot's replies to one message (a command)."""
        return [
            e["content"]["body"]
            for e in self.sources(room_id)
            if (e["content"].get("m.relates_to") or {}).get("m.in_reply_to", {}).get("event_id")
            == event_id
            and "rel_type" not in e["content"]["m.relates_to"]
        ]

    def thread(self, room_id: str, root: str) -> list[dict[str, Any]]:
        return [
            e["content"]
            for e in self.sources(room_id)
            if (e["content"].get("m.relates_to") or {}).get("rel_type") == "m.thread"
            and e["content"]["m.relates_to"].get("event_id") == root
        ]

    async def history(self, room_id: str, limit: int = 200) -> list[str]:
        """Message bodies from the room's history, oldest first, as Element shows them when
        scrolling back (sync alone brings only the latest events of a newly joined room)."""
        path = f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit={limit}"
        status, body = await self.request("GET", path)
        assert status == 200, body
        return [
            e["content"]["body"]
            for e in reversed(body.get("chunk", []))
            if e.get("type") == "m.room.message" and "body" in e.get("content", {})
        ]

    async def leave(self, room_id: str) -> None:
        resp = await self.client.room_leave(room_id)
        assert isinstance(resp, RoomLeaveResponse), resp


@dataclass
class Youth:
    """What a young person's browser does: only the intake API, never the homeserver."""

    intake: str
    http: aiohttp.ClientSession
    conversation: str = ""
    token: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    last_event_id: str | None = None
    reconnects: int = 0
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def start(self, kommune: str, kanal: str | None = "plakat", answers: dict | None = None):
        body = {"kommune": kommune, "kanal": kanal, "answers": answers or {}}
        async with self.http.post(f"{self.intake}/api/v1/conversations", json=body) as r:
            data = await r.json()
            assert r.status == 201, data
        self.conversation, self.token = data["conversation"], data["token"]
        return self

    def url(self, what: str, conversation: str | None = None) -> str:
        return f"{self.intake}/api/v1/conversations/{conversation or self.conversation}/{what}"

    async def send(self, body: str) -> int:
        async with self.http.post(
            self.url("messages"), json={"body": body}, headers=self.auth
        ) as r:
            return r.status

    async def end(self) -> int:
        async with self.http.post(self.url("end"), headers=self.auth) as r:
            return r.status

    def listen(self, *, reconnect: bool = False) -> None:
        """Read the event stream in the background; with `reconnect`, as the page does:
        again with Last-Event-ID whenever it breaks, until the conversation has ended."""
        self._reader = asyncio.create_task(self._follow() if reconnect else self._read())

    async def _follow(self) -> None:
        closed = {"type": "status", "status": "closed"}
        while closed not in self.received:
            headers = dict(self.auth)
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                async with self.http.get(self.url("events"), headers=headers) as r:
                    if r.status == 404:  # deleted before the page heard it ended
                        return
                    async for raw in r.content:
                        self._line(raw)
            except (aiohttp.ClientError, ConnectionError):
                pass
            if closed not in self.received:
                self.reconnects += 1
                await asyncio.sleep(0.5)

    def _line(self, raw: bytes) -> None:
        line = raw.decode().rstrip("\n")
        if line.startswith("id: "):
            self.last_event_id = line[4:]
        elif line.startswith("data: "):
            self.received.append(json.loads(line[6:]))
            self._arrived.set()

    async def _read(self) -> None:
        headers = dict(self.auth)
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        async with self.http.get(self.url("events"), headers=headers) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("text/event-stream")
            async for raw in r.content:
                self._line(raw)

    async def ended(self) -> None:
        """Until the stream (one that reconnects) has heard the conversation end."""
        assert self._reader is not None, "not listening"
        await self._reader

    async def stop_listening(self) -> None:
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20):
        async with asyncio.timeout(timeout):
            while True:
                for item in self.received:
                    if predicate(item):
                        return item
                if self._reader and self._reader.done():
                    self._reader.result()  # surface the stream's failure
                    raise AssertionError(f"stream ended; received {self.received}")
                self._arrived.clear()
                await self._arrived.wait()

    def messages(self, sender: str | None = None) -> list[str]:
        return [
            e["body"]
            for e in self.received
            if e["type"] == "message" and (sender is None or e["from"] == sender)
        ]
