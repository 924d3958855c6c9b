"""Take the youth page's screenshots in docs/screenshots/ from the real embedded demo.

    .venv/bin/python docs/screenshots/take.py

Starts `ungechat up` in a temporary state directory, puts a Halsnæs counsellor on duty
(as `!vagt start` in Kø), and drives Debian's Chromium: Halsnæs open and Ringkøbing-
Skjern closed at 360 px and 1280 px, and a conversation on a phone. Run it when the page
changes; Ringkøbing-Skjern is open Monday and Thursday 18–21, so run it at another time.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from nio import AsyncClient
from playwright.async_api import async_playwright

HERE = Path(__file__).resolve().parent
UNGECHAT = Path(sys.executable).with_name("ungechat")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1}


async def start_up(state_dir: Path) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
    stack_file = state_dir / "stack.json"
    log = (state_dir / "up.log").open("ab")
    proc = await asyncio.create_subprocess_exec(
        str(UNGECHAT), "up", "--state-dir", str(state_dir), stdout=log, stderr=log
    )
    async with asyncio.timeout(180):
        while not stack_file.exists():
            if proc.returncode is not None:
                raise SystemExit(f"ungechat up exited {proc.returncode}; see {state_dir}/up.log")
            await asyncio.sleep(0.3)
    return proc, json.loads(stack_file.read_text())


async def counsellor(stack: dict[str, Any], slug: str) -> AsyncClient:
    account = stack["municipalities"][slug]["counsellors"][0]
    client = AsyncClient(stack["homeserver"], account["user_id"])
    await client.login(account["password"])
    return client


async def say(client: AsyncClient, room_id: str, body: str) -> str:
    resp = await client.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body})
    return resp.event_id  # type: ignore[union-attr]


async def newest_conversation(c: AsyncClient, space_id: str) -> str:
    """The conversation room in the municipality's space, found as Element finds it."""
    url = f"{c.homeserver}/_matrix/client/v1/rooms/{space_id}/hierarchy"
    headers = {"Authorization": f"Bearer {c.access_token}"}
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as r:
        rooms = (await r.json())["rooms"]
    return next(r["room_id"] for r in rooms if r.get("name", "").startswith("Samtale"))


async def a_closed_chat(stack: dict[str, Any]) -> str:
    """The youth link of a demo municipality that is closed now."""
    async with aiohttp.ClientSession() as http:
        for slug, m in stack["municipalities"].items():
            async with http.get(f"{stack['intake']}/api/v1/kommuner/{slug}") as r:
                if not (await r.json())["open"]:
                    return m["youth_url"]
    raise SystemExit("every demo chat is open now; run this again outside their hours")


async def shot(browser: Any, url: str, name: str, device: dict[str, Any]) -> None:
    context = await browser.new_context(locale="da-DK", **device)
    page = await context.new_page()
    await page.goto(url)
    await page.locator("#view-intro").wait_for()
    await page.screenshot(path=str(HERE / f"{name}.png"))
    await context.close()
    print("wrote", HERE / f"{name}.png")


async def conversation(browser: Any, stack: dict[str, Any], c: AsyncClient) -> None:
    """A conversation as a young person sees it: the counsellor answers and types."""
    halsnaes = stack["municipalities"]["halsnaes"]
    context = await browser.new_context(locale="da-DK", **PHONE)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto(halsnaes["youth_url"] + "?kanal=plakat")
    await page.get_by_role("button", name="En plakat eller et kort").click()
    await page.get_by_role("button", name="16–18 år").click()
    async with page.expect_response(lambda r: r.url.endswith("/conversations")) as started:
        await page.get_by_role("button", name="Start chatten").click()
    await started.value
    first = "Hej. Jeg ved ikke helt, hvordan jeg skal starte, men jeg har det ikke så godt."
    await page.locator("#input").fill(first)
    await page.locator("#input").press("Enter")
    await page.locator("#messages .from-youth:not(.is-pending)").wait_for()
    await page.screenshot(path=str(HERE / "youth-waiting-360.png"))
    print("wrote", HERE / "youth-waiting-360.png")
    room_id = await newest_conversation(c, halsnaes["space_id"])
    await c.join(room_id)
    await page.locator("#chat-status.is-active").wait_for()
    await say(c, room_id, "Hej, hvor er det godt, at du skriver. Tag den tid, du har brug for.")
    await page.locator("#messages .from-counsellor").wait_for()
    sync = await c.sync(timeout=0)
    events = sync.rooms.join[room_id].timeline.events  # type: ignore[union-attr]
    youth_event = next(e.event_id for e in events if getattr(e, "body", "") == first)
    await c.room_read_markers(room_id, youth_event, youth_event)
    await page.locator("#messages .is-read").wait_for()
    await page.locator("#input").fill("Det er derhjemme. Min mor og far skændes hele tiden.")
    await page.locator("#input").press("Enter")
    await c.room_typing(room_id, True)
    await page.locator("#typing.on").wait_for()
    await page.screenshot(path=str(HERE / "youth-chat-360.png"))
    print("wrote", HERE / "youth-chat-360.png")
    await c.room_typing(room_id, False)
    goodbye = "Tak, fordi du fortalte mig det. Du er altid velkommen til at skrive igen."
    await say(c, room_id, goodbye)
    await page.get_by_text(goodbye).wait_for()
    await say(c, room_id, "!luk familie")
    await page.get_by_text("Fik du hjælp?").wait_for()
    await page.screenshot(path=str(HERE / "youth-ended-360.png"))
    print("wrote", HERE / "youth-ended-360.png")
    await context.close()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        proc, stack = await start_up(Path(tmp))
        c = await counsellor(stack, "halsnaes")
        try:
            await say(c, stack["municipalities"]["halsnaes"]["lobby_room_id"], "!vagt start")
            await asyncio.sleep(1)  # the bot handles the command from the homeserver's push
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                urls = {
                    "open": stack["municipalities"]["halsnaes"]["youth_url"] + "?kanal=plakat",
                    "closed": await a_closed_chat(stack),
                }
                for state, url in urls.items():
                    await shot(browser, url, f"youth-{state}-360", PHONE)
                    await shot(browser, url, f"youth-{state}-1280", DESKTOP)
                await conversation(browser, stack, c)
                await browser.close()
        finally:
            await c.close()
            proc.send_signal(signal.SIGINT)
            await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
