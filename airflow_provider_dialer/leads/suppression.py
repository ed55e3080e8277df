"""De-duplication and do-not-call keys for one run, in three tiers that keep memory bounded.

A run of millions of leads remembers every phone and external id it has handed on; in Python dicts
that alone is ~100 MB per million. Each table (phone, external id, DNC) therefore keeps:

1. its first ``memory_keys`` keys in a plain dict: the whole run, for most lists;
2. the next ones in a preallocated open-addressing table of fixed size (``compact_bits``: 2**20
   slots, filled to 75%: 786,432 keys in two int64 arrays, 16 MB per table),
   allocated when the dict fills, so its memory is the same whatever the number of leads;
3. the rest in a throwaway SQLite file with a small page cache, created on the first spill.

Phone keys are the E.164 number without ``+`` as an integer, stored as they are (exact, no
hashing). An external id's slot holds its 64-bit ``hash()`` and where the id's UTF-8 bytes and row
were appended to a scratch file beside the SQLite one; a slot whose hash matches is confirmed by
reading those bytes back, so two different ids are never taken for one. SQLite lookups are batched
per chunk.

The tiers never disagree: a key is in at most one of them and keeps the row that first took it. A
tier that has filled stays full, so "in tier 1" always means "among the first keys of the run".
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import struct
import tempfile
from array import array
from collections.abc import Iterable, Sequence
from typing import Any

_BATCH = 500  # stays below SQLite's default limit of bound parameters
TABLES = ("phone", "external_id", "dnc")
MEMORY_KEYS = 50_000
"""Keys per table kept in a dict before the compact tier: ~10 MB per table at most."""
COMPACT_BITS = 20
"""Slots of the compact tier per table, as a power of two (``0``: no compact tier)."""
_FILL = 0.75
_MIX = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads clustered phone numbers over the slots
_M64 = (1 << 64) - 1
_HEAD = struct.Struct("<QI")  # an external id's record in the scratch file: row, byte length
_hash = hash  # the text slots' hash; tests swap in a colliding one


class _Slots:
    """What both fixed-size tables share: ``2**bits`` slots in two int64 arrays, filled to ``_FILL``."""

    def __init__(self, bits: int) -> None:
        size = 1 << bits
        self.shift = 64 - bits  # Fibonacci hashing keeps the top ``bits`` bits of the product
        self.mask = size - 1
        self.limit = int(size * _FILL)
        self.count = 0
        self.first = array("q", [0]) * size
        self.second = array("q", [0]) * size


class _IntSlots(_Slots):
    """Fixed-size linear-probing table of int64 keys to rows; ``0`` marks an empty slot, so a key
    below 1 (never a phone key) is left to the next tier."""

    def __init__(self, bits: int) -> None:
        super().__init__(bits)
        self.keys, self.rows = self.first, self.second

    def found(self, keys: Iterable[int], out: dict[Any, int], rest: list[Any]) -> None:
        """Present keys go to ``out`` with their row, absent ones to ``rest``."""
        slots, rows, mask, shift = self.keys, self.rows, self.mask, self.shift
        for k in keys:
            i = ((k * _MIX) & _M64) >> shift
            while True:
                s = slots[i]
                if s == 0:
                    rest.append(k)
                    break
                if s == k:
                    out[k] = rows[i]
                    break
                i = (i + 1) & mask

    def add(self, items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Insert absent keys while there is room; the absent ones that did not fit are returned."""
        slots, rows, mask, shift, limit = self.keys, self.rows, self.mask, self.shift, self.limit
        count = self.count
        left: list[tuple[int, int]] = []
        for k, row in items:
            i = ((k * _MIX) & _M64) >> shift
            while True:
                s = slots[i]
                if s == k:
                    break
                if s == 0:
                    if count < limit and k > 0:
                        slots[i] = k
                        rows[i] = row
                        count += 1
                    else:
                        left.append((k, row))
                    break
                i = (i + 1) & mask
        self.count = count
        return left


class _TextSlots(_Slots):
    """Fixed-size linear-probing table of text keys: slots hold ``hash(key)`` and a scratch-file offset.

    A slot is a match only when the bytes stored at its offset equal the key's; a hash collision
    just probes on.
    """

    def __init__(self, bits: int, path: str) -> None:
        super().__init__(bits)
        self.hashes = self.first
        self.where = self.second  # offset + 1 of the key's record (0: empty)
        self._file = open(path, "w+b")  # noqa: SIM115 - closed in close()
        self._end = 0
        self._flushed = True

    def _record(self, offset: int) -> tuple[bytes, int]:
        if not self._flushed:
            self._file.flush()
            self._flushed = True
        fd = self._file.fileno()
        row, length = _HEAD.unpack(os.pread(fd, _HEAD.size, offset))
        return os.pread(fd, length, offset + _HEAD.size), row

    def _lookup(self, key: str) -> tuple[int, int | None]:
        """The key's slot and row when present, else the empty slot that ends its probe and ``None``."""
        h = _hash(key) or 1
        hashes, where, mask = self.hashes, self.where, self.mask
        i = ((h * _MIX) & _M64) >> self.shift
        encoded = None
        while True:
            w = where[i]
            if w == 0:
                return i, None
            if hashes[i] == h:
                if encoded is None:
                    encoded = key.encode("utf-8", "surrogatepass")
                stored, row = self._record(w - 1)
                if stored == encoded:
                    return i, row
            i = (i + 1) & mask

    def found(self, keys: Iterable[str], out: dict[Any, int], rest: list[Any]) -> None:
        hashes, where, mask, shift, hash_ = self.hashes, self.where, self.mask, self.shift, _hash
        for k in keys:
            h = hash_(k) or 1
            i = ((h * _MIX) & _M64) >> shift
            while True:  # the common case inline: an empty slot, no hash match on the way
                if where[i] == 0:
                    rest.append(k)
                    break
                if hashes[i] == h:
                    row = self._lookup(k)[1]
                    if row is None:
                        rest.append(k)
                    else:
                        out[k] = row
                    break
                i = (i + 1) & mask

    def add(self, items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        hashes, where, mask, shift, limit = self.hashes, self.where, self.mask, self.shift, self.limit
        count, end = self.count, self._end
        parts: list[bytes] = []
        left: list[tuple[str, int]] = []
        pack, hash_ = _HEAD.pack, _hash
        for k, row in items:
            h = hash_(k) or 1
            i = ((h * _MIX) & _M64) >> shift
            while True:
                if where[i] == 0:
                    break
                if hashes[i] == h:
                    if parts:  # the key may be in this very batch: write it out before reading back
                        self._file.write(b"".join(parts))
                        parts.clear()
                        self._flushed = False
                    i, present = self._lookup(k)
                    if present is not None:
                        i = -1
                    break
                i = (i + 1) & mask
            if i < 0:
                continue  # already present: the first row stays
            if count >= limit:
                left.append((k, row))
                continue
            data = k.encode("utf-8", "surrogatepass")
            parts.append(pack(row, len(data)))
            parts.append(data)
            hashes[i] = h
            where[i] = end + 1
            end += _HEAD.size + len(data)
            count += 1
        if parts:
            self._file.write(b"".join(parts))
            self._flushed = False
        self.count, self._end = count, end
        return left

    def close(self) -> None:
        self._file.close()


class RunKeys:
    """Keys taken by earlier chunks of this run (phone -> row, external id -> row) and the DNC phones."""

    def __init__(
        self,
        directory: str | None = None,
        cache_kib: int = 4096,
        memory_keys: int | None = None,
        compact_bits: int | None = None,
    ) -> None:
        self._directory = directory
        self._cache_kib = int(cache_kib)
        self.memory_keys = max(0, int(MEMORY_KEYS if memory_keys is None else memory_keys))
        self.compact_bits = max(0, int(COMPACT_BITS if compact_bits is None else compact_bits))
        self.memory: dict[str, dict[Any, int]] = {t: {} for t in TABLES}
        self.compact: dict[str, Any] = {t: None for t in TABLES}
        self.full = {t: False for t in TABLES}
        self.spilled = {t: False for t in TABLES}
        self._dir: str | None = None
        self._db: sqlite3.Connection | None = None
        self.empty = {t: True for t in TABLES}

    def _scratch(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="dialer-leads-", dir=self._directory)
        return self._dir

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(os.path.join(self._scratch(), "keys.sqlite"), isolation_level=None)
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute(f"PRAGMA cache_size=-{self._cache_kib}")
            db.execute("PRAGMA temp_store=FILE")
            db.execute("CREATE TABLE phone (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
            db.execute("CREATE TABLE external_id (k TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
            db.execute("CREATE TABLE dnc (k INTEGER PRIMARY KEY, row INTEGER NOT NULL)")
            self._db = db
        return self._db

    def _compact_for(self, table: str) -> Any:
        compact = self.compact[table]
        if compact is None and self.compact_bits:
            if table == "external_id":
                path = os.path.join(self._scratch(), "external_ids.bin")
                compact = _TextSlots(self.compact_bits, path)
            else:
                compact = _IntSlots(self.compact_bits)
            self.compact[table] = compact
        return compact

    def add(self, table: str, items: Sequence[tuple[Any, int]]) -> None:
        """Remember ``(key, row)`` pairs; an existing key keeps its first row."""
        if not items:
            return
        self.empty[table] = False
        memory = self.memory[table]
        full = self.full[table]
        room = self.memory_keys - len(memory)
        if room >= len(items) and not full:
            for key, row in items:
                if key not in memory:
                    memory[key] = row
            return
        later: list[tuple[Any, int]] = []
        for key, row in items:
            if key in memory:
                continue
            if room > 0 and not full:
                memory[key] = row
                room -= 1
            else:
                later.append((key, row))
        if not later:
            return
        # the dict tier is full for good: later keys go to the compact tier, then to SQLite (also
        # when a dict key is never seen again, so "in the dict" means "among the first keys")
        self.full[table] = True
        compact = self._compact_for(table)
        spill = compact.add(later) if compact is not None else later
        if spill:
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
        if not self.full[table]:
            return {k: memory[k] for k in keys if k in memory}
        out: dict[Any, int] = {}
        rest: dict[Any, None] = {}
        for k in keys:
            row = memory.get(k)
            if row is not None:
                out[k] = row
            else:
                rest[k] = None
        compact = self.compact[table]
        unique: list[Any] = []
        if compact is not None:
            compact.found(rest, out, unique)
        else:
            unique = list(rest)
        if unique and self.spilled[table]:
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
            for t in TABLES:
                compact, self.compact[t] = self.compact[t], None
                if isinstance(compact, _TextSlots):
                    compact.close()
            if self._db is not None:
                self._db.close()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
