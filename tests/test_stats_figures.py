"""Every figure of a seeded synthetic quarter, on SQLite and PostgreSQL, checked against
counts made here from the raw rows with plain Python — not with the code under test —
and the small-cell rule checked on the published result by an attacker.

The quarter comes from the project's own generator (python -m bots.stats.synthetic).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import text

from bots.config.load import load_config
from bots.db.engine import make_engine
from bots.stats import chapter_talks, export, synthetic
from bots.stats.command import publication
from bots.stats.cube import cell
from bots.stats.figures import Publication
from bots.stats.period import Period
from schemas import SCHEMA_DIR
from tests.db_fixture import FreshDatabase
from tests.stats_attack import Key, hours_knowledge, ranges, read_export, subtract
from tests.stats_report_reader import Page

QUARTER = Period.quarter(2025, 3)
CONFIG = load_config(synthetic.NETWORK)
SLUGS = [m.slug for m in CONFIG.municipalities]
NOW = dt.datetime(2025, 10, 2, 9, 0, tzinfo=dt.UTC)
# The definitions, written out again here on purpose (see docs/statistics.md).
ANSWERED = {"answered", "transferred"}
OUTCOME = {
    "answered": "besvaret",
    "transferred": "overdraget",
    "left_while_waiting": "gik_inden_svar",
    "unanswered": "ikke_besvaret",
    "setup_failed": "ikke_besvaret",
}
FEEDBACK = {"yes": "ja", "partly": "delvist", "no": "nej", None: "intet_svar"}
WAIT_EDGES = [(60, "under_1"), (300, "1_5"), (900, "5_15"), (1800, "15_30")]
DURATION_EDGES = [(300, "under_5"), (900, "5_15"), (1800, "15_30"), (3600, "30_60")]


@dataclass
class Quarter:
    rows: list[dict[str, Any]]
    views: list[dict[str, Any]]
    pub: Publication
    data: dict[str, Any]


def as_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def quarter(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_databases: FreshDatabase,
) -> Quarter:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('stats') / 'stats.db'}"
    else:
        url = await pg_databases()
    assert await synthetic.run(url, CONFIG, QUARTER, seed=1, replace=False) > 2000
    engine = make_engine(url)
    async with engine.connect() as conn:
        stats = await conn.execute(text("SELECT * FROM conversation_stats"))
        rows = [dict(r._mapping) for r in stats]
        views = [dict(r._mapping) for r in await conn.execute(text("SELECT * FROM page_views"))]
    await engine.dispose()
    for row in rows:
        row["answers"], row["topics"] = as_json(row["answers"]), as_json(row["topics"])
        row["date"] = dt.date.fromisoformat(str(row["date"]))
    for view in views:
        view["date"] = dt.date.fromisoformat(str(view["date"]))
    pub = await publication(CONFIG, url, QUARTER)
    return Quarter(rows, views, pub, export.to_json(pub, SLUGS, NOW))


# -- counting from the raw rows ---------------------------------------------------------


def kanal(row: dict[str, Any]) -> str:
    m = CONFIG.municipality(row["kommune"])
    assert m is not None
    return row["kanal"] if row["kanal"] in m.channels else "ukendt"


def answer(row: dict[str, Any], question: str) -> str:
    m = CONFIG.municipality(row["kommune"])
    assert m is not None
    q = next(q for q in m.questions if q.id == question)
    chosen = row["answers"].get(question)
    return chosen if chosen in {o.id for o in q.options} else "ikke_besvaret"


def topics(row: dict[str, Any]) -> set[str]:
    """The municipality's own topic list."""
    m = CONFIG.municipality(row["kommune"])
    assert m is not None
    return set(m.topics)


def overflow(row: dict[str, Any]) -> bool:
    """Came by the link while the chat was closed and was answered by a partner."""
    return row["transferred_to"] is not None and row["outcome"] != "transferred"


def bucket(seconds: int, edges: list[tuple[int, str]], last: str) -> str:
    return next((name for edge, name in edges if seconds < edge), last)


def week(day: dt.date) -> str:
    return f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"


DIM: dict[str, Callable[[dict[str, Any]], str]] = {
    "uge": lambda r: week(r["date"]),
    "tid": lambda r: f"{r['weekday']}-{r['hour']}",
    "kanal": kanal,
    "udfald": lambda r: OUTCOME[r["outcome"]],
    "feedback": lambda r: FEEDBACK[r["feedback"]],
    "ventetid": lambda r: bucket(r["wait_seconds"], WAIT_EDGES, "over_30"),
    "varighed": lambda r: bucket(r["duration_seconds"], DURATION_EDGES, "over_60"),
}


def expected(q: Quarter, measure: str, kommune: str, dims: dict[str, str]) -> int:
    """The true number behind one published cell."""

    def mine(row: dict[str, Any]) -> bool:
        return kommune == "*" or row["kommune"] == kommune

    if measure == "sidevisninger":
        m = {s: CONFIG.municipality(s) for s in SLUGS}
        return sum(
            v["count"]
            for v in q.views
            if mine(v)
            and QUARTER.contains(v["date"])
            and all(
                (v["kanal"] if v["kanal"] in m[v["kommune"]].channels else "ukendt") == want
                for dim, want in dims.items()
            )
        )
    rows = [r for r in q.rows if mine(r)]
    if measure == "med_raadgiver":
        rows = [r for r in rows if r["outcome"] in ANSWERED]
    elif measure == "uden_raadgiver":
        rows = [r for r in rows if r["outcome"] not in ANSWERED]
    elif measure == "bevaret":
        rows = [r for r in rows if r["held"]]
    elif measure == "haster":
        rows = [r for r in rows if r.get("urgent")]
    elif measure == "emne":
        rows = [r for r in rows if r["outcome"] in ANSWERED]
        topic = dims.pop("emne")
        if topic == "intet_emne":
            rows = [r for r in rows if not r["topics"]]
        elif topic == "andet":  # "andet", and every tag not in the municipality's list
            rows = [r for r in rows if "andet" in r["topics"] or set(r["topics"]) - topics(r)]
        else:
            rows = [r for r in rows if topic in r["topics"]]
    for dim, want in dims.items():
        if dim.startswith("svar:"):
            rows = [r for r in rows if answer(r, dim[5:]) == want]
        else:
            rows = [r for r in rows if DIM[dim](r) == want]
    return len(rows)


# -- the tests --------------------------------------------------------------------------


def test_the_synthetic_quarter_looks_like_young_people(quarter: Quarter) -> None:
    rows = quarter.rows
    per_kommune = Counter(r["kommune"] for r in rows)
    assert 2000 < len(rows) < 4000 and set(per_kommune) == set(SLUGS)
    assert per_kommune["fanoe"] < 60  # a small one, to exercise the small-cell rule
    halsnaes = [r for r in rows if r["kommune"] == "halsnaes"]  # open around the clock
    evening = sum(17 <= r["hour"] <= 23 for r in halsnaes)
    night = sum(0 <= r["hour"] <= 6 for r in halsnaes)
    assert evening > 4 * night
    rksk = [r for r in rows if r["kommune"] == "ringkoebing-skjern" and not overflow(r)]
    assert {r["weekday"] for r in rksk} == {0, 3} and {r["hour"] for r in rksk} <= {18, 19, 20}
    # A few came while their own chat was closed and took an open partner's instead.
    sent_on = [r for r in rows if overflow(r)]
    assert 2 <= len(sent_on) <= 12 and {r["kommune"] for r in sent_on} <= {
        "ringkoebing-skjern",
        "fanoe",
    }
    assert {r["outcome"] for r in sent_on} >= {"answered"}
    for r in sent_on:
        m = CONFIG.municipality(r["kommune"])
        assert m is not None and r["transferred_to"] in m.partners
        hours = m.opening_hours.weekly[r["weekday"]]
        assert not [iv for iv in hours if iv.start.hour <= r["hour"] < iv.end_minutes / 60]
    # Counsellors' tags that are not in the list are counted as "andet".
    assert 3 <= sum(bool(set(r["topics"]) - topics(r)) for r in rows) < 60
    kbh = Counter(kanal(r) for r in rows if r["kommune"] == "koebenhavn")
    views = Counter()
    for v in quarter.views:
        if v["kommune"] == "koebenhavn":
            views[v["kanal"]] += v["count"]
    assert views.most_common(1)[0][0] == "facebook"
    assert kbh["kort"] / views["kort"] > 3 * kbh["facebook"] / views["facebook"]


def test_the_same_seed_gives_the_same_quarter() -> None:
    first, second = synthetic.generate(CONFIG, QUARTER, 1), synthetic.generate(CONFIG, QUARTER, 1)
    assert first == second
    assert synthetic.generate(CONFIG, QUARTER, 2)[0] != first[0]


def test_every_published_figure_matches_the_rows(quarter: Quarter) -> None:
    checked = Counter()
    for c in quarter.data["cells"]:
        truth = expected(quarter, c["measure"], c["kommune"], dict(c["dims"]))
        value = c["value"]
        if truth < 5:
            assert value == "<5", c
        elif value == "x":
            checked["x"] += 1
        else:
            assert value == truth, c
        checked[c["measure"]] += 1
    assert checked["samtaler"] > 1000 and checked["emne"] > 50 and checked["sidevisninger"] >= 25


def test_the_report_has_every_figure_for_every_municipality(quarter: Quarter) -> None:
    keys = {
        (c["measure"], c["kommune"], json.dumps(c["dims"], sort_keys=True))
        for c in quarter.data["cells"]
    }

    def has(measure: str, kommune: str, **dims: str) -> bool:
        return (measure, kommune, json.dumps(dims, sort_keys=True)) in keys

    for m in CONFIG.municipalities:
        k = m.slug
        kanals = [*m.channels, "ukendt"]
        assert all(has("samtaler", k, uge=w) for w in QUARTER.weeks())
        assert all(has("samtaler", k, tid=f"{d}-{h}") for d in range(7) for h in range(24))
        for measure in ("sidevisninger", "samtaler", "med_raadgiver", "uden_raadgiver"):
            assert all(has(measure, k, kanal=v) for v in kanals), measure
        options = [o.id for o in m.questions[0].options] + ["ikke_besvaret"]
        assert all(
            has("samtaler", k, kanal=v, **{"svar:heard_from": o}) for v in kanals for o in options
        )
        assert all(has("samtaler", k, udfald=o) for o in set(OUTCOME.values()))
        assert all(has("samtaler", k, feedback=f) for f in FEEDBACK.values())
        assert all(has("med_raadgiver", k, ventetid=b) for _, b in [*WAIT_EDGES, (0, "over_30")])
        assert all(has("emne", k, emne=t) for t in m.topics)
        assert has("bevaret", k)
    assert has("samtaler", "*") and has("sidevisninger", "*") and has("bevaret", "*")
    assert has("haster", "*")


def test_medians_match_the_rows(quarter: Quarter) -> None:
    for entry in quarter.data["medians"]:
        rows = [
            r
            for r in quarter.rows
            if (entry["kommune"] == "*" or r["kommune"] == entry["kommune"])
            and r["outcome"] in ANSWERED
            and (entry["measure"] != "ventetid_haster" or r.get("urgent"))
        ]
        field = {
            "ventetid": "wait_seconds",
            "ventetid_haster": "wait_seconds",
            "varighed": "duration_seconds",
        }[entry["measure"]]
        values = [r[field] for r in rows if r[field] is not None]
        if len(values) < 5:
            assert entry["minutes"] is None
        else:
            assert entry["minutes"] == round(statistics.median(values) / 60, 1)


def test_the_json_export_follows_its_schema(quarter: Quarter) -> None:
    schema = json.loads((SCHEMA_DIR / "stats-export.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    assert list(validator.iter_errors(quarter.data)) == []
    broken = json.loads(json.dumps(quarter.data))
    broken["cells"][0]["value"] = 3  # a small number may never be published
    assert list(validator.iter_errors(broken))


def test_the_csv_holds_the_same_cells_as_the_json(quarter: Quarter) -> None:
    text_csv = export.to_csv(quarter.pub, SLUGS)
    assert text_csv.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text_csv[1:]), delimiter=";"))
    assert len(rows) == len(quarter.data["cells"])
    for row, c in zip(rows, quarter.data["cells"], strict=True):
        dims = {row[f"dimension{i}"]: row[f"kategori{i}"] for i in (1, 2) if row[f"dimension{i}"]}
        assert (row["maal"], row["kommune"].replace("alle", "*"), dims) == (
            c["measure"],
            c["kommune"],
            c["dims"],
        )
        assert row["antal"] == str(c["value"])


def test_no_small_number_can_be_worked_out_from_the_published_figures(quarter: Quarter) -> None:
    """Adversarial, on the whole publication: subtraction recovers no "<5", and exact
    integer programming leaves every "<5" at least three possible values — for an
    attacker who knows the opening hours, and even which closed hours had nobody."""
    cells, totals = read_export(quarter.data)
    assert len(totals) > 100

    def truth(key: Key) -> int:
        return expected(quarter, key[0], key[1], dict(key[2]))

    known, positive = hours_knowledge(
        cells, CONFIG.municipalities, QUARTER.start, QUARTER.end, truth
    )
    assert len(known) > 300 and positive  # Ringkøbing-Skjern and Fanø sent some on
    for outside in ({}, known):
        recovered = subtract(cells, totals, outside)
        assert not [k for k in recovered if cells[k] == "<5"]
    # The reader who takes every closed "<5" for 0 works nothing out right either.
    assumed = dict.fromkeys([*known, *positive], 0)
    recovered = subtract(cells, totals, assumed)
    assert not [k for k, v in recovered.items() if cells[k] == "<5" and truth(k) == v]
    found = ranges(cells, totals, known, positive)
    small = [k for k, v in cells.items() if v == "<5" and k not in known]
    assert len(found) == len(small) > 200
    for key, (low, high) in found.items():
        assert low <= truth(key) <= high, "the attacker's model must hold the truth"
    narrow = {k: r for k, r in found.items() if r[1] - r[0] < 2}
    assert narrow == {}


async def test_rows_outside_the_period_or_config_and_feedback_keys_stay_out(
    db_url: str, tmp_path: Path
) -> None:
    """Only the period's rows of configured municipalities are counted, and the
    short-lived feedback key on a row never reaches an export."""
    engine = make_engine(db_url)
    from bots.db.engine import ensure_schema

    await ensure_schema(engine)
    row = {
        "kommune": "halsnaes", "date": dt.date(2025, 8, 4), "hour": 19, "weekday": 0,
        "kanal": "facebook", "answers": "{}", "topics": "[]", "wait_seconds": 60,
        "duration_seconds": 900, "outcome": "answered", "held": False, "feedback": None,
        "feedback_token_hash": "f" * 64,
    }  # fmt: skip
    others = [
        dict(row, date=dt.date(2025, 6, 30)),  # the day before the quarter
        dict(row, date=dt.date(2025, 10, 1)),  # the day after
        dict(row, kommune="atlantis"),  # not in the config
    ]
    insert = text(
        "INSERT INTO conversation_stats (kommune, date, hour, weekday, kanal, answers, topics,"
        " wait_seconds, duration_seconds, outcome, held, feedback, feedback_token_hash) VALUES"
        " (:kommune, :date, :hour, :weekday, :kanal, :answers, :topics, :wait_seconds,"
        " :duration_seconds, :outcome, :held, :feedback, :feedback_token_hash)"
    )
    async with engine.begin() as conn:
        for r in [row] * 6 + others:
            await conn.execute(insert, r)
    await engine.dispose()
    pub = await publication(CONFIG, db_url, QUARTER)
    counted = pub.cells.values  # the true numbers behind the published ones
    assert counted[cell("samtaler", "halsnaes")] == 6
    assert counted[cell("samtaler", "halsnaes", uge="2025-W32")] == 6
    assert counted[cell("samtaler", "*")] == 6
    assert not [c for c in counted if c.kommune == "atlantis"]
    data = export.to_json(pub, SLUGS, NOW)
    dumped = json.dumps(data) + export.to_csv(pub, SLUGS)
    assert "f" * 64 not in dumped and "atlantis" not in dumped


async def test_a_young_person_sent_on_to_a_partner_counts_as_answered_by_the_link(
    db_url: str,
) -> None:
    """An "answered" row with `transferred_to` (overflow: Fanø was closed, Copenhagen
    answered) counts for Fanø as answered, not as handed over; "transferred" stays the
    conversation handed over mid-way by `!overfør`."""
    engine = make_engine(db_url)
    from bots.db.engine import ensure_schema

    await ensure_schema(engine)
    row = {
        "kommune": "fanoe", "date": dt.date(2025, 8, 4), "hour": 3, "weekday": 0,
        "kanal": "plakat", "answers": "{}", "topics": "[]", "wait_seconds": 60,
        "duration_seconds": 900, "outcome": "answered", "transferred_to": "koebenhavn",
    }  # fmt: skip
    rows = [row] * 8 + [dict(row, outcome="transferred", hour=19, weekday=2)] * 7
    rows += [dict(row, outcome=o, transferred_to=None) for o in ["unanswered"] * 6]
    insert = text(
        "INSERT INTO conversation_stats (kommune, date, hour, weekday, kanal, answers, topics,"
        " wait_seconds, duration_seconds, outcome, transferred_to, held) VALUES (:kommune,"
        " :date, :hour, :weekday, :kanal, :answers, :topics, :wait_seconds,"
        " :duration_seconds, :outcome, :transferred_to, false)"
    )
    async with engine.begin() as conn:
        for r in rows:
            await conn.execute(insert, r)
    await engine.dispose()
    pub = await publication(CONFIG, db_url, QUARTER)
    counted = pub.cells.values
    assert counted[cell("samtaler", "fanoe", udfald="besvaret")] == 8
    assert counted[cell("samtaler", "fanoe", udfald="overdraget")] == 7
    assert counted[cell("med_raadgiver", "fanoe", kanal="plakat")] == 15
    assert counted[cell("samtaler", "koebenhavn")] == 0  # the credit stays with the link
    assert counted[cell("samtaler", "fanoe", tid="0-3")] == 14  # outside the hours
    table = Page(chapter_talks.waiting(pub, "fanoe")).sections["ventetid-fanoe"].table()
    for outcome, label in (
        ("besvaret", "Besvaret"),
        ("overdraget", "Overdraget til en anden kommune"),
    ):
        assert table[label][0] == str(pub.shown(cell("samtaler", "fanoe", udfald=outcome)))
    assert "Besvaret af en anden kommune" not in table
