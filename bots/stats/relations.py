"""The published identities "total = sum of parts" that a reader can solve for a hidden
count: what the figures (cube.py) declare, the small-cell rule (suppression.py) protects
against, and its audit (ranges.py) solves.

Cells are keyed by anything hashable (the report keys them by `cube.Cell`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Any hashable key; Any, because Mapping is invariant in its key type.
Key = Any


@dataclass(frozen=True)
class Relation:
    """A published identity: `total` = sum of `parts`."""

    total: Key
    parts: tuple[Key, ...]

    def members(self) -> tuple[Key, ...]:
        return (self.total, *self.parts)
