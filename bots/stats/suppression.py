"""Small-cell suppression: the one rule every published figure goes through.

1. Any count under 5 (0–4) is shown as "<5" (primary suppression).
2. A published total must not give a hidden count away by subtraction. Every published
   relation "total = sum of parts" (a row or column total, the whole network as the sum
   of its municipalities, ...) with exactly one hidden member gets a second one hidden,
   the smallest that is left, shown as "x" (complementary suppression).
3. Then every "<5" is audited as an attacker would: knowing every published number,
   every relation, that each "<5" is 0–4 and each "x" at least 5, what can the cell
   still be? The exact range comes from integer programming over the hidden cells. If
   fewer than MIN_SPREAD + 1 values remain possible, the cheapest number whose hiding
   is enough is hidden too, and the audit repeats.

Percentages are derived only from published numbers (`share`), so a percentage can
never reveal a hidden count either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

THRESHOLD = 5
SMALL = "<5"
HIDDEN = "x"
# A hidden small count must stay uncertain over at least MIN_SPREAD + 1 values
# (e.g. "0, 1 or 2"): knowing "it is 0 or 1" would be almost as bad as knowing it.
MIN_SPREAD = 2
# How many numbers to try hiding, nearest and smallest first, to protect one small cell.
MAX_TRIES = 16

# Any hashable key; Any, because Mapping is invariant in its key type.
Key = Any
Shown = int | str


@dataclass(frozen=True)
class Relation:
    """A published identity: `total` = sum of `parts`."""

    total: Key
    parts: tuple[Key, ...]

    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)


@dataclass
class Suppressed:
    """The figures as they may be published."""

    values: Mapping[Key, int]
    small: frozenset[Key]
    hidden: frozenset[Key]

    def shown(self, key: Key) -> Shown:
        if key in self.small:
            return SMALL
        if key in self.hidden:
            return HIDDEN
        return self.values[key]

    def count(self, key: Key) -> int | None:
        """The number, when it may be published; else None."""
        shown = self.shown(key)
        return shown if isinstance(shown, int) else None

    def share(self, part: Key, whole: Key) -> float | None:
        """part / whole in percent, only when both are published."""
        n, d = self.count(part), self.count(whole)
        if n is None or d is None or d == 0:
            return None
        return 100.0 * n / d


def suppress(values: Mapping[Key, int], relations: Sequence[Relation]) -> Suppressed:
    """Apply the rule to every cell at once (all tables of one publication together)."""
    for relation in relations:
        total = sum(values[p] for p in relation.parts)
        if values[relation.total] != total:
            raise ValueError(f"{relation.total!r} is {values[relation.total]}, parts sum {total}")
    small = frozenset(k for k, v in values.items() if v < THRESHOLD)
    state = _State(values, relations, set(small))
    while True:
        state.close_lines()
        weak = state.unprotected()
        if not weak:
            break
        for cell in weak:
            state.hide_more(cell)
    return Suppressed(values, small, frozenset(state.hidden - small))


class _State:
    def __init__(
        self, values: Mapping[Key, int], relations: Sequence[Relation], hidden: set[Key]
    ) -> None:
        self.values = values
        self.relations = relations
        self.hidden = hidden
        self.small = frozenset(hidden)
        # Hiding more only widens what a hidden cell can be, so protected stays protected.
        self.protected: set[Key] = set()
        self.by_cell: dict[Key, list[Relation]] = {}
        for relation in relations:
            for member in relation.members():
                self.by_cell.setdefault(member, []).append(relation)

    def _ranked(self, relations: Iterable[Relation]) -> list[Key]:
        """Numbers still shown in `relations`, the cheapest to hide first: the smallest,
        parts before totals."""
        found: dict[Key, bool] = {}
        for r in relations:
            for k in r.members():
                if k not in self.hidden:
                    found[k] = found.get(k, False) or k == r.total
        return sorted(found, key=lambda k: (self.values[k], found[k], repr(k)))

    def close_lines(self) -> None:
        """No relation may have exactly one hidden member."""
        changed = True
        while changed:
            changed = False
            for relation in self.relations:
                if sum(k in self.hidden for k in relation.members()) == 1:
                    self.hidden.add(self._ranked([relation])[0])
                    changed = True

    def hide_more(self, cell: Key) -> None:
        """Widen the range of `cell` by hiding one more number: the cheapest that is
        enough, looking first in the relations `cell` is in, then further out through
        hidden cells; if none is enough, the one that widens it most."""
        reached, seen = {cell}, set()
        best: tuple[float, Key] | None = None
        tries = 0
        while tries < MAX_TRIES:
            fresh = [r for k in reached for r in self.by_cell.get(k, []) if id(r) not in seen]
            if not fresh:
                break
            seen |= {id(r) for r in fresh}
            for candidate in self._ranked(fresh)[: MAX_TRIES - tries]:
                tries += 1
                self.hidden.add(candidate)
                spread = self.spread(cell)
                if spread >= MIN_SPREAD:
                    return
                self.hidden.discard(candidate)
                if best is None or spread > best[0]:
                    best = (spread, candidate)
            reached = {k for r in fresh for k in r.members() if k in self.hidden} - reached
        if best is None:
            raise RuntimeError(f"cannot protect {cell!r}: nothing left to hide near it")
        self.hidden.add(best[1])

    def spread(self, cell: Key) -> float:
        component, todo = {cell}, [cell]
        while todo:
            for r in self.by_cell.get(todo.pop(), []):
                for k in r.members():
                    if k in self.hidden and k not in component:
                        component.add(k)
                        todo.append(k)
        low, high = feasible_ranges(self.values, self.relations, component, self.small, {cell})[
            cell
        ]
        return high - low

    def components(self) -> list[set[Key]]:
        """Hidden cells grouped by the relations that link them."""
        parent = {k: k for k in self.hidden}

        def find(k: Key) -> Key:
            while parent[k] != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        for relation in self.relations:
            members = [k for k in relation.members() if k in self.hidden]
            for other in members[1:]:
                parent[find(other)] = find(members[0])
        groups: dict[Key, set[Key]] = {}
        for k in self.hidden:
            groups.setdefault(find(k), set()).add(k)
        return list(groups.values())

    def unprotected(self) -> list[Key]:
        """One weak "<5" per linked group (hiding one more may fix the others too)."""
        weak: list[Key] = []
        for component in self.components():
            targets = {k for k in component if k in self.small} - self.protected
            if not targets:
                continue
            ranges = feasible_ranges(
                self.values, self.relations, component, self.small, targets, stop_at_narrow=True
            )
            narrow = [k for k, (lo, hi) in ranges.items() if hi - lo < MIN_SPREAD]
            self.protected |= set(ranges) - set(narrow)
            if narrow:
                weak.append(min(narrow, key=repr))
        return weak


def attacker_bounds(cell: Key, small: frozenset[Key]) -> tuple[float, float]:
    """What a reader knows of a hidden cell: "<5" is 0–4, "x" at least 5."""
    return (0.0, float(THRESHOLD - 1)) if cell in small else (float(THRESHOLD), math.inf)


def feasible_ranges(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    component: set[Key],
    small: frozenset[Key],
    targets: set[Key] | None = None,
    stop_at_narrow: bool = False,
) -> dict[Key, tuple[float, float]]:
    """For each small cell of `component` (or each of `targets`): the values it can have
    in tables of whole numbers that agree with everything published. The range is exact,
    or, once known to be at least MIN_SPREAD wide, the widest seen (enough to call it
    protected)."""
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
    bounds = [attacker_bounds(k, small) for k in cells]
    wanted = [index[k] for k in cells if k in small and (targets is None or k in targets)]
    if len(rows) == 1:
        return {cells[i]: _single_equation(rows[0], rhs[0], bounds, i) for i in wanted}
    if not rows:
        return {cells[i]: bounds[i] for i in wanted}
    truth = np.array([float(values[k]) for k in cells])
    found = _integer_ranges(np.array(rows), np.array(rhs), bounds, wanted, truth, stop_at_narrow)
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
    stop_at_narrow: bool,
) -> dict[int, tuple[float, float]]:
    """Every solution found is a witness for all cells at once, the true table first.
    Solutions that push all still-narrow cells in random directions settle most of
    them; the rest are solved one by one (least, then greatest value). With
    `stop_at_narrow`, the first cell found narrow ends the search (cells not yet
    settled are left out of the answer)."""
    low, high = truth.copy(), truth.copy()
    rng = np.random.default_rng(len(truth))

    def witness(x: np.ndarray | None) -> None:
        if x is not None:
            np.minimum(low, x, out=low)
            np.maximum(high, x, out=high)

    open_ = [i for i in targets if high[i] - low[i] < MIN_SPREAD]
    while len(open_) > 2:
        objective = np.zeros(len(bounds))
        objective[open_] = rng.choice([-1.0, 1.0], size=len(open_))
        witness(_extreme(a, b, bounds, objective))
        witness(_extreme(a, b, bounds, -objective))
        still = [i for i in open_ if high[i] - low[i] < MIN_SPREAD]
        if len(still) == len(open_):
            break
        open_ = still
    done = {i: (float(low[i]), float(high[i])) for i in targets if i not in open_}
    for i in open_:
        for sign in (1.0, -1.0):
            if high[i] - low[i] >= MIN_SPREAD:
                break
            objective = np.zeros(len(bounds))
            objective[i] = sign
            x = _extreme(a, b, bounds, objective)
            if x is None:  # unbounded that way
                (low if sign > 0 else high)[i] = -sign * math.inf
            witness(x)
        done[i] = (float(low[i]), float(high[i]))
        if stop_at_narrow and high[i] - low[i] < MIN_SPREAD:
            break
    return done


def _extreme(
    a: np.ndarray, b: np.ndarray, bounds: list[tuple[float, float]], objective: np.ndarray
) -> np.ndarray | None:
    """A whole-number solution minimising `objective`. The linear relaxation first: when
    its optimum is whole (always, for a plain table with totals) it is the answer."""
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
