"""The youth page in a real browser (Debian's Chromium), against the real intake and a
real Synapse, with counsellors as real Matrix clients (matrix-nio, doing what Element does).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.db.models import ConversationStats
from tests.browser_fixture import NEUTRAL, PHONE, Watched, browser, new_page, phone
from tests.intake_helpers import ended_in_the_bot, on_duty, partners
from tests.stack_fixture import Stack

__all__ = ["browser", "phone"]  # fixtures used by name
pytestmark = [pytest.mark.browser, pytest.mark.synapse]
NASTY = "<img src=x onerror=alert(1)><b>fed</b>"


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


UNNAMED_CONTROLS = """() => [...document.querySelectorAll('button, a, textarea, input')]
  .filter(e => e.offsetParent !== null)
  .filter(e => !(e.getAttribute('aria-label') || e.textContent.trim()
                 || (e.labels && [...e.labels].some(l => l.textContent.trim()))))
  .map(e => e.outerHTML)"""


async def every_control_is_named(page: Any) -> None:
    """What a screen reader says for each visible control is not empty."""
    assert await page.evaluate(UNNAMED_CONTROLS) == []


async def message_texts(page: Any) -> list[str]:
    return await page.locator("#messages li .body").all_inner_texts()


async def feedback_count(stack: Stack, answer: str) -> int:
    async with stack.bot.sessions() as session:
        query = select(func.count()).where(ConversationStats.feedback == answer)
        return await session.scalar(query) or 0


async def start_chat(page: Any, skip: str = "Spring over") -> str:
    """Skip the question and start; the new conversation's id."""
    await page.get_by_role("button", name=skip).tap()
    async with page.expect_response(
        lambda r: r.url.endswith("/api/v1/conversations") and r.request.method == "POST"
    ) as started:
        await page.locator("#start").tap()
    response = await started.value
    assert response.status == 201
    return (await response.json())["conversation"]


async def credited_to_lukketby(stack: Stack) -> int:
    """Conversations from lukketby's links that testby's counsellors took (whatever
    outcome the bot names for an overflow)."""
    async with stack.bot.sessions() as session:
        query = select(func.count()).where(
            ConversationStats.kommune == "lukketby",
            ConversationStats.transferred_to == "testby",
        )
        return await session.scalar(query) or 0


async def test_a_whole_conversation_on_a_phone(stack: Stack, phone: Watched) -> None:
    page = phone.page
    counsellor = stack.counsellors[0]
    async with on_duty(stack, "testby", counsellor.user_id) as ready:
        await page.goto(f"{stack.intake}/k/testby?kanal=plakat")
        await page.locator("#open-status.is-open").wait_for()
        # One page view is counted, with its channel and language.
        assert phone.api_calls("/api/v1/kommuner/testby") == [
            f"{stack.intake}/api/v1/kommuner/testby?lang=da&kanal=plakat&view=1"
        ]
        status = await page.locator("#open-status").inner_text()
        assert "Åben nu" in status
        assert f"{ready} rådgiver{'e' if ready > 1 else ''} er klar" in status
        assert "Du er helt anonym" in await page.locator(".promise").inner_text()
        assert await page.locator("#quick-exit").is_visible()
        await page.get_by_text("Hvad gemmer vi?").tap()
        privacy = await page.locator(".promise details").inner_text()
        assert "cookies" in privacy and "IP-adresse" in privacy
        assert "i højst 14 dage" in privacy  # the configured longest hold, in words
        assert await page.locator("#start").is_hidden()  # the question comes first
        await every_control_is_named(page)
        await phone.shot("1-intro")
        await fits_narrow_phone(phone, "1-intro")

        # The question is answered with one tap; then Start.
        assert await page.get_by_role("button", name="Spring over").is_visible()
        await page.get_by_role("button", name="En plakat").tap()
        await page.locator(".answered").get_by_text("En plakat").wait_for()
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

        # Waiting: the place in the queue and how many are ready, as the roster counts them.
        conv = await stack.bot.repo.get(conversation)
        assert conv is not None and conv.room_id
        position = await stack.bot.duty.queue_position(conv)
        waiting = page.locator("#waiting")
        expected = "Du er den næste i køen." if position == 1 else f"nummer {position} i køen"
        await waiting.get_by_text(expected).wait_for()
        assert "er klar" in await waiting.inner_text()
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

        # The counsellor finds it in the municipality's space, joins, types and answers.
        room_id = conv.room_id
        assert room_id in await counsellor.space_children(stack.rooms["testby"].space_id)
        await counsellor.join(room_id)
        await counsellor.sync_until(lambda: first in counsellor.texts_in(room_id))
        system = page.locator("#messages .from-system")
        await system.get_by_text("En rådgiver er kommet ind").wait_for()
        await page.locator("#chat-status.is-active").wait_for()
        assert await waiting.is_hidden()
        await counsellor.client.room_typing(room_id, True)
        await page.get_by_text("Rådgiveren skriver …").wait_for()
        await phone.shot("4-typing")
        reply = "Hej, godt du skriver. Tag den tid, du har brug for."
        reply_id = await counsellor.say(room_id, reply)
        await counsellor.client.room_typing(room_id, False)
        bubble = page.locator("#messages .from-counsellor").filter(has_text=reply)
        await bubble.wait_for()
        assert await bubble.locator(".who").inner_text() == "Rådgiver"
        assert counsellor.user_id not in await page.locator("body").inner_text()
        await page.locator("#typing.on").wait_for(state="detached")

        # The page marks the reply read as the youth; the counsellor's client shows it.
        youth = conv.youth_user_id
        room = counsellor.client.rooms[room_id]
        await counsellor.sync_until(
            lambda: getattr(room.read_receipts.get(youth), "event_id", None) == reply_id
        )
        # The counsellor reads the youth's message: "Læst" under it.
        mine = page.locator("#messages .from-youth").filter(has_text=first)
        assert await page.locator("#messages .is-read").count() == 0
        first_id = next(e.event_id for r, e in counsellor.events if e.body == first)
        await counsellor.client.room_read_markers(room_id, first_id, first_id)
        await page.locator("#messages .from-youth.is-read").filter(has_text=first).wait_for()
        assert "Læst" in await mine.locator(".meta").evaluate(
            "m => getComputedStyle(m, '::after').content"
        )

        # A counsellor's message is text, never markup.
        await counsellor.say(room_id, NASTY)
        nasty = page.locator("#messages .from-counsellor .body").filter(has_text="onerror")
        await nasty.wait_for()
        assert await nasty.text_content() == NASTY
        assert await page.locator("#messages img, #messages b").count() == 0
        assert phone.dialogs == []

        # The youth types: the counsellor's client shows it; sending ends it.
        second = "Det handler om min far."
        await page.locator("#input").press_sequentially("Det handler", delay=20)
        await counsellor.sync_until(lambda: youth in room.typing_users)
        await page.locator("#input").fill(second)
        await page.get_by_role("button", name="Send", exact=True).tap()
        await counsellor.sync_until(lambda: second in counsellor.texts_in(room_id))
        await counsellor.sync_until(lambda: youth not in room.typing_users)
        await page.locator("#messages .from-youth:not(.is-pending)").get_by_text(second).wait_for()
        await every_control_is_named(page)
        assert await page.locator("#messages[role=log][aria-live=polite]").count() == 1
        expected_texts = [first, reply, NASTY, second]
        assert [t for t in await message_texts(page) if t] == expected_texts
        await phone.shot("5-chat")
        await fits_narrow_phone(phone, "5-chat")

        # A reload of the tab resumes the same conversation, each message once, no new view.
        await page.reload()
        await page.locator("#messages .from-youth").get_by_text(second).wait_for()
        await page.locator("#chat-status.is-active").wait_for()
        await page.locator("#messages .from-youth.is-read").filter(has_text=first).wait_for()
        # Anything doubled by the resume would come before a message sent after it.
        await counsellor.say(room_id, "Jeg er her stadig.")
        await (
            page.locator("#messages .from-counsellor").get_by_text("Jeg er her stadig.").wait_for()
        )
        assert await message_texts(page) == [*expected_texts, "Jeg er her stadig."]
        assert await page.locator("#messages .from-system").count() == 1
        assert len(phone.api_calls("/api/v1/kommuner/testby")) == 2
        assert all("view=" not in u for u in phone.api_calls("/api/v1/kommuner/testby")[1:])
        assert await page.evaluate("Object.keys(localStorage).length") == 0
        assert await page.evaluate("document.cookie") == ""

        # The youth ends it; then one tap says whether it helped, into the anonymous stats.
        answered_yes = await feedback_count(stack, "yes")
        await page.get_by_role("button", name="Afslut samtalen").tap()
        await page.get_by_text("Vil du afslutte samtalen?").wait_for()
        await page.get_by_role("button", name="Ja, afslut").tap()
        await page.get_by_text("Du har afsluttet samtalen.").wait_for()
        assert await page.locator("#messages li").count() == 0  # gone from the screen too
        assert await page.locator("#composer").is_hidden()
        await page.get_by_text("Fik du hjælp?").wait_for()
        await phone.shot("6-feedback")
        await page.reload()  # the token is kept until the question is answered
        await page.get_by_text("Fik du hjælp?").wait_for()
        await page.get_by_role("button", name="Ja", exact=True).tap()
        await page.get_by_text("Tak for dit svar").wait_for()
        assert await feedback_count(stack, "yes") == answered_yes + 1
        assert await page.evaluate("sessionStorage.getItem('ungechat:testby')") is None

    assert "!luk" not in await page.locator("body").inner_text()
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_english_by_the_browser_language_and_a_counsellor_who_leaves(
    stack: Stack, browser: Any
) -> None:
    watched = await new_page(browser, locale="en-GB")
    page = watched.page
    counsellor = stack.counsellors[1]
    try:
        await page.goto(f"{stack.intake}/k/testby?kanal=facebook")
        await page.get_by_role("button", name="Skip").tap()
        await page.get_by_role("button", name="Start the chat").tap()
        await page.get_by_text("You can write meanwhile").wait_for()
        assert await page.locator("html").get_attribute("lang") == "en"
        # Ended while waiting: nobody answered, so no "did you get help?", token gone.
        await page.get_by_role("button", name="End the conversation").tap()
        await page.get_by_text("Do you want to end the conversation?").wait_for()
        await watched.shot("7-confirm-end-en")
        await page.get_by_role("button", name="Yes, end it").tap()
        await page.get_by_text("You ended the conversation.").wait_for()
        assert await page.locator("#feedback").is_hidden()
        assert await page.evaluate("sessionStorage.getItem('ungechat:testby')") is None

        # Again: a counsellor joins and leaves; the bot's Danish notices show in English.
        await page.get_by_role("button", name="Start a new conversation").tap()
        async with page.expect_response(lambda r: r.url.endswith("/conversations")) as started:
            await page.get_by_role("button", name="Skip").tap()
            await page.get_by_role("button", name="Start the chat").tap()
        conv = await stack.bot.repo.get((await (await started.value).json())["conversation"])
        assert conv is not None and conv.room_id
        await counsellor.join(conv.room_id)
        await page.get_by_text("A counsellor has joined the conversation.").wait_for()
        await page.locator("#chat-status.is-active").wait_for()
        # A file is never shown, and its name neither: a note in the page's language.
        picture = {"msgtype": "m.image", "body": "anna-hansen.jpg", "url": "mxc://x/y"}
        await counsellor.client.room_send(conv.room_id, "m.room.message", picture)
        note = "The counsellor sent a file that can't be shown here."
        await page.locator("#messages .from-counsellor").get_by_text(note).wait_for()
        assert "anna-hansen" not in await page.locator("body").inner_text()
        await counsellor.leave(conv.room_id)
        await page.get_by_text("The counsellor has left the conversation.").wait_for()
        await page.locator("#waiting").get_by_text("in the queue").wait_for()
        assert await page.locator("#chat-status").inner_text() == "Waiting for a counsellor …"
        await watched.shot("11-counsellor-left-en")
        await page.get_by_role("button", name="End the conversation").tap()
        await page.get_by_role("button", name="Yes, end it").tap()
        await page.get_by_text("Did you get help?").wait_for()  # a counsellor took part
        await page.get_by_role("button", name="Start a new conversation").tap()
        await page.get_by_role("button", name="Skip").wait_for()
        assert await page.evaluate("sessionStorage.getItem('ungechat:testby')") is None

        # Switching language replaces the page: nothing is added to the history.
        depth = await page.evaluate("history.length")
        await page.get_by_role("link", name="Dansk").tap()
        await page.get_by_role("button", name="Spring over").wait_for()
        assert await page.evaluate("history.length") == depth

        assert watched.foreign_requests(stack.intake) == []
        assert watched.problems == []

        # A link to a chat that does not exist says so in English too.
        response = await page.goto(f"{stack.intake}/k/atlantis")
        assert response is not None and response.status == 404
        assert "That chat does not exist" in await page.locator("body").inner_text()
    finally:
        await page.context.close()


async def test_closed_municipality_and_quick_exit(stack: Stack, phone: Watched) -> None:
    page = phone.page
    await page.goto(f"{stack.intake}/k/lukketby?kanal=facebook")
    await page.locator("#closed-box").wait_for()
    info = await page.evaluate("fetch('/api/v1/kommuner/lukketby').then(r => r.json())")
    assert info["open"] is False and info["next_opening_text"]
    closed_box = await page.locator("#closed-box").inner_text()
    assert "lukket" in closed_box
    assert f"Den åbner igen {info['next_opening_text']}." in closed_box
    # The weekly hours, as the config has them (one hour on one day).
    day, hours = info["hours"][0]["day"], info["hours"][0]["hours"]
    assert hours == "10–11"
    assert day.capitalize() in closed_box and hours in closed_box
    assert "112" in await page.locator("#help-box").inner_text()
    assert await page.locator("#help-box a[href='tel:112']").count() == 1
    assert await page.locator("#start").is_hidden()
    assert await page.locator("#questions .option").count() == 0
    await phone.shot("8-closed-municipality")
    await fits_narrow_phone(phone, "8-closed-municipality")

    # "Luk siden hurtigt" is the first thing the keyboard reaches, and it replaces the
    # page: the chat leaves no entry to go back to.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "quick-exit"
    depth = await page.evaluate("history.length")
    await page.get_by_role("button", name="Luk siden hurtigt").tap()
    await page.wait_for_url(f"{NEUTRAL}**")
    assert await page.evaluate("history.length") == depth

    # Escape twice does the same, from anywhere on the page.
    await page.goto(f"{stack.intake}/k/testby")
    await page.locator("#open-status").wait_for()
    depth = await page.evaluate("history.length")
    await page.keyboard.press("Escape")
    await page.keyboard.press("Escape")
    await page.wait_for_url(f"{NEUTRAL}**")
    assert await page.evaluate("history.length") == depth
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_quick_exit_ends_the_conversation_and_leaves_no_way_back(
    stack: Stack, phone: Watched
) -> None:
    """On a shared phone: after "Luk siden hurtigt", the chat link from the history opens
    a fresh start page in that tab, and the counsellor is not left waiting."""
    page = phone.page
    link = f"{stack.intake}/k/testby?kanal=plakat"
    await page.goto(link)
    conversation = await start_chat(page)
    secret = "Min mor må ikke se det her."
    await page.locator("#input").fill(secret)
    await page.locator("#input").press("Enter")
    await page.locator("#messages .from-youth:not(.is-pending)").get_by_text(secret).wait_for()

    depth = await page.evaluate("history.length")
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('ungechat:testby')).token")
    async with page.expect_request(lambda r: r.url.endswith("/end")) as ending:
        await page.get_by_role("button", name="Luk siden hurtigt").tap()
    await page.wait_for_url(f"{NEUTRAL}**")
    assert await page.evaluate("history.length") == depth
    assert await ended_in_the_bot(stack, conversation) == "youth"
    # The ending was asked for with the token in the header (a request that outlives the
    # page), never in a URL or a body another site could send.
    ends = phone.api_calls(f"/api/v1/conversations/{conversation}/end")
    assert ends == [f"{stack.intake}/api/v1/conversations/{conversation}/end"]
    request = await ending.value
    assert request.method == "POST" and request.post_data is None
    assert (await request.all_headers())["authorization"] == f"Bearer {token}"

    # The chat's address again in the same tab (as from the history): a fresh start.
    await page.goto(link)
    await page.get_by_role("button", name="Spring over").wait_for()
    assert await page.locator("#view-chat").is_hidden()
    assert secret not in await page.locator("body").inner_text()
    assert await page.evaluate("sessionStorage.getItem('ungechat:testby')") is None
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_a_counsellor_corrects_and_deletes_messages(stack: Stack, phone: Watched) -> None:
    """What a counsellor corrects is corrected on the youth's screen, what they delete is
    gone (and says so), and a reply from nheko or older Element shows without its quote."""
    page = phone.page
    counsellor = stack.counsellors[1]
    await page.goto(f"{stack.intake}/k/testby?kanal=plakat")
    conv = await stack.bot.repo.get(await start_chat(page))
    assert conv is not None and conv.room_id
    room = conv.room_id
    await counsellor.join(room)
    await page.locator("#chat-status.is-active").wait_for()
    counsellors = page.locator("#messages .from-counsellor")

    wrong = await counsellor.say(room, "Vi ses på torsdag kl. 18.")
    await counsellors.get_by_text("Vi ses på torsdag").wait_for()
    await counsellor.edit(room, wrong, "Vi ses på fredag kl. 18.")
    corrected = counsellors.filter(has_text="Vi ses på fredag kl. 18.")
    await corrected.wait_for()
    assert "redigeret" in await corrected.locator(".meta").evaluate(
        "m => getComputedStyle(m, '::after').content"
    )

    mistake = await counsellor.say(room, "Ring til Anna på 12 34 56 78.")
    await counsellors.get_by_text("12 34 56 78").wait_for()
    await counsellor.client.room_redact(room, mistake)
    await counsellors.get_by_text("Beskeden blev slettet.").wait_for()

    note = await counsellor.say(room, "!intern hun lyder bange")
    quoted = {
        "msgtype": "m.text",
        "body": f"> <{counsellor.user_id}> !intern hun lyder bange\n\nDet lyder svært.",
        "m.relates_to": {"m.in_reply_to": {"event_id": note}},
    }
    await counsellor.client.room_send(room, "m.room.message", quoted)
    await counsellors.get_by_text("Det lyder svært.").wait_for()
    expected = ["Vi ses på fredag kl. 18.", "Beskeden blev slettet.", "Det lyder svært."]
    assert await counsellors.locator(".body").all_inner_texts() == expected
    await phone.shot("12-corrected-and-deleted")

    # A reload shows the newest text, and the deleted message not at all.
    await page.reload()
    await counsellors.get_by_text("Det lyder svært.").wait_for()
    # Anything the reload brought back would come before a message sent after it.
    await counsellor.say(room, "Skriv bare, når du er klar.")
    await counsellors.get_by_text("Skriv bare, når du er klar.").wait_for()
    assert await counsellors.locator(".body").all_inner_texts() == [
        "Vi ses på fredag kl. 18.",
        "Det lyder svært.",
        "Skriv bare, når du er klar.",
    ]
    assert await page.locator("#messages .from-counsellor.is-edited").count() == 1
    text = await page.locator("body").inner_text()
    for leak in ("torsdag", "12 34 56 78", "!intern", counsellor.user_id):
        assert leak not in text
    assert ">" not in await page.locator("#messages").inner_text()
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_a_closed_chat_offers_its_open_partner(stack: Stack, phone: Watched) -> None:
    page = phone.page
    counsellor = stack.counsellors[0]
    before = await credited_to_lukketby(stack)
    with partners(stack, "lukketby", ("testby",)):
        async with on_duty(stack, "testby", counsellor.user_id):
            await page.goto(f"{stack.intake}/k/lukketby?kanal=facebook")
            offer = page.locator("#overflow")
            await offer.wait_for()
            assert (
                "Lukketby Kommunes chat er lukket lige nu, men Testby Kommunes chat er åben"
                in await offer.inner_text()
            )
            assert await page.locator("#closed-box").is_visible()  # still says when it opens
            await phone.shot("9-overflow")
            async with page.expect_response(
                lambda r: r.url.endswith("/api/v1/conversations") and r.request.method == "POST"
            ) as started:
                await page.get_by_role("button", name="Chat med Testby Kommune").tap()
            response = await started.value
            assert response.status == 201
            body = response.request.post_data_json
            assert body["kommune"] == "testby" and body["overflow_from"] == "lukketby"
            conv = await stack.bot.repo.get((await response.json())["conversation"])
            assert conv is not None and conv.room_id
            assert (conv.kommune, conv.transferred_from, conv.kanal) == (
                "testby",
                "lukketby",
                "facebook",
            )
            assert await page.locator("#service-name").inner_text() == "Ungechat Testby"

            # Testby's counsellor answers, says goodbye and closes it.
            await counsellor.join(conv.room_id)
            await page.locator("#chat-status.is-active").wait_for()
            goodbye = "Pas godt på dig selv. Du er altid velkommen igen."
            await counsellor.say(conv.room_id, goodbye)
            await page.locator("#messages .from-counsellor").get_by_text(goodbye).wait_for()
            await counsellor.say(conv.room_id, "!luk")
            await page.get_by_text("Rådgiveren har afsluttet samtalen.").wait_for()
            # The goodbye stays to be read; nothing more can be sent.
            last_words = page.locator("#messages .from-counsellor").get_by_text(goodbye)
            assert await last_words.is_visible()
            assert await page.locator("#composer").is_hidden()
            assert await page.get_by_text("Fik du hjælp?").is_visible()
            await phone.shot("10-closed-by-counsellor")
    # Counted for the municipality whose link brought the youth; testby answered.
    assert await credited_to_lukketby(stack) == before + 1
    assert phone.foreign_requests(stack.intake) == []
    assert phone.problems == []


async def test_a_message_the_chat_cannot_take_now_is_sent_by_itself(
    stack: Stack, phone: Watched
) -> None:
    """Sent while the homeserver is away (503), the chat is busy (429) or the network
    drops it: the bubble keeps saying "Sender …" and the page tries again by itself with
    the same id, so it arrives once. Only after about a minute of that does it say "Ikke
    sendt." with "Prøv igen". Nothing the youth saw as sent is ever lost."""
    page = phone.page
    await page.clock.install()  # so the minute of trying can be fast-forwarded
    await page.goto(f"{stack.intake}/k/testby?kanal=plakat")
    conversation = await start_chat(page)
    path = f"**/api/v1/conversations/{conversation}/messages"
    tries: list[dict[str, Any]] = []
    tried = asyncio.Event()
    trouble = ["503", "429", "network"]

    async def in_the_way(route: Any) -> None:
        tries.append(route.request.post_data_json)
        tried.set()
        what = trouble[len(tries) - 1] if len(tries) <= len(trouble) else "through"
        if what == "through":
            await route.continue_()
        elif what == "network":
            await route.abort("connectionreset")
        else:
            errcode = "M_UNAVAILABLE" if what == "503" else "M_LIMIT_EXCEEDED"
            body = {"errcode": errcode, "error": "not now", "retry_after_ms": 1000}
            await route.fulfill(status=int(what), json=body)

    async def next_try(count: int) -> None:
        async with asyncio.timeout(20):
            while len(tries) < count:
                tried.clear()
                await tried.wait()

    await page.route(path, in_the_way)
    first = "Er der nogen?"
    await page.locator("#input").fill(first)
    await page.locator("#input").press("Enter")
    bubble = page.locator("#messages .from-youth").filter(has_text=first)
    for count in range(1, len(trouble) + 1):
        await next_try(count)
        assert await bubble.get_attribute("class") == "msg from-youth is-pending"
        assert await bubble.locator(".meta").inner_text() == "Sender …"
        await page.clock.fast_forward(40_000)
    await page.locator("#messages .from-youth:not(.is-pending)").filter(has_text=first).wait_for()
    assert len(tries) == 4 and len({t["client_id"] for t in tries}) == 1  # the same id each time
    await page.unroute(path)

    # Away for good: after about a minute the page says so, and "Prøv igen" sends it.
    trouble = ["503"] * 100
    tries.clear()
    await page.route(path, in_the_way)
    second = "Hallo?"
    await page.locator("#input").fill(second)
    await page.locator("#input").press("Enter")
    failed = page.locator("#messages .from-youth.is-failed").filter(has_text=second)
    for count in range(1, 8):
        await next_try(count)
        if count < 7:
            assert await failed.count() == 0  # still "Sender …"
        await page.clock.fast_forward(40_000)
    await failed.wait_for()
    assert "Ikke sendt." in await failed.inner_text()
    await page.unroute(path)
    await failed.get_by_role("button", name="Prøv igen").tap()
    await page.locator("#messages .from-youth:not(.is-pending)").filter(has_text=second).wait_for()

    # After a reload each is there once: none lost, none twice.
    await page.reload()
    await page.locator("#messages .from-youth").filter(has_text=second).wait_for()
    assert [t for t in await message_texts(page) if t] == [first, second]
    # The browser notes each refused try in its console; the page itself never fails.
    assert [p for p in phone.problems if "Failed to load resource" not in p] == []
    assert phone.foreign_requests(stack.intake) == []
    await page.get_by_role("button", name="Afslut samtalen").tap()
    await page.get_by_role("button", name="Ja, afslut").tap()
    assert await ended_in_the_bot(stack, conversation) == "youth"
