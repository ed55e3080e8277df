"""Rejects: why a row did not become a lead, counted by reason, sampled in memory, streamed in full to a file."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from typing import IO, Any

from airflow_provider_dialer.exceptions import DialerError, DialerUsageError


class RejectReason(str, Enum):
    """Stable reason codes; the value is what reports, counts and logs carry."""

    INVALID_PHONE = "invalid_phone"
    MISSING_PHONE = "missing_phone"
    UNKNOWN_TIMEZONE = "unknown_timezone"
    BAD_SCHEDULE = "bad_schedule"
    SCHEDULE_IN_PAST = "schedule_in_past"
    OUTSIDE_WINDOW = "outside_window"
    DUPLICATE_PHONE = "duplicate_phone"
    DUPLICATE_EXTERNAL_ID = "duplicate_external_id"
    DO_NOT_CALL = "do_not_call"
    BAD_ROW = "bad_row"
    MALFORMED_RECORD = "malformed_record"
    INVALID_FIELD = "invalid_field"
    FIELD_TOO_LONG = "field_too_long"
    # warnings: the lead survives without the offending alternative number
    INVALID_ALTERNATIVE = "invalid_alternative"
    DO_NOT_CALL_ALTERNATIVE = "do_not_call_alternative"

    def __str__(self) -> str:
        return self.value


WARNING_REASONS = frozenset({RejectReason.INVALID_ALTERNATIVE, RejectReason.DO_NOT_CALL_ALTERNATIVE})


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected row (``level="error"``) or dropped detail of a kept lead (``level="warning"``).

    ``row`` is the 1-based data row of the source; ``value`` is the offending value with phones
    masked to their last four digits; ``reason`` is a ``RejectReason`` value. After delivery an
    operator adds the leads the vendor refused (``level="refused"``, the vendor's reason in
    ``detail``) and those whose fate is unknown (``level="unknown"``).
    """

    row: int
    reason: str
    field: str | None
    value: str | None
    detail: str = ""
    external_id: str | None = None
    level: str = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: the ``detail`` of a lead whose fate is unknown
UNKNOWN_DETAIL = (
    "sent, but the answer was lost and the vendor's state cannot tell whether it landed; "
    "not sent again (check the dialer)"
)

#: the ``detail`` of a lead the target already held
HELD_DETAIL = (
    "the dialer already holds this phone in the target (an earlier run, or another source): "
    "not stored again; it is dialed as the contact already there"
)

REPORT_COLUMNS = ("row", "level", "reason", "field", "value", "external_id", "detail")


class RejectRatioExceededError(DialerError):
    """More rows were rejected than ``max_reject_ratio`` allows; the message names counts by reason."""

    def __init__(self, rejected: int, total: int, max_ratio: float, counts: dict[str, int]) -> None:
        self.rejected, self.total, self.max_ratio, self.counts = rejected, total, max_ratio, dict(counts)
        by_reason = ", ".join(f"{k}={v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        ratio = rejected / total if total else 0.0
        super().__init__(
            f"{rejected} of {total} lead rows rejected ({ratio:.2%}), above max_reject_ratio={max_ratio:g}: {by_reason}"
        )


#: first characters that make a spreadsheet read a cell as a formula (or a command, via DDE)
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PHONE_RUN = re.compile(r"\+?\d[\d ().\-/]{5,}\d")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` with an apostrophe in front when it is text a spreadsheet would run as a formula.

    Cells starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return are written as
    ``'=...``: spreadsheets show the text and run nothing. Numbers and other text are unchanged.
    """
    if type(value) is str and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def mask_phones_in(text: str | None) -> str | None:
    """Free text (a raw row) with every phone-like run of digits masked to its last four digits."""
    if not text:
        return text
    from airflow_provider_dialer.leads.phones import mask_phone

    return _PHONE_RUN.sub(lambda m: mask_phone(m.group()), text)


_LINE_BREAKS = {ord(c): f"\\u{ord(c):04x}" for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class RejectWriter:
    """Streams rejects to CSV or JSON Lines as they happen (nothing is kept in memory)."""

    def __init__(self, target: Any, fmt: str | None = None, conn_id: str | None = None) -> None:
        name = str(target).lower().removesuffix(".gz")
        fmt = (
            fmt
            or ("csv" if name.endswith(".csv") else "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "")
        ).lower()
        if fmt not in ("csv", "jsonl"):
            from airflow_provider_dialer.exceptions import DialerConfigError

            raise DialerConfigError(
                f"reject report format must be 'csv' or 'jsonl' (from the suffix or reject_format), got {target!r}"
            )
        self.target, self.format, self.conn_id = target, fmt, conn_id
        self._handle: IO[str] | None = None
        self._csv: Any = None

    def open(self) -> None:
        import io

        from airflow_provider_dialer.leads.sources import open_binary

        raw = open_binary(self.target, self.conn_id, mode="wb")
        self._handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if self.format == "csv":
            self._csv = csv.writer(self._handle)
            self._csv.writerow(REPORT_COLUMNS)

    def write(self, reject: Reject) -> None:
        if self._handle is None:
            self.open()
        if self._csv is not None:
            # a spreadsheet opening the report must not run a cell: hostile rows put formulas in any cell
            self._csv.writerow(
                [spreadsheet_safe(v) if (v := getattr(reject, c)) is not None else "" for c in REPORT_COLUMNS]
            )
        else:
            assert self._handle is not None
            line = json.dumps({c: getattr(reject, c) for c in REPORT_COLUMNS}, ensure_ascii=False)
            # characters that str.splitlines() and some JSONL readers treat as line breaks stay escaped
            self._handle.write(line.translate(_LINE_BREAKS) + "\n")

    def close(self) -> None:
        if self._handle is None:
            self.open()  # an empty report is still written: "no rejects" is an answer
        assert self._handle is not None
        self._handle.close()


class PreparationReport:
    """Counts and samples of one preparation run; complete once the prepared leads were iterated.

    :ivar rows: data rows read from the source.
    :ivar prepared: leads handed on.
    :ivar rejected: rows rejected (each row is rejected at most once, for its first problem).
    :ivar counts: rejected rows by reason code.
    :ivar warnings: warnings (dropped alternatives) by reason code; they do not count as rejects.
    :ivar samples: the first ``sample_limit`` rejects and warnings, for logs and XCom.
    """

    def __init__(self, sample_limit: int = 100, writer: RejectWriter | None = None) -> None:
        self.rows = 0
        self.prepared = 0
        self.rejected = 0
        self.counts: Counter[str] = Counter()
        self.warnings: Counter[str] = Counter()
        self.samples: list[Reject] = []
        self.sample_limit = sample_limit
        self.dnc_entries = 0
        self.dnc_invalid = 0
        self.complete = False
        self.report_path: str | None = str(writer.target) if writer is not None else None
        self._writer = writer
        #: called with every reject and warning as it happens (the outcome log listens here)
        self.listeners: list[Callable[[Reject], None]] = []

    def add(self, reject: Reject) -> None:
        if reject.level == "error":
            self.rejected += 1
            self.counts[reject.reason] += 1
        else:
            self.warnings[reject.reason] += 1
        if len(self.samples) < self.sample_limit:
            self.samples.append(reject)
        if self._writer is not None:
            self._writer.write(reject)
        for listener in self.listeners:
            listener(reject)

    def finish(self) -> None:
        if self._writer is not None and not self.keep_open:
            self._writer.close()
            self._writer = None
        self.complete = True

    #: set before iterating to leave the report file open after preparation, for the vendor's answers
    keep_open = False

    def add_vendor_answers(self, refused: list[dict[str, Any]], unknown: list[int], held: Sequence[int] = ()) -> None:
        """Write the leads the vendor refused and those whose fate is unknown to the report file.

        They are not preparation rejects (``counts`` and ``rejected`` do not change); the file gets
        one row per lead, ``level`` ``refused`` (the vendor's reason in ``detail``) or ``unknown``;
        ``held`` rows (the target already held the lead's phone: nothing new stored) get ``level``
        ``held``, reason ``already_in_target``.
        """
        if self._writer is None:
            return
        for row in held:
            self._writer.write(Reject(int(row), "already_in_target", "phone", None, HELD_DETAIL, level="held"))
        for entry in refused:
            self._writer.write(
                Reject(
                    int(entry["row"]),
                    str(entry.get("reason") or "vendor_refused"),
                    entry.get("field"),
                    None,
                    str(entry.get("detail") or ""),
                    level="refused",
                )
            )
        for row in unknown:
            self._writer.write(Reject(int(row), "unknown_fate", None, None, UNKNOWN_DETAIL, level="unknown"))

    def close_unfinished(self) -> None:
        """Close the report file of a run that failed or was abandoned before ``finish`` (idempotent):
        the rejects found so far stay readable."""
        if self._writer is not None and not self.complete:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        """Close the report file if ``keep_open`` left it open (idempotent)."""
        if self._writer is not None and self.complete:
            self._writer.close()
            self._writer = None

    @property
    def reject_ratio(self) -> float:
        return self.rejected / self.rows if self.rows else 0.0

    def check_ratio(self, max_reject_ratio: float = 0.0) -> None:
        """Raise ``RejectRatioExceededError`` when ``rejected / rows`` is above ``max_reject_ratio``.

        Operators call it after the valid leads were handled, so good leads still go out and the
        task fails loudly afterwards. Warnings do not count.
        """
        if not self.complete:
            raise DialerUsageError("check_ratio() needs the whole run: iterate the prepared leads first")
        if self.rejected and self.reject_ratio > max_reject_ratio:
            raise RejectRatioExceededError(self.rejected, self.rows, max_reject_ratio, dict(self.counts))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (counts, ratio, report path, samples) for XCom and logs."""
        return {
            "rows": self.rows,
            "prepared": self.prepared,
            "rejected": self.rejected,
            "reject_ratio": round(self.reject_ratio, 6),
            "counts": dict(sorted(self.counts.items())),
            "warnings": dict(sorted(self.warnings.items())),
            "dnc_entries": self.dnc_entries,
            "dnc_invalid": self.dnc_invalid,
            "report_path": self.report_path,
            "samples": [r.to_dict() for r in self.samples],
            "complete": self.complete,
        }

    def __repr__(self) -> str:
        return (
            f"PreparationReport(rows={self.rows}, prepared={self.prepared}, rejected={self.rejected}, "
            f"counts={dict(self.counts)}, warnings={dict(self.warnings)})"
        )
