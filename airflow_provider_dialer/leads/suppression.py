"""De-duplication and do-not-call keys for one run, kept in a temporary SQLite file so memory stays flat.

A run of millions of leads remembers every phone and external id it has handed on; in Python sets
that alone is ~100 MB per million. A throwaway SQLite file with a small page cache keeps resident
memory independent of the number of leads, and lookups are batched per chunk so the cost stays
around a microsecond per key. The phone key is the E.164 number without ``+`` as an integer (exact,
no hashing); external ids are text.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Sequence
from typing import Any

_BATCH = 500  # stays below SQLite's default limit of bound parameters
TABLES = ("phone", "external_id", "dnc")


class RunKeys:
    """Keys taken by earlier chunks of this run (phone -> row, external id -> row) and the DNC phones."""

    def __init__(self, directory: str | None = None, cache_kib: int = 4096) -> None:
        self._dir = tempfile.mkdtemp(prefix="dialer-leads-", dir=directory)
        self._db = sqlite3.connect(os.path.join(self._dir, "keys.sqlite"), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(f"PRAGMA cache_size=-{int(cache_kib)}")
        self._db.execute("PRAGMA temp_store=FILE")
        self._db.execute("CREATE TABLE phone (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
        self._db.execute("CREATE TABLE external_id (k TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
        self._db.execute("CREATE TABLE dnc (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
        self.empty = {t: True for t in TABLES}

    def add(self, table: str, items: Sequence[tuple[Any, int]]) -> None:
        """Remember ``(key, row)`` pairs; an existing key keeps its first row."""
        if items:
            self._db.execute("BEGIN")
            self._db.executemany(f"INSERT OR IGNORE INTO {table} (k, row) VALUES (?, ?)", items)
            self._db.execute("COMMIT")
            self.empty[table] = False

    def found(self, table: str, keys: Iterable[Any]) -> dict[Any, int]:
        """The subset of ``keys`` already present, with the row that first took each."""
        if self.empty[table]:
            return {}
        unique = list(dict.fromkeys(keys))
        out: dict[Any, int] = {}
        for i in range(0, len(unique), _BATCH):
            part = unique[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            out.update(self._db.execute(f"SELECT k, row FROM {table} WHERE k IN ({marks})", part).fetchall())
        return out

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
