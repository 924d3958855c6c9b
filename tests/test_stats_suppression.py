"""The small-cell rule on its own: counts under 5 are "<5", a hidden count cannot be
worked out from the totals beside it, and nothing more is hidden than that needs.

The attacks in tests/stats_attack.py are written apart from the rule itself."""

from __future__ import annotations

import random

import pytest

from bots.stats.relations import Relation
from bots.stats.suppression import HIDDEN, MIN_SPREAD, SMALL, suppress
from tests.stats_attack import ranges, subtract


def line(*values: int) -> tuple[dict[str, int], list[Relation]]:
    """One row of cells a, b, c, … and its published total t."""
    cells = {chr(ord("a") + i): v for i, v in enumerate(values)}
    cells["t"] = sum(values)
    return cells, [Relation("t", tuple(k for k in cells if k != "t"))]


def published(
    values: dict, relations: list[Relation], presumed_zero: frozenset = frozenset()
) -> tuple[dict, list]:
    result = suppress(values, relations, presumed_zero)
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


def test_a_zero_the_reader_can_tell_hides_nothing_beside_it() -> None:
    # a and b are hours the chat was closed: a reader takes them for 0, and is right.
    cells, relations = line(0, 0, 3, 20)
    shown, totals = published(cells, relations, frozenset("ab"))
    assert shown == {"a": SMALL, "b": SMALL, "c": SMALL, "d": HIDDEN, "t": 23}
    assert subtract(shown, totals, {"a": 0, "b": 0}) == {}
    low, high = ranges(shown, totals, {"a": 0, "b": 0})["c"]
    assert high - low >= MIN_SPREAD
    # Without knowing the hours, the two zeros were thought enough.
    assert published(cells, relations)[0]["d"] == 20


def test_a_conversation_in_a_closed_hour_is_protected_as_at_least_one() -> None:
    # b is a closed hour in which one young person came all the same (overflow).
    cells, relations = line(0, 1, 1, 20)
    shown, totals = published(cells, relations, frozenset("ab"))
    assert shown["b"] == SMALL and shown["c"] == SMALL and shown["d"] == HIDDEN
    found = ranges(shown, totals, {"a": 0}, positive={"b"})
    assert found["b"][0] == 1
    assert all(high - low >= MIN_SPREAD for low, high in found.values())


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


@pytest.mark.parametrize("seed", range(8))
def test_no_small_count_can_be_recovered_by_a_reader_who_knows_which_cells_are_zero(
    seed: int,
) -> None:
    """As above, with some cells a reader takes for 0 (hours the chat was closed): most
    are 0, now and then one is not. The attacker knows which are 0 and which are not."""
    rng = random.Random(100 + seed)
    values, relations = table(rng, rng.randint(2, 5), rng.randint(3, 8))
    inner = [k for k in values if "*" not in k]
    closed = frozenset(rng.sample(inner, len(inner) // 3))
    for k in closed:
        values[k] = rng.choice((0, 0, 0, 0, 0, 1, 2))
    values, relations = retotal(values, relations)
    shown, totals = published(values, relations, closed)
    known = {k: 0 for k in closed if values[k] == 0}
    positive = {k for k in closed if values[k] > 0}
    assert not [k for k in subtract(shown, totals, known) if shown[k] == SMALL]
    for k, (low, high) in ranges(shown, totals, known, positive).items():
        assert low <= values[k] <= high, "the attacker's model must hold the truth"
        assert high - low >= MIN_SPREAD, f"{k} narrowed to {low}–{high}"


def retotal(values: dict, relations: list[Relation]) -> tuple[dict, list[Relation]]:
    """The totals again, after inner cells changed."""
    out = {k: v for k, v in values.items() if "*" not in k}
    for relation in relations:  # row and column totals first, then the grand total
        if relation.total != ("*", "*"):
            out[relation.total] = sum(out[p] for p in relation.parts)
    out[("*", "*")] = sum(v for k, v in out.items() if k[1] == "*")
    return out, relations


def test_the_attack_does_recover_cells_when_only_small_ones_are_hidden() -> None:
    """The attacker is not toothless: with primary suppression alone it wins."""
    values, relations = table(random.Random(3), 4, 5)
    only_small = {k: SMALL if v < 5 else v for k, v in values.items()}
    totals = [(r.total, r.parts) for r in relations]
    recovered = subtract(only_small, totals)
    assert recovered and all(values[k] == v for k, v in recovered.items())
