"""A young person using the letterbox as the page does (the intake API only), and the
counsellor's side of it (the Brevkasse room, a letter's room)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from bots.matrix.links import NotProvisioned
from tests.matrix_helpers import Counsellor
from tests.stack_fixture import Stack
from tests.waiting import eventually


@dataclass
class Writer:
    intake: str
    http: aiohttp.ClientSession
    letter: str = ""
    code: str = ""
    token: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def write(self, kommune: str, body: str, **extra: Any) -> Writer:
        sent = {"kommune": kommune, "body": body, **extra}
        async with self.http.post(f"{self.intake}/api/v1/letters", json=sent) as r:
            data = await r.json()
            assert r.status == 201, data
        self.letter, self.code = data["letter"], data["code"]
        return self

    async def open(self, code: str | None = None) -> tuple[int, dict[str, Any]]:
        body = {"code": self.code if code is None else code}
        async with self.http.post(f"{self.intake}/api/v1/letters/open", json=body) as r:
            data = await r.json()
        if r.status == 200:
            self.token = data["token"]
        return r.status, data

    async def read(self, token: str | None = None, letter: str | None = None):
        headers = {"Authorization": f"Bearer {token or self.token}"}
        async with self.http.get(self.url(letter), headers=headers) as r:
            return r.status, await r.json()

    def url(self, letter: str | None = None) -> str:
        return f"{self.intake}/api/v1/letters/{letter or self.letter}"

    async def reply(self, body: str) -> int:
        async with self.http.post(
            f"{self.url()}/messages", json={"body": body}, headers=self.auth
        ) as r:
            return r.status

    async def delete(self) -> int:
        async with self.http.delete(self.url(), headers=self.auth) as r:
            return r.status


async def letterbox_of(stack: Stack, slug: str, counsellor: Counsellor) -> str:
    """The municipality's Brevkasse room, joined by the counsellor (as they accept the
    invitation provisioning sent)."""
    m = stack.config.municipality(slug)
    assert m is not None
    try:
        room = await stack.bot.letters.letterbox.room_id(m)
    except NotProvisioned as exc:  # pragma: no cover - provisioning makes it
        raise AssertionError("no Brevkasse") from exc
    if room not in counsellor.client.rooms:
        await counsellor.join(room)
    return room


async def letter_room(stack: Stack, letter: str) -> str:
    async def made() -> str | None:
        row = await stack.bot.letters.repo.get(letter)
        return row.room_id if row is not None and row.state != "requested" else None

    return await eventually(made)


async def letter_state(stack: Stack, letter: str, state: str | None) -> None:
    """Until the letter is in `state` (None: its row is gone, it is deleted)."""

    async def reached() -> bool:
        row = await stack.bot.letters.repo.get(letter)
        return (row is None) if state is None else (row is not None and row.state == state)

    await eventually(reached, timeout=60)
