"""Where delivery progress lives between task attempts: in memory, in a journal file or in an Airflow Variable.

Each store implements ``delivery.ProgressStore``: ``load`` the progress (``None`` when there is
none), ``save`` it, and ``complete`` it when the task succeeded. Progress that exists but cannot be
read fails with ``DialerProgressError`` instead of starting over: starting over would send every
lead again. XCom is cleared when a task retries, so a task's progress lives in a Variable by
default (one per task instance and map index) or in a journal file for local runs (``FileProgressStore``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

from airflow_provider_dialer.exceptions import DialerProgressError

#: what the progress of a task instance is called (Variable key prefix; see ``VariableProgressStore``)
PROGRESS_PREFIX = "dialer_progress:"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MemoryProgressStore:
    """Progress kept in memory (dry runs and tests)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def load(self) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.state)) if self.state is not None else None

    def save(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))

    def complete(self, retention: dt.timedelta) -> None:
        if self.state is not None:
            self.state["completed_at"] = _utcnow().isoformat()


def _parsed_progress(text: str, where: str, way_out: str) -> dict[str, Any]:
    """The progress in ``text``, or ``DialerProgressError`` naming ``where`` and ``way_out``."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:  # what json.loads raises for a str
        raise DialerProgressError(_unreadable(where, f"it is not JSON ({exc.msg} at {exc.pos})", way_out)) from None
    if not isinstance(state, dict):
        raise DialerProgressError(_unreadable(where, f"it holds a {type(state).__name__}, not an object", way_out))
    return state


def _unreadable(where: str, why: str, way_out: str) -> str:
    return (
        f"delivery progress {where} exists but cannot be read: {why}. It may record chunks the dialer "
        "already holds, so starting over could call those leads twice; nothing was sent. Way out: check "
        f"in the dialer what this task already delivered, then {way_out} and clear the task "
        "(it then sends every lead as a new delivery)."
    )


#: the first element of a progress journal's first line (see ``FileProgressStore``)
JOURNAL_FORMAT = "dialer-progress-journal/1"
#: a journal is folded into a new snapshot once its records outweigh the snapshot and this many bytes
COMPACT_MIN_BYTES = 256 * 1024

#: a changed entry of the progress state: ``(section,)`` for a top-level value, ``(section, key)``
#: for one entry of a section (a chunk under ``chunks``, a lead under ``window``)
StatePath = tuple[str, ...]


class FileProgressStore:
    """Progress in a local file, kept as a journal so that a save costs what changed, not the whole state.

    The file is JSON lines, UTF-8. The first line is the snapshot, ``["dialer-progress-journal/1",
    seq, state]``: the whole state once ``seq`` changes were folded in. Each later line is one save
    of :meth:`save_changes`, ``{"seq": seq + 1, "set": [[path, value], ...], "del": [path, ...]}``,
    appended with one write. A million XCALLY leads (900 chunks, two marks each) append about
    150 KB instead of rewriting a state that grows to 55 KB before each of 1,800 marks.

    Reading replays the records in order. A last line without its line end is a write the worker
    died in: that save never returned, so nothing acted on it (a ``sending`` mark's request was not
    sent; a missing ``done`` mark leaves the chunk in flight, read back from the vendor), and it is
    dropped. A record whose ``seq`` was already applied is a duplicate and skipped; a gap in ``seq``
    or a complete line that does not parse means changes were lost, so the progress is unreadable
    (``DialerProgressError``, nothing sent), never silently shorter.

    :meth:`save` writes a new snapshot (a temporary file renamed over the old one, as a kill leaves
    either whole), and so does the first save of each attempt (any torn tail is gone before the
    next append) and any save once the records since the snapshot weigh more than the snapshot and
    ``COMPACT_MIN_BYTES``: the cost per save stays constant on average. Nothing is fsynced (as
    before the journal): the progress survives a killed worker, not a power cut.

    A file holding one JSON object is progress written before the journal: it is read as the
    snapshot and rewritten as a journal by the first save. A reader of that older format finds a
    journal unreadable (its first line is an array, and there is more than one line), so it stops
    instead of starting over.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: the last change folded into the file
        self._seq = 0
        #: bytes appended since the snapshot, and the snapshot's own
        self._journal_bytes = 0
        self._snapshot_bytes = 0
        #: the file, open for appending since this store's last snapshot (one write per save, no open);
        #: None until this store wrote a snapshot, so the next save writes one
        self._journal: BinaryIO | None = None

    def _way_out(self) -> str:
        return f"delete the file {str(self.path)!r}"

    def _unreadable(self, why: str) -> DialerProgressError:
        return DialerProgressError(_unreadable(f"file {str(self.path)!r}", why, self._way_out()))

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise self._unreadable(str(exc)) from None
        lines = data.split(b"\n")
        try:
            first = json.loads(lines[0])
        except (json.JSONDecodeError, UnicodeDecodeError):
            first = None
        if not (isinstance(first, list) and first[:1] == [JOURNAL_FORMAT]):
            return self._load_single_object(data)
        if len(lines) < 2:
            raise self._unreadable("its snapshot line is cut short")
        if len(first) != 3 or not isinstance(first[1], int) or not isinstance(first[2], dict):
            raise self._unreadable("its snapshot line is not [format, seq, state]")
        seq: int = first[1]
        state: dict[str, Any] = first[2]
        self._snapshot_bytes = len(lines[0]) + 1
        # lines[-1] is what follows the last line end: empty, or a record the worker died writing
        for number, line in enumerate(lines[1:-1], start=2):
            seq = self._replay(state, seq, line, number)
        self._seq = seq
        self._journal_bytes = len(data) - self._snapshot_bytes - len(lines[-1])
        return state

    def _load_single_object(self, data: bytes) -> dict[str, Any]:
        """Progress written before the journal: one JSON object (the first save rewrites it as a journal)."""
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._unreadable(str(exc)) from None
        return _parsed_progress(text, f"file {str(self.path)!r}", self._way_out())

    def _replay(self, state: dict[str, Any], seq: int, line: bytes, number: int) -> int:
        """Apply one complete record line to ``state``; return the last seq applied."""
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._unreadable(f"line {number} is not JSON, and later lines follow it") from None
        if not isinstance(record, dict) or not isinstance(record.get("seq"), int):
            raise self._unreadable(f"line {number} is not a change record")
        if record["seq"] <= seq:
            return seq  # written twice: already applied
        if record["seq"] != seq + 1:
            raise self._unreadable(f"line {number} is change {record['seq']} but change {seq + 1} is missing")
        try:
            for path, value in record.get("set", []):
                _put(state, path, value)
            for path in record.get("del", []):
                _drop(state, path)
        except (TypeError, ValueError, AttributeError):
            raise self._unreadable(f"line {number} does not hold [path, value] changes") from None
        return seq + 1

    def save(self, state: dict[str, Any]) -> None:
        """Write the whole state as a new snapshot (records so far are folded into it)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = _line([JOURNAL_FORMAT, self._seq, state])
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_bytes(line)
        self._close()
        tmp.replace(self.path)
        self._snapshot_bytes, self._journal_bytes = len(line), 0
        # unbuffered: each record is one write() of the whole line, nothing waits in a buffer
        self._journal = open(self.path, "ab", buffering=0)  # noqa: SIM115 - kept open across saves, closed by _close

    def save_changes(self, state: dict[str, Any], changed: Iterable[StatePath]) -> None:
        """Record that the entries at ``changed`` now hold what ``state`` holds there (one appended line).

        ``state`` is the whole state: the first save of an attempt, and a save once the journal
        outweighs its snapshot, write it as a new snapshot instead.
        """
        journal = self._journal
        if journal is None or self._journal_bytes > max(COMPACT_MIN_BYTES, self._snapshot_bytes):
            self.save(state)
            return
        sets: list[list[Any]] = []
        drops: list[list[str]] = []
        for path in changed:
            found, value = _get(state, path)
            if found:
                sets.append([list(path), value])
            else:
                drops.append(list(path))
        record: dict[str, Any] = {"seq": self._seq + 1, "set": sets}
        if drops:
            record["del"] = drops
        line = _line(record)
        written = journal.write(line)  # one write of a whole line: a kill leaves it whole or torn at the end
        while written is not None and written < len(line):  # a short write (a signal): the rest, in order
            written += journal.write(line[written:]) or 0
        self._seq += 1
        self._journal_bytes += len(line)

    def _close(self) -> None:
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()

    def complete(self, retention: dt.timedelta) -> None:
        """Remove the file: a local path is usually reused by the next run, which must start afresh."""
        self._close()
        self.path.unlink(missing_ok=True)


def _line(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _get(state: dict[str, Any], path: StatePath) -> tuple[bool, Any]:
    here: Any = state
    for part in path:
        if not isinstance(here, dict) or part not in here:
            return False, None
        here = here[part]
    return True, here


def _put(state: dict[str, Any], path: list[str], value: Any) -> None:
    if not path or not all(isinstance(part, str) for part in path):
        raise ValueError(path)
    here = state
    for part in path[:-1]:
        here = here.setdefault(part, {})
    here[path[-1]] = value


def _drop(state: dict[str, Any], path: list[str]) -> None:
    if not path or not all(isinstance(part, str) for part in path):
        raise ValueError(path)
    found, parent = _get(state, tuple(path[:-1]))
    if found and isinstance(parent, dict):
        parent.pop(path[-1], None)


class VariableProgressStore:
    """Progress in an Airflow Variable, keyed by DAG, run, task and map index (survives retries)."""

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    def for_task(cls, context: Any) -> VariableProgressStore:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        key = f"{PROGRESS_PREFIX}{ti.dag_id}:{ti.run_id}:{ti.task_id}:{map_index}"
        return cls(key)

    def load(self) -> dict[str, Any] | None:
        """The progress, ``None`` when there is none; ``DialerProgressError`` when it is there but unreadable.

        Airflow answers "not found" for a Variable its Fernet key cannot decrypt (the server logs
        the error), so an absent value is told apart from an undecryptable one by the key list,
        which comes from the metadata database without decrypting anything.
        """
        from airflow.sdk import Variable

        way_out = f"delete the Airflow Variable {self.key!r} (Admin > Variables, or `airflow variables delete`)"
        raw = Variable.get(self.key, default=None)
        if raw is None:
            # Variable.keys (the Task SDK's key listing) is in Airflow 3.3; where it is missing an
            # undecryptable value cannot be told from an absent one
            keys = getattr(Variable, "keys", None)
            if keys is not None and self.key in keys(prefix=self.key):
                raise DialerProgressError(
                    _unreadable(
                        f"Variable {self.key!r}",
                        "Airflow cannot decrypt its value (was the Fernet key rotated without re-encrypting?)",
                        way_out,
                    )
                )
            return None
        return _parsed_progress(str(raw), f"Variable {self.key!r}", way_out)

    def save(self, state: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, state, serialize_json=True)

    def complete(self, retention: dt.timedelta) -> None:
        from airflow.sdk import Variable

        state = self.load()
        if state is not None:
            state["completed_at"] = _utcnow().isoformat()
            self.save(state)
        keys = getattr(Variable, "keys", None)
        if keys is None:  # an Airflow without the key listing: nothing older can be found
            return
        dag_prefix = ":".join(self.key.split(":")[:2]) + ":"
        cutoff = _utcnow() - retention
        for key in list(keys(prefix=dag_prefix)):
            if key == self.key:
                continue
            raw = Variable.get(key, default=None)
            try:
                done = dt.datetime.fromisoformat(json.loads(raw)["completed_at"]) if raw else None
            except (ValueError, TypeError, KeyError):
                continue  # unreadable, or a task still running or failed: kept
            if done is not None and done < cutoff:
                Variable.delete(key)
