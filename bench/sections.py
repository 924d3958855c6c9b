"""The seven measurements of docs/performance.md, each against the stack of bench/stack.py.

Every section returns plain data (figures in milliseconds, seconds, MB, bytes) for the
table and the JSON; nothing here asserts a goal. Where the bot is compared with the
homeserver's own floor, the two are measured in the same run, interleaved round by round
(the order alternating), so load from elsewhere on the machine falls on both alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import re
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.clients import CLIENT, HttpError, MatrixClient, Youth, q
from bench.stack import SLUG, Stack, usage
from bots.conversation import room as shape
from bots.conversation.states import OPEN, State
from bots.conversation.tokens import hash_token, new_token
from bots.db.models import Conversation, utcnow

CHROMIUM = "/usr/bin/chromium"
# Synapse's access log: its own time for each request (total, and in the database), and the
# request line; the address and user agent on the same line are never read.
ACCESS = re.compile(
    r"Processed request: (?P<total>[\d.]+)sec/[\d.]+sec ru=\([^)]*\) "
    r"db=\([\d.]+sec/(?P<db>[\d.]+)sec/\d+\) \S+ (?P<status>\d+) "
    r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP'
)
KEPT = {
    "register",
    "createRoom",
    "join",
    "profile",
    "displayname",
    "send",
    "state",
    "messages",
    "redact",
    "relations",
    "event",
    "sync",
    "rooms",
    "directory",
    "room",
    "receipt",
    "typing",
    "admin",
    "v1",
    "v2",
    "users",
    "delete_status",
    "media",
}
UNFINISHED = [s.value for s in (*OPEN, State.CLOSING)]


@dataclass
class Settings:
    mode: str
    concurrency: dict[int, int]  # concurrency -> rounds
    relay_messages: int
    throughput_seconds: float
    throughput_workers: int
    scale_levels: list[int]
    scale_rooms: int  # real rooms behind the population (see scale())
    scale_idle_seconds: float
    scale_opens: int
    close_singles: int
    close_batch: int
    page_loads: int
    settle_seconds: float  # after new streams connect, before the idle window

    @classmethod
    def for_mode(cls, mode: str) -> Settings:
        if mode == "quick":
            return cls(
                mode,
                concurrency={1: 1, 4: 1},
                relay_messages=2,
                throughput_seconds=2.0,
                throughput_workers=2,
                scale_levels=[5, 15],
                scale_rooms=3,
                scale_idle_seconds=1.0,
                scale_opens=1,
                close_singles=1,
                close_batch=2,
                page_loads=1,
                settle_seconds=0.5,
            )
        return cls(
            mode,
            concurrency={1: 10, 10: 3, 50: 2},
            relay_messages=20,
            throughput_seconds=60.0,
            throughput_workers=8,
            scale_levels=[10, 500, 2000] + ([5000] if mode == "full" else []),
            scale_rooms=60,
            scale_idle_seconds=35.0,  # longer than a stream's 30 s re-read
            scale_opens=10,
            close_singles=6,
            close_batch=12,
            page_loads=3,
            settle_seconds=3.0,
        )


def summary(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 (and the count) of a sample, in its own unit, rounded."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]

    return {
        "n": len(values),
        "p50": round(statistics.median(ordered), 1),
        "p95": round(pct(95), 1),
        "p99": round(pct(99), 1),
        "mean": round(statistics.fmean(ordered), 1),
    }


def ms_since(t0: float) -> float:
    return (time.monotonic() - t0) * 1000


async def timed(job: Callable[[], Awaitable[Any]]) -> float:
    t0 = time.monotonic()
    await job()
    return ms_since(t0)


class Bench:
    """The stack plus what the sections share: an HTTP session for youths, the bot's
    database (read, and written only to build the scale population)."""

    def __init__(self, stack: Stack, engine: AsyncEngine, settings: Settings) -> None:
        self.stack = stack
        self.engine = engine
        self.settings = settings
        self.youth_http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        self.appservice = stack.appservice_client()
        self.admin = stack.admin_client()

    async def close(self) -> None:
        await self.youth_http.close()
        await self.appservice.close()
        await self.admin.close()

    def youth(self) -> Youth:
        return Youth(self.stack.intake, self.youth_http)

    async def conversation(self, conv_id: str) -> Conversation:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(Conversation.__table__).where(Conversation.id == conv_id))
            ).first()
        assert row is not None, conv_id
        return Conversation(**row._mapping)

    async def wait_state(self, conv_id: str, states: set[str], timeout: float = 60) -> Conversation:
        async with asyncio.timeout(timeout):
            while True:
                conv = await self.conversation(conv_id)
                if conv.state in states:
                    return conv
                await asyncio.sleep(0.05)

    async def unfinished(self) -> int:
        async with self.engine.connect() as conn:
            query = select(func.count()).where(Conversation.state.in_(UNFINISHED))
            return int((await conn.execute(query)).scalar_one())

    async def drain(self, timeout: float = 300) -> float:
        """Until no conversation is open or closing (every room purged); seconds waited."""
        t0 = time.monotonic()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while await self.unfinished():
                    await asyncio.sleep(0.2)
        return time.monotonic() - t0

    async def forget(self, youths: list[Youth]) -> None:
        """Take conversations out of the bot's database, leaving their rooms on the
        homeserver as the floor's are left: purging hundreds of rooms between sections
        would take minutes and load the sections after it (closing is measured on its own)."""
        ids = [y.conversation for y in youths if y.conversation]
        async with self.engine.begin() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                await conn.execute(delete(Conversation).where(Conversation.id.in_(chunk)))

    async def end_all(self, youths: list[Youth]) -> None:
        await gather_limited([y.end for y in youths if y.conversation], 20)

    def log_offset(self) -> int:
        return self.stack.synapse.log_path.stat().st_size

    def synapse_timings(self, offset: int) -> dict[str, Any]:
        """Synapse's own time per kind of request since `offset` in its log: how much of
        a set-up is the homeserver's, and where inside it."""
        times: dict[str, list[float]] = {}
        db: dict[str, list[float]] = {}
        with self.stack.synapse.log_path.open("rb") as log:
            log.seek(offset)
            for raw in log:
                if b"Processed request" not in raw:
                    continue
                found = ACCESS.search(raw.decode(errors="replace"))
                if not found:
                    continue
                key = f"{found['method']} {endpoint(found['path'])}"
                times.setdefault(key, []).append(float(found["total"]) * 1000)
                db.setdefault(key, []).append(float(found["db"]) * 1000)
        return {
            key: {**summary(values), "db_p50": round(statistics.median(db[key]), 1)}
            for key, values in sorted(times.items(), key=lambda kv: -sum(kv[1]))
        }

    def usage(self) -> dict[str, Any]:
        return {
            "bot": dataclasses.asdict(usage(self.stack.bot.pid)),
            "synapse": dataclasses.asdict(usage(self.stack.synapse.pid)),
        }


def endpoint(path: str) -> str:
    """A request path without ids, tokens or query (`/…/rooms/*/send/m.room.message/*`)."""
    parts = path.split("?", 1)[0].split("/")
    kept = [
        p
        if not p or p in KEPT or p.startswith(("m.", "dk.", "_matrix", "_synapse", "client", "v3"))
        else "*"
        for p in parts
    ]
    return "/".join(kept)


async def gather_limited(jobs: list[Callable[[], Awaitable[Any]]], at_once: int) -> list[Any]:
    gate = asyncio.Semaphore(at_once)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


# -- 1, 2: opening a conversation, against the floor ----------------------------------------


async def floor_sequential(b: Bench) -> None:
    """What the issue calls the floor: the homeserver requests of a set-up, made one after
    another by a bare client (the youth account, the room with its initial state, the
    space child, the lobby entry)."""
    reg, rooms = b.stack.registration, b.stack.rooms
    cid = secrets.token_hex(16)
    youth = reg.youth_user_id(cid)
    await b.appservice.request(
        "POST",
        f"{CLIENT}/register",
        {
            "type": "m.login.application_service",
            "username": youth[1:].split(":")[0],
            "inhibit_login": True,
        },
    )
    room_id = await b.appservice.create_room(room_body(b, cid, youth))
    await space_child(b, room_id)
    await lobby_entry(b, room_id, cid)
    del rooms


async def floor_parallel(b: Bench) -> None:
    """The same requests and the youth's join, with what does not depend on each other
    made at once: the best a client can do with these requests."""
    reg = b.stack.registration
    cid = secrets.token_hex(16)
    youth = reg.youth_user_id(cid)
    register = b.appservice.request(
        "POST",
        f"{CLIENT}/register",
        {
            "type": "m.login.application_service",
            "username": youth[1:].split(":")[0],
            "inhibit_login": True,
        },
    )
    _, room_id = await asyncio.gather(register, b.appservice.create_room(room_body(b, cid, youth)))
    join = b.appservice.request(
        "PUT",
        f"{CLIENT}/rooms/{q(room_id)}/state/m.room.member/{q(youth)}",
        {"membership": "join", "displayname": "Ung (anonym)"},
        query={"user_id": youth},
    )
    await asyncio.gather(join, space_child(b, room_id), lobby_entry(b, room_id, cid))


def room_body(b: Bench, cid: str, youth: str) -> dict[str, Any]:
    reg = b.stack.registration
    return shape.create_room_body(
        alias_localpart=reg.conversation_alias_localpart(cid),
        name=f"Samtale {cid[:6]}",
        topic="Kanal: plakat",
        space_id=b.stack.rooms.space_id,
        server_name=reg.server_name,
        bot_user_id=reg.bot_user_id,
        youth_user_id=youth,
        kommune=SLUG,
        kanal="plakat",
    )


async def space_child(b: Bench, room_id: str) -> None:
    space = b.stack.rooms.space_id
    await b.appservice.request(
        "PUT",
        f"{CLIENT}/rooms/{q(space)}/state/m.space.child/{q(room_id)}",
        shape.space_child_content([b.stack.registration.server_name]),
    )


async def lobby_entry(b: Bench, room_id: str, cid: str) -> None:
    lobby = b.stack.rooms.lobby_id
    text = f"Ny samtale venter (plakat) · Åbn: https://matrix.to/#/{room_id}"
    await b.appservice.request(
        "PUT",
        f"{CLIENT}/rooms/{q(lobby)}/send/m.room.message/lobby-{cid}",
        {
            "msgtype": "m.text",
            "body": text,
            "format": "org.matrix.custom.html",
            "formatted_body": text,
            "m.mentions": {},
        },
    )


async def open_vs_floor(b: Bench) -> dict[str, Any]:
    """1 and 2: POST /api/v1/conversations (answered once the room is in the space and its
    lobby entry posted) against the floor, at each concurrency, interleaved."""
    out: dict[str, Any] = {}
    youths: list[Youth] = []
    busy = 0

    async def open_one() -> None:
        nonlocal busy
        youth = b.youth()
        youths.append(youth)
        busy += await youth.start(SLUG)

    variants: dict[str, Callable[[], Awaitable[None]]] = {
        "open": open_one,
        "floor": lambda: floor_sequential(b),
        "floor_parallel": lambda: floor_parallel(b),
    }
    names = list(variants)
    offset = b.log_offset()
    for name in names:  # warming up: not counted
        await variants[name]()
    for concurrency, rounds in b.settings.concurrency.items():
        samples: dict[str, list[float]] = {name: [] for name in names}
        for r in range(rounds):
            order = names[r % len(names) :] + names[: r % len(names)]
            for name in order:
                samples[name] += await asyncio.gather(
                    *(timed(variants[name]) for _ in range(concurrency))
                )
                await asyncio.sleep(0.2)
        figures = {name: summary(values) for name, values in samples.items()}
        for floor in ("floor", "floor_parallel"):
            figures[f"open/{floor}"] = {
                p: round(figures["open"][p] / figures[floor][p], 2) for p in ("p50", "p95")
            }
        out[str(concurrency)] = figures
    out["busy_retries"] = busy
    out["synapse_timings"] = b.synapse_timings(offset)
    await b.forget(youths)
    return out


# -- 3: relay, both ways, against two plain clients ------------------------------------------


async def relay(b: Bench) -> dict[str, Any]:
    stack = b.stack
    counsellor = stack.counsellors[0]
    youth = b.youth()
    await youth.start(SLUG)
    youth.listen()
    conv = await b.wait_state(youth.conversation, {State.WAITING.value})
    assert conv.room_id is not None
    await counsellor.join(conv.room_id)
    await b.wait_state(youth.conversation, {State.ACTIVE.value})
    await asyncio.wait_for(youth.stream_open.wait(), 30)
    alice, bob = await stack.new_user("alice"), await stack.new_user("bob")
    direct_room = await alice.create_room({"preset": "private_chat", "invite": [bob.user_id]})
    await bob.join(direct_room)
    for client in (counsellor, alice, bob):
        await client.start_sync()
    await asyncio.sleep(1)

    async def youth_to_counsellor() -> float:
        text = f"bench-y-{secrets.token_hex(6)}"
        arrived = counsellor.arrivals.expect(text)
        t0 = time.monotonic()
        await youth.send(text)
        return (await asyncio.wait_for(arrived, 30) - t0) * 1000

    async def counsellor_to_youth() -> float:
        text = f"bench-c-{secrets.token_hex(6)}"
        arrived = youth.arrivals.expect(text)
        t0 = time.monotonic()
        await counsellor.send_text(conv.room_id or "", text)
        return (await asyncio.wait_for(arrived, 30) - t0) * 1000

    def direct(sender: MatrixClient, receiver: MatrixClient) -> Callable[[], Awaitable[float]]:
        async def once() -> float:
            text = f"bench-d-{secrets.token_hex(6)}"
            arrived = receiver.arrivals.expect(text)
            t0 = time.monotonic()
            await sender.send_text(direct_room, text)
            return (await asyncio.wait_for(arrived, 30) - t0) * 1000

        return once

    kinds: dict[str, Callable[[], Awaitable[float]]] = {
        "youth_to_counsellor": youth_to_counsellor,
        "direct_a_to_b": direct(alice, bob),
        "counsellor_to_youth": counsellor_to_youth,
        "direct_b_to_a": direct(bob, alice),
    }
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    names = list(kinds)
    for i in range(b.settings.relay_messages + 1):
        for name in names[i % 2 :] + names[: i % 2]:
            took = await kinds[name]()
            if i:
                samples[name].append(took)
            await asyncio.sleep(0.1)
    figures: dict[str, Any] = {k: summary(v) for k, v in samples.items()}
    figures["youth_to_counsellor/direct"] = {
        p: round(figures["youth_to_counsellor"][p] / figures["direct_a_to_b"][p], 2)
        for p in ("p50", "p95")
    }
    figures["counsellor_to_youth/direct"] = {
        p: round(figures["counsellor_to_youth"][p] / figures["direct_b_to_a"][p], 2)
        for p in ("p50", "p95")
    }
    for client in (alice, bob):
        await client.close()
    await youth.stop_listening()
    await youth.end()
    await b.drain()
    return figures


# -- 4: throughput and CPU per conversation --------------------------------------------------


async def throughput(b: Bench) -> dict[str, Any]:
    """Workers open a conversation, follow its stream, write once and end it, again and
    again for the period; then every room is purged. CPU of each process over all that."""
    settings = b.settings
    done = 0
    before = b.usage()
    t0 = time.monotonic()
    stop_at = t0 + settings.throughput_seconds

    async def worker() -> None:
        nonlocal done
        while time.monotonic() < stop_at:
            youth = b.youth()
            await youth.start(SLUG)
            youth.listen()
            await asyncio.wait_for(youth.stream_open.wait(), 30)
            await youth.send(f"bench-t-{secrets.token_hex(4)}")
            await youth.end()
            await youth.stop_listening()
            done += 1

    await asyncio.gather(*(worker() for _ in range(settings.throughput_workers)))
    opened_in = time.monotonic() - t0
    drained = await b.drain()
    total = time.monotonic() - t0
    after = b.usage()
    bot_cpu = after["bot"]["cpu"] - before["bot"]["cpu"]
    synapse_cpu = after["synapse"]["cpu"] - before["synapse"]["cpu"]
    per = max(done, 1)
    return {
        "conversations": done,
        "seconds_opening": round(opened_in, 1),
        "seconds_until_all_purged": round(total, 1),
        "opened_and_ended_per_second": round(done / opened_in, 2),
        "opened_and_purged_per_second": round(done / total, 2),
        "drain_seconds": round(drained, 1),
        "bot_cpu_seconds_per_conversation": round(bot_cpu / per, 4),
        "synapse_cpu_seconds_per_conversation": round(synapse_cpu / per, 4),
        "bot_cpu/synapse_cpu": round(bot_cpu / synapse_cpu, 3) if synapse_cpu else None,
    }


# -- 5: scale: many conversations open, each with its stream ---------------------------------


async def scale(b: Bench) -> dict[str, Any]:
    """The population: `scale_rooms` conversations opened through the intake (real rooms,
    a youth joined in each), then more conversation rows beside them in the bot's database,
    each a copy of one of those with its own id and session token, so each has its own
    event stream reading a real room as a joined youth. Synapse opens only a few rooms a
    second, so 2,000 real rooms would take the whole run; the bot's side (rows, streams,
    wake-ups, queue) is what this measures, and it is all there. Synapse holds
    `scale_rooms` rooms, not N."""
    settings = b.settings
    real: list[Conversation] = []
    youths: list[Youth] = []
    copies: list[str] = []
    out: dict[str, Any] = {"real_rooms": settings.scale_rooms, "levels": {}}
    try:
        for level in settings.scale_levels:
            # Real conversations first (up to `scale_rooms`), then copies of them.
            starters = [b.youth() for _ in range(min(level, settings.scale_rooms) - len(real))]
            await gather_limited([functools.partial(y.start, SLUG) for y in starters], 8)
            for y in starters:
                real.append(await b.wait_state(y.conversation, {State.WAITING.value}))
            youths += starters
            if level > len(youths):
                youths += await population(b, real, level - len(youths), copies)
            streaming = youths
            for y in streaming:
                if not y.listening:
                    y.listen()
            t0 = time.monotonic()
            await asyncio.wait_for(asyncio.gather(*(y.stream_open.wait() for y in streaming)), 600)
            connect = time.monotonic() - t0
            await asyncio.sleep(settings.settle_seconds)  # the new streams' first reads
            before = b.usage()
            await asyncio.sleep(settings.scale_idle_seconds)
            after = b.usage()
            idle = settings.scale_idle_seconds
            opens: list[float] = []
            extra: list[Youth] = []
            for _ in range(settings.scale_opens):
                y = b.youth()
                extra.append(y)
                opens.append(await timed(functools.partial(y.start, SLUG)))
                await asyncio.sleep(0.2)
            await b.forget(extra)
            out["levels"][str(level)] = {
                "streams": len(streaming),
                "seconds_to_connect_new_streams": round(connect, 1),
                "bot_rss_mb": round(after["bot"]["rss_mb"], 1),
                "synapse_rss_mb": round(after["synapse"]["rss_mb"], 1),
                "idle_bot_cpu_percent": round(
                    100 * (after["bot"]["cpu"] - before["bot"]["cpu"]) / idle, 1
                ),
                "idle_synapse_cpu_percent": round(
                    100 * (after["synapse"]["cpu"] - before["synapse"]["cpu"]) / idle, 1
                ),
                "open_ms": summary(opens),
            }
        first = out["levels"][str(settings.scale_levels[0])]["open_ms"]["p50"]
        for figures in out["levels"].values():
            figures["open_p50/at_first_level"] = round(figures["open_ms"]["p50"] / first, 2)
    finally:
        await asyncio.gather(*(y.stop_listening() for y in youths))
        await b.forget(youths)
    return out


async def population(
    b: Bench, real: list[Conversation], count: int, copies: list[str]
) -> list[Youth]:
    """`count` more conversations, copies of the real ones (see scale())."""
    rows: list[dict[str, Any]] = []
    youths: list[Youth] = []
    now = utcnow()
    for i in range(count):
        model = real[i % len(real)]
        token = new_token()
        conv_id = secrets.token_hex(16)
        rows.append(
            {
                "id": conv_id,
                "kommune": model.kommune,
                "homeserver": model.homeserver,
                "kanal": model.kanal,
                "answers": model.answers,
                "state": State.WAITING.value,
                "token_hash": hash_token(token),
                "youth_user_id": model.youth_user_id,
                "room_id": model.room_id,
                "lobby_event_id": model.lobby_event_id,
                "created_at": now,
                "waiting_since": now,
                "last_activity_at": now,
                "reminded_at": now,  # no reminder for the copies
                "youth_seen_at": now,
                "counsellors": [],
                "topics": [],
                "event_seq": 0,
            }
        )
        youth = b.youth()
        youth.conversation, youth.token = conv_id, token
        youths.append(youth)
        copies.append(conv_id)
    async with b.engine.begin() as conn:
        for start in range(0, len(rows), 500):
            await conn.execute(insert(Conversation), rows[start : start + 500])
    return youths


# -- 6: close -------------------------------------------------------------------------------


async def close(b: Bench) -> dict[str, Any]:
    """`!luk` from the counsellor in the room, to the room gone from the homeserver (the
    Admin API no longer knows it): one at a time, then a batch closed at once."""
    settings = b.settings
    counsellor = b.stack.counsellors[1]

    async def claimed() -> str:
        youth = b.youth()
        await youth.start(SLUG)
        conv = await b.wait_state(youth.conversation, {State.WAITING.value})
        assert conv.room_id is not None
        await counsellor.join(conv.room_id)
        await b.wait_state(youth.conversation, {State.ACTIVE.value})
        return conv.room_id

    async def gone(room_id: str) -> float:
        while True:
            try:
                await b.admin.request("GET", f"/_synapse/admin/v1/rooms/{q(room_id)}")
            except HttpError as exc:
                if exc.status == 404:
                    return time.monotonic()
                raise
            await asyncio.sleep(0.05)

    singles = []
    for _ in range(settings.close_singles):
        room_id = await claimed()
        t0 = time.monotonic()
        await counsellor.send_text(room_id, "!luk")
        singles.append((await asyncio.wait_for(gone(room_id), 120) - t0) * 1000)
    rooms = [await claimed() for _ in range(settings.close_batch)]
    t0 = time.monotonic()
    await asyncio.gather(*(counsellor.send_text(r, "!luk") for r in rooms))
    ends = await asyncio.wait_for(asyncio.gather(*(gone(r) for r in rooms)), 300)
    batch = max(ends) - t0
    await b.drain()
    return {
        "luk_to_gone_ms": summary(singles),
        "batch": settings.close_batch,
        "batch_seconds": round(batch, 2),
        "purges_per_second": round(settings.close_batch / batch, 2),
    }


# -- 7: the youth page in headless Chromium -------------------------------------------------


async def page(b: Bench) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    url = f"{b.stack.intake}/k/{SLUG}?kanal=plakat"
    loads = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        try:
            for _ in range(b.settings.page_loads + 1):  # the first warms the server
                context = await browser.new_context(
                    viewport={"width": 360, "height": 740}, locale="da-DK"
                )
                tab = await context.new_page()
                finished: list[Any] = []
                tab.on("requestfinished", functools.partial(list.append, finished))
                t0 = time.monotonic()
                await tab.goto(url, wait_until="commit")
                await tab.locator("#open-status.is-open").wait_for()
                await tab.locator("button.option").first.wait_for()  # the first question
                usable = ms_since(t0)
                await tab.wait_for_load_state("networkidle")
                transferred = 0
                for request in finished:
                    sizes = await request.sizes()
                    transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                loads.append(
                    {"usable_ms": round(usable, 1), "bytes": transferred, "requests": len(finished)}
                )
                await context.close()
        finally:
            await browser.close()
    counted = loads[1:]
    return {
        "loads": counted,
        "usable_ms": summary([x["usable_ms"] for x in counted]),
        "bytes": max(x["bytes"] for x in counted),
        "requests": max(x["requests"] for x in counted),
    }


SECTIONS: dict[str, Callable[[Bench], Awaitable[dict[str, Any]]]] = {
    "open": open_vs_floor,
    "relay": relay,
    "throughput": throughput,
    "scale": scale,
    "close": close,
    "page": page,
}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
