"""Look for a text in every column of every table of a SQLite or PostgreSQL database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg

from deploy.local.postgres import asyncpg_args


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


# Every user column of every ordinary table (partitions included, so partitioned parents
# are left out), outside PostgreSQL's own schemas.
PG_COLUMNS = """
SELECT n.nspname, c.relname, a.attname, a.atttypid = 'bytea'::regtype
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'r'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
ORDER BY 1, 2, a.attnum
"""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def pg_tables_containing(url: str, needle: str) -> list[str]:
    """Names of `table.column` (`schema.table.column` outside `public`) where some row of
    the PostgreSQL database at `url` (an SQLAlchemy URL) holds `needle`: bytea columns
    byte-wise, every other column in its text form (text, varchar, json, jsonb, arrays…)."""
    conn = await asyncpg.connect(**asyncpg_args(url))
    try:
        tables: dict[tuple[str, str], list[tuple[str, bool]]] = {}
        for schema, table, column, is_bytea in await conn.fetch(PG_COLUMNS):
            tables.setdefault((schema, table), []).append((column, is_bytea))
        found = []
        for (schema, table), columns in tables.items():
            # One pass over each table; $1 is the needle as text and as UTF-8 bytes.
            tests = [
                f"bool_or(position(convert_to($1::text, 'UTF8') in t.{_ident(c)}) > 0)"
                if is_bytea
                else f"bool_or(strpos(t.{_ident(c)}::text, $1::text) > 0)"
                for c, is_bytea in columns
            ]
            query = f"SELECT {', '.join(tests)} FROM {_ident(schema)}.{_ident(table)} t"
            row = await conn.fetchrow(query, needle)
            prefix = table if schema == "public" else f"{schema}.{table}"
            found += [f"{prefix}.{c}" for (c, _), hit in zip(columns, row, strict=True) if hit]
        return sorted(found)
    finally:
        await conn.close()


def files_containing(directory: Path, needle: str) -> list[str]:
    """Files under `directory` (any depth) whose bytes hold `needle`: databases with
    their free pages and journals, logs, media, whatever a process left there."""
    raw = needle.encode()
    found = []
    for path in sorted(directory.rglob("*")):
        if path.is_file() and not path.is_symlink():
            try:
                if raw in path.read_bytes():
                    found.append(str(path.relative_to(directory)))
            except OSError:  # gone meanwhile (a journal), or a socket
                continue
    return found
