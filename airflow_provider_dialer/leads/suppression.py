"""De-duplication and do-not-call keys for one run: the first keys in memory, the rest in a temporary SQLite file.

A run of millions of leads remembers every phone and external id it has handed on; in Python dicts
that alone is ~100 MB per million. So each table keeps its first ``memory_keys`` keys in a plain
dict (the whole run, for most lists: no SQLite at all) and spills the keys after those to a
throwaway SQLite file with a small page cache, which keeps resident memory bounded whatever the
number of leads. SQLite lookups are batched per chunk so they stay around a microsecond per key,
and the file is only created on the first spill. The phone key is the E.164 number without ``+``
as an integer (exact, no hashing); external ids are text.

The two tiers never disagree: a key is in at most one of them and keeps the row that first took it.
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
MEMORY_KEYS = 50_000
"""Keys per table kept in memory before spilling to SQLite: ~10 MB per table at most, so peak memory
stays nearly flat between a 100,000-lead and a 10,000,000-lead run."""


class RunKeys:
    """Keys taken by earlier chunks of this run (phone -> row, external id -> row) and the DNC phones."""

    def __init__(self, directory: str | None = None, cache_kib: int = 4096, memory_keys: int | None = None) -> None:
        self._directory = directory
        self._cache_kib = int(cache_kib)
        self.memory_keys = max(0, int(MEMORY_KEYS if memory_keys is None else memory_keys))
        self.memory: dict[str, dict[Any, int]] = {t: {} for t in TABLES}
        self.spilled = {t: False for t in TABLES}
        self._dir: str | None = None
        self._db: sqlite3.Connection | None = None
        self.empty = {t: True for t in TABLES}

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self._dir = tempfile.mkdtemp(prefix="dialer-leads-", dir=self._directory)
            db = sqlite3.connect(os.path.join(self._dir, "keys.sqlite"), isolation_level=None)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(f"PRAGMA cache_size=-{self._cache_kib}")
            db.execute("PRAGMA temp_store=FILE")
            db.execute("CREATE TABLE phone (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
            db.execute("CREATE TABLE external_id (k TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE dnc (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
            self._db = db
        return self._db

    def add(self, table: str, items: Sequence[tuple[Any, int]]) -> None:
        """Remember ``(key, row)`` pairs; an existing key keeps its first row."""
        if not items:
            return
        self.empty[table] = False
        memory = self.memory[table]
        room = self.memory_keys - len(memory)
        if room >= len(items) and not self.spilled[table]:
            for key, row in items:
                if key not in memory:
                    memory[key] = row
            return
        spill: list[tuple[Any, int]] = []
        for key, row in items:
            if key in memory:
                continue
            if room > 0 and not self.spilled[table]:
                memory[key] = row
                room -= 1
            else:
                spill.append((key, row))
        if spill:
            # the memory tier is full for good: later keys go to SQLite, also when a memory key is
            # never seen again (so "in memory" always means "among the first keys of the run")
            self.spilled[table] = True
            db = self._connect()
            db.execute("BEGIN")
            db.executemany(f"INSERT OR IGNORE INTO {table} (k, row) VALUES (?, ?)", spill)
            db.execute("COMMIT")

    def found(self, table: str, keys: Iterable[Any]) -> dict[Any, int]:
        """The subset of ``keys`` already present, with the row that first took each."""
        if self.empty[table]:
            return {}
        memory = self.memory[table]
        if not self.spilled[table]:
            return {k: memory[k] for k in keys if k in memory}
        out: dict[Any, int] = {}
        rest: dict[Any, None] = {}
        for k in keys:
            row = memory.get(k)
            if row is not None:
                out[k] = row
            else:
                rest[k] = None
        unique = list(rest)
        db = self._connect()
        for i in range(0, len(unique), _BATCH):
            part = unique[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            out.update(db.execute(f"SELECT k, row FROM {table} WHERE k IN ({marks})", part).fetchall())
        return out

    def close(self) -> None:
        for memory in self.memory.values():
            memory.clear()
        try:
            if self._db is not None:
                self._db.close()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
