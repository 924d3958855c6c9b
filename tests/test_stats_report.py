"""`ungechat stats` as a coordinator runs it, on a synthetic quarter written by the
project's own script, and the report as a coordinator reads it: in headless Chromium
(Debian's), self-contained, with no console errors and no request leaving the page.

Screenshots go to test-artifacts/; with UNGECHAT_UPDATE_DOCS=1 also to docs/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bots.cli import main
from bots.stats import synthetic
from schemas import SCHEMA_DIR
from tests.browser_fixture import ARTIFACTS

ROOT = Path(__file__).resolve().parent.parent
NETWORK = str(synthetic.NETWORK)


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


def test_one_municipality_with_the_english_option_names(
    report: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{report.parent / 'stats.db'}"
    args = ["stats", "-c", NETWORK, "--db", url, "--from", "2025-07-01", "--to", "2025-09-30"]
    assert main([*args, "--kommune", "fanoe", "-o", str(tmp_path / "fanoe")]) == 0
    data = json.loads((tmp_path / "fanoe" / "statistik.json").read_text(encoding="utf-8"))
    assert {c["kommune"] for c in data["cells"]} == {"fanoe"}
    html = (tmp_path / "fanoe" / "rapport.html").read_text(encoding="utf-8")
    assert "Fanø Kommune" in html and "Københavns Kommune" not in html
    assert "Kommunerne side om side" not in html
    assert main([*args, "--kvartal", "2025K3"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (["--fra", "2025-13-01"], "'2025-13-01' is not a date"),
        (["--fra", "2025-09-30", "--til", "2025-07-01"], "ends (2025-07-01) before it starts"),
        (["--kvartal", "2025K5"], "'2025K5' is not a quarter"),
        (["--kommune", "atlantis"], "'atlantis' is not in the config"),
        (["--db", "sqlite:////nowhere/stats.db"], "there is no database at"),
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
