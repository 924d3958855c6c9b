"""The one boundary around the homeserver's HTTP APIs.

The bot talks to each homeserver as its application service: with the as_token, as the
bot itself, or as one of its youth accounts by `?user_id=` masquerading; a second gateway
with the admin token reaches the Synapse Admin API. This is a small typed client on
aiohttp, as mautrix has (an application service needs only plain authenticated requests,
no sync, no encryption): it builds percent-encoded paths, honours the homeserver's
`retry_after_ms` when it says to slow down, and turns every error answer into the typed
exceptions of `bots.matrix.errors`, so no other module looks at an HTTP status.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from bots.matrix.errors import MatrixError, Unreachable, error_for

CLIENT_V3 = "/_matrix/client/v3"
CLIENT_V1 = "/_matrix/client/v1"
ADMIN = "/_synapse/admin"
# What the youth's page is made of: messages, and redactions so it can take back what a
# counsellor deleted.
YOUTH_EVENT_TYPES = ("m.room.message", "m.room.redaction")
REQUEST_SECONDS = 30.0
# How often a request told to slow down (M_LIMIT_EXCEEDED) is tried again, as told.
RATE_LIMIT_RETRIES = 5


def to_json(value: Any) -> str:
    """Compact JSON, as query parameters (a filter) and bodies are sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def path(parts: Sequence[str], query: dict[str, Any] | None = None, base: str = CLIENT_V3) -> str:
    """Percent-encode each part, '/' too (room ids hold ':' and '!', aliases '#', state
    keys anything); an empty last part (a state key "") is left off."""
    built = f"{base}/" + "/".join(quote(str(part), safe="") for part in parts)
    built = built.rstrip("/")
    return f"{built}?{urlencode(query)}" if query else built


class MatrixGateway:
    """Authenticated requests to one homeserver, as one token's owner (or a masqueraded user)."""

    def __init__(self, homeserver_url: str, access_token: str, user_id: str = "") -> None:
        self._base = homeserver_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._http: aiohttp.ClientSession | None = None  # made in the running event loop
        self.user_id = user_id

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_SECONDS),
                connector=aiohttp.TCPConnector(limit=100),
            )
        return self._http

    async def request(
        self,
        method: str,
        url_path: str,
        body: dict[str, Any] | None = None,
        *,
        as_user: str | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """One request; returns the JSON body or raises a typed `MatrixError`. A request
        the homeserver rate-limits is tried again after the time it asks for."""
        if as_user is not None:
            sep = "&" if "?" in url_path else "?"
            url_path = f"{url_path}{sep}{urlencode({'user_id': as_user})}"
        data = to_json(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else None
        limit = aiohttp.ClientTimeout(total=timeout) if timeout is not None else None
        for attempt in range(RATE_LIMIT_RETRIES + 1):
            try:
                async with self._session().request(
                    method, self._base + url_path, data=data, headers=headers, timeout=limit
                ) as r:
                    status = r.status
                    text = await r.text()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise Unreachable(None, f"{type(exc).__name__}: {exc}", None) from exc
            try:
                answer = json.loads(text) if text else {}
            except ValueError:
                answer = {}
            if not isinstance(answer, dict):
                answer = {"value": answer}
            if status < 400:
                return answer
            errcode, error = answer.get("errcode"), answer.get("error") or text[:200]
            wait = answer.get("retry_after_ms")
            if (
                errcode == "M_LIMIT_EXCEEDED"
                and isinstance(wait, int)
                and attempt < RATE_LIMIT_RETRIES
            ):
                await asyncio.sleep(wait / 1000)
                continue
            raise error_for(errcode if isinstance(errcode, str) else None, str(error), status)
        raise AssertionError("unreachable")  # the loop returns or raises

    async def reachable(self, timeout: float = 3) -> bool:
        """Does the homeserver answer at all right now?"""
        try:
            await self.request("GET", "/_matrix/client/versions", timeout=timeout)
        except MatrixError:
            return False
        return True

    async def ping_appservice(self, appservice_id: str) -> None:
        """The homeserver calls our /ping; it also retries pushes it held back."""
        url = path(["appservice", appservice_id, "ping"], base=CLIENT_V1)
        txn = {"transaction_id": f"up-{secrets.token_hex(4)}"}
        await self.request("POST", url, txn, timeout=5)

    # -- client-server API calls the bot makes -------------------------------------------

    async def register_appservice_user(self, localpart: str) -> None:
        await self.request(
            "POST",
            path(["register"]),
            {"type": "m.login.application_service", "username": localpart, "inhibit_login": True},
        )

    async def create_room(self, body: dict[str, Any]) -> str:
        return (await self.request("POST", path(["createRoom"]), body))["room_id"]

    async def resolve_alias(self, alias: str) -> str:
        return (await self.request("GET", path(["directory", "room", alias])))["room_id"]

    async def join(
        self, room_id: str, *, as_user: str | None = None, via: Sequence[str] = ()
    ) -> None:
        """Join; `via` names servers in the room when this homeserver is not (yet)."""
        url = path(["join", room_id])
        if via:
            url += "?" + urlencode([("server_name", server) for server in via])
        await self.request("POST", url, {}, as_user=as_user)

    async def join_as(self, room_id: str, user_id: str, profile: dict[str, Any]) -> str:
        """`user_id` (one of ours, masqueraded) joins with `profile` (e.g. a displayname)
        in its membership event: one request where a join and a profile change are two.
        Repeated, the homeserver answers with the same event (nothing changed)."""
        url = path(["rooms", room_id, "state", "m.room.member", user_id])
        content = {**profile, "membership": "join"}
        return (await self.request("PUT", url, content, as_user=user_id))["event_id"]

    async def kick(self, room_id: str, user_id: str, reason: str = "") -> None:
        body = {"user_id": user_id, "reason": reason} if reason else {"user_id": user_id}
        await self.request("POST", path(["rooms", room_id, "kick"]), body)

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.request("POST", path(["rooms", room_id, "invite"]), {"user_id": user_id})

    async def send(
        self,
        room_id: str,
        event_type: str,
        content: dict[str, Any],
        txn_id: str,
        *,
        as_user: str | None = None,
    ) -> str:
        """Send an event; the same txn_id from the same sender is deduplicated by the server."""
        url = path(["rooms", room_id, "send", event_type, txn_id])
        return (await self.request("PUT", url, content, as_user=as_user))["event_id"]

    async def redact(self, room_id: str, event_id: str, txn_id: str, reason: str = "") -> None:
        url = path(["rooms", room_id, "redact", event_id, txn_id])
        await self.request("PUT", url, {"reason": reason} if reason else {})

    async def related(self, room_id: str, event_id: str) -> list[str]:
        """Ids of every event relating to `event_id` (edits, thread replies), all pages."""
        found: list[str] = []
        query: dict[str, Any] = {"limit": 100}
        while True:
            url = path(["rooms", room_id, "relations", event_id], query, base=CLIENT_V1)
            page = await self.request("GET", url)
            found += [e["event_id"] for e in page.get("chunk", []) if "event_id" in e]
            if not page.get("next_batch"):
                return found
            query["from"] = page["next_batch"]

    async def put_state(
        self, room_id: str, event_type: str, content: dict[str, Any], state_key: str = ""
    ) -> str:
        url = path(["rooms", room_id, "state", event_type, state_key])
        return (await self.request("PUT", url, content))["event_id"]

    async def get_state(self, room_id: str, event_type: str, state_key: str = "") -> dict:
        return await self.request("GET", path(["rooms", room_id, "state", event_type, state_key]))

    async def set_displayname(self, user_id: str, name: str) -> None:
        url = path(["profile", user_id, "displayname"])
        await self.request("PUT", url, {"displayname": name}, as_user=user_id)

    async def messages(
        self,
        room_id: str,
        *,
        from_token: str | None,
        as_user: str | None = None,
        backwards: bool = False,
        event_types: Sequence[str] = YOUTH_EVENT_TYPES,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Room events of `event_types` from `from_token`: forward (from the room's start
        when None), or backwards (from the newest when None); as `as_user`, or the bot."""
        query: dict[str, Any] = {
            "dir": "b" if backwards else "f",
            "limit": limit,
            "filter": to_json({"types": list(event_types), "lazy_load_members": True}),
        }
        if from_token:
            query["from"] = from_token
        return await self.request(
            "GET", path(["rooms", room_id, "messages"], query), as_user=as_user
        )

    async def room_event(self, room_id: str, event_id: str, *, as_user: str) -> dict[str, Any]:
        return await self.request(
            "GET", path(["rooms", room_id, "event", event_id]), as_user=as_user
        )

    async def read_receipt(self, room_id: str, event_id: str, *, as_user: str) -> None:
        """A public read receipt (`m.read`): the counsellors' clients show it as read."""
        url = path(["rooms", room_id, "receipt", "m.read", event_id])
        await self.request("POST", url, {}, as_user=as_user)

    async def typing(self, room_id: str, user_id: str, typing: bool) -> None:
        url = path(["rooms", room_id, "typing", user_id])
        body: dict[str, Any] = {"typing": typing}
        if typing:
            body["timeout"] = 30000
        await self.request("PUT", url, body, as_user=user_id)
