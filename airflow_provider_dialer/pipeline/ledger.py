"""The sync ledger: what each dialer target already holds, per lead key, kept in a real database across runs.

A daily launch runs over a table in which most of today's leads were there yesterday. The ledger
remembers, per dialer connection and target (a list, a hub, a campaign) and per lead key, what was
last delivered (a content hash), the vendor's ids where the vendor gives them, the last outcome and
when. It lives in any database reached through an Airflow connection whose hook is a common.sql
``DbApiHook``: PostgreSQL in production (every worker reaches it), SQLite for the demo and tests.

Schema (created on first use; ``table`` defaults to ``dialer_sync_ledger``)::

    dialer_conn_id  TEXT     NOT NULL  the dialer connection the target belongs to
    target          TEXT     NOT NULL  the target, e.g. "list:42", "hub:Ventas", "campaign:7"
    key_kind        TEXT     NOT NULL  "external_id" or "phone": what lead_key holds
    lead_key        TEXT     NOT NULL  the lead's external id, else its E.164 primary phone
    content_hash    TEXT               hash of what was last delivered (see content_hash())
    vendor_ids      TEXT               JSON object of the vendor's ids for the lead, when it gives them
    outcome         TEXT     NOT NULL  last outcome: added, updated, unchanged, removed, refused, unknown
    reason          TEXT               why, for refused and unknown
    attempts        INTEGER  NOT NULL  consecutive runs that ended refused or unknown (0 after a delivery)
    run_id          TEXT               the Airflow run that wrote the row
    updated_at      TIMESTAMPTZ (PostgreSQL) / TEXT ISO-8601 UTC (SQLite)  NOT NULL
    PRIMARY KEY (dialer_conn_id, target, key_kind, lead_key)

Writes are batched: one multi-row ``INSERT ... ON CONFLICT DO UPDATE`` per batch of up to
``batch_size`` leads, never one statement per lead. Two tasks writing the same target at once do
not corrupt it: each row is written by an atomic upsert (PostgreSQL at READ COMMITTED locks the
conflicting row; SQLite serialises writers on the database lock), rows are written in key order so
two PostgreSQL writers cannot deadlock on each other, and a deadlock or a busy database is retried.
For a key written by both, the later commit wins.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.pipeline.database import Database, check_table_name

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

#: outcomes that mean the target holds what ``content_hash`` describes
DELIVERED = frozenset({"added", "updated", "unchanged"})
#: outcomes that leave the lead to be tried again on a later run
RETRYABLE = frozenset({"refused", "unknown"})
OUTCOMES = DELIVERED | RETRYABLE | {"removed"}
KEY_KINDS = ("external_id", "phone")

_COLUMNS = (
    "dialer_conn_id",
    "target",
    "key_kind",
    "lead_key",
    "content_hash",
    "vendor_ids",
    "outcome",
    "reason",
    "attempts",
    "run_id",
    "updated_at",
)


def lead_key(lead: PreparedLead, key: str = "external_id") -> tuple[str, str]:
    """``(key_kind, lead_key)`` of a lead: its external id when it has one, else its E.164 phone.

    ``key="phone"`` keys every lead by its primary phone, even when it has an external id.
    """
    if key not in KEY_KINDS:
        raise DialerConfigError(f"ledger key must be one of {KEY_KINDS}, got {key!r}")
    if key == "external_id" and lead.external_id:
        return "external_id", lead.external_id
    return "phone", lead.phone


def content_hash(lead: PreparedLead) -> str:
    """A stable hash of what is sent about the lead (its schedule and source row are not part of it).

    The fields are hashed as one JSON array (keys of ``data`` and ``custom_fields`` sorted), so two
    different leads never give the same text; ``json.dumps`` runs in C, faster than joining by hand.
    """
    fields = [
        lead.phone,
        lead.alternatives,
        lead.first_name,
        lead.last_name,
        lead.email,
        lead.external_id,
        lead.priority,
        lead.agent,
        lead.timezone,
        lead.data,
        lead.custom_fields,
        lead.content,
        lead.template,
        lead.subject,
        lead.outbound_number,
    ]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    """One lead key's row in the ledger."""

    key_kind: str
    lead_key: str
    outcome: str
    content_hash: str | None = None
    reason: str | None = None
    vendor_ids: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    run_id: str | None = None
    updated_at: dt.datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.key_kind, self.lead_key


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    when: dt.datetime = value  # a datetime from the database driver, or parsed above
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class SyncLedger:
    """The ledger in the database of ``conn_id`` (any common.sql connection: PostgreSQL or SQLite).

    Use it as a context manager, or call ``close()``: it keeps one database connection open. It is
    meant for one thread at a time (SQLite connections are bound to the thread that opened them).

    :param conn_id: an Airflow connection whose hook is a common.sql ``DbApiHook``.
    :param table: table name, optionally schema-qualified (``dialer.sync_ledger``).
    :param batch_size: leads per statement when reading or writing.
    """

    def __init__(self, conn_id: str, table: str = "dialer_sync_ledger", batch_size: int = 500) -> None:
        check_table_name(table, "ledger")
        if batch_size < 1:
            raise DialerConfigError(f"ledger batch_size must be at least 1, got {batch_size!r}")
        self.conn_id = conn_id
        self.table = table
        self.batch_size = batch_size
        self.db = Database(conn_id, "ledger")
        self._ready = False

    def _open(self) -> Database:
        if not self._ready:
            stamp = self.db.timestamp_type()
            self.db.create_table(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "dialer_conn_id TEXT NOT NULL, target TEXT NOT NULL, key_kind TEXT NOT NULL, lead_key TEXT NOT NULL, "
                "content_hash TEXT, vendor_ids TEXT, outcome TEXT NOT NULL, reason TEXT, "
                "attempts INTEGER NOT NULL DEFAULT 0, run_id TEXT, "
                f"updated_at {stamp} NOT NULL, "
                "PRIMARY KEY (dialer_conn_id, target, key_kind, lead_key))"
            )
            self._ready = True
        return self.db

    def close(self) -> None:
        self.db.close()
        self._ready = False

    def __enter__(self) -> SyncLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------

    def _entry(self, row: Sequence[Any]) -> LedgerEntry:
        kind, key, chash, vendor_ids, outcome, reason, attempts, run_id, updated_at = row
        return LedgerEntry(
            key_kind=kind,
            lead_key=key,
            outcome=outcome,
            content_hash=chash,
            reason=reason,
            vendor_ids=json.loads(vendor_ids) if vendor_ids else {},
            attempts=int(attempts),
            run_id=run_id,
            updated_at=_utc(updated_at),
        )

    _SELECT = "key_kind, lead_key, content_hash, vendor_ids, outcome, reason, attempts, run_id, updated_at"

    def lookup(
        self, dialer_conn_id: str, target: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], LedgerEntry]:
        """The ledger rows of ``keys`` (``(key_kind, lead_key)`` pairs) that exist, read in batches."""
        db = self._open()
        by_kind: dict[str, list[str]] = {}
        for kind, key in keys:
            by_kind.setdefault(kind, []).append(key)
        found: dict[tuple[str, str], LedgerEntry] = {}
        ph = db.ph
        for kind, values in by_kind.items():
            unique = list(dict.fromkeys(values))
            for start in range(0, len(unique), self.batch_size):
                part = unique[start : start + self.batch_size]
                sql = (
                    f"SELECT {self._SELECT} FROM {self.table} WHERE dialer_conn_id = {ph} AND target = {ph} "
                    f"AND key_kind = {ph} AND lead_key IN ({', '.join([ph] * len(part))})"
                )
                for row in db.run([(sql, [dialer_conn_id, target, kind, *part])], fetch=True):
                    entry = self._entry(row)
                    found[entry.key] = entry
        return found

    def entries(self, dialer_conn_id: str, target: str) -> Iterator[LedgerEntry]:
        """Every row of a target, in key order, read in pages."""
        db = self._open()
        ph = db.ph
        after: tuple[str, str] = ("", "")
        while True:
            sql = (
                f"SELECT {self._SELECT} FROM {self.table} WHERE dialer_conn_id = {ph} AND target = {ph} "
                f"AND (key_kind > {ph} OR (key_kind = {ph} AND lead_key > {ph})) "
                f"ORDER BY key_kind, lead_key LIMIT {int(self.batch_size)}"
            )
            rows = db.run([(sql, [dialer_conn_id, target, after[0], after[0], after[1]])], fetch=True)
            if not rows:
                return
            for row in rows:
                yield self._entry(row)
            after = (rows[-1][0], rows[-1][1])

    # -- writing ---------------------------------------------------------------------------------

    def record(
        self, dialer_conn_id: str, target: str, entries: Iterable[LedgerEntry], run_id: str | None = None
    ) -> int:
        """Upsert entries: one statement per batch, rows in key order, one transaction per call.

        Delivered outcomes replace the content hash; refused and unknown ones keep the hash of what
        was delivered before and count one more attempt. Vendor ids are kept when an entry has none.
        Returns how many rows were written.
        """
        db = self._open()
        latest: dict[tuple[str, str], LedgerEntry] = {}
        for entry in entries:
            if entry.outcome not in OUTCOMES:
                raise DialerConfigError(f"unknown ledger outcome {entry.outcome!r}; one of {sorted(OUTCOMES)}")
            if entry.key_kind not in KEY_KINDS:
                raise DialerConfigError(f"unknown ledger key kind {entry.key_kind!r}")
            latest[entry.key] = entry  # a key written twice in one call: the last entry wins
        if not latest:
            return 0
        now = dt.datetime.now(dt.UTC).isoformat()
        ordered = [latest[k] for k in sorted(latest)]
        ph = db.ph
        row_ph = "(" + ", ".join([ph] * len(_COLUMNS)) + ")"
        delivered = ", ".join(f"'{o}'" for o in sorted(DELIVERED))
        retryable = ", ".join(f"'{o}'" for o in sorted(RETRYABLE))
        statements = []
        for start in range(0, len(ordered), self.batch_size):
            part = ordered[start : start + self.batch_size]
            params: list[Any] = []
            for e in part:
                params += [
                    dialer_conn_id,
                    target,
                    e.key_kind,
                    e.lead_key,
                    e.content_hash if e.outcome in DELIVERED else None,
                    json.dumps(e.vendor_ids, sort_keys=True, default=str) if e.vendor_ids else None,
                    e.outcome,
                    e.reason,
                    1 if e.outcome in RETRYABLE else 0,
                    e.run_id or run_id,
                    (e.updated_at.isoformat() if e.updated_at else now),
                ]
            sql = (
                f"INSERT INTO {self.table} AS l ({', '.join(_COLUMNS)}) VALUES {', '.join([row_ph] * len(part))} "
                "ON CONFLICT (dialer_conn_id, target, key_kind, lead_key) DO UPDATE SET "
                f"content_hash = CASE WHEN excluded.outcome IN ({delivered}) THEN excluded.content_hash "
                "ELSE l.content_hash END, "
                "vendor_ids = COALESCE(excluded.vendor_ids, l.vendor_ids), "
                "outcome = excluded.outcome, reason = excluded.reason, "
                f"attempts = CASE WHEN excluded.outcome IN ({retryable}) THEN l.attempts + 1 ELSE 0 END, "
                "run_id = excluded.run_id, updated_at = excluded.updated_at"
            )
            statements.append((sql, params))
        db.run(statements)
        return len(ordered)

    def reset(self, dialer_conn_id: str, target: str | None = None) -> int:
        """Forget a target (or every target of a connection): the next run treats the dialer as empty there."""
        db = self._open()
        ph = db.ph
        if target is None:
            sql, params = f"DELETE FROM {self.table} WHERE dialer_conn_id = {ph}", [dialer_conn_id]
        else:
            sql, params = (
                f"DELETE FROM {self.table} WHERE dialer_conn_id = {ph} AND target = {ph}",
                [dialer_conn_id, target],
            )
        return db.run_count(sql, params)
