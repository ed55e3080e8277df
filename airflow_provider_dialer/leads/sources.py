"""Where leads come from: an iterable or XCom value, CSV or JSON Lines files (local or object storage), a SQL query.

Every source streams: it yields ``(row_number, item)`` one row at a time, where ``row_number`` is the
1-based data row (for CSV the data row after the header; blank lines are not rows) and ``item`` is a
mapping, a ``Lead``, or a ``BadRow`` saying why the row could not be read. A source never raises on
row content; it raises only when the source itself cannot be opened or read (missing file, SQL error).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, Protocol, runtime_checkable

from airflow_provider_dialer.exceptions import DialerConfigError

SourceRow = tuple[int, Any]
_SNIFF_BYTES = 65536
_DELIMITERS = (",", ";", "\t", "|")
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


class BadRow(NamedTuple):
    """A row that could not be read as an object; ``preview`` is a short, shortened view of it."""

    detail: str
    preview: str = ""


@runtime_checkable
class LeadSource(Protocol):
    """Anything with ``rows()`` yielding ``(row_number, mapping | Lead | BadRow)``."""

    def rows(self) -> Iterator[SourceRow]: ...


def _preview(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class IterableSource:
    """An in-memory iterable (an XCom value, a list, a generator) of dicts or ``Lead`` objects."""

    items: Iterable[Any]

    def rows(self) -> Iterator[SourceRow]:
        from airflow_provider_dialer.leads.model import Lead

        for n, item in enumerate(self.items, 1):
            if isinstance(item, (Mapping, Lead)):
                yield n, item
            else:
                yield n, BadRow(f"not an object ({type(item).__name__})", _preview(item))


def _is_object_storage(path: object) -> bool:
    return hasattr(path, "protocol") and hasattr(path, "fs")


def open_binary(path: Any, conn_id: str | None = None, mode: str = "rb") -> IO[Any]:
    """Open a local path, a ``scheme://`` URL or an ``ObjectStoragePath``; ``.gz`` is decompressed."""
    if isinstance(path, str) and "://" in path:
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(path, conn_id=conn_id) if conn_id else ObjectStoragePath(path)
    if _is_object_storage(path):
        handle: IO[Any] = path.open(mode)
    else:
        handle = open(os.fspath(path), mode)  # noqa: SIM115 - closed by the caller
    if str(path).endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=handle, mode=mode)  # type: ignore[return-value]
    return handle


class _DecodedLines:
    """Binary lines decoded one by one, remembering which physical lines had undecodable bytes.

    Decoding per line (instead of a TextIOWrapper) lets one bad line become one rejected row
    instead of an exception that ends the whole run.
    """

    def __init__(self, raw_lines: Iterable[bytes], encoding: str) -> None:
        self._raw = raw_lines
        self.encoding = encoding
        self.line = 0
        self.bad: dict[int, str] = {}

    def __iter__(self) -> Iterator[str]:
        enc = self.encoding
        for raw in self._raw:
            self.line += 1
            try:
                yield raw.decode(enc)
            except UnicodeDecodeError as exc:
                self.bad[self.line] = f"bytes not valid {enc} at offset {exc.start}; declare the file's encoding"
                yield raw.decode(enc, "replace")

    def bad_between(self, first: int, last: int) -> str | None:
        """The decode problem of any line in ``[first, last]``, forgetting lines up to ``last``."""
        if not self.bad:
            return None
        found = next((self.bad[n] for n in range(first, last + 1) if n in self.bad), None)
        for n in [n for n in self.bad if n <= last]:
            del self.bad[n]
        return found


def _open_lines(handle: IO[bytes], encoding: str | None) -> tuple[Iterator[str], _DecodedLines | None, str]:
    """Detect BOM and encoding from the first bytes, then stream decoded lines."""
    head: list[bytes] = []
    size = 0
    raw_iter = iter(handle)
    for line in raw_iter:
        head.append(line)
        size += len(line)
        if size >= _SNIFF_BYTES:
            break
    exhausted = size < _SNIFF_BYTES
    first = head[0] if head else b""
    bom_encoding = next((enc for bom, enc in _BOMS if first.startswith(bom)), None)
    declared = encoding.lower().replace("_", "-") if encoding else None
    if bom_encoding == "utf-16" or (declared and declared.startswith("utf-16")):
        # UTF-16 lines cannot be split on b"\n"; decode the stream as a whole (bad bytes -> U+FFFD)
        import io
        import itertools

        class _Chain(io.RawIOBase):
            def __init__(self, chunks: Iterator[bytes]) -> None:
                self._chunks, self._buf = chunks, b""

            def readable(self) -> bool:
                return True

            def readinto(self, b: Any) -> int:
                while not self._buf:
                    try:
                        self._buf = next(self._chunks)
                    except StopIteration:
                        return 0
                n = min(len(b), len(self._buf))
                b[:n], self._buf = self._buf[:n], self._buf[n:]
                return n

        stream = io.TextIOWrapper(
            io.BufferedReader(_Chain(itertools.chain(head, raw_iter))),
            encoding=encoding or "utf-16", errors="replace", newline="",
        )
        return iter(stream), None, encoding or "utf-16"
    if bom_encoding == "utf-8":
        head[0] = first[3:]
        chosen = "utf-8" if not declared or declared in ("utf-8", "utf8", "utf-8-sig") else encoding  # type: ignore[assignment]
    elif encoding:
        chosen = "utf-8" if declared == "utf-8-sig" else encoding
    else:
        import codecs

        sample = b"".join(head)
        chosen = "latin-1"
        for candidate in ("utf-8", "cp1252"):
            try:
                codecs.getincrementaldecoder(candidate)().decode(sample, final=exhausted)
                chosen = candidate
                break
            except UnicodeDecodeError:
                continue
    try:
        import codecs

        codecs.lookup(chosen)
    except LookupError:
        raise DialerConfigError(f"unknown encoding {chosen!r}") from None
    import itertools

    lines = _DecodedLines(itertools.chain(head, raw_iter), chosen)
    return iter(lines), lines, chosen


#: largest CSV cell accepted (bytes); a bigger one makes its row a ``bad_row`` reject
CSV_FIELD_LIMIT = 16 * 2**20


def _unique(names: list[str]) -> list[str]:
    """Header names made unique (``phone, phone`` -> ``phone, phone_2``), so no column's cells are lost."""
    taken: set[str] = set()
    out = []
    for name in names:
        candidate, k = name, 1
        while candidate in taken:
            k += 1
            candidate = f"{name}_{k}"
        taken.add(candidate)
        out.append(candidate)
    return out


def _detect_delimiter(header_line: str) -> str:
    counts = [(header_line.count(d), -i, d) for i, d in enumerate(_DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] > 0 else ","


@dataclass(frozen=True)
class CsvSource:
    """A CSV file with a header row, local or on object storage (``file://``, ``s3://``, ``gs://`` ...).

    :param path: a local path, a URL, or an ``ObjectStoragePath``.
    :param delimiter: one character; detected from the header line (``,`` ``;`` tab ``|``) when ``None``.
    :param encoding: declared encoding; when ``None`` a BOM decides, else UTF-8 if the first 64 KiB
        decode as UTF-8, else cp1252, else latin-1. A UTF-8 BOM is always stripped.
    :param conn_id: Airflow connection for the object store (``ObjectStoragePath(..., conn_id=...)``).
    """

    path: Any
    delimiter: str | None = None
    encoding: str | None = None
    conn_id: str | None = None
    quotechar: str = '"'

    def rows(self) -> Iterator[SourceRow]:
        with open_binary(self.path, self.conn_id) as handle:
            yield from self._rows(handle)

    def _rows(self, handle: IO[bytes]) -> Iterator[SourceRow]:
        records = self._values(handle)
        keys = next(records, None)
        if keys is None:
            return
        for n, values in records:
            yield n, dict(zip(keys, values)) if type(values) is list else values

    def _records(self) -> Iterator[Any]:
        """Internal fast path for ``prepare_leads``: first the header's column names (a list), then
        ``(row_number, values)`` with ``values`` a list of at most as many cells as the header (the
        row ``rows()`` turns into ``dict(zip(names, values))``) or a ``BadRow``. Nothing when the
        file has no header."""
        with open_binary(self.path, self.conn_id) as handle:
            yield from self._values(handle)

    def _values(self, handle: IO[bytes]) -> Iterator[Any]:
        lines, decoded, _ = _open_lines(handle, self.encoding)
        # find the header: the first non-blank line, peeked to detect the delimiter
        pending: list[str] = []
        for line in lines:
            if line.strip():
                pending.append(line)
                break
        if not pending:
            return
        delimiter = self.delimiter or _detect_delimiter(pending[0])
        import itertools

        # Python's csv refuses cells over 128 KiB by default; free-form data fields can be larger
        if csv.field_size_limit() < CSV_FIELD_LIMIT:
            csv.field_size_limit(CSV_FIELD_LIMIT)
        reader = csv.reader(itertools.chain(pending, lines), delimiter=delimiter, quotechar=self.quotechar)
        try:
            header = next(reader)
        except (csv.Error, StopIteration):
            return
        keys = _unique([h.strip() or f"column_{i}" for i, h in enumerate(header, 1)])
        yield keys
        width = len(keys)
        last_line = reader.line_num
        n = 0
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                n += 1
                problem = decoded.bad_between(last_line + 1, reader.line_num) if decoded else None
                last_line = reader.line_num
                yield n, BadRow(f"CSV error: {exc}" if problem is None else problem)
                continue
            first, last_line = last_line + 1, reader.line_num
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line: not a data row
            n += 1
            if decoded is not None and decoded.bad:
                problem = decoded.bad_between(first, last_line)
                if problem is not None:
                    yield n, BadRow(problem)
                    continue
            if len(values) > width:
                if any(v.strip() for v in values[width:]):
                    yield n, BadRow(f"row has {len(values)} fields, the header has {width}", _preview(delimiter.join(values)))
                    continue
                values = values[:width]
            yield n, values


@dataclass(frozen=True)
class JsonLinesSource:
    """A JSON Lines file (one JSON object per line), local or on object storage.

    Blank lines are skipped and are not rows; a line that is not JSON, or is JSON but not an
    object, is a ``bad_row`` reject. Encoding: declared, else BOM, else UTF-8 (as for CSV).
    """

    path: Any
    encoding: str | None = None
    conn_id: str | None = None

    def rows(self) -> Iterator[SourceRow]:
        with open_binary(self.path, self.conn_id) as handle:
            lines, decoded, _ = _open_lines(handle, self.encoding)
            n = 0
            loads = json.loads
            for text in lines:
                if not text.strip():
                    if decoded is not None:
                        decoded.bad.pop(decoded.line, None)
                    continue
                n += 1
                if decoded is not None and decoded.bad:
                    problem = decoded.bad.pop(decoded.line, None)
                    if problem is not None:
                        yield n, BadRow(problem)
                        continue
                try:
                    item = loads(text)
                except (ValueError, RecursionError) as exc:
                    yield n, BadRow(f"not JSON: {exc}"[:200], _preview(text.strip()))
                    continue
                if isinstance(item, dict):
                    yield n, item
                else:
                    yield n, BadRow(f"not an object ({type(item).__name__})", _preview(text.strip()))


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
                    yield n, dict(zip(keys, values))
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
    if isinstance(spec, (str, os.PathLike)) or _is_object_storage(spec):
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
    raise DialerConfigError(f"a leads source is an iterable of rows, a file path or a LeadSource, not {type(spec).__name__}")
