"""An attacker on published statistics, written apart from bots/stats/suppression.py so
the tests do not check the suppression with its own reasoning.

The attacker has the published cells (numbers, "<5", "x") and every total they can see
("this cell is the sum of those"). It may also know numbers from outside the tables:
the opening hours are drawn on the report's weekday × hour chart and shown on the youth
page, so a count in an hour (or a week) the chat was closed is 0 unless something
unusual happened (a young person sent on to an open partner, a day with special hours).
`closed_cells` is that knowledge, worked out here from the config on its own.

Two attacks:
- `subtract`: the one the issue names — solve any total with a single unknown part,
  over and over, using what was recovered;
- `ranges`: the strongest there is on these facts — for each "<5", the least and the
  greatest whole number it can be in any table consistent with everything published
  ("<5" is 0–4, "x" is 5 or more, and what the attacker knows from outside), by integer
  programming.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from bots.config.hours import Interval
from bots.config.model import Municipality

Published = Mapping[Hashable, int | str]
Total = tuple[Hashable, Sequence[Hashable]]  # (total, parts)


def subtract(
    cells: Published, totals: Sequence[Total], known: Mapping[Hashable, int] | None = None
) -> dict[Hashable, int]:
    """Hidden cells recovered by subtraction from totals; `known` are hidden cells whose
    values the attacker holds from outside (they are not counted as recovered)."""
    outside = dict(known or {})
    known_now = {k: v for k, v in cells.items() if isinstance(v, int)} | outside
    recovered: dict[Hashable, int] = {}
    progress = True
    while progress:
        progress = False
        for total, parts in totals:
            members = [total, *parts]
            unknown = [k for k in members if k not in known_now]
            if len(unknown) != 1:
                continue
            (k,) = unknown
            parts_sum = sum(known_now[p] for p in parts if p in known_now)
            value = parts_sum if k == total else known_now[total] - (parts_sum)
            known_now[k] = recovered[k] = value
            progress = True
    return recovered


def ranges(
    cells: Published,
    totals: Sequence[Total],
    known: Mapping[Hashable, int] | None = None,
    positive: Collection[Hashable] = (),
) -> dict[Hashable, tuple[int, int]]:
    """For each "<5" not in `known`: (least, greatest) value consistent with everything
    published, with the `known` cells at their values and the `positive` ones at least 1."""
    outside = dict(known or {})
    hidden = sorted(
        (k for k, v in cells.items() if not isinstance(v, int) and k not in outside), key=repr
    )
    groups = _linked(hidden, totals)
    out: dict[Hashable, tuple[int, int]] = {}
    for group in groups:
        index = {k: i for i, k in enumerate(group)}
        rows, rhs = [], []
        for total, parts in totals:
            if not any(k in index for k in (total, *parts)):
                continue
            row = np.zeros(len(group))
            constant = 0.0
            for k, sign in [(total, -1.0), *((p, 1.0) for p in parts)]:
                if k in index:
                    row[index[k]] += sign
                else:
                    constant += sign * int(outside.get(k, cells[k]))
            rows.append(row)
            rhs.append(-constant)
        low = [(1.0 if k in positive else 0.0) if cells[k] == "<5" else 5.0 for k in group]
        high = [4.0 if cells[k] == "<5" else np.inf for k in group]
        for k in group:
            if cells[k] != "<5":
                continue
            if not rows:
                out[k] = (int(low[index[k]]), 4)
                continue
            ends = []
            for sign in (1.0, -1.0):
                c = np.zeros(len(group))
                c[index[k]] = sign
                result = milp(
                    c,
                    constraints=LinearConstraint(np.array(rows), rhs, rhs),
                    integrality=np.ones(len(group)),
                    bounds=Bounds(low, high),
                )
                assert result.success, result.message
                ends.append(round(result.x[index[k]]))
            out[k] = (ends[0], ends[1])
    return out


def _linked(hidden: Sequence[Hashable], totals: Sequence[Total]) -> list[list[Hashable]]:
    parent = {k: k for k in hidden}

    def root(k: Hashable) -> Hashable:
        while parent[k] != k:
            k = parent[k]
        return k

    for total, parts in totals:
        members = [k for k in (total, *parts) if k in parent]
        for k in members[1:]:
            parent[root(k)] = root(members[0])
    groups: dict[Hashable, list[Hashable]] = {}
    for k in hidden:
        groups.setdefault(root(k), []).append(k)
    return list(groups.values())


# -- what the opening hours tell -------------------------------------------------------


def _hours_touched(intervals: Sequence[Interval]) -> set[int]:
    """Local hours of the day in which any of `intervals` is open."""
    hours: set[int] = set()
    for iv in intervals:
        start, end = iv.start.hour * 60 + iv.start.minute, iv.end_minutes
        hours |= {h for h in range(24) if start < (h + 1) * 60 and end > h * 60}
    return hours


def closed_cells(m: Municipality, first: dt.date, last: dt.date) -> set[tuple[str, str]]:
    """("tid", "weekday-hour") and ("uge", "YYYY-Www") of the hours and weeks in which,
    going by the weekly hours drawn on the chart, or by the hours of each day (exceptions
    and holidays, as the youth page shows them), the chat was never open."""
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    hours = m.opening_hours

    def open_hours_on(day: dt.date, dated: bool) -> set[int]:
        if hours.always_open:
            return set(range(24))
        if dated:
            return _hours_touched(hours.intervals_on(day))
        return _hours_touched(hours.weekly[day.weekday()])

    out: set[tuple[str, str]] = set()
    for dated in (False, True):
        for weekday in range(7):
            mine = [d for d in days if d.weekday() == weekday]
            ever = set().union(*(open_hours_on(d, dated) for d in mine)) if mine else set()
            out |= {("tid", f"{weekday}-{h}") for h in range(24) if h not in ever}
        weeks: dict[str, bool] = {}
        for d in days:
            key = f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}"
            weeks[key] = weeks.get(key, False) or bool(open_hours_on(d, dated))
        out |= {("uge", w) for w, was_open in weeks.items() if not was_open}
    return out


# -- reading an export as a reader would -----------------------------------------------

Key = tuple[str, str, tuple[tuple[str, str], ...]]  # (measure, kommune, dims)


def read_export(data: Mapping[str, Any]) -> tuple[dict[Key, int | str], list[Total]]:
    """The cells of a statistik.json and the totals a reader can add up: those its
    structure shows, and those its schema says in words (answered + the others =
    started, and the outcomes they are made of)."""
    cells: dict[Key, int | str] = {
        (c["measure"], c["kommune"], tuple(sorted(c["dims"].items()))): c["value"]
        for c in data["cells"]
    }
    additive = {d for d, info in data["dimensions"].items() if info["additive"]}
    totals: list[Total] = []
    for measure, kommune, dims in cells:
        for dim in additive | {"kommune"}:
            if dim == "kommune":
                if kommune != "*":
                    continue
                parts = [k for k in cells if k[0] == measure and k[1] != "*" and k[2] == dims]
            else:
                if dim in dict(dims):
                    continue
                parts = [
                    k
                    for k in cells
                    if k[0] == measure
                    and k[1] == kommune
                    and dict(k[2]).keys() == dict(dims).keys() | {dim}
                    and all(dict(k[2])[d] == v for d, v in dims)
                ]
            if parts:
                totals.append(((measure, kommune, dims), parts))
    for kommune in (m["slug"] for m in data["municipalities"]):
        for total, outcomes in (
            ("med_raadgiver", ["besvaret", "overdraget"]),
            ("uden_raadgiver", ["gik_inden_svar", "ikke_besvaret"]),
        ):
            totals.append(
                ((total, kommune, ()), [("samtaler", kommune, (("udfald", p),)) for p in outcomes])
            )
        for key in [k for k in cells if k[0] == "samtaler" and k[1] == kommune]:
            if [d for d, _ in key[2]] in ([], ["kanal"]):
                totals.append((key, [("med_raadgiver", *key[1:]), ("uden_raadgiver", *key[1:])]))
    return cells, totals


def hours_knowledge(
    cells: Mapping[Key, int | str],
    municipalities: Sequence[Municipality],
    first: dt.date,
    last: dt.date,
    truth: Callable[[Key], int],
) -> tuple[dict[Key, int], set[Key]]:
    """What the opening hours tell about the hidden conversation counts, at the most:
    (the hidden cells of closed hours and weeks that were 0, as known; those that were
    not, as at least 1). Knowing which closed hours had nobody is more than a reader
    can know; an attack with it is an attack with anything the hours can tell."""
    known: dict[Key, int] = {}
    positive: set[Key] = set()
    for m in municipalities:
        for dim, category in closed_cells(m, first, last):
            key: Key = ("samtaler", m.slug, ((dim, category),))
            if isinstance(cells.get(key, 0), int):
                continue
            if truth(key) == 0:
                known[key] = 0
            else:
                positive.add(key)
    return known, positive
