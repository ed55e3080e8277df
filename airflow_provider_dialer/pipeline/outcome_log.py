"""The row-level outcome log: every lead key of a run with what the dialer did with it, for a warehouse to join back.

It is written as the run goes (nothing is kept in memory), to a file (CSV or JSON Lines, local or
any ``ObjectStoragePath``) or to a table through any common.sql connection (PostgreSQL, SQLite).
The reject report and the XCom summary stay as they are: the log is what they summarise.

Columns::

    run_id        the Airflow run (DAG, run, task and map index) that wrote the row
    dialer_conn_id  the dialer connection
    target        the target's ledger name (e.g. "list_id=42")
    row           the 1-based source row
    key_kind      "external_id" or "phone"
    lead_key      the lead's external id, else its E.164 primary phone (as in the sync ledger)
    outcome       added, updated, removed, unchanged, refused, unknown, held, rejected, skipped
    reason        why (the vendor's reason for refused, the reject reason, the plan's reason for skipped)
    vendor_ids    JSON object of the vendor's ids, when it gives them
    at            when the row was written (UTC, ISO-8601)

The log holds lead keys, which may be phone numbers: store it like the source table it joins.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterable
from dataclasses import astuple, dataclass, replace
from typing import IO, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.pipeline.database import Database, check_table_name

OUTCOME_LOG_COLUMNS = (
    "run_id",
    "dialer_conn_id",
    "target",
    "row",
    "key_kind",
    "lead_key",
    "outcome",
    "reason",
    "vendor_ids",
    "at",
)
LOG_OUTCOMES = frozenset(
    {"added", "updated", "removed", "unchanged", "refused", "unknown", "held", "rejected", "skipped"}
)


@dataclass(frozen=True)
class OutcomeRow:
    run_id: str
    dialer_conn_id: str
    target: str
    row: int | None
    key_kind: str | None
    lead_key: str | None
    outcome: str
    reason: str | None = None
    vendor_ids: str | None = None
    at: str = ""


class OutcomeLog:
    """Appends outcome rows to a file or a table, in batches.

    :param target: a path / URL / ``ObjectStoragePath`` ending in ``.csv`` or ``.jsonl``, or
        ``{"conn_id": ..., "table": ...}`` for a table (created on first use).
    :param conn_id: object-storage connection for a file target.
    """

    def __init__(self, target: Any, conn_id: str | None = None, batch_size: int = 1000) -> None:
        self.batch_size = batch_size
        self._buffer: list[OutcomeRow] = []
        self._handle: IO[str] | None = None
        self._csv: Any = None
        self._db: Database | None = None
        self.rows_written = 0
        if isinstance(target, dict):
            if set(target) - {"conn_id", "table"} or "conn_id" not in target:
                raise DialerConfigError(
                    f"an outcome log table is {{'conn_id': ..., 'table': ...}}, got keys {sorted(target)}"
                )
            self.table = check_table_name(target.get("table", "dialer_outcome_log"), "outcome log")
            self._db = Database(str(target["conn_id"]), "outcome log")
            self.format = "table"
            self.where = f"{target['conn_id']}:{self.table}"
        else:
            name = str(target).lower().removesuffix(".gz")
            self.format = "csv" if name.endswith(".csv") else "jsonl" if name.endswith((".jsonl", ".ndjson")) else ""
            if not self.format:
                raise DialerConfigError(f"an outcome log file ends in .csv or .jsonl, got {str(target)!r}")
            self.target, self.conn_id = target, conn_id
            self.where = str(target)

    # -- writing ---------------------------------------------------------------------------------

    def add(self, row: OutcomeRow) -> None:
        if row.outcome not in LOG_OUTCOMES:
            raise DialerConfigError(f"unknown outcome {row.outcome!r} for the outcome log")
        self._buffer.append(row if row.at else replace(row, at=_now()))
        if len(self._buffer) >= self.batch_size:
            self.flush()

    def extend(self, rows: Iterable[OutcomeRow]) -> None:
        for row in rows:
            self.add(row)

    def flush(self) -> None:
        rows, self._buffer = self._buffer, []
        if not rows:
            return
        if self._db is not None:
            self._write_table(rows)
        else:
            self._write_file(rows)
        self.rows_written += len(rows)

    def close(self) -> None:
        try:
            self.flush()
            if self._db is None and self._handle is None:
                self._open_file()  # an empty log is still written: "nothing happened" is an answer
        finally:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            if self._db is not None:
                self._db.close()

    def __enter__(self) -> OutcomeLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files -----------------------------------------------------------------------------------

    def _open_file(self) -> None:
        from airflow_provider_dialer.leads.sources import open_binary

        text = str(self.target)
        if "://" not in text and not hasattr(self.target, "fs"):
            # a local folder is made, as for the run report: the log is opened after leads went out,
            # and a missing folder must not fail a run that delivered them
            os.makedirs(os.path.dirname(os.path.abspath(os.path.expanduser(text))), exist_ok=True)
        raw = open_binary(self.target, self.conn_id, mode="wb")
        self._handle = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        if self.format == "csv":
            self._csv = csv.writer(self._handle)
            self._csv.writerow(OUTCOME_LOG_COLUMNS)

    def _write_file(self, rows: list[OutcomeRow]) -> None:
        if self._handle is None:
            self._open_file()
        assert self._handle is not None
        if self._csv is not None:
            self._csv.writerows(["" if v is None else v for v in astuple(r)] for r in rows)
        else:
            self._handle.write(
                "".join(
                    json.dumps(dict(zip(OUTCOME_LOG_COLUMNS, astuple(r), strict=True)), ensure_ascii=False) + "\n"
                    for r in rows
                )
            )

    # -- tables ----------------------------------------------------------------------------------

    def _write_table(self, rows: list[OutcomeRow]) -> None:
        db = self._db
        assert db is not None
        if not getattr(self, "_created", False):
            db.create_table(
                f"CREATE TABLE IF NOT EXISTS {self.table} (run_id TEXT NOT NULL, dialer_conn_id TEXT NOT NULL, "
                "target TEXT NOT NULL, row INTEGER, key_kind TEXT, lead_key TEXT, outcome TEXT NOT NULL, reason TEXT, "
                f"vendor_ids TEXT, at {db.timestamp_type()} NOT NULL)"
            )
            self._created = True
        row_ph = "(" + ", ".join([db.ph] * len(OUTCOME_LOG_COLUMNS)) + ")"
        statements = []
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            params = [v for r in part for v in astuple(r)]
            statements.append(
                (
                    f"INSERT INTO {self.table} ({', '.join(OUTCOME_LOG_COLUMNS)}) VALUES {', '.join([row_ph] * len(part))}",
                    params,
                )
            )
        db.run(statements)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
