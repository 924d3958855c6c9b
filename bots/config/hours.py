"""Opening hours: a weekly schedule, dated exceptions and Danish public holidays, all in
Europe/Copenhagen, and how to say "when do you open next" to a young person.

Pure functions of a given `now`, so the rules are testable without waiting for Thursday.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_NAMES = {
    "da": ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTH_NAMES = {
    "da": (
        "januar",
        "februar",
        "marts",
        "april",
        "maj",
        "juni",
        "juli",
        "august",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}
# How far ahead to look for the next opening: a schedule with only exceptions may be sparse.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class Interval:
    """One opening on a local day, e.g. 18:00–21:00; `end` may be 24:00 (end of day)."""

    start: dt.time
    end_minutes: int  # minutes after local midnight, up to 24 * 60

    @classmethod
    def parse(cls, text: str) -> Interval:
        """'18:00-21:00' → Interval; raises ValueError with a reason."""
        try:
            start_text, end_text = (part.strip() for part in text.split("-"))
            start = _minutes(start_text)
            end = _minutes(end_text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a time range like '18:00-21:00'") from exc
        if start >= 24 * 60:
            raise ValueError(f"{text!r}: the start must be before 24:00")
        if end <= start:
            raise ValueError(f"{text!r}: the end must be after the start")
        return cls(dt.time(start // 60, start % 60), end)

    def on(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        """The interval as aware datetimes on a local date (DST-correct)."""
        midnight = dt.datetime.combine(day, dt.time(0), COPENHAGEN)
        opens = dt.datetime.combine(day, self.start, COPENHAGEN)
        end_day = day + dt.timedelta(days=self.end_minutes // (24 * 60))
        rest = self.end_minutes % (24 * 60)
        closes = dt.datetime.combine(end_day, dt.time(rest // 60, rest % 60), COPENHAGEN)
        return max(opens, midnight), closes

    def label(self) -> str:
        end = f"{self.end_minutes // 60:02d}:{self.end_minutes % 60:02d}"
        return f"{self.start.strftime('%H:%M')}-{end}"


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise ValueError(text)
    return value


@lru_cache(maxsize=16)
def danish_holidays(year: int) -> Mapping[dt.date, str]:
    return holidays.country_holidays("DK", years=year, language="da")


@dataclass(frozen=True)
class OpeningHours:
    always_open: bool = False
    weekly: tuple[tuple[Interval, ...], ...] = field(default=((),) * 7)
    # A dated exception replaces that day's weekly hours; an empty tuple means closed.
    exceptions: Mapping[dt.date, tuple[Interval, ...]] = field(default_factory=dict)
    closed_on_public_holidays: bool = True

    def intervals_on(self, day: dt.date) -> tuple[Interval, ...]:
        if day in self.exceptions:
            return self.exceptions[day]
        if self.closed_on_public_holidays and day in danish_holidays(day.year):
            return ()
        return self.weekly[day.weekday()]

    def _openings(self, after: dt.datetime) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """Every opening that ends after `after`, in order."""
        first = after.astimezone(COPENHAGEN).date() - dt.timedelta(days=1)
        for offset in range(HORIZON_DAYS):
            day = first + dt.timedelta(days=offset)
            for interval in sorted(self.intervals_on(day), key=lambda i: i.start):
                opens, closes = interval.on(day)
                if closes > after:
                    yield opens, closes

    def is_open(self, now: dt.datetime) -> bool:
        if self.always_open:
            return True
        first = next(self._openings(now), None)
        return first is not None and first[0] <= now

    def closes_at(self, now: dt.datetime) -> dt.datetime | None:
        """When the current opening ends (None when closed now or always open)."""
        if self.always_open:
            return None
        closes: dt.datetime | None = None
        for opens, end in self._openings(now):
            if opens > (closes or now):
                break
            closes = max(closes or end, end)  # back-to-back intervals read as one
        return closes

    def next_opening(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment the chat opens after `now` (None if always open or never)."""
        if self.always_open:
            return None
        after = self.closes_at(now) or now
        return next((opens for opens, _ in self._openings(after) if opens > after), None)

    def weekly_summary(self, lang: str = "da") -> list[tuple[str, str]]:
        """[(day name, '18–21'), …] for the days the chat is normally open."""
        if self.always_open:
            return []
        names = DAY_NAMES.get(lang, DAY_NAMES["da"])
        return [
            (names[i], ", ".join(_range_text(iv, lang) for iv in day))
            for i, day in enumerate(self.weekly)
            if day
        ]


def _clock(minutes: int, lang: str) -> str:
    hours, mins = divmod(minutes, 60)
    if lang == "da":
        return f"{hours}" if mins == 0 else f"{hours}.{mins:02d}"
    return f"{hours:02d}:{mins:02d}"


def _range_text(interval: Interval, lang: str) -> str:
    start = interval.start.hour * 60 + interval.start.minute
    return f"{_clock(start, lang)}–{_clock(interval.end_minutes, lang)}"


def describe_next_opening(now: dt.datetime, opening: dt.datetime, lang: str = "da") -> str:
    """'i dag kl. 18', 'i morgen kl. 18.30', 'torsdag kl. 18', 'torsdag den 3. december kl. 18'."""
    local_now = now.astimezone(COPENHAGEN)
    local = opening.astimezone(COPENHAGEN)
    days = (local.date() - local_now.date()).days
    clock = _clock(local.hour * 60 + local.minute, lang)
    weekday = DAY_NAMES.get(lang, DAY_NAMES["da"])[local.weekday()]
    month = MONTH_NAMES.get(lang, MONTH_NAMES["da"])[local.month - 1]
    if lang == "en":
        if days == 0:
            day = "today"
        elif days == 1:
            day = "tomorrow"
        elif days < 7:
            day = weekday
        else:
            day = f"{weekday} {local.day} {month}"
        return f"{day} at {clock}"
    if days == 0:
        day = "i dag"
    elif days == 1:
        day = "i morgen"
    elif days < 7:
        day = weekday
    else:
        day = f"{weekday} den {local.day}. {month}"
    return f"{day} kl. {clock}"
