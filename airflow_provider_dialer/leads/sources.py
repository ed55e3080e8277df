"""Where leads come from: an iterable or XCom value, CSV or JSON Lines files (local or object storage), a SQL query.

Every source streams: it yields ``(row_number, item)`` one row at a time, where ``row_number`` is the
1-based data row (for CSV the data row after the header; blank lines are not rows) and ``item`` is a
mapping, a ``Lead``, or a ``BadRow`` saying why the row could not be read. A source never raises on
row content; it raises only when the source itself cannot be opened or read (missing file, SQL error)
or cannot be understood at all (an encoding it cannot tell, a header that is a lead), and then
before its first row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, Protocol, runtime_checkable

from airflow_provider_dialer.exceptions import DialerConfigError

SourceRow = tuple[int, Any]
_DELIMITERS = (",", ";", "\t", "|")
# longest first: a UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
#: reject reason of a record the reader could not delimit or hold (see ``CsvSource``)
MALFORMED = "malformed_record"


class BadRow(NamedTuple):
    """A row that could not be read as an object: why (``detail``), a short view of it (``preview``,
    phones masked in the reject) and the reject reason it becomes (``bad_row`` or ``malformed_record``)."""

    detail: str
    preview: str = ""
    reason: str = "bad_row"


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

        return gzip.GzipFile(fileobj=handle, mode=mode)  # type: ignore[return-value]  # a binary file object
    return handle


#: bytes read to detect the encoding before anything else is read
_SNIFF_BYTES = 65536
#: share of NUL bytes in the first bytes above which the file is taken for UTF-16/32 text
_NUL_SHARE = 0.1
_WIDE = ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be")
#: characters the ``dialer.mark`` error handler puts where bytes could not be decoded
_MARK = re.compile("[\udc00-\udcff]")
#: in a line decoded as UTF-8 with marks, a real non-ASCII character: a valid UTF-8 sequence
_BAD_BYTES = "bad_row"
_REAL_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def _mark(exc: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each undecodable byte ``b`` becomes the lone surrogate ``U+DC00+b``.

    For bytes from 0x80 up this is ``surrogateescape`` (so the bytes can be recovered); unlike it,
    it also takes bytes below 0x80 (UTF-16/32 errors), so a decode never stops a run.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    _MARKS_MADE[0] += 1
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start : exc.end]), exc.end


#: decode errors marked so far in this process: while it has not moved, no line can hold a mark
_MARKS_MADE = [0]
codecs.register_error("dialer.mark", _mark)


class _Prefixed(io.RawIOBase):
    """The sniffed first bytes, then the rest of the handle: a raw stream for ``BufferedReader``."""

    def __init__(self, head: bytes, handle: IO[bytes]) -> None:
        self._head, self._handle = head, handle

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._handle.read(len(b))
        n = len(data)
        b[:n] = data
        return n


def _ascii_compatible(codec: str) -> bool:
    try:
        return "a,\n".encode(codec) == b"a,\n"
    except (LookupError, UnicodeError):
        return False


def _wide_guess(head: bytes, family: str = "utf-", exhausted: bool = False) -> str | None:
    """The UTF-16/32 variant the NUL-heavy ``head`` reads as best, or ``None``.

    A candidate must decode the head without error, give few NUL characters, and give mostly ASCII
    text (a lead file holds digits, delimiters and line breaks whatever its alphabet). When ``head``
    is the whole file, it must also end on a whole character (a 3-byte file is not UTF-16).
    """
    best, best_share = None, 0.5
    for codec in _WIDE:
        if not codec.startswith(family):
            continue
        try:
            # a cut last character waits, unless the file ends there
            text = codecs.getincrementaldecoder(codec)().decode(head, final=exhausted)
        except UnicodeDecodeError:
            continue
        if not text or text.count("\x00") >= len(text) * _NUL_SHARE:  # UTF-32 read as UTF-16 is half NUL
            continue
        share = sum(1 for c in text if c < "\x80") / len(text)
        if share > best_share:
            best, best_share = codec, share
    return best


def _detect(head: bytes, exhausted: bool, declared: str | None, name: str) -> tuple[str, int, str | None]:
    """``(codec, BOM length, adaptive mode)`` for a file starting with ``head``.

    ``adaptive`` is ``None`` when ``codec`` is trusted as is, else the first guess of an
    ASCII-compatible file read line by line: ``"undecided"`` (ASCII so far), ``"utf-8"``,
    ``"cp1252"`` or ``"latin-1"``. Raises ``DialerConfigError`` when the encoding cannot be told.
    """
    wanted = declared.lower().replace("_", "-") if declared else None
    if wanted is not None:
        try:
            wanted = codecs.lookup(wanted).name
        except LookupError:
            raise DialerConfigError(f"unknown encoding {declared!r} for {name}") from None
    for bom, codec in _BOMS:
        if head.startswith(bom):
            family = codec[:6]
            if codec == "utf-8":
                if wanted in (None, "utf-8", "utf-8-sig"):
                    return "utf-8", len(bom), None
                return wanted, len(bom), None  # the declared encoding wins
            if wanted is not None and not wanted.startswith(family):
                raise DialerConfigError(
                    f"{name} starts with a {codec.upper()} byte-order mark but encoding={declared!r} was declared"
                )
            return codec, len(bom), None
    nul_share = head.count(0) / len(head) if head else 0.0
    if wanted is not None:
        if wanted in ("utf-16", "utf-32"):
            guess = _wide_guess(head, wanted, exhausted)
            if guess is None:
                raise DialerConfigError(
                    f"{name}: declared {declared!r} without a byte-order mark, and neither byte order reads as text"
                )
            return guess, 0, None
        if nul_share >= _NUL_SHARE and _ascii_compatible(wanted):
            guess = _wide_guess(head, exhausted=exhausted)
            if guess is not None:
                raise DialerConfigError(
                    f"{name}: encoding={declared!r} was declared but the file reads as {guess.upper()}"
                )
        if wanted in ("utf-8", "utf-8-sig"):
            return "utf-8", 0, None
        return wanted, 0, None
    if nul_share >= _NUL_SHARE:
        guess = _wide_guess(head, exhausted=exhausted)
        if guess is None:
            raise DialerConfigError(
                f"cannot tell the encoding of {name}: {nul_share:.0%} of its first bytes are NUL but it reads "
                "neither as UTF-16 nor as UTF-32; declare encoding=... or re-export it as UTF-8"
            )
        return guess, 0, None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=exhausted)
        return "utf-8", 0, "utf-8" if not head.isascii() else "undecided"
    except UnicodeDecodeError:
        pass
    # not UTF-8 as a whole: refuse a head whose lines disagree (some UTF-8, some not)
    lines = head.splitlines()
    if not exhausted:
        lines = lines[:-1]  # may be cut in the middle of a character
    utf8_line = other_line = 0
    for number, raw in enumerate(lines, 1):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
            utf8_line = utf8_line or number
        except UnicodeDecodeError:
            other_line = other_line or number
    if utf8_line and other_line:
        raise DialerConfigError(
            f"{name} mixes encodings: line {utf8_line} is UTF-8, line {other_line} is not; "
            "re-export it in one encoding (or declare encoding=... to read every line in that one)"
        )
    try:
        codecs.getincrementaldecoder("cp1252")().decode(head, final=exhausted)
        return "utf-8", 0, "cp1252"
    except UnicodeDecodeError:
        return "utf-8", 0, "latin-1"


class _Lines:
    """A file's physical lines as text, numbered from 1, each checked on the way.

    A line ends at CR, LF or CRLF, whatever the file uses (several kinds in one file too). A line
    that cannot be part of a good record (undecodable bytes, a mix of encodings, a NUL byte, more
    than ``limit`` characters) gets an entry in ``problems``; the record holding it is rejected.
    Lines longer than ``limit`` are never held in memory: they are read past and yield ``"\n"``.
    """

    def __init__(self, handle: IO[bytes], declared: str | None, limit: int, name: str) -> None:
        head = handle.read(_SNIFF_BYTES)
        codec, bom, self.mode = _detect(head, len(head) < _SNIFF_BYTES, declared, name)
        self.encoding = codec if self.mode in (None, "undecided", "utf-8") else self.mode
        raw = io.BufferedReader(_Prefixed(head[bom:], handle), buffer_size=1 << 20)
        self._text = io.TextIOWrapper(raw, encoding=codec, errors="dialer.mark", newline="")
        self.limit = limit
        self._marks_at = _MARKS_MADE[0]
        self.number = 0
        self.problems: dict[int, tuple[str, str]] = {}

    def __iter__(self) -> Iterator[str]:
        read = self.read
        while line := read():
            yield line

    def read(self) -> str:
        """The next line, checked (``""`` at the end). ``_Feed`` has the same code inline."""
        line = self._text.readline(self.limit + 1)
        if line:
            self.number = n = self.number + 1
            if len(line) > self.limit and line[-1] not in "\r\n":
                line = self._long(n)
            elif not line.isascii():
                line = self._check(n, line)
            elif "\x00" in line:
                self.problems[n] = (MALFORMED, f"NUL byte in line {n}")
        return line

    def _long(self, n: int) -> str:
        """Read past the rest of an over-long line ``n``; it stands as an empty line with a problem."""
        readline, cap = self._text.readline, self.limit + 1
        while (more := readline(cap)) and len(more) == cap and more[-1] not in "\r\n":
            pass
        self.problems[n] = (MALFORMED, f"line {n} is longer than {self.limit} characters")
        return "\n"

    def _check(self, n: int, line: str) -> str:
        """A non-ASCII line: its decode problem if any, transcoded when the file is read as cp1252/latin-1."""
        if "\x00" in line:
            self.problems[n] = (MALFORMED, f"NUL byte in line {n}")
        # searching every non-ASCII line would cost more than the rest of reading it; a file (and
        # every other one read meanwhile) without a decode error has no mark to find
        marked = _MARKS_MADE[0] != self._marks_at and _MARK.search(line) is not None
        mode = self.mode
        if mode is None:  # a declared or byte-order-marked encoding: bad bytes are bad bytes
            if marked:
                self.problems[n] = (
                    _BAD_BYTES,
                    f"bytes not valid {self.encoding} in line {n}; declare the file's encoding",
                )
            return line
        if mode == "undecided":  # ASCII until here: the first non-ASCII line decides, once
            if marked:
                raw = line.encode("utf-8", "surrogateescape")
                try:
                    raw.decode("cp1252")
                    mode = "cp1252"
                except UnicodeDecodeError:
                    mode = "latin-1"
            else:
                mode = "utf-8"
            self.mode = self.encoding = mode
        if mode == "utf-8":
            if marked:
                self.problems[n] = _BAD_BYTES, f"bytes not valid utf-8 in line {n}; declare the file's encoding"
            return line
        if _REAL_NON_ASCII.search(line):
            self.problems[n] = (
                "bad_row",
                f"line {n} is UTF-8 but the file reads as {mode} (mixed encodings); re-export it in one encoding",
            )
            return line
        try:
            return line.encode("utf-8", "surrogateescape").decode(mode)
        except UnicodeDecodeError:
            self.problems[n] = _BAD_BYTES, f"bytes not valid {mode} in line {n}; declare the file's encoding"
            return line

    def problem_in(self, first: int, last: int) -> tuple[str, str] | None:
        """The first problem of a line in ``[first, last]``; problems up to ``last`` are forgotten."""
        problems = self.problems
        found = None
        for n in sorted(k for k in problems if k <= last):
            detail = problems.pop(n)
            if found is None and n >= first:
                found = detail
        return found


#: characters one record may hold (every cell and line break of it); also bounds every cell
MAX_RECORD_SIZE = 16 * 2**20
#: physical lines one CSV record may span (a quoted cell may hold line breaks)
MAX_RECORD_LINES = 100


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


class _Feed:
    """Physical lines handed to ``csv.reader`` one record at a time.

    The reader of ``CsvSource`` moves ``start`` to the line after each record it gets back, so a
    line numbered ``start`` opens a record and any other line continues one (a quoted cell holding
    a line break). A record still open after ``max_lines`` lines, past ``max_size`` characters or
    at the end of the file makes the feed stop (``stopped`` says why); the reader then rejects the
    record's first line and feeds the lines after it again (``held``, then ``pending``).
    """

    __slots__ = ("lines", "pending", "held", "start", "last", "size", "stopped", "first_line", "max_lines", "max_size")

    def __init__(self, lines: _Lines, max_lines: int, max_size: int) -> None:
        from collections import deque

        self.lines = lines
        self.pending: Any = deque()
        self.held: list[tuple[int, str]] = []
        self.start, self.last, self.size = 1, 0, 0
        self.stopped: str | None = None
        self.first_line = ""
        self.max_lines, self.max_size = max_lines, max_size

    def __iter__(self) -> Iterator[str]:
        pending, held, lines = self.pending, self.held, self.lines
        max_lines, max_size = self.max_lines, self.max_size
        # _Lines.read inline: one call less per line on the path every row takes
        readline, cap, problems, check = lines._text.readline, lines.limit + 1, lines.problems, lines._check
        while True:
            if pending:
                num, line = pending.popleft()
            else:
                line = readline(cap)
                if not line:
                    if self.last >= self.start:
                        self.stopped = "a quoted cell is still open at the end of the file"
                    return
                lines.number = num = lines.number + 1
                if len(line) == cap and line[-1] not in "\r\n":
                    line = lines._long(num)
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

    def records(self) -> Generator[Any, None, None]:
        """The rows by position, the fast path ``prepare_leads`` takes: first the header's column names (a list), then
        ``(row_number, values)`` with ``values`` a list of at most as many cells as the header (the
        row ``rows()`` turns into ``dict(zip(names, values))``) or a ``BadRow``. Nothing when the
        file has no line at all."""
        with open_binary(self.path, self.conn_id) as handle:
            yield from self._values(handle)

    def header(self) -> list[str] | None:
        """The column names (read from the file's first record unless ``fieldnames`` are given);
        ``None`` for an empty file. Raises ``DialerConfigError`` as reading would (encoding, header)."""
        records = self.records()
        try:
            return next(records, None)
        finally:
            records.close()

    def _values(self, handle: IO[bytes]) -> Iterator[Any]:
        name = str(self.path)
        lines = _Lines(handle, self.encoding, self.max_record_size, name)
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
        # Python's csv refuses cells over 128 KiB by default; the record bound here is the one that holds
        if csv.field_size_limit() <= self.max_record_size:
            csv.field_size_limit(self.max_record_size + 1)
        keys: list[str] | None = None
        if self.fieldnames is not None:
            keys = _unique([h.strip() or f"column_{i}" for i, h in enumerate(self.fieldnames, 1)])
            yield keys
        width = len(keys) if keys is not None else 0
        problems = lines.problems
        n = 0
        quotechar = self.quotechar
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
                    bad = (
                        BadRow(found[1], "", found[0]) if found else BadRow(f"CSV error in lines {first}-{last}: {exc}")
                    )
                    if keys is None:
                        raise DialerConfigError(f"the header of {name} cannot be read: {bad.detail}") from exc
                    n += 1
                    yield n, bad
                    continue
                first, last = feed.start, feed.last
                if feed.stopped is not None:
                    bad = BadRow(
                        f"{feed.stopped} (lines {first}-{last}): an unbalanced quote; line {first} rejected, "
                        f"reading resumes at line {first + 1}",
                        _preview(feed.first_line.rstrip("\r\n")),
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
                                _preview(delimiter.join(values)),
                            ),
                        )
                        continue
                    values = values[:width]
                yield n, values


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
            _Lines(handle, self.encoding, self.max_record_size, str(self.path))

    def rows(self) -> Iterator[SourceRow]:
        with open_binary(self.path, self.conn_id) as handle:
            lines = _Lines(handle, self.encoding, self.max_record_size, str(self.path))
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
    raise DialerConfigError(
        f"a leads source is an iterable of rows, a file path or a LeadSource, not {type(spec).__name__}"
    )
