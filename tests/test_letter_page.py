"""The letterbox page in a real browser (Debian's Chromium) against the real intake and
a real Synapse: a letter written on a phone while the chat is closed, the code shown
once, answered by a counsellor (matrix-nio), read with the code in a fresh browser
context (another phone), replied to and deleted there."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from tests.browser_fixture import Watched, browser, new_page, phone
from tests.letter_helpers import letter_room, letter_state
from tests.stack_fixture import Stack

__all__ = ["browser", "phone"]  # fixtures used by name
pytestmark = [pytest.mark.browser, pytest.mark.synapse]


async def test_a_letter_from_a_closed_chat_read_on_another_phone(
    stack: Stack, phone: Watched, browser: Any
) -> None:
    # The intake fuzz tries pickup codes from this same address: start afresh, as the
    # letters' API tests do, or this young person would be locked out for the hour.
    stack.code_guesses.clear()
    page = phone.page
    await page.goto(f"{stack.intake}/k/lukketby?kanal=facebook")
    # Closed: the letterbox is offered right after the closed notice, before anything else.
    offer = page.locator("#letter-box")
    await offer.wait_for()
    assert "en rådgiver svarer inden for 3 dage" in await offer.inner_text()
    order = await page.evaluate(
        "[...document.querySelectorAll('#view-intro > *')].filter(e => !e.hidden).map(e => e.id)"
    )
    assert order.index("letter-box") == order.index("closed-box") + 1
    await phone.shot("letter-offer-closed")
    await page.locator("#letter-go").tap()
    await page.wait_for_url("**/k/lukketby/brev?kanal=facebook")

    await page.get_by_label("Dit brev").fill(f"Jeg har det skidt i skolen. {secrets.token_hex(4)}")
    await phone.shot("letter-write")
    async with page.expect_response(lambda r: r.url.endswith("/api/v1/letters")) as sent:
        await page.get_by_role("button", name="Send brevet").tap()
    letter = (await (await sent.value).json())["letter"]
    code = await page.locator("#code").inner_text()
    assert len(code.split("-")) == 6
    assert "Uden koden kan ingen – heller ikke dig – finde brevet igen." in await page.content()
    await phone.shot("letter-code")
    await page.get_by_role("button", name="Jeg har gemt koden").tap()
    await page.get_by_text("Venter på svar").wait_for()
    # The code is on the page no more, and kept nowhere in the browser.
    assert code not in await page.content()
    assert code not in await page.evaluate("JSON.stringify(sessionStorage)")

    counsellor = stack.counsellors[0]
    room = await letter_room(stack, letter)
    await counsellor.join(room)
    await counsellor.say(room, "!intern skolen – spørg ind til frikvartererne")
    await counsellor.say(room, "Hej. Tak fordi du skrev. Hvad sker der i frikvartererne?")
    await letter_state(stack, letter, "answered")

    # Another phone: a fresh browser context, only the code.
    other = await new_page(browser)
    try:
        p2 = other.page
        await p2.goto(f"{stack.intake}/k/lukketby/brev")
        await p2.get_by_role("button", name="Jeg har en kode – læs svaret").tap()
        await p2.get_by_label("Din kode (seks ord)").fill(code.replace("-", " ").upper())
        await p2.get_by_role("button", name="Åbn brevet").tap()
        await p2.get_by_text("Du har fået svar").wait_for()
        texts = await p2.locator("#letter-messages li").all_inner_texts()
        assert len(texts) == 2 and "Hvad sker der i frikvartererne?" in texts[1]
        assert texts[1].startswith("Rådgiver") and "intern" not in " ".join(texts)
        await other.shot("letter-answered")
        await p2.get_by_label("Skriv tilbage").fill("De griner af mig.")
        await p2.get_by_role("button", name="Send", exact=True).tap()
        await counsellor.sync_until(lambda: "De griner af mig." in counsellor.texts_in(room))
        await p2.get_by_text("Venter på svar").wait_for()

        await p2.get_by_role("button", name="Slet brevet nu").tap()
        await p2.get_by_role("button", name="Ja, slet det").tap()
        await p2.get_by_text("Brevet er slettet.").wait_for()
        await letter_state(stack, letter, None)
        assert other.foreign_requests(stack.intake) == []
        assert other.problems == []
    finally:
        await other.page.context.close()
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []
