"""The one-line embed on a municipal site (another origin and site than the chat's), in
Debian's Chromium: the script loads across sites without a cookie, the button opens the
youth page in an iframe with the municipality and channel (in English on an English
page), and the quick exit takes the whole tab away, leaving no history entry and no
conversation behind."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from deploy.local.synapse import free_port
from provisioning.campaign.material import EMBED_CHANNEL, embed_snippet
from tests.browser_fixture import NEUTRAL, Watched, browser, new_page
from tests.intake_helpers import embedding, ended_in_the_bot
from tests.stack_fixture import Stack

__all__ = ["browser"]  # fixture used by name
pytestmark = [pytest.mark.browser, pytest.mark.synapse]

HOST_PAGE = """<!doctype html><html lang="da"><head><meta charset="utf-8">
<title>Ungdomsskolen</title></head><body><h1>Ungdomsskolen i Testby</h1>
<p>Holdstart, klubaftener og ture.</p>{snippet}</body></html>"""


@contextlib.asynccontextmanager
async def site_with_the_button(stack: Stack) -> AsyncIterator[str]:
    """A youth school's page on `localhost`: another site than the chat's 127.0.0.1; and
    the same page in English at /en."""
    # Exactly what `ungechat links` prints for a municipality's web page.
    html = HOST_PAGE.format(snippet=embed_snippet(stack.intake, "testby"))
    english = html.replace('<html lang="da">', '<html lang="en">')

    async def page(request: web.Request) -> web.Response:
        text = english if request.path == "/en" else html
        return web.Response(text=text, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/en", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://localhost:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def municipal_site(stack: Stack) -> AsyncIterator[str]:
    """The municipality's own site, listed in its `embed_origins`."""
    async with site_with_the_button(stack) as site:
        with embedding(stack, "testby", site):
            yield site


@pytest.fixture
async def other_site(stack: Stack) -> AsyncIterator[str]:
    """Someone else's site with the same button: not listed anywhere."""
    async with site_with_the_button(stack) as site:
        yield site


@pytest.fixture
async def visitor(browser: Any) -> AsyncIterator[Watched]:
    watched = await new_page(browser, viewport={"width": 1280, "height": 800}, is_mobile=False)
    yield watched
    if watched.problems:
        print("browser problems:", *watched.problems, sep="\n  ")
    await watched.page.context.close()


async def open_chat(visitor: Watched, site: str) -> Any:
    page = visitor.page
    async with page.expect_response(lambda r: r.url.endswith("/embed.js")) as loaded:
        await page.goto(site + "/")
    # Loaded by another site (allowed across origins), and no cookie comes with it.
    script = await loaded.value
    assert script.status == 200
    headers = await script.all_headers()
    assert headers["content-type"].startswith("text/javascript")
    assert headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in headers
    await page.get_by_role("button", name="Chat anonymt med en rådgiver").click()
    frame = page.frame_locator("#ungechat-panel iframe")
    await frame.get_by_text("Ungechat Testby").wait_for()
    return frame


async def start_in_the_frame(page: Any, frame: Any) -> str:
    """Skip the question and start a conversation in the chat's frame; its id."""
    await frame.get_by_role("button", name="Spring over").click()
    async with page.expect_response(
        lambda r: r.url.endswith("/api/v1/conversations") and r.request.method == "POST"
    ) as started:
        await frame.get_by_role("button", name="Start chatten").click()
    await frame.get_by_text("Du må gerne skrive imens").wait_for()
    return (await (await started.value).json())["conversation"]


async def test_the_button_opens_the_chat_and_quick_exit_leaves_the_site(
    stack: Stack, municipal_site: str, visitor: Watched
) -> None:
    page = visitor.page
    frame = await open_chat(visitor, municipal_site)
    src = await page.locator("#ungechat-panel iframe").get_attribute("src")
    assert src == f"{stack.intake}/k/testby?kanal={EMBED_CHANNEL}&embed=1"
    assert await frame.locator("#open-status.is-open").is_visible()
    await visitor.shot("embed-1280")
    # Hiding keeps the conversation's page; showing it again is the same frame.
    await page.get_by_role("button", name="Skjul chatten ▾").click()
    assert await page.locator("#ungechat-panel").is_hidden()
    await page.get_by_role("button", name="Chat anonymt med en rådgiver").click()
    assert await frame.get_by_text("Ungechat Testby").is_visible()

    # A conversation under way in the frame ends with the quick exit.
    conversation = await start_in_the_frame(page, frame)

    depth = await page.evaluate("history.length")
    await frame.get_by_role("button", name="Luk siden hurtigt").click()
    await page.wait_for_url(f"{NEUTRAL}**")  # the whole tab, not just the frame
    assert await page.evaluate("history.length") == depth
    assert await ended_in_the_bot(stack, conversation) == "youth"
    assert visitor.foreign_requests(municipal_site, stack.intake) == []
    assert visitor.problems == []


async def test_an_english_page_gets_the_chat_in_english(
    stack: Stack, municipal_site: str, visitor: Watched
) -> None:
    page = visitor.page
    await page.goto(municipal_site + "/en")
    await page.get_by_role("button", name="Chat anonymously with a counsellor").click()
    src = await page.locator("#ungechat-panel iframe").get_attribute("src")
    assert src == f"{stack.intake}/k/testby?kanal={EMBED_CHANNEL}&lang=en&embed=1"
    frame = page.frame_locator("#ungechat-panel iframe")
    await frame.get_by_role("button", name="Leave quickly").wait_for()
    await page.get_by_role("button", name="Hide the chat ▾").click()
    assert await page.locator("#ungechat-panel").is_hidden()
    assert visitor.foreign_requests(municipal_site, stack.intake) == []
    assert visitor.problems == []


@pytest.mark.parametrize("where", ["in the chat", "on the municipal page"])
async def test_escape_twice(stack: Stack, municipal_site: str, visitor: Watched, where: str):
    """Escape is no click: the chat asks embed.js to take the tab away (or, from the
    municipal page, embed.js asks the chat to end the conversation first)."""
    page = visitor.page
    frame = await open_chat(visitor, municipal_site)
    conversation = await start_in_the_frame(page, frame)
    if where == "in the chat":
        await frame.locator("#chat-status").click()
    else:
        await page.locator("h1").click()
    depth = await page.evaluate("history.length")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{NEUTRAL}**")
    assert await page.evaluate("history.length") == depth
    assert await ended_in_the_bot(stack, conversation) == "youth"
    # The municipal page again in that tab: the chat starts afresh, nothing to resume.
    frame = await open_chat(visitor, municipal_site)
    await frame.get_by_role("button", name="Spring over").wait_for()
    assert await frame.locator("#view-chat").is_hidden()
    assert visitor.foreign_requests(municipal_site, stack.intake) == []
    assert visitor.problems == []


async def test_a_site_the_municipality_has_not_listed_cannot_show_the_chat(
    stack: Stack, other_site: str, visitor: Watched
) -> None:
    """Any site could copy the button; the browser refuses to show the chat inside it, so
    it cannot pass itself off as the municipality's chat (and no conversation starts)."""
    page = visitor.page
    await page.goto(other_site + "/")
    async with (
        page.expect_response(lambda r: "/k/testby" in r.url) as served,
        page.expect_event("console", lambda m: "frame-ancestors" in m.text) as refused,
    ):
        await page.get_by_role("button", name="Chat anonymt med en rådgiver").click()
    policy = (await served.value).headers["content-security-policy"]
    assert "frame-ancestors 'self'" in policy and other_site not in policy
    assert "has been blocked" in (await refused.value).text
    frame = page.frame_locator("#ungechat-panel iframe")
    assert await frame.locator("#quick-exit").count() == 0
    assert visitor.api_calls("/api/v1/kommuner/testby") == []  # the chat never ran
