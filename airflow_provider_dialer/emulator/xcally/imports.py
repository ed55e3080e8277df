"""XCALLY's two-step CSV upload in the emulator: files staged by step 1, the imports step 2 starts, and the clock
that stores their rows progressively (``config.xcally_import_rate`` contacts/s), as Motion does in the background.

Plain Python, no HTTP. :class:`CsvImports` belongs to one :class:`~.backend.XCallyBackend`, which hands it
the way to store rows and to read a list's contacts (for the ``duplicates`` check).
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from airflow_provider_dialer.emulator.state import EmulatorContext, call_later
from airflow_provider_dialer.emulator.xcally.wire import UploadBind, as_text, is_contact_field, message, validation

#: seconds between two background steps of a CSV import
IMPORT_TICK = 0.05


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | None]:
    """The CSV's rows, ``None`` for a row the reader refuses (a cell over the csv module's 128 KiB field
    limit, a stray quote): that row is counted invalid and the import goes on at the next line, as a
    server would, instead of the error ending the import loop (the import then never finishes)."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None


def _positive(text: str) -> bool:
    try:
        return int(text) > 0 if text.strip() else True
    except ValueError:
        return False


class ImportJob:
    """A CSV import in progress: its rows are read and stored progressively (``config.xcally_import_rate``/s)."""

    def __init__(
        self, pid: int, list_id: int, text: str, columns: dict[str, int], duplicates: list[str], header_len: int
    ) -> None:
        self.pid = pid
        self.list_id = list_id
        reader = csv.reader(io.StringIO(text))
        next(reader, None)  # header (bind already read it)
        self.reader: Iterator[list[str] | None] = _records(reader)
        self.columns = columns
        self.duplicates = duplicates
        self.header_len = header_len
        self.started = time.monotonic()
        self.read = 0
        self.stored = 0
        self.skipped_duplicates = 0
        self.invalid = 0
        self.done = False
        self.dup_keys: set[tuple[Any, ...]] | None = None

    def public(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ListId": self.list_id,
            "status": "done" if self.done else "running",
            "read": self.read,
            "stored": self.stored,
            "skipped_duplicates": self.skipped_duplicates,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
        }


#: stores validated contact rows into a list: (list id, rows, the endpoint they count under)
Store = Callable[[int, list[dict[str, Any]], str], object]


class CsvImports:
    """The staged files and the imports of one XCALLY backend (it holds the lock around every call)."""

    def __init__(
        self,
        ctx: EmulatorContext,
        store: Store,
        list_contacts: Callable[[int], Iterable[dict[str, Any]]],
        has_list: Callable[[int], bool],
    ) -> None:
        self.ctx = ctx
        self._store = store
        self._list_contacts = list_contacts
        self._has_list = has_list
        self.reset()

    def reset(self) -> None:
        with self.ctx.lock:
            self.staged: dict[str, bytes] = {}
            self.jobs: dict[int, ImportJob] = {}
            self._next_pid = 1000
            self._ticking = False

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            return {"staged": sorted(self.staged), "imports": [job.public() for job in self.jobs.values()]}

    # -- step 1: stage the file -----------------------------------------------------------------

    def stage(self, filename: str, content: bytes) -> dict[str, Any]:
        """Keep the file under a new unique name; the answer names it (``file.name``) for step 2."""
        if not content:
            raise message("empty file", 400)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(filename))[-100:] or "upload.csv"
        staged = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}-{safe}"
        with self.ctx.lock:
            self.staged[staged] = content
        return {"file": {"name": staged, "originalname": str(filename), "size": len(content)}}

    # -- step 2: bind its columns into a list, and import ----------------------------------------

    def bind(self, name: str, data: UploadBind) -> int:
        """Check the binding against the contact fields and the file's header, then start the import: its ``pid``."""
        errors = [
            {"message": f"binding target {f!r} is not a contact field", "path": "binding"}
            for f in data.binding
            if not is_contact_field(f)
        ]
        if "firstName" not in data.binding:
            errors.append({"message": "binding must map firstName (NOT NULL)", "path": "binding"})
        errors += [
            {"message": f"duplicates field {f!r} is not a contact field", "path": "duplicates"}
            for f in data.duplicates or ()
            if not is_contact_field(f)
        ]
        if errors:
            raise validation(errors)
        with self.ctx.lock:
            content = self.staged.get(name)
            if content is None:
                # e.g. the document's literal step 2 (upload/mylist.csv): the name to bind is the
                # ``file.name`` step 1 answered, not the name of the file on the client's disk. The body's
                # ``id`` is not compared with it: the document's own example sends "file.csv" there
                raise message(f"File not found: {name} (bind the file.name the upload answered)", 404)
            if not self._has_list(data.ListId):
                raise message("List not found", 404)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise message("the CSV file is not UTF-8", 400) from None
        try:
            header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        except csv.Error as exc:
            raise message(f"the CSV header cannot be read: {exc}", 400) from None
        positions = {col.strip(): i for i, col in enumerate(header)}
        columns: dict[str, int] = {}
        for field, column in data.binding.items():
            if column.strip() not in positions:
                errors.append(
                    {"message": f"column {column!r} (bound to {field}) is not in the CSV header", "path": "binding"}
                )
            else:
                columns[field] = positions[column.strip()]
        if errors:
            raise validation(errors)
        with self.ctx.lock:
            self.staged.pop(name, None)
            pid = self._next_pid
            self._next_pid += 1
            self.jobs[pid] = ImportJob(pid, data.ListId, text, columns, list(data.duplicates or []), len(header))
            self._schedule_tick()
        return pid

    # -- the background clock ---------------------------------------------------------------------

    def _schedule_tick(self) -> None:
        if self._ticking:
            return

        def tick() -> None:
            with self.ctx.lock:
                running = False
                try:
                    self.advance()
                    running = any(not job.done for job in self.jobs.values())
                finally:
                    # an unexpected error must not leave _ticking set with no tick scheduled (the
                    # import would then advance only when something reads)
                    if running:
                        call_later(IMPORT_TICK, tick)
                    else:
                        self._ticking = False

        self._ticking = call_later(IMPORT_TICK, tick)

    def advance(self) -> None:
        """Store what each running import has reached by now (``xcally_import_rate`` contacts/s); holds the lock."""
        rate = max(1.0, float(self.ctx.config.xcally_import_rate))
        now = time.monotonic()
        for job in self.jobs.values():
            if job.done:
                continue
            due = int((now - job.started) * rate) - job.read
            if due > 0:
                self._import_rows(job, due)

    def _import_rows(self, job: ImportJob, n: int) -> None:
        bound = list(job.columns.items())
        i_first = job.columns["firstName"]
        i_prio = job.columns.get("priority")
        dups = job.duplicates
        if dups and job.dup_keys is None:
            job.dup_keys = {tuple(as_text(c.get(f)) for f in dups) for c in self._list_contacts(job.list_id)}
        rows = []
        width = job.header_len
        list_id = job.list_id
        for record in job.reader:
            job.read += 1
            if record is not None and len(record) < width:
                record += [""] * (width - len(record))
            if record is None:  # a row the CSV reader refused (see _records)
                job.invalid += 1
            elif not record[i_first].strip() or (i_prio is not None and not _positive(record[i_prio])):
                job.invalid += 1
            else:
                row: dict[str, Any] = {f: record[i] for f, i in bound if record[i]}
                row["ListId"] = list_id
                if i_prio is not None and "priority" in row:
                    row["priority"] = int(row["priority"])
                key = tuple(as_text(row.get(f)) for f in dups) if job.dup_keys is not None else None
                if key is None or job.dup_keys is None:
                    rows.append(row)
                elif key in job.dup_keys:
                    job.skipped_duplicates += 1
                else:
                    job.dup_keys.add(key)
                    rows.append(row)
            n -= 1
            if n <= 0:
                break
        else:
            job.done = True
            job.reader = iter(())
            job.dup_keys = None
        if rows:
            self._store(job.list_id, rows, "xcally.csv")
            job.stored += len(rows)
