"""When the chat was closed, as a reader of the report can tell without being told.

The report draws each municipality's weekly opening hours on its weekday × hour chart,
and the youth page shows the days with special hours (exceptions, public holidays). So
a reader takes a count in an hour of the week, or in a week, when the chat was never
open for 0 — and is right, unless something unusual happened: a young person who came
by the link while it was closed and was sent on to an open partner (overflow), or a
schedule changed during the period. The small-cell rule must reckon with that reader
(suppression.py, `presumed_zero`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from bots.config.hours import Interval
from bots.config.model import Municipality
from bots.stats.period import Period, week_key

# Weekday (0 = Monday) and local hour, the categories of the weekday × hour chart.
SLOTS = [f"{day}-{hour}" for day in range(7) for hour in range(24)]
ALL_HOURS = frozenset(range(24))


def hours_touched(intervals: Iterable[Interval]) -> frozenset[int]:
    """The local hours of a day in which the chat is open for at least a minute, by the
    clock (a conversation's hour is the clock's)."""
    hours: set[int] = set()
    for iv in intervals:
        hours.update(range(iv.start.hour, (iv.end_minutes - 1) // 60 + 1))
    return frozenset(hours)


def closed_cells(m: Municipality, period: Period) -> set[tuple[str, str]]:
    """("tid", "weekday-hour") and ("uge", week) in which the chat was never open in the
    period, going by the weekly hours (what the chart shows) or by each day's own hours
    (exceptions and holidays): a reader may know either."""
    hours = m.opening_hours
    readings: list[Callable[[dt.date], frozenset[int]]]
    if hours.always_open:
        readings = [lambda _day: ALL_HOURS]
    else:
        readings = [
            lambda day: hours_touched(hours.weekly[day.weekday()]),
            lambda day: hours_touched(hours.intervals_on(day)),
        ]
    closed: set[tuple[str, str]] = set()
    for open_on in readings:
        slots_open: set[str] = set()
        weeks_open: set[str] = set()
        for day in period.dates():
            touched = open_on(day)
            slots_open.update(f"{day.weekday()}-{h}" for h in touched)
            if touched:
                weeks_open.add(week_key(day))
        closed.update(("tid", s) for s in SLOTS if s not in slots_open)
        closed.update(("uge", w) for w in period.weeks() if w not in weeks_open)
    return closed
