"""A counsellor's note or command never reaches the young person, whatever comes before
its "!": the command parser and the youth page's projection read it the same way, and
both fail closed. Tested against whole classes of characters, not a list of examples."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bots.counsellors.registry import parse
from bots.intake.projection import Audience, project

YOUTH = "@_ungechat_ung_abc:ungechat.test"
BOT = "@ungechat:ungechat.test"
ANNA = "@anna:ungechat.test"
AUDIENCE = Audience(YOUTH, BOT, {ANNA}.__contains__)
NOTE = "!intern hun nævnte sin lærer ved navn"


def relayed(body: str, sender: str = ANNA) -> dict | None:
    event = {
        "type": "m.room.message",
        "event_id": "$e",
        "sender": sender,
        "origin_server_ts": 1,
        "content": {"msgtype": "m.text", "body": body},
    }
    return project(event, AUDIENCE)


def code_points() -> list[str]:
    return [chr(cp) for cp in range(sys.maxunicode + 1) if not 0xD800 <= cp <= 0xDFFF]


ALL = code_points()
# Everything that is not a letter, digit, punctuation or symbol: controls, format
# characters, every kind of space and separator and combining marks, all of them; of the
# ~970,000 unassigned and private-use code points every 97th (they are one rule, and
# checking each takes minutes). None of them may hide the "!" from the parser.
NOT_VISIBLE_CLASSES = [
    ch
    for ch in ALL
    if unicodedata.category(ch)[0] in "ZM"
    or unicodedata.category(ch) in ("Cc", "Cf", "Cs")
    or (unicodedata.category(ch) in ("Cn", "Co") and ord(ch) % 97 == 0)
]
# Everything NFKC folds into something starting with "!" (fullwidth, small, vertical …).
FOLDS_TO_MARK = [
    ch for ch in ALL if ch != "!" and unicodedata.normalize("NFKC", ch).startswith("!")
]


def test_the_classes_are_what_they_claim() -> None:
    """The test's own classes are big, and hold the characters found by hand."""
    assert len(NOT_VISIBLE_CLASSES) > 10_000
    for ch in "\u200b\ufeff\u2060\u200e\u00a0\u3000\u0301\u202e\u180e":
        assert ch in NOT_VISIBLE_CLASSES
    assert {"！", "﹗", "︕"} <= set(FOLDS_TO_MARK)


def test_nothing_invisible_before_the_mark_leaks_a_note() -> None:
    leaked = [f"U+{ord(ch):04X}" for ch in NOT_VISIBLE_CLASSES if relayed(ch + NOTE) is not None]
    assert leaked == []


def test_nothing_invisible_before_the_mark_stops_the_command() -> None:
    missed = [f"U+{ord(ch):04X}" for ch in NOT_VISIBLE_CLASSES if parse(ch + "!luk") is None]
    assert missed == []
    assert parse("\u200b\ufeff !luk ensomhed") == ("luk", ["ensomhed"], "ensomhed")


@pytest.mark.parametrize("mark", ["!", *FOLDS_TO_MARK, "ǃ", "ⵑ", "❗", "❕", "ꜝ", "¡"])
def test_every_exclamation_look_alike_is_a_command(mark: str) -> None:
    assert relayed(mark + NOTE[1:]) is None
    assert parse(mark + "luk") is not None


def test_invisible_characters_inside_the_word_do_not_hide_the_command() -> None:
    assert parse("!l\u200bu\u00adk") == ("luk", [], "")


def test_ordinary_messages_still_reach_the_youth() -> None:
    for body in ("Hej, jeg hedder Rådgiver!", "Hvad tænker du om det?", "¿Qué?", "1! 2!"):
        shown = relayed(body)
        assert shown is not None and shown["body"] == body
        assert parse(body) is None


def test_a_young_persons_exclamation_is_theirs_to_say() -> None:
    """The youth's own messages are never commands (and are shown back as written)."""
    shown = relayed("!!! hjælp", sender=YOUTH)
    assert shown is not None and shown["body"] == "!!! hjælp"


@given(st.text(max_size=12), st.text(min_size=1, max_size=40))
def test_parser_and_projection_never_disagree(prefix: str, rest: str) -> None:
    """Whatever a counsellor writes: if the bot takes it as a command, the youth never
    sees it."""
    body = prefix + rest
    if parse(body) is not None:
        assert relayed(body) is None


@given(st.text(alphabet=st.sampled_from(NOT_VISIBLE_CLASSES[:5000]), max_size=6))
def test_any_run_of_invisible_characters_before_a_note_hides_it(prefix: str) -> None:
    assert relayed(prefix + NOTE) is None
    assert parse(prefix + "!vagt start") == ("vagt", ["start"], "start")
