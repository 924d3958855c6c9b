"""Counts by municipality and up to a few categories, with every total they imply.

A cube counts one measure (e.g. "samtaler") by municipality and dimensions (e.g. kanal).
It holds every combination of category and total ("*"), and records each identity
"total = sum of parts" as a `Relation`, so the suppression sees exactly what a reader
could add up. Cells are keyed by what they count, so the same number reached from two
tables (conversations of a municipality: the total of its weeks and of its channels) is
one cell, suppressed once.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from bots.stats.relations import Relation

ALL = "*"  # the total over a dimension; as a municipality: the whole network


@dataclass(frozen=True, order=True)
class Cell:
    measure: str
    kommune: str
    dims: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str | None:
        return dict(self.dims).get(name)


def cell(measure: str, kommune: str, **dims: str) -> Cell:
    return Cell(measure, kommune, tuple(sorted((k, v) for k, v in dims.items() if v != ALL)))


@dataclass(frozen=True)
class Dim:
    name: str
    # The categories for a municipality, in reading order ([] = it does not have this).
    categories: Callable[[str], Sequence[str]]
    # False when one conversation can be in several categories (topics): no total then.
    additive: bool = True


class Cubes:
    def __init__(self, kommuner: Sequence[str]) -> None:
        self.kommuner = list(kommuner)
        self.values: dict[Cell, int] = {}
        self._relations: dict[tuple[Hashable, frozenset[Hashable]], Relation] = {}
        self.categories: dict[tuple[str, str], list[str]] = {}

    def add(
        self,
        measure: str,
        dims: Sequence[Dim],
        counts: Counter[tuple[str, ...]],
        *,
        network: bool = False,
    ) -> None:
        """Add a cube; `counts` are keyed (kommune, category of each dim). With `network`
        the cube has the municipalities' total ("*") too."""
        taking_part = [k for k in self.kommuner if all(d.categories(k) for d in dims)]
        cats: dict[str, list[list[str]]] = {
            k: [list(d.categories(k)) for d in dims] for k in taking_part
        }
        whole = network and len(taking_part) == len(self.kommuner)
        if whole:
            cats[ALL] = [
                list(dict.fromkeys(c for k in taking_part for c in cats[k][i]))
                for i in range(len(dims))
            ]
        for kommune, per_dim in cats.items():
            for dim, categories in zip(dims, per_dim, strict=True):
                self.categories[(dim.name, kommune)] = categories
        sums: Counter[tuple[str, ...]] = Counter()
        for key, n in counts.items():
            kommune, values = key[0], key[1:]
            if kommune not in cats or any(
                v not in c for v, c in zip(values, cats[kommune], strict=True)
            ):
                raise ValueError(f"{measure}: {key!r} is not a category of its municipality")
            starred = [(kommune, ALL) if whole else (kommune,)]
            starred += [(v, ALL) if d.additive else (v,) for d, v in zip(dims, values, strict=True)]
            for combo in itertools.product(*starred):
                sums[combo] += n
        for kommune, per_dim in cats.items():
            options = [[*c, ALL] if d.additive else c for d, c in zip(dims, per_dim, strict=True)]
            for values in itertools.product(*options):
                here = self._cell(measure, dims, kommune, values)
                self._put(here, sums[(kommune, *values)])
                self._relate(measure, dims, kommune, values, cats, whole)

    def _cell(self, measure: str, dims: Sequence[Dim], kommune: str, values: Sequence[str]) -> Cell:
        named = {d.name: v for d, v in zip(dims, values, strict=True)}
        return cell(measure, kommune, **named)

    def _put(self, key: Cell, value: int) -> None:
        if self.values.setdefault(key, value) != value:
            raise ValueError(f"{key!r} counted as {self.values[key]} and as {value}")

    def _relate(
        self,
        measure: str,
        dims: Sequence[Dim],
        kommune: str,
        values: Sequence[str],
        cats: dict[str, list[list[str]]],
        whole: bool,
    ) -> None:
        total = self._cell(measure, dims, kommune, values)
        for i, (_dim, value) in enumerate(zip(dims, values, strict=True)):
            if value == ALL:
                parts = [
                    self._cell(measure, dims, kommune, [*values[:i], c, *values[i + 1 :]])
                    for c in cats[kommune][i]
                ]
                self._add_relation(Relation(total, tuple(parts)))
        if kommune == ALL and whole:
            members = [
                k
                for k in cats
                if k != ALL
                and all(v == ALL or v in c for v, c in zip(values, cats[k], strict=True))
            ]
            parts = [self._cell(measure, dims, k, values) for k in members]
            self._add_relation(Relation(total, tuple(parts)))

    def relate(self, total: Cell, parts: Sequence[Cell]) -> None:
        """A relation between cubes (e.g. answered = answered here + transferred)."""
        for key in (total, *parts):
            if key not in self.values:
                raise KeyError(key)
        self._add_relation(Relation(total, tuple(parts)))

    def _add_relation(self, relation: Relation) -> None:
        self._relations.setdefault((relation.total, frozenset(relation.parts)), relation)

    @property
    def relations(self) -> list[Relation]:
        return list(self._relations.values())
