"""What the youth page may see of room events (unit tests on canned events)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bots.conversation.room import power_levels
from bots.intake.projection import Audience, project, strip_reply_fallback

YOUTH = "@_ungechat_ung_abc:ungechat.localhost"
BOT = "@ungechat:ungechat.localhost"
# The configured counsellors; @mallory:evil.example in the canned events is not one.
COUNSELLORS = {"@anna.hansen:halsnaes.dk", "@bo.larsen:halsnaes.dk"}
AUDIENCE = Audience(YOUTH, BOT, COUNSELLORS.__contains__)
EVENTS = json.loads((Path(__file__).parent / "data" / "room_events.json").read_text())


@pytest.mark.parametrize("case", EVENTS, ids=[e["name"] for e in EVENTS])
def test_projection(case: dict) -> None:
    """Each canned event as the page gets it (`senders`: who sent the messages that an
    edit refers to, as the stream knows them)."""
    assert project(case["event"], AUDIENCE, case.get("senders", {})) == case["expected"]


def test_no_quoted_line_and_no_counsellor_id_ever_reaches_the_page() -> None:
    """Whatever the canned events hold, nothing relayed quotes a reply or names anyone."""
    for case in EVENTS:
        item = project(case["event"], AUDIENCE, case.get("senders", {}))
        relayed = json.dumps(item, ensure_ascii=False)
        assert not any(c in relayed for c in (*COUNSELLORS, "@mallory")), case["name"]
        assert "!intern" not in relayed and "formatted_body" not in relayed, case["name"]
        assert not str((item or {}).get("body", "")).startswith("> <"), case["name"]


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("> <@a:b> hej\n\nsvar", "svar"),
        ("> <@a:b> hej\n> mere\n\nsvar\n\nmere svar", "svar\n\nmere svar"),
        ("> <@a:b> hej\nsvar uden tom linje", "svar uden tom linje"),
        ("> <@a:b> kun citatet", ""),
        ("intet citat\n> senere", "intet citat\n> senere"),
    ],
)
def test_strip_reply_fallback(body: str, reply: str) -> None:
    assert strip_reply_fallback(body) == reply


def test_power_levels_before_and_from_room_version_12() -> None:
    v12 = power_levels(bot_user_id=BOT, youth_user_id=YOUTH, room_version="12")
    v11 = power_levels(bot_user_id=BOT, youth_user_id=YOUTH, room_version="11")
    assert v12["users"] == {YOUTH: 0}
    assert v11["users"] == {YOUTH: 0, BOT: 100}
    assert v12["events"] == {"m.room.message": 0} and v12["events_default"] == 50
