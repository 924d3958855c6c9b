"""Look for a text in every column of every table of a SQLite database."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def tables_containing(db_path: Path, needle: str) -> list[str]:
    """Names of `table.column` where some row holds `needle` (as text or inside a blob)."""
    raw = needle.encode()
    found: set[str] = set()
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            cursor = db.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    if (isinstance(value, str) and needle in value) or (
                        isinstance(value, bytes) and raw in value
                    ):
                        found.add(f"{table}.{column}")
    return sorted(found)
