"""Synapse as the embedded stack runs it: Synapse's own entry point, with SQLite told to
overwrite what it deletes.

A deleted conversation must not stay readable in the homeserver's database file. SQLite
marks deleted rows free and keeps their bytes until the page is reused, and Synapse's
write-ahead log keeps page images until a checkpoint; so for this stack, which keeps its
SQLite file in the state directory, every connection gets `secure_delete` (freed
content is zeroed) and a rollback journal that is truncated at each commit instead of a
write-ahead log. PostgreSQL (production) is not affected by any of this.
"""

from __future__ import annotations

from typing import Any

from synapse.app.homeserver import main
from synapse.storage.engines.sqlite import Sqlite3Engine

_synapses_own = Sqlite3Engine.on_new_connection


def _overwriting_deletes(self: Sqlite3Engine, db_conn: Any) -> None:
    _synapses_own(self, db_conn)
    db_conn.execute("PRAGMA secure_delete = ON;")
    db_conn.execute("PRAGMA journal_mode = TRUNCATE;")
    db_conn.commit()


Sqlite3Engine.on_new_connection = _overwriting_deletes  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
