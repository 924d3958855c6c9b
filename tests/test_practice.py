"""The counsellor's practice (issue 15), against a real Synapse with counsellors as
Matrix clients: prepared answers (`!svar`) reach the youth as the counsellor's own
message, with the municipality's details filled in."""

from __future__ import annotations

import aiohttp
import pytest

from bots.config.model import LocalText
from tests.config_swap import municipality_changed, reconfigured
from tests.stack_fixture import Stack
from tests.test_counsellors import command, taken

pytestmark = pytest.mark.synapse

SERVICES = LocalText(
    "Du kan også ringe til BørneTelefonen på 116 111 (døgnet rundt) eller skrive til "
    "{tjeneste} igen, når vi åbner {åbner}.",
    "You can also call BørneTelefonen on 116 111 (day and night).",
)


async def test_a_prepared_answer_reaches_the_youth_as_the_counsellors_message(
    stack: Stack, http: aiohttp.ClientSession
) -> None:
    config = stack.bot.config
    network = {"headspace": LocalText("headspace har rådgivning i {kommune}: headspace.dk")}
    own = {"tjenester": SERVICES}
    with (
        reconfigured(config, prepared_answers=network),
        municipality_changed(config, "testby", prepared_answers=own),
    ):
        c = stack.counsellors[0]
        youth, room_id, conv = await taken(stack, http, c)

        listed = (await command(c, room_id, "!svar"))[0]
        assert "!svar headspace" in listed and "!svar tjenester" in listed
        help_text = (await command(c, room_id, "!hjælp"))[0]
        assert "Forberedte svar (!svar NAVN): headspace, tjenester" in help_text

        await c.say(room_id, "!svar tjenester")
        shown = await youth.wait_for(lambda e: "BørneTelefonen" in str(e.get("body", "")))
        assert shown["from"] == "counsellor"  # as if they typed it: nothing says "prepared"
        assert "{" not in shown["body"] and "Ungechat Testby" in shown["body"]
        assert "key" not in shown

        await c.say(room_id, "!answer headspace")
        shown = await youth.wait_for(lambda e: "headspace.dk" in str(e.get("body", "")))
        assert shown == {**shown, "from": "counsellor", "body": shown["body"]}
        assert "rådgivning i Testby" in shown["body"]

        unknown = (await command(c, room_id, "!svar flyvemaskine"))[0]
        assert "flyvemaskine" in unknown and "!svar headspace" in unknown
        # The commands themselves never reach the youth; each answer exactly once.
        bodies = youth.messages()
        assert not [b for b in bodies if b.startswith("!")]
        assert sum("BørneTelefonen" in b for b in bodies) == 1
        assert conv.room_id == room_id
