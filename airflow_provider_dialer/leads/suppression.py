"""De-duplication and do-not-call keys for one run, in three tiers that keep memory bounded.

A run of millions of leads remembers every phone and external id it has handed on; in Python dicts
that alone is ~100 MB per million (an int or str object, a dict entry and a row object per key).
Each table (phone, external id, DNC) therefore keeps:

1. up to ``memory_keys`` keys in a plain dict: the whole run, for most lists;
2. past that, every key in a few preallocated *direct-mapped levels* (``LEVELS``: about 1.97
   million slots in flat ``array``\\ s, 31 MB per table), allocated when the dict fills: the
   dict's keys move into them and the dict is dropped, so a lookup never pays for two structures
   and the memory is the same whatever the number of leads;
3. the keys no level has room for in a throwaway SQLite file with a small page cache, created on
   the first spill.

A level is a flat array of ``size`` slots; a key has exactly one slot in each level (its number
modulo the level's size, a different prime per level, so keys that share a slot in one level
rarely share one in the next). A key is stored in the first level whose slot for it is empty, and
slots are never emptied, so a lookup walks the levels and stops at the first slot that holds the
key (present) or nothing (absent: it cannot be deeper). Most keys are settled by their first
level: one modulo, one array read and one comparison, with no probe sequence as in open
addressing (the tables this replaced, which cost about a third more CPU in a 1,000,000-lead run).
Only a key whose slots are all taken by others goes on to SQLite, which is queried only for such
keys, in batches per chunk (932 of 1,000,000 random phone keys reach it).

Phone keys are the E.164 number without ``+`` as an integer, stored as they are (exact, no
hashing), each beside its row in the same array, so that one memory access finds both (the levels
are far larger than the CPU's caches: reading a slot is the cost, and keys and rows in two arrays
measured about 20% more). An external id's slot holds its 64-bit ``hash()`` (made odd, so never
the empty ``0``) and where the id's UTF-8 bytes and row were appended to a scratch file beside the
SQLite one; a slot whose hash matches is confirmed by reading those bytes back, so two different
ids are never taken for one (an id whose hash matches another's in its slot is simply not there,
and the walk goes on).

The tiers never disagree: a key is in exactly one place (the dict, or a level, or SQLite) and keeps
the row that first took it; int keys no slot can hold (``0``, beyond int64: never a phone) are kept
aside in a dict.
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
"""Keys per table kept in a dict before the levels: ~5 MB per table at most."""
LEVELS: tuple[int, ...] = (1_048_573, 524_287, 262_139, 131_071)
"""Slots of each direct-mapped level, in lookup order (primes; ``()``: no levels, straight to SQLite).

At 1,000,000 distinct keys per table about 1,000 reach SQLite; each table's levels take 16 bytes per
slot (31 MB), allocated when the table's dict fills. ``RunKeys(levels=...)`` overrides it (tests)."""
_HEAD = struct.Struct("<qI")  # an external id's record in the scratch file: row, byte length
_KEY_MIN, _KEY_MAX = -(2**63), 2**63 - 1  # int keys a slot holds; 0 marks an empty slot
_hash = hash  # the text levels' hash; tests swap in a colliding one


def _split_odd(keys: list[int]) -> tuple[list[int], set[int]]:
    """``keys`` a slot can hold (as given when all can: the common case costs three C passes), and the others."""
    if not keys or (0 not in keys and min(keys) >= _KEY_MIN and max(keys) <= _KEY_MAX):
        return keys, set()
    odd = {k for k in keys if k == 0 or not _KEY_MIN <= k <= _KEY_MAX}
    return [k for k in keys if k not in odd], odd


class _IntLevels:
    """Direct-mapped levels of int keys (never ``0``, within int64) to rows (int64, as in SQLite).

    A level is one ``array("q")`` of key, row pairs: the key and its row share a cache line, so a
    lookup or an insert costs one memory access, not two (the tables are far larger than the caches).
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        self.levels = [(array("q", [0]) * (2 * size), size) for size in sizes]
        self.count = 0

    def found(self, keys: Iterable[int], out: dict[Any, int], rest: list[Any]) -> None:
        """Present keys go to ``out`` with their row, the ones no level can rule out to ``rest``."""
        levels = self.levels
        if not levels:
            rest.extend(keys)
            return
        (pairs0, size0), deeper = levels[0], levels[1:]
        for k in keys:
            i = (k % size0) << 1
            s = pairs0[i]
            if s == k:
                out[k] = pairs0[i + 1]
                continue
            if s == 0:
                continue
            for pairs, size in deeper:
                i = (k % size) << 1
                s = pairs[i]
                if s == k:
                    out[k] = pairs[i + 1]
                    break
                if s == 0:
                    break
            else:
                rest.append(k)

    def add(self, items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        """Store absent keys where a level has room; the absent ones no level could take are returned."""
        levels = self.levels
        if not levels:
            return list(items)
        (pairs0, size0), deeper = levels[0], levels[1:]
        count = self.count
        left: list[tuple[int, int]] = []
        for k, row in items:
            i = (k % size0) << 1
            s = pairs0[i]
            if s == 0:  # the common case inline: the first level has room
                pairs0[i] = k
                pairs0[i + 1] = row
                count += 1
                continue
            if s == k:
                continue  # present: the first row stays
            for pairs, size in deeper:
                i = (k % size) << 1
                s = pairs[i]
                if s == k:
                    break
                if s == 0:
                    pairs[i] = k
                    pairs[i + 1] = row
                    count += 1
                    break
            else:
                left.append((k, row))
        self.count = count
        return left


class _TextLevels:
    """Direct-mapped levels of text keys: slots hold ``hash(key) | 1`` and a scratch-file offset.

    A slot is the key's only when the bytes stored at its offset equal the key's; a slot with the
    same hash and other bytes belongs to another key, and the walk goes on to the next level.
    """

    def __init__(self, sizes: Sequence[int], path: str) -> None:
        # one array("q") per level of hash, offset pairs (one cache line per slot, as the int levels)
        self.levels = [(array("q", [0]) * (2 * size), size) for size in sizes]
        self.count = 0
        self._file = open(path, "w+b")  # noqa: SIM115 - closed in close()
        self._end = 0
        self._pending: list[bytes] = []  # records appended but not yet written

    def _record(self, offset: int) -> tuple[bytes, int]:
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
            self._file.flush()
        fd = self._file.fileno()
        row, length = _HEAD.unpack(os.pread(fd, _HEAD.size, offset))
        return os.pread(fd, length, offset + _HEAD.size), row

    def found(self, keys: Iterable[str], out: dict[Any, int], rest: list[Any]) -> None:
        levels, hash_ = self.levels, _hash
        if not levels:
            rest.extend(keys)
            return
        (pairs0, size0), deeper = levels[0], levels[1:]
        for k in keys:
            h = hash_(k) | 1
            i = (h % size0) << 1
            s = pairs0[i]
            if s == 0:
                continue
            if s == h:
                stored, row = self._record(pairs0[i + 1])
                if stored == k.encode("utf-8", "surrogatepass"):
                    out[k] = row
                    continue
            for pairs, size in deeper:
                i = (h % size) << 1
                s = pairs[i]
                if s == 0:
                    break
                if s == h:
                    stored, row = self._record(pairs[i + 1])
                    if stored == k.encode("utf-8", "surrogatepass"):
                        out[k] = row
                        break
            else:
                rest.append(k)

    def add(self, items: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        levels, hash_, pack = self.levels, _hash, _HEAD.pack
        if not levels:
            return list(items)
        count, end, pending = self.count, self._end, self._pending
        left: list[tuple[str, int]] = []
        for k, row in items:
            h = hash_(k) | 1
            data = None
            for pairs, size in levels:
                i = (h % size) << 1
                s = pairs[i]
                if s == 0:
                    if data is None:
                        data = k.encode("utf-8", "surrogatepass")
                    pending.append(pack(row, len(data)))
                    pending.append(data)
                    pairs[i] = h
                    pairs[i + 1] = end
                    end += _HEAD.size + len(data)
                    count += 1
                    break
                if s == h:
                    if data is None:
                        data = k.encode("utf-8", "surrogatepass")
                    if self._record(pairs[i + 1])[0] == data:
                        break  # present: the first row stays
            else:
                left.append((k, row))
        if pending:
            self._file.write(b"".join(pending))
            pending.clear()
            self._file.flush()  # the records are read back with pread, past the file object's buffer
        self.count, self._end = count, end
        return left

    def close(self) -> None:
        self._file.close()


class RunKeys:
    """Keys taken by earlier chunks of this run (phone -> row, external id -> row) and the DNC phones.

    ``memory_keys`` and ``levels`` default to ``MEMORY_KEYS`` and ``LEVELS`` (tests pass small ones
    to cross every tier with a few keys).
    """

    def __init__(
        self,
        directory: str | None = None,
        cache_kib: int = 4096,
        memory_keys: int | None = None,
        levels: Sequence[int] | None = None,
    ) -> None:
        self._directory = directory
        self._cache_kib = int(cache_kib)
        self.memory_keys = max(0, int(MEMORY_KEYS if memory_keys is None else memory_keys))
        self.level_sizes = tuple(int(size) for size in (LEVELS if levels is None else levels))
        if any(size < 1 for size in self.level_sizes):
            raise ValueError(f"every level needs at least one slot, got {self.level_sizes}")
        self.memory: dict[str, dict[Any, int]] = {t: {} for t in TABLES}
        self.levels: dict[str, Any] = {t: None for t in TABLES}
        #: int keys no slot can hold (0, or beyond int64): exact, in a dict (no phone key is one)
        self.odd: dict[str, dict[Any, int]] = {t: {} for t in TABLES}
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

    def _levels_for(self, table: str) -> Any:
        levels = self.levels[table]
        if levels is None:
            if table == "external_id":
                levels = _TextLevels(self.level_sizes, os.path.join(self._scratch(), "external_ids.bin"))
            else:
                levels = _IntLevels(self.level_sizes)
            self.levels[table] = levels
        return levels

    def add(self, table: str, items: Sequence[tuple[Any, int]], *, new: bool = False) -> None:
        """Remember ``(key, row)`` pairs; an existing key keeps its first row.

        ``new=True`` promises that every key appears once in ``items`` and that ``found`` answered
        each as absent since the last ``add`` to this table (the run's case); it is not relied on
        for correctness, only to skip asking the dict tier again.
        """
        if not items:
            return
        self.empty[table] = False
        if not self.full[table]:
            memory = self.memory[table]
            room = self.memory_keys - len(memory)
            if room >= len(items) or room >= len({k for k, _ in items if k not in memory}):
                for key, row in items:
                    if key not in memory:
                        memory[key] = row
                return
            # the dict is full: its keys move to the levels, in the order they came (so each keeps
            # its row), before this batch's; from now on no lookup pays for the dict
            items = [*memory.items(), *(item for item in items if new or item[0] not in memory)]
            self.memory[table] = {}
            self.full[table] = True
        later = self._set_odd_aside(table, items) if table != "external_id" else items
        spill = self._levels_for(table).add(later)
        if spill:
            self.spilled[table] = True
            db = self._connect()
            db.execute("BEGIN")
            db.executemany(f"INSERT OR IGNORE INTO {table} (k, row) VALUES (?, ?)", spill)
            db.execute("COMMIT")

    def _set_odd_aside(self, table: str, items: Sequence[tuple[Any, int]]) -> Sequence[tuple[Any, int]]:
        """``items`` without the int keys a slot cannot hold, which go to the table's ``odd`` dict."""
        kept, odd_keys = _split_odd([k for k, _ in items])
        if not odd_keys:
            return items
        odd = self.odd[table]
        for key, row in items:
            if key in odd_keys:
                odd.setdefault(key, row)
        return [item for item in items if item[0] not in odd_keys]

    def found(self, table: str, keys: Iterable[Any]) -> dict[Any, int]:
        """The subset of ``keys`` already present, with the row that first took each."""
        if self.empty[table]:
            return {}
        if not self.full[table]:
            memory = self.memory[table]
            return {k: memory[k] for k in keys if k in memory}
        out: dict[Any, int] = {}
        if table != "external_id":
            keys, odd_keys = _split_odd(keys if isinstance(keys, list) else list(keys))
            odd = self.odd[table]
            out.update((k, odd[k]) for k in odd_keys if k in odd)
        unique: list[Any] = []
        self._levels_for(table).found(keys, out, unique)
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
                levels, self.levels[t] = self.levels[t], None
                if isinstance(levels, _TextLevels):
                    levels.close()
            if self._db is not None:
                self._db.close()
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
