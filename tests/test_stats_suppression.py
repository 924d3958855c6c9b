"""The small-cell rule on its own: counts under 5 are "<5", a hidden count cannot be
worked out from the totals beside it, and nothing more is hidden than that needs.

The attacks in tests/stats_attack.py are written apart from the rule itself."""

from __future__ import annotations

import random

import pytest

from bots.stats.suppression import HIDDEN, MIN_SPREAD, SMALL, Relation, suppress
from tests.stats_attack import ranges, subtract


def line(*values: int) -> tuple[dict[str, int], list[Relation]]:
    """One row of cells a, b, c, … and its published total t."""
    cells = {chr(ord("a") + i): v for i, v in enumerate(values)}
    cells["t"] = sum(values)
    return cells, [Relation("t", tuple(k for k in cells if k != "t"))]


def published(values: dict, relations: list[Relation]) -> tuple[dict, list]:
    result = suppress(values, relations)
    shown = {k: result.shown(k) for k in values}
    return shown, [(r.total, r.parts) for r in relations]


def test_counts_under_five_are_shown_as_under_five_and_zero_is_one_of_them() -> None:
    cells, relations = line(3, 0, 12, 40)
    shown, _ = published(cells, relations)
    assert shown["a"] == SMALL and shown["b"] == SMALL
    assert shown["c"] == 12 and shown["d"] == 40 and shown["t"] == 55


def test_a_lone_small_count_gets_a_second_cell_hidden_beside_it() -> None:
    cells, relations = line(2, 10, 20)
    shown, totals = published(cells, relations)
    # Without the second cell, 32 - 10 - 20 would give the 2 away.
    assert shown == {"a": SMALL, "b": HIDDEN, "c": 20, "t": 32}
    assert subtract(shown, totals) == {}
    low, high = ranges(shown, totals)["a"]
    assert high - low >= MIN_SPREAD


def test_two_small_counts_that_would_pin_each_other_get_a_third() -> None:
    # a + b = 8 with both under 5 means both are 4: hiding the pair is not enough.
    cells, relations = line(4, 4, 30, 31)
    shown, totals = published(cells, relations)
    assert shown["a"] == shown["b"] == SMALL
    assert shown["c"] == HIDDEN and shown["d"] == 31
    for low, high in ranges(shown, totals).values():
        assert high - low >= MIN_SPREAD


def test_a_second_cell_that_is_just_five_is_not_enough() -> None:
    # Hiding the 5 beside a 1 would leave "a is 0 or 1": too close to knowing it.
    cells, relations = line(1, 5, 9, 40)
    shown, totals = published(cells, relations)
    naive = dict(shown, b=HIDDEN, c=9)
    assert ranges(naive, totals)["a"] == (0, 1)
    low, high = ranges(shown, totals)["a"]
    assert high - low >= MIN_SPREAD
    assert shown["d"] == 40  # the big number stays


def test_nothing_is_hidden_when_nothing_is_small() -> None:
    cells, relations = line(7, 5, 120)
    shown, _ = published(cells, relations)
    assert shown == cells


def test_percentages_are_only_of_published_numbers() -> None:
    cells, relations = line(2, 10, 20)
    result = suppress(cells, relations)
    assert result.share("a", "t") is None  # 2 of 32 would give it away
    assert result.share("b", "t") is None  # so would the hidden 10
    assert result.share("c", "t") == pytest.approx(62.5)


def table(rng: random.Random, rows: int, cols: int) -> tuple[dict, list[Relation]]:
    """A table of counts with row, column and grand totals, sparse like real ones."""
    values: dict[tuple, int] = {}
    for r in range(rows):
        for c in range(cols):
            values[(r, c)] = rng.choice((0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 25, 60))
    for r in range(rows):
        values[(r, "*")] = sum(values[(r, c)] for c in range(cols))
    for c in range(cols):
        values[("*", c)] = sum(values[(r, c)] for r in range(rows))
    values[("*", "*")] = sum(values[(r, "*")] for r in range(rows))
    relations = [Relation((r, "*"), tuple((r, c) for c in range(cols))) for r in range(rows)]
    relations += [Relation(("*", c), tuple((r, c) for r in range(rows))) for c in range(cols)]
    relations += [
        Relation(("*", "*"), tuple((r, "*") for r in range(rows))),
        Relation(("*", "*"), tuple(("*", c) for c in range(cols))),
    ]
    return values, relations


@pytest.mark.parametrize("seed", range(12))
def test_no_small_count_can_be_recovered_from_a_published_table(seed: int) -> None:
    """Adversarial: random tables with every total published; the attacker subtracts
    and then solves exactly, and never narrows a "<5" to fewer than three values."""
    rng = random.Random(seed)
    values, relations = table(rng, rng.randint(2, 6), rng.randint(2, 8))
    shown, totals = published(values, relations)
    small = [k for k, v in values.items() if v < 5]
    assert small and all(shown[k] == SMALL for k in small)
    assert all(shown[k] in (v, HIDDEN) for k, v in values.items() if v >= 5)
    assert all(values[k] >= 5 for k, v in shown.items() if v == HIDDEN)
    recovered = subtract(shown, totals)
    assert not [k for k in recovered if shown[k] == SMALL]
    for k, (low, high) in ranges(shown, totals).items():
        assert low <= values[k] <= high, "the attacker's model must hold the truth"
        assert high - low >= MIN_SPREAD, f"{k} narrowed to {low}–{high}"


def test_the_attack_does_recover_cells_when_only_small_ones_are_hidden() -> None:
    """The attacker is not toothless: with primary suppression alone it wins."""
    values, relations = table(random.Random(3), 4, 5)
    only_small = {k: SMALL if v < 5 else v for k, v in values.items()}
    totals = [(r.total, r.parts) for r in relations]
    recovered = subtract(only_small, totals)
    assert recovered and all(values[k] == v for k, v in recovered.items())
