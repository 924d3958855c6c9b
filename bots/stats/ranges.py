"""The attacker's view of hidden cells, exactly: for each "<5", the least and greatest
whole number it can be, given every published number and every published total.

Used by the small-cell rule (suppression.py) to audit itself. Integer programming over
the hidden cells of one linked group: the linear relaxation first (its optimum is whole
for plain tables with totals), a mixed-integer program when it is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bots.stats.relations import Key, Relation

if TYPE_CHECKING:
    import numpy as np

# NumPy and SciPy (about 50 MB) are imported where the audit runs, not at start-up: the
# running service reaches this module through the digest but solves nothing until a
# period ends.


def attacker_bounds(
    cell: Key, small: frozenset[Key], threshold: int, positive: frozenset[Key] = frozenset()
) -> tuple[float, float]:
    """What a reader knows of a hidden cell: "<5" is 0–4 (1–4 when it knows the cell is
    not 0), "x" at least 5."""
    if cell in small:
        return (1.0 if cell in positive else 0.0), float(threshold - 1)
    return float(threshold), math.inf


def feasible_ranges(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    component: set[Key],
    small: frozenset[Key],
    *,
    threshold: int,
    enough: int,
    targets: set[Key] | None = None,
    stop_at_narrow: bool = False,
    positive: frozenset[Key] = frozenset(),
) -> dict[Key, tuple[float, float]]:
    """For each small cell of `component` (or each of `targets`): the values it can have
    in tables of whole numbers that agree with everything published (`positive` cells
    are known not to be 0). The range is exact, or, once known to be at least enough
    wide, the widest seen (enough to call it protected)."""
    cells = sorted(component, key=repr)
    index = {k: i for i, k in enumerate(cells)}
    rows: list[list[float]] = []
    rhs: list[float] = []
    for relation in relations:
        if not any(k in component for k in relation.members()):
            continue
        row = [0.0] * len(cells)
        known = 0.0
        for k, sign in [(relation.total, -1.0)] + [(p, 1.0) for p in relation.parts]:
            if k in index:
                row[index[k]] += sign
            else:
                known += sign * values[k]
        rows.append(row)
        rhs.append(-known)
    bounds = [attacker_bounds(k, small, threshold, positive) for k in cells]
    wanted = [index[k] for k in cells if k in small and (targets is None or k in targets)]
    if len(rows) == 1:
        return {cells[i]: _single_equation(rows[0], rhs[0], bounds, i) for i in wanted}
    if not rows:
        return {cells[i]: bounds[i] for i in wanted}
    import numpy as np

    truth = np.array([float(values[k]) for k in cells])
    found = _integer_ranges(
        np.array(rows), np.array(rhs), bounds, wanted, truth, enough, stop_at_narrow
    )
    return {cells[i]: span for i, span in found.items()}


def _single_equation(
    row: list[float], rhs: float, bounds: list[tuple[float, float]], i: int
) -> tuple[float, float]:
    """Exact for sum(c_j x_j) = rhs with c_j = ±1 and whole-number boxes."""
    rest_low = rest_high = 0.0
    for j, c in enumerate(row):
        if j == i or c == 0:
            continue
        lo, hi = bounds[j]
        rest_low += min(c * lo, c * hi)
        rest_high += max(c * lo, c * hi)
    ends = sorted(((rhs - rest_high) / row[i], (rhs - rest_low) / row[i]))
    lo, hi = bounds[i]
    return max(lo, ends[0]), min(hi, ends[1])


def _integer_ranges(
    a: np.ndarray,
    b: np.ndarray,
    bounds: list[tuple[float, float]],
    targets: list[int],
    truth: np.ndarray,
    enough: int,
    stop_at_narrow: bool,
) -> dict[int, tuple[float, float]]:
    """Every solution found is a witness for all cells at once, the true table first.
    Solutions that push all still-narrow cells in random directions settle most of
    them; the rest are solved one by one (least, then greatest value). With
    `stop_at_narrow`, the first cell found narrow ends the search (cells not yet
    settled are left out of the answer)."""
    import numpy as np

    low, high = truth.copy(), truth.copy()
    rng = np.random.default_rng(len(truth))

    def witness(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(low, x, out=low)
            np.maximum(high, x, out=high)

    open_ = [i for i in targets if high[i] - low[i] < enough]
    while len(open_) > 2:
        objective = np.zeros(len(bounds))
        objective[open_] = rng.choice([-1.0, 1.0], size=len(open_))
        witness(_extreme(a, b, bounds, objective))
        witness(_extreme(a, b, bounds, -objective))
        still = [i for i in open_ if high[i] - low[i] < enough]
        if len(still) == len(open_):
            break
        open_ = still
    done = {i: (float(low[i]), float(high[i])) for i in targets if i not in open_}
    for i in open_:
        for sign in (1.0, -1.0):
            if high[i] - low[i] >= enough:
                break
            objective = np.zeros(len(bounds))
            objective[i] = sign
            x = _extreme(a, b, bounds, objective)
            if x is None:  # unbounded that way
                (low if sign > 0 else high)[i] = -sign * math.inf
            witness(x)
        done[i] = (float(low[i]), float(high[i]))
        if stop_at_narrow and high[i] - low[i] < enough:
            break
    return done


def _extreme(
    a: np.ndarray, b: np.ndarray, bounds: list[tuple[float, float]], objective: np.ndarray
) -> np.ndarray | None:
    """A whole-number solution minimising `objective`. The linear relaxation first: when
    its optimum is whole (always, for a plain table with totals) it is the answer."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    box = [(lo, None if math.isinf(hi) else hi) for lo, hi in bounds]
    relaxed = linprog(objective, A_eq=a, b_eq=b, bounds=box, method="highs")
    if relaxed.status == 3:
        return None
    if not relaxed.success:
        raise RuntimeError(f"suppression audit failed: {relaxed.message}")
    if np.allclose(relaxed.x, np.round(relaxed.x), atol=1e-7):
        return np.round(relaxed.x)
    result = milp(
        objective,
        constraints=LinearConstraint(a, b, b),
        integrality=np.ones(len(bounds)),
        bounds=Bounds([lo for lo, _ in bounds], [hi for _, hi in bounds]),
    )
    if result.status == 3:
        return None
    if not result.success:
        raise RuntimeError(f"suppression audit failed: {result.message}")
    return np.round(result.x)
