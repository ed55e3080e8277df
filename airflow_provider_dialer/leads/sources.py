"""Where leads come from: an iterable or XCom value, CSV or JSON Lines files (local or object storage), a SQL query.

Every source streams: it yields ``(row_number, item)`` one row at a time, where ``row_number`` is the
1-based data row (for CSV the data row after the header; blank lines are not rows) and ``item`` is a
mapping, a ``Lead``, or a ``BadRow`` saying why the row could not be read. A source never raises on
row content; it raises only when the source itself cannot be opened or read (missing file, SQL error)
or cannot be understood at all (an encoding it cannot tell, a header that is a lead), and then
before its first row.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError

# the public names of the sources live in the modules below; this module is where users import them from
from airflow_provider_dialer.leads.csv_source import CsvSource, masked_names
from airflow_provider_dialer.leads.lines import MAX_RECORD_LINES, MAX_RECORD_SIZE, CheckedLines
from airflow_provider_dialer.leads.source_rows import (
    MALFORMED,
    BadRow,
    IterableSource,
    LeadSource,
    SourceRow,
    is_object_storage,
    open_binary,
    preview,
)

__all__ = [
    "MALFORMED",
    "MAX_RECORD_LINES",
    "MAX_RECORD_SIZE",
    "BadRow",
    "CsvSource",
    "IterableSource",
    "JsonLinesSource",
    "LeadSource",
    "SourceRow",
    "SqlSource",
    "as_source",
    "masked_names",
    "open_binary",
]


@dataclass(frozen=True)
class JsonLinesSource:
    """A JSON Lines file (one JSON object per line), local or on object storage.

    Lines end in LF, CRLF or a bare CR. Blank lines are skipped and are not rows; a line that is not
    JSON, or is JSON but not an object, is a ``bad_row`` reject; a line with a NUL byte or more than
    ``max_record_size`` characters is a ``malformed_record``. Encoding: as for ``CsvSource``.
    """

    path: Any
    encoding: str | None = None
    conn_id: str | None = None
    max_record_size: int = MAX_RECORD_SIZE

    def check_encoding(self) -> None:
        """Detect the file's encoding from its first bytes, raising ``DialerConfigError`` as reading would."""
        with open_binary(self.path, self.conn_id) as handle:
            CheckedLines(handle, self.encoding, self.max_record_size, str(self.path))

    def rows(self) -> Iterator[SourceRow]:
        with open_binary(self.path, self.conn_id) as handle:
            lines = CheckedLines(handle, self.encoding, self.max_record_size, str(self.path))
            problems = lines.problems
            n = 0
            loads = json.loads
            for text in lines:
                found = problems.pop(lines.number, None) if problems else None
                if found is None and not text.strip():
                    continue
                n += 1
                if found is not None:
                    yield n, BadRow(found[1], "", found[0])
                    continue
                try:
                    item = loads(text)
                except (ValueError, RecursionError) as exc:
                    yield n, BadRow(f"not JSON: {exc}"[:200], preview(text.strip()))
                    continue
                if isinstance(item, dict):
                    yield n, item
                else:
                    yield n, BadRow(f"not an object ({type(item).__name__})", preview(text.strip()))


@dataclass(frozen=True)
class SqlSource:
    """A SQL query through any Airflow connection whose hook is a common.sql ``DbApiHook``.

    Rows are read in pages of ``fetch_size`` with ``cursor.fetchmany``; with ``server_side=True``
    the cursor is a named (server-side) cursor where the driver supports one (psycopg2/psycopg3:
    ``conn.cursor(name=...)``), so the database does not ship the whole result at once. For other
    drivers pass ``cursor_factory(conn) -> cursor`` (e.g. MySQLdb's ``SSCursor``).
    Column names come from ``cursor.description``.
    """

    conn_id: str
    sql: str
    parameters: Any = None
    fetch_size: int = 5000
    server_side: bool = False
    cursor_name: str = "dialer_leads"
    cursor_factory: Any = None

    def rows(self) -> Iterator[SourceRow]:
        from airflow.sdk import BaseHook

        try:
            from airflow.providers.common.sql.hooks.sql import DbApiHook
        except ImportError:
            raise DialerConfigError("SqlSource needs apache-airflow-providers-common-sql") from None
        hook = BaseHook.get_hook(self.conn_id)
        if not isinstance(hook, DbApiHook):
            raise DialerConfigError(
                f"connection {self.conn_id!r} has hook {type(hook).__name__}, not a common.sql DbApiHook"
            )
        conn = hook.get_conn()
        cursor = None
        try:
            if self.cursor_factory is not None:
                cursor = self.cursor_factory(conn)
            elif self.server_side:
                cursor = conn.cursor(name=self.cursor_name)
                if hasattr(cursor, "itersize"):
                    cursor.itersize = self.fetch_size
            else:
                cursor = conn.cursor()
            if self.parameters is None:
                cursor.execute(self.sql)
            else:
                cursor.execute(self.sql, self.parameters)
            keys = [d[0] for d in cursor.description or ()]
            n = 0
            while True:
                batch = cursor.fetchmany(self.fetch_size)
                if not batch:
                    break
                for values in batch:
                    n += 1
                    yield n, dict(zip(keys, values, strict=False))
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except Exception:  # closing must not hide the real error
                    pass
            conn.close()


def as_source(spec: Any) -> LeadSource:
    """Turn what a user passes into a source.

    A ``LeadSource`` is used as is; a ``str``/``os.PathLike``/``ObjectStoragePath`` is a file whose
    suffix picks the reader (``.csv``/``.tsv``/``.txt`` -> CSV, ``.jsonl``/``.ndjson`` -> JSON Lines,
    also with ``.gz``); any other iterable (list, tuple, generator, XCom value) is an ``IterableSource``.
    """
    if isinstance(spec, LeadSource) and not isinstance(spec, type):
        return spec
    if isinstance(spec, (str, os.PathLike)) or is_object_storage(spec):
        name = str(spec).lower().removesuffix(".gz")
        if name.endswith((".jsonl", ".ndjson")):
            return JsonLinesSource(spec)
        if name.endswith((".csv", ".tsv", ".txt")):
            return CsvSource(spec, delimiter="\t" if name.endswith(".tsv") else None)
        raise DialerConfigError(
            f"cannot tell the format of {str(spec)!r} from its suffix; use CsvSource(...) or JsonLinesSource(...)"
        )
    if isinstance(spec, (bytes, bytearray, Mapping)):
        raise DialerConfigError(
            f"a leads source is an iterable of rows, a file path or a LeadSource, not {type(spec).__name__}"
        )
    if isinstance(spec, Iterable):
        return IterableSource(spec)
    raise DialerConfigError(
        f"a leads source is an iterable of rows, a file path or a LeadSource, not {type(spec).__name__}"
    )
