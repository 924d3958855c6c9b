"""Debian's Chromium under Playwright (never a downloaded browser), one per test module,
and pages whose every request and console complaint is recorded.

Screenshots go to test-artifacts/ so a person can look at what a young person sees.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import async_playwright

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
NEUTRAL = "https://www.dr.dk/"  # where the quick exit goes; answered by the test, not the net


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    # A missing browser fails the tests, never skips them: tests/run.sh installs it.
    assert Path(CHROMIUM).exists(), f"Debian's chromium is missing at {CHROMIUM}"
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        await browser.close()


def same_origin(url: str, origin: str) -> bool:
    a, b = urlsplit(url), urlsplit(origin)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


class Watched:
    """A page whose every request, console error and dialog is recorded."""

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

    def foreign_requests(self, *origins: str) -> list[str]:
        """Requests to anywhere but these origins (the quick exit's site is expected)."""
        return [
            u
            for u in self.requests
            if not any(same_origin(u, o) for o in origins) and not u.startswith(NEUTRAL)
        ]

    def api_calls(self, path: str) -> list[str]:
        return [u for u in self.requests if urlsplit(u).path == path]

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"youth-{name}.png"), full_page=True)


async def new_page(browser: Any, *, locale: str = "da-DK", **options: Any) -> Watched:
    """A phone unless told otherwise; the neutral site is answered locally."""
    settings: dict[str, Any] = {
        "viewport": PHONE,
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
        "locale": locale,
        **options,
    }
    context = await browser.new_context(**settings)
    await context.route(
        f"{NEUTRAL}**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>DR</p>"),
    )
    page = await context.new_page()
    page.set_default_timeout(20_000)
    return Watched(page)


@pytest.fixture
async def phone(browser: Any) -> AsyncIterator[Watched]:
    watched = await new_page(browser)
    yield watched
    if watched.problems:  # shown with a failing test's output
        print("browser problems:", *watched.problems, sep="\n  ")
    await watched.page.context.close()
