"""A file's bytes as checked text lines: the encoding told from the first bytes, each line checked as read.

``CheckedLines`` serves both file readers (``csv_source``, and JSON Lines in ``sources``): line endings
of every kind, undecodable bytes, mixed encodings, NUL bytes and over-long lines become *problems*
of the line (the record holding it is rejected) instead of errors that stop a run.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.source_rows import MALFORMED

# longest first: a UTF-32 LE mark starts with the UTF-16 LE one
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
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
    best, best_share = None, 0.0
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
        # at least half ASCII ("é" and a line break is half), and better than the other byte order
        if share >= 0.5 and share > best_share:
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


class CheckedLines:
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
        self.stream = io.TextIOWrapper(raw, encoding=codec, errors="dialer.mark", newline="")
        self.limit = limit
        self._marks_at = _MARKS_MADE[0]
        self.number = 0
        self.problems: dict[int, tuple[str, str]] = {}

    def __iter__(self) -> Iterator[str]:
        read = self.read
        while line := read():
            yield line

    def read(self) -> str:
        """The next line, checked (``""`` at the end). ``csv_source``'s record feed has the same code inline."""
        line = self.stream.readline(self.limit + 1)
        if line:
            self.number = n = self.number + 1
            if len(line) > self.limit and line[-1] not in "\r\n":
                line = self.skip_long(n)
            elif not line.isascii():
                line = self.checked(n, line)
            elif "\x00" in line:
                self.problems[n] = (MALFORMED, f"NUL byte in line {n}")
        return line

    def skip_long(self, n: int) -> str:
        """Read past the rest of an over-long line ``n``; it stands as an empty line with a problem."""
        readline, cap = self.stream.readline, self.limit + 1
        while (more := readline(cap)) and len(more) == cap and more[-1] not in "\r\n":
            pass
        self.problems[n] = (MALFORMED, f"line {n} is longer than {self.limit} characters")
        return "\n"

    def checked(self, n: int, line: str) -> str:
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
