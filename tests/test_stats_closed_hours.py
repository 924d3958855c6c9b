"""The small-cell rule against a reader who knows the opening hours.

The report draws each municipality's weekly hours on its weekday × hour chart, and the
youth page shows the days with special hours, so a reader takes a "<5" in an hour the
chat was closed for 0. Such zeros cannot hide a small number beside them; and the hours
in which conversations did start outside the weekly hours (a young person sent on to an
open partner, a day with special hours) must stay as uncertain as any other.

The attacker (tests/stats_attack.py) works out the closed hours from the config itself.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bots.config.load import parse_config
from bots.config.model import Config
from bots.stats import export, synthetic
from bots.stats.closed import closed_cells as closed_by_the_report
from bots.stats.cube import cell
from bots.stats.figures import Publication, build
from bots.stats.period import Period
from bots.stats.query import ConversationRecord
from tests.offline_config import offline_config_data, offline_municipality
from tests.stats_attack import Key, closed_cells, hours_knowledge, ranges, read_export, subtract

Q3 = Period.quarter(2025, 3)
NOW = dt.datetime(2025, 10, 2, 9, 0, tzinfo=dt.UTC)
WEDNESDAY_EVENINGS = {"weekly": {"wednesday": ["19:00-21:00"]}}


def config(hours: dict[str, Any]) -> Config:
    municipality = offline_municipality(opening_hours=hours)
    return parse_config(offline_config_data(municipalities=[municipality]), Path("/tmp"))


def row(day: dt.date, hour: int, outcome: str = "answered") -> ConversationRecord:
    return ConversationRecord(
        kommune="testby",
        date=day,
        hour=hour,
        weekday=day.weekday(),
        kanal="facebook",
        answers={},
        topics=("trivsel",),
        wait_seconds=60,
        duration_seconds=1200,
        outcome=outcome,
        held=False,
        feedback=None,
    )


def wednesdays(period: Period) -> list[dt.date]:
    days = [period.start + dt.timedelta(days=i) for i in range(period.days())]
    return [d for d in days if d.weekday() == 2]


def truth_of(rows: list[ConversationRecord], pub: Publication) -> Callable[[Key], int]:
    """The true count behind a published cell: weekday-hour and week cells counted here
    from the rows, the others as the report counted them (checked on their own in
    test_stats_figures.py)."""
    slots = Counter((r.kommune, f"{r.weekday}-{r.hour}") for r in rows)
    weeks = Counter(
        (r.kommune, f"{r.date.isocalendar()[0]}-W{r.date.isocalendar()[1]:02d}") for r in rows
    )

    def truth(key: Key) -> int:
        dims = dict(key[2])
        if dims.keys() == {"tid"}:
            return slots[(key[1], dims["tid"])]
        if dims.keys() == {"uge"}:
            return weeks[(key[1], dims["uge"])]
        return pub.cells.values[cell(key[0], key[1], **dims)]

    return truth


def attack(
    cfg: Config, period: Period, rows: list[ConversationRecord]
) -> tuple[dict[Key, int | str], dict[Key, int], dict[Key, tuple[int, int]]]:
    """Publish; then attack knowing the hours. Returns the published cells, the "<5"
    that a reader who takes every closed "<5" for 0 works out right by subtraction, and
    the exact ranges an attacker who even knows which closed hours had nobody narrows
    every "<5" to."""
    pub = build(cfg, period, rows, [])
    cells, totals = read_export(export.to_json(pub, ["testby"], NOW))
    truth = truth_of(rows, pub)
    known, positive = hours_knowledge(cells, cfg.municipalities, period.start, period.end, truth)
    recovered = subtract(cells, totals, dict.fromkeys([*known, *positive], 0))
    right = {k: v for k, v in recovered.items() if cells[k] == "<5" and truth(k) == v}
    found = ranges(cells, totals, known, positive)
    for key, (low, high) in found.items():
        assert low <= truth(key) <= high, "the attacker's model must hold the truth"
    return cells, right, found


def slot(day: int, hour: int) -> Key:
    return ("samtaler", "testby", (("tid", f"{day}-{hour}"),))


def test_the_reviewers_example_cannot_be_undone_with_the_opening_hours() -> None:
    """Open Wednesday 19–21 only; 20 conversations at 19 and 3 at 20. Before the rule
    knew the hours, the report showed 23, 20 and "<5" with only closed-hour "<5"
    beside it: 23 − 20 = 3."""
    days = wednesdays(Q3)
    rows = [row(days[i % len(days)], 19) for i in range(20)]
    rows += [row(days[i], 20) for i in range(3)]
    cells, recovered, found = attack(config(WEDNESDAY_EVENINGS), Q3, rows)
    assert cells[("samtaler", "testby", ())] == 23
    assert cells[slot(2, 20)] == "<5"
    assert recovered == {}  # before: {Wednesday 20–21: 3}
    narrow = {k: r for k, r in found.items() if r[1] - r[0] < 2}
    assert narrow == {}
    assert found[slot(2, 20)][0] <= 3 <= found[slot(2, 20)][1]


@pytest.mark.parametrize(
    ("hours", "outside"),
    [
        # Sent on to an open partner at night, when its own chat was closed.
        (WEDNESDAY_EVENINGS, [(dt.date(2025, 8, 4), 2)]),
        # A Friday with special hours (exceptions are on the youth page, not the chart).
        (
            {**WEDNESDAY_EVENINGS, "exceptions": {"2025-08-15": ["10:00-14:00"]}},
            [(dt.date(2025, 8, 15), 11), (dt.date(2025, 8, 15), 12)],
        ),
    ],
)
def test_conversations_outside_the_weekly_hours_stay_uncertain(
    hours: dict[str, Any], outside: list[tuple[dt.date, int]]
) -> None:
    """One conversation on Wednesday 20–21 and one or two outside the weekly hours: a
    reader who knows in which closed hours someone came would have them at 1 each, had
    closed hours with nobody counted as hiding them."""
    days = wednesdays(Q3)
    rows = [row(days[i % len(days)], 19) for i in range(40)]
    rows += [row(days[0], 20)]
    rows += [row(day, hour) for day, hour in outside]
    cells, recovered, found = attack(config(hours), Q3, rows)
    assert recovered == {}
    for day, hour in outside:
        assert cells[slot(day.weekday(), hour)] == "<5"
        low, high = found[slot(day.weekday(), hour)]
        assert high - low >= 2 and low >= 1  # the reader may know someone came
    assert {k: r for k, r in found.items() if r[1] - r[0] < 2} == {}


def test_a_week_when_the_chat_was_closed_hides_nothing() -> None:
    """The first quarter of 2026 starts on a Thursday: its first week has no Wednesday,
    so a Wednesday chat had 0 conversations in it, and a reader knows it. That 0 may
    not be the only thing beside a week's "<5"."""
    q1 = Period.quarter(2026, 1)
    days = wednesdays(q1)
    rows = [row(days[0], 19), row(days[0], 19)]  # 2 in the second week
    rows += [row(day, 19) for day in days[1:] for _ in range(6)]
    cells, recovered, found = attack(config(WEDNESDAY_EVENINGS), q1, rows)
    first_week = ("samtaler", "testby", (("uge", "2026-W01"),))
    second_week = ("samtaler", "testby", (("uge", "2026-W02"),))
    assert cells[first_week] == "<5" and cells[second_week] == "<5"
    assert recovered == {}  # before: {the second week: 2}
    assert {k: r for k, r in found.items() if r[1] - r[0] < 2} == {}


@pytest.mark.parametrize(
    "hours",
    [
        WEDNESDAY_EVENINGS,
        {"always_open": True},
        {
            "weekly": {"monday": ["18:30-21:00"], "thursday": ["18:00-21:00", "22:00-24:00"]},
            "exceptions": {"2025-07-03": [], "2025-08-15": ["10:00-14:00"]},
        },
        {"weekly": {"monday": ["15:00-21:00"]}, "public_holidays": "closed"},
    ],
)
@pytest.mark.parametrize(
    "period",
    [Q3, Period.quarter(2026, 1), Period.quarter(2025, 2), Period(dt.date(2025, 7, 1), Q3.start)],
)
def test_the_report_and_the_attacker_agree_on_when_the_chat_was_closed(
    hours: dict[str, Any], period: Period
) -> None:
    """Two separate readings of the hours: the report's and the attacker's."""
    m = config(hours).municipalities[0]
    assert closed_by_the_report(m, period) == closed_cells(m, period.start, period.end)


def test_the_synthetic_network_knows_its_closed_hours() -> None:
    cfg = synthetic_config()
    for m in cfg.municipalities:
        found = closed_by_the_report(m, Q3)
        assert found == closed_cells(m, Q3.start, Q3.end)
        if m.opening_hours.always_open:
            assert found == set()
    fanoe = closed_by_the_report(cfg.municipality("fanoe"), Q3)  # type: ignore[arg-type]
    assert ("tid", "2-19") not in fanoe and ("tid", "2-21") in fanoe
    assert ("uge", "2025-W40") in fanoe  # 29–30 September: no Wednesday


def synthetic_config() -> Config:
    from bots.config.load import load_config

    return load_config(synthetic.NETWORK)


@pytest.mark.parametrize("seed", range(6))
def test_random_quarters_of_a_small_chat_give_nothing_away(seed: int) -> None:
    """A small chat open a few evenings a week, a random handful of conversations, now
    and then one outside the hours: the attacker who knows the hours narrows no "<5"."""
    rng = random.Random(seed)
    days = rng.sample(["monday", "tuesday", "wednesday", "thursday", "sunday"], rng.randint(1, 3))
    hours = {"weekly": {day: [f"{rng.randint(15, 19)}:00-21:00"] for day in days}}
    cfg = config(hours)
    closed = closed_cells(cfg.municipalities[0], Q3.start, Q3.end)
    open_hours = [
        (d, h) for d in Q3.dates() for h in range(24) if ("tid", f"{d.weekday()}-{h}") not in closed
    ]
    rows = [row(*rng.choice(open_hours)) for _ in range(rng.randint(10, 60))]
    rows += [row(rng.choice(Q3.dates()), rng.randrange(24)) for _ in range(rng.randint(0, 3))]
    _, recovered, found = attack(cfg, Q3, rows)
    assert recovered == {}
    assert {k: r for k, r in found.items() if r[1] - r[0] < 2} == {}


def test_a_municipality_closed_all_quarter_is_zero_and_hides_nothing_else() -> None:
    """No opening hours in the period: every count of it is a 0 a reader knows, which
    nothing could hide — and it must not make its neighbours' numbers hidden either."""
    municipalities = [
        offline_municipality(opening_hours=WEDNESDAY_EVENINGS),
        offline_municipality(
            slug="lukketby", name="Lukketby Kommune", opening_hours={"weekly": {}}
        ),
    ]
    cfg = parse_config(offline_config_data(municipalities=municipalities), Path("/tmp"))
    days = wednesdays(Q3)
    rows = [row(days[i % len(days)], 19) for i in range(30)]
    pub = build(cfg, Q3, rows, [])
    cells, totals = read_export(export.to_json(pub, ["testby", "lukketby"], NOW))
    assert cells[("samtaler", "lukketby", ())] == "<5"
    assert cells[("samtaler", "testby", ())] == 30 and cells[("samtaler", "*", ())] == 30
    known, positive = hours_knowledge(
        cells, cfg.municipalities, Q3.start, Q3.end, truth_of(rows, pub)
    )
    narrow = {k for k, r in ranges(cells, totals, known, positive).items() if r[1] - r[0] < 2}
    assert narrow and {k[1] for k in narrow} == {"lukketby"}
    assert all(pub.cells.values[cell(k[0], k[1], **dict(k[2]))] == 0 for k in narrow)
