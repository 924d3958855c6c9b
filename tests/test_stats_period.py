"""The period a report covers: by default the last quarter that has ended, in Danish
time — never a quarter with weeks still to come."""

from __future__ import annotations

import datetime as dt

import pytest

from bots.cli import main
from bots.config.hours import COPENHAGEN
from bots.stats.period import Period, choose_period

UTC = dt.UTC


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # The reviewer's day: the fourth quarter is under way, so the third it is.
        (dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC), Period.quarter(2026, 3)),
        # 23:30 on New Year's Eve in Copenhagen: the fourth quarter has not ended yet.
        (dt.datetime(2026, 12, 31, 22, 30, tzinfo=UTC), Period.quarter(2026, 3)),
        # 00:30 on New Year's Day in Copenhagen, still 31 December in UTC.
        (dt.datetime(2026, 12, 31, 23, 30, tzinfo=UTC), Period.quarter(2026, 4)),
        (dt.datetime(2026, 4, 1, 8, 0, tzinfo=UTC), Period.quarter(2026, 1)),
        (dt.datetime(2026, 1, 15, 8, 0, tzinfo=UTC), Period.quarter(2025, 4)),
    ],
)
def test_the_default_is_the_last_complete_quarter(now: dt.datetime, expected: Period) -> None:
    period = choose_period(None, None, None, now)
    assert period == expected
    assert period.end < now.astimezone(COPENHAGEN).date()


def test_a_quarter_or_a_range_is_taken_as_given() -> None:
    now = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert choose_period(None, None, "2026K4", now) == Period.quarter(2026, 4)
    assert choose_period("2026-10-01", None, None, now) == Period.quarter(2026, 4)


def test_the_help_says_which_period_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stats", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "the last complete quarter unless --kvartal or --fra/--til" in help_text
    assert "(default: the last complete quarter)" in help_text
