"""The period a report covers: the last complete quarter by default, or any range of
whole days, with Danish names for the quarter and the weeks in it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from bots.config.hours import COPENHAGEN, MONTH_NAMES

_QUARTER = re.compile(r"^(\d{4})\s*-?\s*[QqKk]([1-4])$")
_DANISH_DATE = re.compile(r"^(\d{1,2})[.-/](\d{1,2})[.-/](\d{4})$")


@dataclass(frozen=True)
class Period:
    start: dt.date  # first day, inclusive
    end: dt.date  # last day, inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")

    @classmethod
    def quarter(cls, year: int, number: int) -> Period:
        first_month = 3 * (number - 1) + 1
        start = dt.date(year, first_month, 1)
        next_start = dt.date(year + 1, 1, 1) if number == 4 else dt.date(year, first_month + 3, 1)
        return cls(start, next_start - dt.timedelta(days=1))

    @classmethod
    def quarter_of(cls, day: dt.date) -> Period:
        return cls.quarter(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def last_complete_quarter(cls, now: dt.datetime | None = None) -> Period:
        """The newest quarter that has ended (Danish time): on 27 November 2026, the
        third quarter of 2026 — never one with weeks still to come."""
        today = (now or dt.datetime.now(dt.UTC)).astimezone(COPENHAGEN).date()
        return cls.quarter_of(cls.quarter_of(today).start - dt.timedelta(days=1))

    def quarter_number(self) -> int | None:
        """1–4 when the period is exactly a calendar quarter, else None."""
        q = Period.quarter_of(self.start)
        return (self.start.month - 1) // 3 + 1 if q == self else None

    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days())]

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def weeks(self) -> list[str]:
        """ISO weeks the period touches, as 'YYYY-Www', in order."""
        out: list[str] = []
        day = self.start
        while day <= self.end:
            key = week_key(day)
            if key not in out:
                out.append(key)
            day += dt.timedelta(days=1)
        return out

    def title(self) -> str:
        """'3. kvartal 2025' or '1. juli – 15. august 2025'."""
        number = self.quarter_number()
        if number is not None:
            return f"{number}. kvartal {self.start.year}"
        return f"{danish_date(self.start)} – {danish_date(self.end)}"

    def label(self) -> str:
        """For file names: '2025K3' or '2025-07-01_2025-08-15'."""
        number = self.quarter_number()
        if number is not None:
            return f"{self.start.year}K{number}"
        return f"{self.start.isoformat()}_{self.end.isoformat()}"


def week_key(day: dt.date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_label(key: str, period: Period) -> str:
    """'uge 27 (1.–6. jul.)': the days of the week that fall inside the period."""
    year, week = int(key[:4]), int(key[6:])
    monday = dt.date.fromisocalendar(year, week, 1)
    first = max(monday, period.start)
    last = min(monday + dt.timedelta(days=6), period.end)
    return f"uge {week} ({_short(first)}–{_short(last)})"


def _short(day: dt.date) -> str:
    return f"{day.day}/{day.month}"


def danish_date(day: dt.date) -> str:
    return f"{day.day}. {MONTH_NAMES['da'][day.month - 1]} {day.year}"


def parse_day(text: str) -> dt.date:
    """'2025-07-01', '1.7.2025' or '01-07-2025'; raises ValueError with a reason."""
    text = text.strip()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    match = _DANISH_DATE.match(text)
    if match:
        day, month, year = (int(g) for g in match.groups())
        try:
            return dt.date(year, month, day)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a date: {exc}") from exc
    raise ValueError(f"{text!r} is not a date (write 2025-07-01 or 1.7.2025)")


def parse_quarter(text: str) -> Period:
    """'2025K3', '2025Q3' or '2025-Q3'."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a quarter (write 2025K3 or 2025Q3)")
    return Period.quarter(int(match.group(1)), int(match.group(2)))


def choose_period(
    start: str | None, end: str | None, quarter: str | None, now: dt.datetime | None = None
) -> Period:
    """From the command's options: a quarter, a range (an open end runs to the end of the
    start's quarter, an open start from the start of the end's quarter), or the last
    complete quarter."""
    if quarter is not None:
        if start is not None or end is not None:
            raise ValueError("give either a quarter or --fra/--til, not both")
        return parse_quarter(quarter)
    if start is None and end is None:
        return Period.last_complete_quarter(now)
    first = parse_day(start) if start is not None else None
    last = parse_day(end) if end is not None else None
    if first is None:
        assert last is not None
        first = Period.quarter_of(last).start
    if last is None:
        last = Period.quarter_of(first).end
    return Period(first, last)
