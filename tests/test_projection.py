"""What the youth page may see of room events (unit tests on canned events)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bots.conversation_room import power_levels
from bots.intake.projection import project

YOUTH = "@_ungechat_ung_abc:ungechat.localhost"
BOT = "@ungechat:ungechat.localhost"
EVENTS = json.loads((Path(__file__).parent / "data" / "room_events.json").read_text())


@pytest.mark.parametrize(("name", "expected"), [(e["name"], e["expected"]) for e in EVENTS])
def test_projection(name: str, expected: dict | None) -> None:
    event = next(e["event"] for e in EVENTS if e["name"] == name)
    assert project(event, YOUTH, BOT) == expected


def test_power_levels_before_and_from_room_version_12() -> None:
    v12 = power_levels(bot_user_id=BOT, youth_user_id=YOUTH, room_version="12")
    v11 = power_levels(bot_user_id=BOT, youth_user_id=YOUTH, room_version="11")
    assert v12["users"] == {YOUTH: 0}
    assert v11["users"] == {YOUTH: 0, BOT: 100}
    assert v12["events"] == {"m.room.message": 0} and v12["events_default"] == 50
