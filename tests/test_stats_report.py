"""`ungechat stats` as a coordinator runs it, on a synthetic quarter written by the
project's own script, and the report as a coordinator reads it: in headless Chromium
(Debian's), self-contained, with no console errors and no request leaving the page.

Screenshots go to test-artifacts/; with UNGECHAT_UPDATE_DOCS=1 also to docs/.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bots.cli import main
from bots.config.load import load_config
from bots.config.model import Municipality
from bots.stats import labels, synthetic
from bots.stats.period import Period
from schemas import SCHEMA_DIR
from tests.browser_fixture import ARTIFACTS
from tests.stats_report_reader import Page, Section, close_to, marks, number
from tests.stats_report_truth import Truth
from tests.test_stats_readonly import migrate_to, previous_revision

ROOT = Path(__file__).resolve().parent.parent
NETWORK = str(synthetic.NETWORK)
CONFIG = load_config(synthetic.NETWORK)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third quarter of 2025, synthetic, and its report."""
    tmp = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{tmp / 'stats.db'}"
    assert synthetic.main(["--seed", "1", "--db", url, "--quarter", "2025K3"]) == 0
    out = tmp / "rapport"
    args = ["stats", "-c", NETWORK, "--db", url, "--fra", "2025-07-01", "--til", "2025-09-30"]
    assert main([*args, "-o", str(out)]) == 0
    return out


class Cells(HTMLParser):
    """The text of every number cell (<td class="n">) in the page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self._in: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td" and ("class", "n") in attrs:
            self._in = []

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self._in.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._in is not None:
            self.cells.append("".join(self._in).strip())
            self._in = None


def test_the_command_writes_the_report_and_its_data(report: Path) -> None:
    assert sorted(p.name for p in report.iterdir()) == [
        "rapport.html",
        "statistik.csv",
        "statistik.json",
    ]
    data = json.loads((report / "statistik.json").read_text(encoding="utf-8"))
    schema = json.loads((SCHEMA_DIR / "stats-export.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(data, schema)
    assert data["period"] == {"from": "2025-07-01", "to": "2025-09-30", "title": "3. kvartal 2025"}
    html = (report / "rapport.html").read_text(encoding="utf-8")
    for heading in (
        "Ungechat – statistik for 3. kvartal 2025",
        "Hvilke kanaler bringer de unge til chatten?",
        "Linket og det, de unge selv svarer",
        "Hvornår kommer de unge?",
        "Samtaler uge for uge",
        "Hvad taler de unge om?",
        "Ventetid, og hvem der gik uden svar",
        "Hvor lange er samtalerne?",
        "Fik du hjælp?",
        "Kommunerne side om side",
        "Københavns Kommune",
        "Fanø Kommune",
    ):
        assert heading in html, heading
    total = next(
        c["value"]
        for c in data["cells"]
        if c == {**c, "measure": "samtaler", "kommune": "*", "dims": {}}
    )
    assert f"{total:,}".replace(",", ".") in html  # e.g. 2.553, written the Danish way
    # The coordinator's question in one sentence: the channel that brought the most.
    by_channel = {
        c["dims"]["kanal"]: c["value"]
        for c in data["cells"]
        if c["measure"] == "samtaler"
        and c["kommune"] == "koebenhavn"
        and c["dims"].keys() == {"kanal"}
    }
    top = max(
        (v for v in by_channel.items() if v[0] != "ukendt" and isinstance(v[1], int)),
        key=lambda v: v[1],
    )
    assert top[0] == "facebook"
    assert f"Flest samtaler kom via Facebook ({top[1]})." in html
    # No count under 5 anywhere in the tables: each is a number of 5 or more, or hidden.
    parser = Cells()
    parser.feed(html)
    counts = [c for c in parser.cells if re.fullmatch(r"[\d.]+", c)]
    assert len(counts) > 200
    assert all(int(c.replace(".", "")) >= 5 for c in counts)
    assert "&lt;5" in html and ">x<" in html
    assert re.search(r"https?://(?!chat\.example)", html.replace("http://www.w3.org", "")) is None


@pytest.mark.parametrize("kommune", ["fanoe", "halsnaes"])
def test_a_municipality_report_publishes_nothing_the_network_report_does_not(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], kommune: str
) -> None:
    """Two real runs, one for all and one for `kommune` (with the English option names):
    the municipality's chapter is the same page text, figure for figure and chart for
    chart, and its files hold the network files' cells, with the same values."""
    url = f"sqlite:///{report.parent / 'stats.db'}"
    args = ["stats", "-c", NETWORK, "--db", url, "--from", "2025-07-01", "--to", "2025-09-30"]
    assert main([*args, "--kommune", kommune, "-o", str(tmp_path / kommune)]) == 0
    html = (tmp_path / kommune / "rapport.html").read_text(encoding="utf-8")
    everything = (report / "rapport.html").read_text(encoding="utf-8")
    name = CONFIG.municipality(kommune).name  # type: ignore[union-attr]
    assert name in html and "Københavns Kommune" not in html
    assert "Kommunerne side om side" not in html
    assert chapter(html, kommune) == chapter(everything, kommune)
    outside = html.replace(chapter(html, kommune), "")
    assert "<td" not in outside and "<img" not in outside and 'class="card' not in outside

    def cells(folder: Path) -> dict[str, Any]:
        data = json.loads((folder / "statistik.json").read_text(encoding="utf-8"))
        return {
            json.dumps([c["measure"], c["kommune"], c["dims"]]): c["value"] for c in data["cells"]
        }

    one, network = cells(tmp_path / kommune), cells(report)
    assert one and {json.loads(c)[1] for c in one} == {kommune}
    assert {c: network[c] for c in one} == one
    csv_one = (tmp_path / kommune / "statistik.csv").read_text(encoding="utf-8").splitlines()
    csv_all = set((report / "statistik.csv").read_text(encoding="utf-8").splitlines()[1:])
    assert len(csv_one) == len(one) + 1 and set(csv_one[1:]) <= csv_all
    assert main([*args, "--kvartal", "2025K3"]) == 2
    assert "not both" in capsys.readouterr().err


def chapter(html: str, kommune: str) -> str:
    """The municipality's chapter of a report page, as written."""
    start = html.index(f'<section id="kommune-{kommune}">')
    ends = [html.find(mark, start + 1) for mark in ('<section id="kommune-', "\n<footer>")]
    return html[start : min(e for e in ends if e > 0)]


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--fra", "2025-13-01"], "'2025-13-01' is not a date"),
        (["--fra", "2025-09-30", "--til", "2025-07-01"], "ends (2025-07-01) before it starts"),
        (["--kvartal", "2025K5"], "'2025K5' is not a quarter"),
        (["--kommune", "atlantis"], "'atlantis' is not in the config"),
        (["--db", "sqlite:////nowhere/stats.db"], "there is no database at"),
        (["--kvartal", "2025K3"], "the database has no ungechat tables"),
    ],
)
def test_a_bad_request_says_why_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], reason: str
) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'empty.db'}"]
    (tmp_path / "empty.db").touch()
    out = tmp_path / "out"
    assert main(["stats", "-c", NETWORK, *db, "-o", str(out), *extra]) == 2
    assert reason in capsys.readouterr().err
    assert not out.exists()
    assert (tmp_path / "empty.db").stat().st_size == 0  # no table made


def test_the_report_only_reads_the_database(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database file is the same, byte for byte, after a report; one a revision
    behind is refused with the command that brings it up, and left as it was."""
    copy = tmp_path / "copy.db"
    shutil.copy(report.parent / "stats.db", copy)
    digest = hashlib.sha256(copy.read_bytes()).hexdigest()
    url = f"sqlite:///{copy}"
    assert main(["stats", "-c", NETWORK, "--db", url, "-o", str(tmp_path / "out")]) == 0
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
    # With no period given: the last quarter that has ended.
    data = json.loads((tmp_path / "out" / "statistik.json").read_text(encoding="utf-8"))
    default = Period.last_complete_quarter()
    assert (data["period"]["from"], data["period"]["to"]) == (
        default.start.isoformat(),
        default.end.isoformat(),
    )
    assert default.end < dt.date.today()

    older = tmp_path / "older.db"
    older_url = f"sqlite:///{older}"
    asyncio.run(migrate_to(older_url, previous_revision()))
    digest = hashlib.sha256(older.read_bytes()).hexdigest()
    args = ["stats", "-c", NETWORK, "--db", older_url, "--kvartal", "2025K3"]
    assert main([*args, "-o", str(tmp_path / "older")]) == 2
    err = capsys.readouterr().err
    assert f"schema revision {previous_revision()!r}" in err
    assert f"run `ungechat db upgrade --url {older_url}` first" in err
    assert hashlib.sha256(older.read_bytes()).hexdigest() == digest
    assert not (tmp_path / "older").exists()
    assert main(["db", "upgrade", "--url", older_url]) == 0  # what it said to run
    assert main([*args, "-o", str(tmp_path / "older")]) == 0


def test_the_synthetic_script_never_mixes_with_rows_already_there(
    report: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = report.parent / "copy.db"
    shutil.copy(report.parent / "stats.db", copy)
    url = f"sqlite:///{copy}"
    assert synthetic.main(["--seed", "2", "--db", url, "--quarter", "2025K3"]) == 2
    assert "nothing was written" in capsys.readouterr().err
    assert synthetic.main(["--seed", "2", "--db", url, "--quarter", "2025K3", "--replace"]) == 0


@pytest.mark.browser
async def test_the_report_reads_well_in_a_browser(report: Path, browser: Any) -> None:
    page = await browser.new_page(viewport={"width": 1100, "height": 1400})
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    page.on(
        "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
    )
    await page.goto((report / "rapport.html").as_uri())
    assert problems == []
    page_url = (report / "rapport.html").as_uri()
    assert [u for u in requests if u != page_url and not u.startswith("data:")] == []
    assert await page.locator("h1").inner_text() == "Ungechat – statistik for 3. kvartal 2025"
    assert await page.locator("h2").all_inner_texts() == [
        "Hele netværket",
        "Københavns Kommune",
        "Ringkøbing-Skjern Kommune",
        "Halsnæs Kommune",
        "Fanø Kommune",
    ]
    images = page.locator("figure img")
    assert await images.count() > 20
    widths = await images.evaluate_all("imgs => imgs.map(i => i.complete && i.naturalWidth)")
    assert all(w and w > 300 for w in widths)
    # The coordinator's question, answered in the first screen of each municipality.
    funnel = page.locator("#kanaler-koebenhavn table")
    assert "Startede pr. 100 besøg" in await funnel.locator("thead").inner_text()
    assert await page.locator("#kanaler-koebenhavn tbody tr").count() == 9  # 8 channels, I alt
    ARTIFACTS.mkdir(exist_ok=True)
    shots = {
        "report.png": page.locator("body"),
        "report-kommune.png": page.locator("#kommune-ringkoebing-skjern"),
    }
    for name, locator in shots.items():
        box = await locator.bounding_box()
        clip = {"x": 0, "y": box["y"], "width": 1100, "height": min(box["height"], 2600)}
        await page.screenshot(path=str(ARTIFACTS / name), clip=clip, full_page=True)
        if os.environ.get("UNGECHAT_UPDATE_DOCS") == "1":
            shutil.copy(ARTIFACTS / name, ROOT / "docs" / name)
    await page.close()


def test_every_derived_figure_in_the_report_matches_the_rows(report: Path) -> None:
    """Read back out of rapport.html: shares, "pr. 100 besøg", medians, "Fik hjælp",
    the busiest hours and the best channels, against values computed here from the raw
    rows — and "–" (or "skjult") wherever a figure would lean on a hidden number."""
    page = Page((report / "rapport.html").read_text(encoding="utf-8"))
    data = json.loads((report / "statistik.json").read_text(encoding="utf-8"))
    truth = Truth(report.parent / "stats.db", data)
    checked: Counter[str] = Counter()

    def same_share(text: str, value: float | None) -> None:
        assert text == "–" if value is None else close_to(text, value), (text, value)
        checked["shown" if value is not None else "withheld"] += 1

    def same_minutes(text: str, value: float | None) -> None:
        assert text == "–" if value is None else close_to(text, value, slack=0.05), text
        checked["median"] += 1

    def started(**dims: str) -> tuple[str, dict[str, str]]:
        return ("samtaler", dims)

    everyone = ("samtaler", {})
    side_by_side = page.sections["sammenligning"].table()
    for m in CONFIG.municipalities:
        k = m.slug
        row = side_by_side[m.name]
        assert row[0] == truth.text("samtaler", k) and row[1] == truth.text("sidevisninger", k)
        same_share(row[2], truth.share(everyone, ("sidevisninger", {}), k))
        same_share(row[3], truth.share(("med_raadgiver", {}), everyone, k))
        same_share(row[4], truth.share(("uden_raadgiver", {}), everyone, k))
        same_minutes(row[5], truth.median("wait_seconds", k))
        same_minutes(row[6], truth.median("duration_seconds", k))
        same_share(row[7], truth.helped(k))
        assert row[8] == truth.text("bevaret", k)
        assert row[9] == truth.text("haster", k)
    row = side_by_side["Hele netværket"]
    assert row[0] == truth.text("samtaler", "*") and row[1] == truth.text("sidevisninger", "*")
    same_share(row[2], truth.share(everyone, ("sidevisninger", {}), "*"))
    same_minutes(row[5], truth.median("wait_seconds", "*"))
    same_minutes(row[6], truth.median("duration_seconds", "*"))

    for m in CONFIG.municipalities:
        k = m.slug
        cards = page.sections[f"kommune-{k}"].cards
        assert cards["Samtaler"] == truth.text("samtaler", k)
        assert cards["Besøg på ungesiden"] == truth.text("sidevisninger", k)
        for label, part in (
            ("Fik en rådgiver", "med_raadgiver"),
            ("Gik uden svar", "uden_raadgiver"),
        ):
            value = truth.share((part, {}), everyone, k)
            if value is None:
                assert cards[label] == ("under 5" if truth.shown(part, k) == "<5" else "skjult")
            else:
                same_share(cards[label], value)
        same_minutes(cards["Ventetid"], truth.median("wait_seconds", k))
        helped = truth.helped(k)
        assert (
            cards["Fik hjælp"] == "skjult"
            if helped is None
            else close_to(cards["Fik hjælp"], helped)
        )

        funnel = page.sections[f"kanaler-{k}"]
        for kanal in [*m.channels, "ukendt", "*"]:
            dims = {} if kanal == "*" else {"kanal": kanal}
            views, n, per_100, answered, of_all = funnel.table()[
                "I alt" if kanal == "*" else labels.channel(kanal)
            ]
            assert views == truth.text("sidevisninger", k, **dims)
            assert n == truth.text("samtaler", k, **dims)
            same_share(per_100, truth.share(started(**dims), ("sidevisninger", dims), k))
            assert answered == truth.text("med_raadgiver", k, **dims)
            same_share(of_all, truth.share(started(**dims), everyone, k))
        check_best_channels(funnel.intro, m, truth)
        check_busiest_hours(page.sections[f"hvornaar-{k}"], k, truth)

        waiting = page.sections[f"ventetid-{k}"]
        for outcome, label in labels.OUTCOMES.items():
            n, of_all = waiting.table()[label]
            assert n == truth.text("samtaler", k, udfald=outcome)
            same_share(of_all, truth.share(started(udfald=outcome), everyone, k))
        same_minutes(
            waiting.intro.rsplit("Median ventetid: ", 1)[1], truth.median("wait_seconds", k)
        )
        duration = page.sections[f"varighed-{k}"].intro
        same_minutes(duration.rsplit("Median: ", 1)[1], truth.median("duration_seconds", k))

        feedback = page.sections[f"hjaelp-{k}"].table()
        silent = truth.count("samtaler", k, feedback="intet_svar")
        total_known = all(
            isinstance(truth.shown("samtaler", k, **d), int)
            for d in ({}, {"feedback": "intet_svar"})
        )
        for answer, label in labels.FEEDBACK.items():
            n, of_answers = feedback[label]
            assert n == truth.text("samtaler", k, feedback=answer)
            if answer == "intet_svar":
                assert of_answers == ""
                continue
            mine = truth.shown("samtaler", k, feedback=answer)
            answers = truth.count("samtaler", k) - silent
            value = (
                100.0 * truth.count("samtaler", k, feedback=answer) / answers
                if isinstance(mine, int) and total_known and answers
                else None
            )
            same_share(of_answers, value)

        for q in m.questions:
            dim = f"svar:{q.id}"
            options = [*(o.id for o in q.options), "ikke_besvaret"]
            if q.id == "heard_from":
                cross = page.sections[f"selv-{k}"].table()
                for option in [*options, "*"]:
                    want = {} if option == "*" else {dim: option}
                    label = "I alt" if option == "*" else labels.option(m, q.id, option)
                    for kanal, text in zip([*m.channels, "ukendt", "*"], cross[label], strict=True):
                        both = want | ({} if kanal == "*" else {"kanal": kanal})
                        assert text == truth.text("samtaler", k, **both)
                continue
            table = page.sections[f"svar-{k}"].tables[
                [q.text.da for q in m.questions if q.id != "heard_from"].index(q.text.da)
            ]
            rows = {r[0]: r[1:] for r in table}
            for option in options:
                n, of_all = rows[labels.option(m, q.id, option)]
                assert n == truth.text("samtaler", k, **{dim: option})
                same_share(of_all, truth.share(started(**{dim: option}), everyone, k))

        svg = page.sections[f"hvornaar-{k}"].images[0]
        slots = [truth.shown("samtaler", k, tid=f"{d}-{h}") for d in range(7) for h in range(24)]
        assert marks(svg, "small") == slots.count("<5") > 0
        assert marks(svg, "x") == slots.count("x")

    by_channel = page.sections["kanaler-alle"].table()
    kanals = dict.fromkeys(v for m in CONFIG.municipalities for v in [*m.channels, "ukendt"])
    for kanal in kanals:
        for m, text in zip(CONFIG.municipalities, by_channel[labels.channel(kanal)], strict=True):
            if kanal not in [*m.channels, "ukendt"]:
                assert text == ""
                continue
            n, rate = text.removesuffix(" pr. 100").split(" ", 1)
            assert n == truth.text("samtaler", m.slug, kanal=kanal)
            same_share(
                rate, truth.share(started(kanal=kanal), ("sidevisninger", {"kanal": kanal}), m.slug)
            )
    caption = page.sections["uger-alle"].intro
    assert "(<5)" in caption and "(x)" in caption
    assert checked["shown"] > 100 and checked["withheld"] > 20 and checked["median"] > 15, checked


def check_best_channels(intro: str, m: Municipality, truth: Truth) -> None:
    """'Flest samtaler kom via X (n).' and '… pr. besøg gav Y: r pr. 100 besøg.'"""
    k = m.slug
    started = {v: truth.shown("samtaler", k, kanal=v) for v in m.channels}
    counts = {v: n for v, n in started.items() if isinstance(n, int) and n}
    if not counts:
        assert "Flest samtaler" not in intro
        return
    most = max(counts.values())
    found = re.search(r"Flest samtaler kom via (.+?) \(([\d.]+)\)\.", intro)
    assert found and number(found.group(2)) == most
    assert found.group(1) in {labels.channel(v) for v, n in counts.items() if n == most}
    rates = {}
    for v in counts:
        views = truth.shown("sidevisninger", k, kanal=v)
        if isinstance(views, int) and views >= 50:
            rates[v] = truth.share(("samtaler", {"kanal": v}), ("sidevisninger", {"kanal": v}), k)
    best = re.search(r"Flest samtaler pr\. besøg gav (.+?): ([\d,]+) pr\. 100 besøg\.", intro)
    if not rates:
        assert best is None
        return
    assert best, intro
    winner = next(v for v in rates if labels.channel(v) == best.group(1))
    assert rates[winner] == max(r for r in rates.values() if r is not None)
    assert close_to(best.group(2), rates[winner] or 0)


def check_busiest_hours(section: Section, k: str, truth: Truth) -> None:
    """'De travleste timer: mandag kl. 19–20 (71), …': the three largest published."""
    days = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
    published = {
        (d, h): v
        for d in range(7)
        for h in range(24)
        if isinstance(v := truth.shown("samtaler", k, tid=f"{d}-{h}"), int)
    }
    listed = re.findall(
        r"(\w+) kl\. (\d+)–\d+ \(([\d.]+)\)", section.intro.split("De travleste timer: ")[-1]
    )
    assert len(listed) == min(3, len(published))
    got = {(days.index(day), int(hour)): number(n) for day, hour, n in listed}
    assert all(
        published[slot] == n == truth.count("samtaler", k, tid=f"{slot[0]}-{slot[1]}")
        for slot, n in got.items()
    )
    assert all(v <= min(got.values()) for slot, v in published.items() if slot not in got)
