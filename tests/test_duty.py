"""Duty, the queue and overflow, as the youth page counts them (on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.config.load import parse_config
from bots.conversation.duty import DutyRoster
from bots.conversation.states import State
from bots.conversation.store import ConversationRepo
from bots.db.models import Conversation
from tests.test_config import valid


def conversation(cid: str, kommune: str, state: State, minutes_ago: int) -> Conversation:
    return Conversation(
        id=cid,
        kommune=kommune,
        homeserver="hs",
        state=state.value,
        created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago),
    )


async def test_duty_counts_once_per_counsellor(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    roster = DutyRoster(db_sessions)
    assert await roster.count("halsnaes") == 0
    assert await roster.start("halsnaes", "@anna:halsnaes.dk") is True
    assert await roster.start("halsnaes", "@anna:halsnaes.dk") is False  # already on duty
    assert await roster.start("halsnaes", "@bo:halsnaes.dk") is True
    assert await roster.start("kbh", "@carl:kk.dk") is True
    assert await roster.count("halsnaes") == 2
    assert await roster.on_duty("halsnaes") == ["@anna:halsnaes.dk", "@bo:halsnaes.dk"]
    assert await roster.end("halsnaes", "@anna:halsnaes.dk") is True
    assert await roster.end("halsnaes", "@anna:halsnaes.dk") is False
    assert await roster.on_duty("halsnaes") == ["@bo:halsnaes.dk"]


async def test_queue_position_counts_who_came_first(
    db_sessions: async_sessionmaker[AsyncSession],
) -> None:
    repo = ConversationRepo(db_sessions)
    for conv in [
        conversation("first", "halsnaes", State.WAITING, 10),
        conversation("taken", "halsnaes", State.ACTIVE, 8),
        conversation("second", "halsnaes", State.WAITING, 5),
        conversation("elsewhere", "kbh", State.WAITING, 7),
        conversation("third", "halsnaes", State.REQUESTED, 1),
    ]:
        await repo.add(conv)
    roster = DutyRoster(db_sessions)
    positions = {}
    for cid in ("first", "second", "third", "taken", "elsewhere"):
        conv = await repo.get(cid)
        assert conv is not None
        positions[cid] = await roster.queue_position(conv)
    assert positions == {"first": 1, "second": 2, "third": 3, "taken": None, "elsewhere": 1}
    assert await roster.waiting("halsnaes") == 3


async def test_overflow_offers_an_open_partner_with_someone_on_duty(
    db_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = valid()
    halsnaes = data["municipalities"][0]
    halsnaes["opening_hours"] = {"weekly": {"monday": ["18:00-21:00"]}}
    kbh = {**halsnaes, "slug": "kbh", "name": "Københavns Kommune", "service_name": "Ungechat KBH"}
    kbh["fictional"] = True  # "kbh" is not an official slug (that is "koebenhavn")
    kbh["opening_hours"] = {"always_open": True}
    halsnaes["partners"] = ["kbh"]
    data["municipalities"].append(kbh)
    config = parse_config(data, tmp_path)
    m, partner = config.municipality("halsnaes"), config.municipality("kbh")
    assert m is not None and partner is not None
    roster = DutyRoster(db_sessions)
    tuesday_noon = dt.datetime(2026, 11, 24, 11, 0, tzinfo=dt.UTC)
    assert await roster.overflow_partner(config, m, tuesday_noon) is None  # nobody on duty
    await roster.start("kbh", "@carl:kk.dk")
    assert await roster.overflow_partner(config, m, tuesday_noon) == partner
    assert await roster.overflow_partner(config, partner, tuesday_noon) is None  # kbh answers
