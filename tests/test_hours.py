"""Opening hours in Danish time: weekly hours, exceptions, public holidays, summer time,
and the words a young person reads ("åbner torsdag kl. 18")."""

from __future__ import annotations

import datetime as dt

import pytest

from bots.config.hours import COPENHAGEN, Interval, OpeningHours, describe_next_opening

MON_THU_EVENINGS = OpeningHours(
    weekly=(
        (Interval.parse("18:00-21:00"),),
        (),
        (),
        (Interval.parse("18:00-21:00"),),
        (),
        (),
        (),
    )
)


def cph(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=COPENHAGEN)


def test_open_only_within_the_hours() -> None:
    # 2026-11-23 is a Monday, 2026-11-26 a Thursday.
    assert not MON_THU_EVENINGS.is_open(cph(2026, 11, 23, 17, 59))
    assert MON_THU_EVENINGS.is_open(cph(2026, 11, 23, 18, 0))
    assert MON_THU_EVENINGS.is_open(cph(2026, 11, 23, 20, 59))
    assert not MON_THU_EVENINGS.is_open(cph(2026, 11, 23, 21, 0))
    assert MON_THU_EVENINGS.closes_at(cph(2026, 11, 23, 19, 0)) == cph(2026, 11, 23, 21, 0)
    assert MON_THU_EVENINGS.closes_at(cph(2026, 11, 24, 19, 0)) is None


def test_next_opening_and_its_words() -> None:
    tuesday = cph(2026, 11, 24, 12, 0)
    nxt = MON_THU_EVENINGS.next_opening(tuesday)
    assert nxt == cph(2026, 11, 26, 18, 0)
    assert describe_next_opening(tuesday, nxt) == "torsdag kl. 18"
    assert describe_next_opening(tuesday, nxt, "en") == "Thursday at 18:00"
    thursday_noon = cph(2026, 11, 26, 12, 0)
    assert describe_next_opening(thursday_noon, nxt) == "i dag kl. 18"
    assert describe_next_opening(cph(2026, 11, 25, 22, 0), nxt) == "i morgen kl. 18"
    # While open, the next opening is the one after this evening.
    assert MON_THU_EVENINGS.next_opening(cph(2026, 11, 26, 19, 0)) == cph(2026, 11, 30, 18, 0)


def test_public_holidays_close_the_chat_unless_told_otherwise() -> None:
    # Second Christmas Day 2024 was a Thursday.
    boxing_day = cph(2024, 12, 26, 19, 0)
    assert not MON_THU_EVENINGS.is_open(boxing_day)
    assert MON_THU_EVENINGS.next_opening(cph(2024, 12, 24, 12, 0)) == cph(2024, 12, 30, 18, 0)
    words = describe_next_opening(cph(2024, 12, 20, 12), cph(2024, 12, 30, 18, 0))
    assert words == "mandag den 30. december kl. 18"
    open_on_holidays = OpeningHours(weekly=MON_THU_EVENINGS.weekly, closed_on_public_holidays=False)
    assert open_on_holidays.is_open(boxing_day)


def test_exceptions_replace_the_day() -> None:
    hours = OpeningHours(
        weekly=MON_THU_EVENINGS.weekly,
        exceptions={
            dt.date(2026, 11, 23): (),  # a Monday closed for a staff day
            dt.date(2026, 11, 24): (Interval.parse("14:30-16:00"),),  # an extra Tuesday
        },
    )
    assert not hours.is_open(cph(2026, 11, 23, 19, 0))
    assert hours.next_opening(cph(2026, 11, 23, 19, 0)) == cph(2026, 11, 24, 14, 30)
    assert describe_next_opening(cph(2026, 11, 23, 19), cph(2026, 11, 24, 14, 30)) == (
        "i morgen kl. 14.30"
    )


def test_summer_time_is_local_time() -> None:
    # 2026-03-29 switches to summer time; Monday the 30th opens at 18:00 local = 16:00 UTC.
    nxt = MON_THU_EVENINGS.next_opening(cph(2026, 3, 28, 12, 0))
    assert nxt is not None
    assert nxt.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 16, 0, tzinfo=dt.UTC)


def test_until_midnight_and_back_to_back() -> None:
    late = OpeningHours(weekly=((Interval.parse("20:00-24:00"),),) + ((),) * 6)
    assert late.is_open(cph(2026, 11, 23, 23, 59))
    assert late.closes_at(cph(2026, 11, 23, 23, 0)) == cph(2026, 11, 24, 0, 0)
    split = OpeningHours(
        weekly=((Interval.parse("18:00-19:00"), Interval.parse("19:00-21:00")),) + ((),) * 6
    )
    assert split.closes_at(cph(2026, 11, 23, 18, 30)) == cph(2026, 11, 23, 21, 0)


def test_always_open() -> None:
    hours = OpeningHours(always_open=True)
    assert hours.is_open(cph(2026, 12, 24, 3, 0))
    assert hours.next_opening(cph(2026, 12, 24, 3, 0)) is None


def test_weekly_summary() -> None:
    assert MON_THU_EVENINGS.weekly_summary() == [("mandag", "18–21"), ("torsdag", "18–21")]
    assert MON_THU_EVENINGS.weekly_summary("en")[1] == ("Thursday", "18:00–21:00")


@pytest.mark.parametrize("text", ["18:00", "21:00-18:00", "18:00-18:00", "24:00-24:30", "9-10"])
def test_bad_ranges_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=text.split("-")[0]):
        Interval.parse(text)
