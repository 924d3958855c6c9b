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

Some cells a reader can tell without the tables: a count in an hour the chat was closed
is 0, as far as the published opening hours go (`presumed_zero`, see closed.py). The
audit grants the attacker more than that: it knows which of those cells are 0 and which
are not. A 0 there is still shown "<5" but hides nothing beside it; one that is not 0
(a young person sent on to an open partner) is at least 1, and is protected like any
other "<5".

Percentages are derived only from published numbers (`share`), so a percentage can
never reveal a hidden count either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bots.stats.ranges import feasible_ranges
from bots.stats.relations import Key, Relation

THRESHOLD = 5
SMALL = "<5"
HIDDEN = "x"
# A hidden small count must stay uncertain over at least MIN_SPREAD + 1 values
# (e.g. "0, 1 or 2"): knowing "it is 0 or 1" would be almost as bad as knowing it.
MIN_SPREAD = 2
# How many numbers to try hiding, nearest and smallest first, to protect one small cell.
MAX_TRIES = 16

Shown = int | str


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


def suppress(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    presumed_zero: Iterable[Key] = (),
) -> Suppressed:
    """Apply the rule to every cell at once (all tables of one publication together).
    `presumed_zero`: cells a reader takes for 0 from what else is published."""
    for relation in relations:
        total = sum(values[p] for p in relation.parts)
        if values[relation.total] != total:
            raise ValueError(f"{relation.total!r} is {values[relation.total]}, parts sum {total}")
    small = frozenset(k for k, v in values.items() if v < THRESHOLD)
    presumed = frozenset(presumed_zero)
    # What the attacker holds from outside: these zeros are as good as published.
    known = _zeros_known(values, relations, {k for k in presumed if values[k] == 0})
    state = _State(values, relations, set(small - known), known, presumed - known)
    while True:
        state.close_lines()
        weak = state.unprotected()
        if not weak:
            break
        for cell in weak:
            state.hide_more(cell)
    return Suppressed(values, small, frozenset(state.hidden - small))


def _zeros_known(
    values: Mapping[Key, int], relations: Sequence[Relation], zeros: set[Key]
) -> frozenset[Key]:
    """`zeros`, and the zeros that follow from them alone: a total of known zeros, and
    every part of a known zero total (counts are never negative). E.g. a municipality
    closed all period: its 0 has nobody to protect, and nothing could hide it."""
    changed = True
    while changed:
        changed = False
        for relation in relations:
            if relation.total in zeros:
                rest = [k for k in relation.parts if k not in zeros]
            elif all(k in zeros for k in relation.parts):
                rest = [relation.total]
            else:
                continue
            if rest:
                assert all(values[k] == 0 for k in rest), relation
                zeros.update(rest)
                changed = True
    return frozenset(zeros)


class _State:
    def __init__(
        self,
        values: Mapping[Key, int],
        relations: Sequence[Relation],
        hidden: set[Key],
        known: frozenset[Key],
        positive: frozenset[Key],
    ) -> None:
        """`hidden`: the small cells the reader does not know; `known`: those it does
        (zeros); `positive`: cells the reader knows are not 0."""
        self.values = values
        self.relations = relations
        self.hidden = hidden
        self.small = frozenset(hidden)
        self.known = known
        self.positive = positive
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
        # A 0 the reader knows is shown "<5" already, and hiding it would hide nothing.
        useful = [k for k in found if k not in self.known]
        return sorted(useful, key=lambda k: (self.values[k], found[k], repr(k)))

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
        found = feasible_ranges(
            self.values,
            self.relations,
            component,
            self.small,
            threshold=THRESHOLD,
            enough=MIN_SPREAD,
            targets={cell},
            positive=self.positive,
        )
        low, high = found[cell]
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
                self.values,
                self.relations,
                component,
                self.small,
                threshold=THRESHOLD,
                enough=MIN_SPREAD,
                targets=targets,
                stop_at_narrow=True,
                positive=self.positive,
            )
            narrow = [k for k, (lo, hi) in ranges.items() if hi - lo < MIN_SPREAD]
            self.protected |= set(ranges) - set(narrow)
            if narrow:
                weak.append(min(narrow, key=repr))
        return weak
