"""An attacker on published statistics, written apart from bots/stats/suppression.py so
the tests do not check the suppression with its own reasoning.

The attacker has the published cells (numbers, "<5", "x") and every total they can see
("this cell is the sum of those"). Two attacks:
- `subtract`: the one the issue names — solve any total with a single unknown part,
  over and over, using what was recovered;
- `ranges`: the strongest there is on these facts — for each "<5", the least and the
  greatest whole number it can be in any table consistent with everything published
  ("<5" is 0–4, "x" is 5 or more), by integer programming.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

Published = Mapping[Hashable, int | str]
Total = tuple[Hashable, Sequence[Hashable]]  # (total, parts)


def subtract(cells: Published, totals: Sequence[Total]) -> dict[Hashable, int]:
    """Hidden cells recovered by subtraction from totals."""
    known = {k: v for k, v in cells.items() if isinstance(v, int)}
    recovered: dict[Hashable, int] = {}
    progress = True
    while progress:
        progress = False
        for total, parts in totals:
            members = [total, *parts]
            unknown = [k for k in members if k not in known]
            if len(unknown) != 1:
                continue
            (k,) = unknown
            parts_sum = sum(known[p] for p in parts if p in known)
            value = parts_sum if k == total else known[total] - (parts_sum)
            known[k] = recovered[k] = value
            progress = True
    return recovered


def ranges(cells: Published, totals: Sequence[Total]) -> dict[Hashable, tuple[int, int]]:
    """For each "<5": (least, greatest) value consistent with everything published."""
    hidden = sorted((k for k, v in cells.items() if not isinstance(v, int)), key=repr)
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
                    constant += sign * int(cells[k])
            rows.append(row)
            rhs.append(-constant)
        low = [0.0 if cells[k] == "<5" else 5.0 for k in group]
        high = [4.0 if cells[k] == "<5" else np.inf for k in group]
        for k in group:
            if cells[k] != "<5":
                continue
            if not rows:
                out[k] = (0, 4)
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
