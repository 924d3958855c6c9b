"""What the report's derived figures should be, computed from the raw rows of the
database with plain Python, and what may be published, from the export of the same run
(whose cells tests/test_stats_figures.py checks against the rows on their own)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.test_stats_figures import ANSWERED, Quarter, expected


class Truth:
    def __init__(self, database: Path, data: Mapping[str, Any]) -> None:
        with sqlite3.connect(database) as db:
            db.row_factory = sqlite3.Row
            rows = [dict(r) for r in db.execute("SELECT * FROM conversation_stats")]
            views = [dict(r) for r in db.execute("SELECT * FROM page_views")]
        for row in rows:
            row["answers"], row["topics"] = json.loads(row["answers"]), json.loads(row["topics"])
            row["date"] = dt.date.fromisoformat(row["date"])
        for view in views:
            view["date"] = dt.date.fromisoformat(view["date"])
        self.rows = rows
        self.quarter = Quarter(rows, views, None, dict(data))  # type: ignore[arg-type]
        self.published = {
            (c["measure"], c["kommune"], json.dumps(c["dims"], sort_keys=True)): c["value"]
            for c in data["cells"]
        }

    def count(self, measure: str, kommune: str, **dims: str) -> int:
        return expected(self.quarter, measure, kommune, dict(dims))

    def shown(self, measure: str, kommune: str, **dims: str) -> int | str:
        """As the export has it; a number there must be the true one."""
        value = self.published[(measure, kommune, json.dumps(dims, sort_keys=True))]
        if isinstance(value, int):
            assert value == self.count(measure, kommune, **dims), (measure, kommune, dims)
        return value

    def text(self, measure: str, kommune: str, **dims: str) -> str:
        """How the report writes the count: '1.706', '<5' or 'x'."""
        value = self.shown(measure, kommune, **dims)
        return f"{value:,}".replace(",", ".") if isinstance(value, int) else value

    def share(
        self, part: tuple[str, dict[str, str]], whole: tuple[str, dict[str, str]], kommune: str
    ) -> float | None:
        """part / whole in percent from the true counts, when both are published."""
        p = self.shown(part[0], kommune, **part[1])
        w = self.shown(whole[0], kommune, **whole[1])
        if not isinstance(p, int) or not isinstance(w, int) or w == 0:
            return None
        return (
            100.0
            * self.count(part[0], kommune, **part[1])
            / self.count(whole[0], kommune, **whole[1])
        )

    def helped(self, kommune: str) -> float | None:
        """'yes' among those who answered 'Fik du hjælp?', when 'yes', all and the
        silent are published."""
        yes = self.shown("samtaler", kommune, feedback="ja")
        total = self.shown("samtaler", kommune)
        silent = self.shown("samtaler", kommune, feedback="intet_svar")
        if not all(isinstance(v, int) for v in (yes, total, silent)) or total == silent:
            return None
        answered = self.count("samtaler", kommune) - self.count(
            "samtaler", kommune, feedback="intet_svar"
        )
        return 100.0 * self.count("samtaler", kommune, feedback="ja") / answered

    def median(self, field: str, kommune: str) -> float | None:
        """Minutes, over answered conversations; None below 5."""
        values = [
            r[field]
            for r in self.rows
            if (kommune == "*" or r["kommune"] == kommune)
            and r["outcome"] in ANSWERED
            and r[field] is not None
        ]
        return statistics.median(values) / 60 if len(values) >= 5 else None
