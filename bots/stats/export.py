"""The figures as data: JSON (described by schemas/stats-export.schema.json) and CSV
(semicolon-separated with a byte-order mark, so Danish Excel opens it as it is).

Both hold exactly the published cells: "<5" and "x" where the report has them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from bots.stats.cube import ALL, Cell
from bots.stats.figures import Publication
from bots.stats.suppression import HIDDEN, MIN_SPREAD, SMALL, THRESHOLD

FORMAT = "ungechat-stats/1"
NON_ADDITIVE = ("emne",)
RULE = (
    f"Counts under {THRESHOLD} are '{SMALL}'. '{HIDDEN}' hides a count of {THRESHOLD} or more "
    f"so that no '{SMALL}' can be worked out from a total; every '{SMALL}' can still be at "
    f"least {MIN_SPREAD + 1} different numbers given everything published and the opening "
    f"hours, except a 0 in an hour or week when the chat was closed, which a reader may "
    f"take for 0."
)


def cells_for(pub: Publication, kommuner: Sequence[str]) -> list[Cell]:
    """The published cells of `kommuner` (and the network's when all are included)."""
    wanted = set(kommuner)
    if set(kommuner) == set(pub.kommuner) and len(kommuner) > 1:
        wanted.add(ALL)
    return sorted(k for k in pub.cells.values if isinstance(k, Cell) and k.kommune in wanted)


def to_json(pub: Publication, kommuner: Sequence[str], generated: dt.datetime) -> dict[str, Any]:
    cells = cells_for(pub, kommuner)
    dims = sorted({name for c in cells for name, _ in c.dims})
    return {
        "format": FORMAT,
        "generated_at": generated.isoformat(timespec="seconds"),
        "period": {
            "from": pub.period.start.isoformat(),
            "to": pub.period.end.isoformat(),
            "title": pub.period.title(),
        },
        "suppression": {
            "threshold": THRESHOLD,
            "small": SMALL,
            "hidden": HIDDEN,
            "min_spread": MIN_SPREAD,
            "rule": RULE,
        },
        "municipalities": [_municipality(pub, k) for k in kommuner],
        "dimensions": {name: {"additive": name not in NON_ADDITIVE} for name in dims},
        "cells": [
            {
                "measure": c.measure,
                "kommune": c.kommune,
                "dims": dict(c.dims),
                "value": pub.cells.shown(c),
            }
            for c in cells
        ],
        "medians": [
            {"measure": measure, "kommune": k, "minutes": value}
            for (measure, k), value in sorted(pub.medians.items())
            if k in kommuner or (k == ALL and ALL in {c.kommune for c in cells})
        ],
    }


def _municipality(pub: Publication, slug: str) -> dict[str, Any]:
    m = pub.municipality(slug)
    return {
        "slug": m.slug,
        "name": m.name,
        "channels": list(m.channels),
        "questions": [
            {
                "id": q.id,
                "text": q.text.da,
                "options": [{"id": o.id, "label": o.label.da} for o in q.options],
            }
            for q in m.questions
        ],
    }


CSV_HEADER = ["maal", "kommune", "dimension1", "kategori1", "dimension2", "kategori2", "antal"]


def to_csv(pub: Publication, kommuner: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for c in cells_for(pub, kommuner):
        dims = [x for pair in c.dims for x in pair]
        dims += [""] * (4 - len(dims))
        kommune = "alle" if c.kommune == ALL else c.kommune
        writer.writerow([c.measure, kommune, *dims, pub.cells.shown(c)])
    return "\ufeff" + out.getvalue()
