"""CSV files as leads: the record feed over checked lines, the header checks, and ``CsvSource``.

A quoted cell may span lines, so records are cut from physical lines with bounds on their length
(see ``CsvSource``); a record that breaks a bound or a line that has a problem becomes a ``BadRow``.
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.lines import MAX_RECORD_LINES, MAX_RECORD_SIZE, CheckedLines
from airflow_provider_dialer.leads.source_rows import MALFORMED, BadRow, SourceRow, open_binary, preview

_DELIMITERS = (",", ";", "\t", "|")


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


def _data_like(cell: str) -> str | None:
    """What a header cell holds when it is lead data rather than a column name, else ``None``."""
    text = cell.strip()
    if sum(c.isdigit() for c in text) >= 7 and all(c.isdigit() or c in "+-(). " for c in text):
        return "a phone number"
    if "@" in text and "." in text.rpartition("@")[2] and " " not in text:
        return "an e-mail address"
    return None


def masked_names(names: Iterable[str], limit: int = 40) -> str:
    """Column names for an error message: phone-like ones masked, long lists shortened."""
    from airflow_provider_dialer.leads.phones import mask_phone

    shown = [mask_phone(n) if _data_like(n) == "a phone number" else n for n in list(names)[:limit]]
    return ", ".join(repr(n) for n in shown) + (", ..." if len(shown) == limit else "")


#: ``_Feed.stopped`` when a ``LineChunk``'s lines end inside a record
_CUT = "the lines end inside a record"


class _Feed:
    """Physical lines handed to ``csv.reader`` one record at a time.

    The reader of ``CsvSource`` moves ``start`` to the line after each record it gets back, so a
    line numbered ``start`` opens a record and any other line continues one (a quoted cell holding
    a line break). A record still open after ``max_lines`` lines, past ``max_size`` characters or
    at the end of the file makes the feed stop (``stopped`` says why); the reader then rejects the
    record's first line and feeds the lines after it again (``held``, then ``pending``).
    """

    __slots__ = (
        "lines",
        "pending",
        "held",
        "start",
        "last",
        "size",
        "stopped",
        "first_line",
        "max_lines",
        "max_size",
        "eof",
    )

    def __init__(self, lines: CheckedLines, max_lines: int, max_size: int) -> None:
        from collections import deque

        self.lines = lines
        self.pending: Any = deque()
        self.held: list[tuple[int, str]] = []
        self.start, self.last, self.size = 1, 0, 0
        self.stopped: str | None = None
        self.first_line = ""
        self.max_lines, self.max_size = max_lines, max_size
        #: the lines end where the file ends; ``False`` for a ``LineChunk`` that more lines follow
        self.eof = True

    def __iter__(self) -> Iterator[str]:
        pending, held, lines = self.pending, self.held, self.lines
        max_lines, max_size = self.max_lines, self.max_size
        # CheckedLines.read inline: one call less per line on the path every row takes
        readline, cap, problems, check = lines.stream.readline, lines.limit + 1, lines.problems, lines.checked
        while True:
            if pending:
                num, line = pending.popleft()
            else:
                line = readline(cap)
                if not line:
                    if self.last >= self.start:
                        self.stopped = "a quoted cell is still open at the end of the file" if self.eof else _CUT
                    return
                lines.number = num = lines.number + 1
                if len(line) == cap and line[-1] not in "\r\n":
                    line = lines.skip_long(num)
                elif not line.isascii():
                    line = check(num, line)
                elif "\x00" in line:
                    problems[num] = (MALFORMED, f"NUL byte in line {num}")
            if num == self.start:
                self.size = len(line)
                self.first_line = line
                if held:
                    held.clear()
            else:
                size = self.size + len(line)
                if num - self.start >= max_lines or size > max_size:
                    pending.appendleft((num, line))
                    self.stopped = (
                        f"a quoted cell is still open after {max_lines} lines"
                        if num - self.start >= max_lines
                        else f"the record is longer than {max_size} characters"
                    )
                    return
                self.size = size
                held.append((num, line))
            self.last = num
            yield line


@dataclass(frozen=True)
class CsvSource:
    """A CSV file, local or on object storage (``file://``, ``s3://``, ``gs://`` ...).

    Lines may end in LF, CRLF or a bare CR (mixed in one file too). A quoted cell may hold line
    breaks, so one record may span several lines, but at most ``max_record_lines`` of them and
    ``max_record_size`` characters: a record still open past either bound, or at the end of the
    file (an unbalanced quote), has its first line rejected as ``malformed_record`` with the line
    range, and reading resumes on the next line. A record holding a NUL byte or an over-long line
    is rejected whole (``malformed_record``); one holding undecodable bytes is a ``bad_row``.

    :param path: a local path, a URL, or an ``ObjectStoragePath``.
    :param delimiter: one character; detected from the first line (``,`` ``;`` tab ``|``) when ``None``.
    :param encoding: declared encoding, trusted (a UTF-16/32 byte-order mark must agree with it).
        When ``None``: a byte-order mark decides (UTF-8, UTF-16/32 LE/BE); else a NUL-heavy start
        is UTF-16/32 without a mark, its byte order read from the text; else UTF-8, unless the lines
        are not UTF-8, then cp1252 (latin-1 for bytes cp1252 lacks). A file whose first 64 KiB mix
        UTF-8 and other lines, or that reads as nothing, raises ``DialerConfigError`` before any row;
        later lines that break the choice are rejected one by one.
    :param conn_id: Airflow connection for the object store (``ObjectStoragePath(..., conn_id=...)``).
    :param fieldnames: column names for a file without a header row (its first line is then a lead).
        Without them the first line is the header, and a header that holds a phone number or an
        e-mail address raises ``DialerConfigError`` (a file without header would turn its first
        lead into column names).
    :param max_record_lines: physical lines one record may span.
    :param max_record_size: characters one record (so every cell) may hold.
    """

    path: Any
    delimiter: str | None = None
    encoding: str | None = None
    conn_id: str | None = None
    quotechar: str = '"'
    fieldnames: tuple[str, ...] | None = None
    max_record_lines: int = MAX_RECORD_LINES
    max_record_size: int = MAX_RECORD_SIZE

    def __post_init__(self) -> None:
        if self.fieldnames is not None:
            if isinstance(self.fieldnames, str) or not all(isinstance(f, str) for f in self.fieldnames):
                raise DialerConfigError("CsvSource.fieldnames is a list of column names")
            object.__setattr__(self, "fieldnames", tuple(self.fieldnames))
        if self.max_record_lines < 1 or self.max_record_size < 1:
            raise DialerConfigError("CsvSource.max_record_lines and max_record_size must be at least 1")

    def rows(self) -> Iterator[SourceRow]:
        with open_binary(self.path, self.conn_id) as handle:
            yield from self._rows(handle)

    def _rows(self, handle: IO[bytes]) -> Iterator[SourceRow]:
        records = self._values(handle)
        keys = next(records, None)
        if keys is None:
            return
        for n, values in records:
            yield n, dict(zip(keys, values, strict=False)) if type(values) is list else values

    def records(self, chunk_after: int | None = None, chunk_lines: int = 1000) -> Generator[Any, None, None]:
        """The rows by position, the fast path ``prepare_leads`` takes: first the header's column names (a list), then
        ``(row_number, values)`` with ``values`` a list of at most as many cells as the header (the
        row ``rows()`` turns into ``dict(zip(names, values))``) or a ``BadRow``. Nothing when the
        file has no line at all.

        With ``chunk_after``: after the first row numbered ``chunk_after`` or more that ends where a
        line ends, the rest of the file comes as ``LineChunk``s of ``chunk_lines`` lines, read and
        checked here, cut into records by whoever parses them (preparation's worker processes)."""
        with open_binary(self.path, self.conn_id) as handle:
            yield from self._values(handle, chunk_after, chunk_lines)

    def header(self) -> list[str] | None:
        """The column names (read from the file's first record unless ``fieldnames`` are given);
        ``None`` for an empty file. Raises ``DialerConfigError`` as reading would (encoding, header)."""
        records = self.records()
        try:
            return next(records, None)
        finally:
            records.close()

    def _values(self, handle: IO[bytes], chunk_after: int | None = None, chunk_lines: int = 1000) -> Iterator[Any]:
        name = str(self.path)
        lines = CheckedLines(handle, self.encoding, self.max_record_size, name)
        feed = _Feed(lines, self.max_record_lines, self.max_record_size)
        # peek at the first non-blank line for the delimiter; the lines go back to the feed
        peeked = feed.pending
        while line := lines.read():
            peeked.append((lines.number, line))
            if line.strip():
                break
        if not peeked:
            return
        delimiter = self.delimiter or _detect_delimiter(peeked[-1][1])
        _allow_record_size(self.max_record_size)
        keys: list[str] | None = None
        if self.fieldnames is not None:
            keys = _unique([h.strip() or f"column_{i}" for i, h in enumerate(self.fieldnames, 1)])
            yield keys
        layout = _Layout(delimiter, self.quotechar, name, self.max_record_lines, self.max_record_size)
        loop = _records(feed, lines, layout, keys, _NEVER if chunk_after is None else chunk_after)
        for item in loop:
            if type(item) is list:
                keys = item
            yield item
        if chunk_after is None or keys is None:
            return
        # handed over at a record's end: the rest goes out as numbered physical lines (``LineChunk``)
        read, problems = lines.read, lines.problems
        first, text = lines.number + 1, list[str]()
        while True:
            line = read()
            if line and len(text) < chunk_lines:
                text.append(line)
                continue
            last = first + len(text) - 1
            theirs = {k: problems.pop(k) for k in sorted(problems) if k <= last} if problems else {}
            if text:
                yield LineChunk(first, text, theirs, not line, layout)
            if not line:
                return
            first, text = last + 1, [line]


#: a ``stop_after`` no run reaches
_NEVER = 1 << 62


def _allow_record_size(size: int) -> None:
    # Python's csv refuses cells over 128 KiB by default; the record bound here is the one that holds
    if csv.field_size_limit() <= size:
        csv.field_size_limit(size + 1)


@dataclass(frozen=True, slots=True)
class _Layout:
    """How a file's records are cut into cells: what a ``LineChunk`` needs to be read anywhere."""

    delimiter: str
    quotechar: str
    name: str
    max_lines: int
    max_size: int


def _records(feed: _Feed, lines: Any, layout: _Layout, keys: list[str] | None, stop_after: int) -> Iterator[Any]:
    """The records of ``feed``: the header's names (a list) when ``keys`` is ``None``, then
    ``(row_number, values or BadRow)``, rows numbered from 1. Returns after the first row numbered
    ``stop_after`` or more that ends with no line waiting in the feed (the next line opens a record).
    """
    name, delimiter, quotechar = layout.name, layout.delimiter, layout.quotechar
    width = len(keys) if keys is not None else 0
    problems = lines.problems
    n = 0
    while True:
        reader = csv.reader(feed, delimiter=delimiter, quotechar=quotechar)
        while True:
            try:
                values: Any = next(reader)
            except StopIteration:
                if feed.stopped is None:
                    return
                values = None
            except csv.Error as exc:
                first, last = feed.start, feed.last
                feed.start = last + 1
                found = lines.problem_in(first, last) if problems else None
                bad = BadRow(found[1], "", found[0]) if found else BadRow(f"CSV error in lines {first}-{last}: {exc}")
                if keys is None:
                    raise DialerConfigError(f"the header of {name} cannot be read: {bad.detail}") from exc
                n += 1
                yield n, bad
                continue
            first, last = feed.start, feed.last
            if feed.stopped is not None:
                if feed.stopped is _CUT:
                    return  # the lines ran out inside a record that goes on past them (``LineChunk``)
                bad = BadRow(
                    f"{feed.stopped} (lines {first}-{last}): an unbalanced quote; line {first} rejected, "
                    f"reading resumes at line {first + 1}",
                    preview(feed.first_line.rstrip("\r\n")),
                    MALFORMED,
                )
                if keys is None:
                    raise DialerConfigError(f"the header of {name} cannot be read: {bad.detail}")
                feed.pending.extendleft(reversed(feed.held))
                feed.held.clear()
                if problems:
                    lines.problem_in(first, first)
                feed.stopped = None
                feed.start, feed.last = first + 1, first
                n += 1
                yield n, bad
                break  # a new reader: the old one is in the middle of the runaway cell
            feed.start = last + 1
            if problems:
                found = lines.problem_in(first, last)
                if found is not None:
                    if keys is None:
                        raise DialerConfigError(f"the header of {name} cannot be read: {found[1]}")
                    n += 1
                    yield n, BadRow(found[1], "", found[0])
                    continue
            if not values or (len(values) == 1 and not values[0].strip()):
                continue  # blank line: not a record
            if keys is None:
                for i, cell in enumerate(values, 1):
                    what = _data_like(cell)
                    if what is not None:
                        raise DialerConfigError(
                            f"the first line of {name} looks like a lead, not a header: column {i} holds {what} "
                            f"({masked_names([cell])}); add a header row, or pass CsvSource(..., fieldnames=[...])"
                        )
                keys = _unique([h.strip() or f"column_{i}" for i, h in enumerate(values, 1)])
                width = len(keys)
                yield keys
                continue
            n += 1
            if len(values) > width:
                if any(v.strip() for v in values[width:]):
                    yield (
                        n,
                        BadRow(
                            f"row has {len(values)} fields, the header has {width}",
                            preview(delimiter.join(values)),
                        ),
                    )
                    continue
                values = values[:width]
            yield n, values
            if n >= stop_after and not feed.pending:
                return


class _NoMoreLines:
    """The line source of a ``LineChunk``'s feed: every line is already in the feed."""

    limit = 0
    number = 0
    problem_in = CheckedLines.problem_in

    def __init__(self, problems: dict[int, tuple[str, str]]) -> None:
        self.problems = problems
        self.stream = self

    def readline(self, size: int = -1) -> str:
        return ""

    def checked(self, n: int, line: str) -> str:  # pragma: no cover - no line is read here
        return line


@dataclass(frozen=True, slots=True)
class LineChunk:
    """Physical lines of a CSV file, already read and checked, to be cut into records elsewhere.

    ``CsvSource.records(chunk_after=...)`` hands the lines after its first rows out this way, so
    worker processes cut the records (``parse``) and the reading process only reads lines.
    ``first`` is the number of the first line, which opens a record; ``problems`` are the lines'
    problems found while reading; ``final`` says the file ends with the last line.
    """

    first: int
    lines: list[str]
    problems: dict[int, tuple[str, str]]
    final: bool
    layout: _Layout

    def parse(self, keys: list[str]) -> tuple[list[tuple[int, Any]], int | None]:
        """The records, numbered from 1 as ``CsvSource.records`` numbers them from the first line, and
        the number of the line where a record still open at the end begins (``None`` if none is, or
        the file ends here: then it is rejected as at the end of any file). The caller reads that
        line and those after it again, with the next chunk's."""
        layout = self.layout
        _allow_record_size(layout.max_size)
        lines = _NoMoreLines(dict(self.problems))
        feed = _Feed(lines, layout.max_lines, layout.max_size)  # type: ignore[arg-type]  # a CheckedLines' shape
        feed.pending.extend(enumerate(self.lines, self.first))
        feed.start, feed.last, feed.eof = self.first, self.first - 1, self.final
        rows = list(_records(feed, lines, layout, keys, _NEVER))
        return rows, (feed.start if feed.stopped is _CUT else None)

    def tail(self, line: int) -> LineChunk:
        """This chunk from line number ``line`` on."""
        return LineChunk(
            line,
            self.lines[line - self.first :],
            {k: v for k, v in self.problems.items() if k >= line},
            self.final,
            self.layout,
        )

    def ended(self) -> LineChunk:
        """This chunk as the file's last."""
        return LineChunk(self.first, self.lines, self.problems, True, self.layout)

    def joined(self, after: LineChunk) -> LineChunk:
        """This chunk and the one that follows it, as one."""
        return LineChunk(
            self.first, self.lines + after.lines, {**self.problems, **after.problems}, after.final, self.layout
        )
