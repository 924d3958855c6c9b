"""The youth page in a real browser (Debian's Chromium, never a downloaded one), against
the real intake and a real Synapse, with a counsellor as a real Matrix client.

Screenshots go to test-artifacts/ so a person can look at what a young person sees.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.stack_fixture import Stack

pytestmark = [pytest.mark.browser, pytest.mark.synapse]

CHROMIUM = os.environ.get("UNGECHAT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"width": 360, "height": 740}
NASTY = "<img src=x onerror=alert(1)><b>fed</b>"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is missing at {CHROMIUM}")
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        await browser.close()


class Watched:
    """A phone-sized page whose every request and console complaint is recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        page.on(
            "console",
            lambda m: self.problems.append(f"console: {m.text}") if m.type == "error" else None,
        )

        async def on_dialog(dialog: Any) -> None:
            self.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)

    def foreign_requests(self, origin: str) -> list[str]:
        return [u for u in self.requests if not same_origin(u, origin)]

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"youth-{name}.png"), full_page=True)


def same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


@pytest.fixture
async def phone(browser: Any) -> AsyncIterator[Watched]:
    context = await browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="da-DK"
    )
    page = await context.new_page()
    page.set_default_timeout(20_000)
    watched = Watched(page)
    yield watched
    if watched.problems:  # shown with a failing test's output
        print("browser problems:", *watched.problems, sep="\n  ")
    await context.close()


async def fits_narrow_phone(watched: Watched, name: str) -> None:
    """Usable at 320 px: nothing sticks out sideways; the quick exit stays in view."""
    page = watched.page
    await page.set_viewport_size({"width": 320, "height": 568})
    overflow = await page.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"{overflow}px wider than a 320px phone"
    box = await page.locator("#quick-exit").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 320
    await watched.shot(f"{name}-320px")
    await page.set_viewport_size(PHONE)


async def message_texts(page: Any) -> list[str]:
    return await page.locator("#messages li .body").all_inner_texts()


async def test_a_whole_conversation_on_a_phone(stack: Stack, phone: Watched) -> None:
    page = phone.page
    await page.goto(f"{stack.intake}/k/testby?kanal=plakat")
    await page.locator("#open-status.is-open").wait_for()
    assert "Du er anonym" in await page.locator(".promise").inner_text()
    assert await page.locator("#quick-exit").is_visible()
    await page.get_by_text("Hvad gemmer vi?").tap()
    assert "cookies" in await page.locator("#privacy-text").inner_text()
    assert await page.locator("#start").is_hidden()  # the question comes first
    await phone.shot("1-intro")
    await fits_narrow_phone(phone, "1-intro")

    # The question is answered with one tap; then Start.
    assert await page.get_by_role("button", name="Spring over").is_visible()
    await page.get_by_role("button", name="En plakat").tap()
    await page.locator(".answered").get_by_text("En plakat").wait_for()
    await phone.shot("2-answered")
    async with page.expect_response(
        lambda r: r.url.endswith("/api/v1/conversations") and r.request.method == "POST"
    ) as started:
        await page.get_by_role("button", name="Start chatten").tap()
    response = await started.value
    assert response.status == 201
    assert response.request.post_data_json == {
        "kommune": "testby",
        "kanal": "plakat",
        "answers": {"heard_from": "plakat"},
    }
    conversation = (await response.json())["conversation"]

    await page.locator("#waiting").wait_for()
    assert "Du er i kø" in await page.locator("#waiting").inner_text()
    first = "Hej. Jeg ved ikke helt, hvordan jeg skal starte."
    await page.locator("#input").fill(first)
    await page.locator("#input").press("Enter")
    await page.locator("#messages .from-youth:not(.is-pending)").get_by_text(first).wait_for()
    assert await page.locator("#input").input_value() == ""
    # Shift+Enter makes a new line instead of sending.
    await page.locator("#input").press("Shift+Enter")
    assert await page.locator("#input").input_value() == "\n"
    await page.locator("#input").fill("")
    await phone.shot("3-waiting")

    # The counsellor finds it in the municipality's space, joins and answers.
    conv = await stack.conversations.repo.get(conversation)
    assert conv is not None and conv.room_id
    room_id = conv.room_id
    counsellor = stack.counsellors[0]
    assert room_id in await counsellor.space_children(stack.rooms["testby"].space_id)
    await counsellor.join(room_id)
    await counsellor.sync_until(lambda: first in counsellor.texts_in(room_id))
    reply = "Hej, godt du skriver. Tag den tid, du har brug for."
    await counsellor.say(room_id, reply)

    bubble = page.locator("#messages .from-counsellor").filter(has_text=reply)
    await bubble.wait_for()
    assert await bubble.locator(".who").inner_text() == "Rådgiver"
    assert counsellor.user_id not in await page.locator("body").inner_text()
    await page.locator("#messages .from-system").get_by_text("En rådgiver er kommet ind").wait_for()
    await page.locator("#chat-status.is-active").wait_for()
    assert await page.locator("#waiting").is_hidden()

    # A counsellor's message is text, never markup.
    await counsellor.say(room_id, NASTY)
    nasty = page.locator("#messages .from-counsellor .body").filter(has_text="onerror")
    await nasty.wait_for()
    assert await nasty.text_content() == NASTY
    assert await page.locator("#messages img, #messages b").count() == 0
    assert phone.dialogs == []

    second = "Det handler om min far."
    await page.locator("#input").fill(second)
    await page.get_by_role("button", name="Send", exact=True).tap()
    await counsellor.sync_until(lambda: second in counsellor.texts_in(room_id))
    await page.locator("#messages .from-youth:not(.is-pending)").get_by_text(second).wait_for()
    expected = [first, reply, NASTY, second]
    assert [t for t in await message_texts(page) if t] == expected
    await phone.shot("4-chat")
    await fits_narrow_phone(phone, "4-chat")

    # A reload of the tab resumes the same conversation, each message once.
    await page.reload()
    await page.locator("#messages .from-youth").get_by_text(second).wait_for()
    await page.locator("#chat-status.is-active").wait_for()
    await asyncio.sleep(1)  # let any duplicate arrive, if one were coming
    assert await message_texts(page) == expected
    assert await page.locator("#messages .from-system").count() == 1
    assert await page.evaluate("Object.keys(localStorage).length") == 0
    assert await page.evaluate("document.cookie") == ""
    await phone.shot("5-reloaded")

    # The counsellor closes it; the page says it is over and deleted, and forgets it.
    await counsellor.say(room_id, "!luk")
    await page.get_by_text("Samtalen er slut og slettet.").wait_for()
    assert await page.locator("#messages li").count() == 0
    assert await page.evaluate("sessionStorage.length") == 0
    assert await page.get_by_role("button", name="Start en ny samtale").is_visible()
    await phone.shot("6-closed")

    assert "!luk" not in await page.locator("body").inner_text()
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_the_youth_ends_it_and_can_start_over(stack: Stack, phone: Watched) -> None:
    page = phone.page
    await page.goto(f"{stack.intake}/k/testby?kanal=facebook&lang=en")
    await page.get_by_role("button", name="Skip").tap()
    await page.get_by_role("button", name="Start the chat").tap()
    await page.get_by_text("You are in the queue").wait_for()
    await page.get_by_role("button", name="End the conversation").tap()
    await page.get_by_text("Do you want to end the conversation?").wait_for()
    await phone.shot("7-confirm-end-en")
    await page.get_by_role("button", name="Yes, end it").tap()
    await page.get_by_text("The conversation is over and deleted.").wait_for()
    assert await page.evaluate("sessionStorage.length") == 0
    await page.get_by_role("button", name="Start a new conversation").tap()
    await page.get_by_role("button", name="Skip").wait_for()
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_closed_municipality_and_quick_exit(stack: Stack, phone: Watched) -> None:
    page = phone.page
    await page.goto(f"{stack.intake}/k/lukketby?kanal=facebook")
    await page.locator("#closed-box").wait_for()
    info = await page.evaluate("fetch('/api/v1/kommuner/lukketby').then(r => r.json())")
    assert info["open"] is False and info["next_opening_text"]
    closed_box = await page.locator("#closed-box").inner_text()
    assert "lukket" in closed_box and info["next_opening_text"] in closed_box
    assert await page.locator("#help-box").is_visible()
    assert "112" in await page.locator("#help-box").inner_text()
    start = page.locator("#start")
    assert await start.is_hidden() or await start.is_disabled()
    assert await page.locator("#questions .option").count() == 0
    await phone.shot("8-closed-municipality")
    await fits_narrow_phone(phone, "8-closed-municipality")
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []

    # "Luk siden hurtigt" replaces the page: the chat leaves no entry to go back to.
    await page.route(
        "https://www.dr.dk/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>DR</p>"),
    )
    depth = await page.evaluate("history.length")
    await page.get_by_role("button", name="Luk siden hurtigt").tap()
    await page.wait_for_url("https://www.dr.dk/**")
    assert await page.evaluate("history.length") == depth
