"""Sync by key: which prepared leads a run sends, given what the target already holds, and what it records after.

A run in ``insert`` mode sends only the keys the target does not hold yet (plus the keys an earlier
run left refused or unknown, a bounded number of times); ``append`` sends everything, as a run
without a ledger does. ``upsert`` and ``mirror`` also need a vendor verb to update or remove a
contact; the operator checks for it before any request.

The plan is frozen at the task's preparation instant: a retry of the same task sees the ledger as
its first attempt did (rows this task wrote since are treated as still to send), so every attempt
cuts the same chunks and exactly-once delivery across retries holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.pipeline.ledger import DELIVERED, RETRYABLE, LedgerEntry, SyncLedger, content_hash, lead_key

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.leads.model import PreparedLead

SYNC_MODES = ("append", "insert", "upsert", "mirror")

#: what the plan does with a lead
SEND_NEW = "add"
SEND_RETRY = "retry"
SKIP_UNCHANGED = "unchanged"
SKIP_HELD = "held_by_target"
SKIP_EXHAUSTED = "retries_exhausted"


def check_mode(mode: str) -> str:
    if mode not in SYNC_MODES:
        raise DialerConfigError(f"sync_mode must be one of {', '.join(SYNC_MODES)}, got {mode!r}")
    return mode


@dataclass
class SyncPlan:
    """Streams prepared leads through the ledger: yields the leads to send, counts (and remembers) the rest.

    :param ledger: the ledger (its database connection is used from the calling thread only).
    :param dialer_conn_id: the dialer connection.
    :param target: the target's ledger name (see ``target_name``).
    :param mode: ``append`` or ``insert`` (``upsert``/``mirror`` plan like ``insert`` for the keys they
        add; their updates and removals go through the vendor's verbs).
    :param writer: who this task is (DAG, run, task, map index): rows it wrote itself after
        ``prepared_at`` were written by an earlier attempt of this very task.
    :param prepared_at: the task's preparation instant, fixed in its progress on the first attempt.
    :param key: ``external_id`` (default: the external id, else the phone) or ``phone``.
    :param max_retries: runs after which a key left refused or unknown is no longer sent again.
    """

    ledger: SyncLedger
    dialer_conn_id: str
    target: str
    mode: str
    writer: str
    prepared_at: dt.datetime
    key: str = "external_id"
    max_retries: int = 3
    batch: int = 500
    counts: Counter[str] = field(default_factory=Counter)
    #: leads not sent, as ``(row, key_kind, lead_key, action, reason)``; at most ``sample_limit``
    skipped: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    sample_limit: int = 100

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.max_retries < 0:
            raise DialerConfigError(f"max_sync_retries must be 0 or more, got {self.max_retries!r}")

    def action(self, entry: LedgerEntry | None, lead: PreparedLead) -> str:
        """What to do with one lead, from its ledger row as of ``prepared_at``."""
        if self.mode == "append" or entry is None:
            return SEND_NEW
        if entry.run_id == self.writer and entry.updated_at is not None and entry.updated_at >= self.prepared_at:
            # written by an earlier attempt of this task: it was in the plan, so it stays in it
            return SEND_RETRY if entry.outcome in RETRYABLE else SEND_NEW
        if entry.outcome in RETRYABLE:
            return SEND_RETRY if entry.attempts <= self.max_retries else SKIP_EXHAUSTED
        if entry.outcome == "removed":
            return SEND_NEW
        if entry.outcome in DELIVERED and entry.content_hash == content_hash(lead):
            return SKIP_UNCHANGED
        return SKIP_HELD

    def filter(self, leads: Iterable[PreparedLead]) -> Iterator[PreparedLead]:
        """The leads to send, in source order; one ledger read per ``batch`` leads."""
        pending: list[PreparedLead] = []
        for lead in leads:
            pending.append(lead)
            if len(pending) >= self.batch:
                yield from self._decide(pending)
                pending = []
        if pending:
            yield from self._decide(pending)

    def _decide(self, leads: Sequence[PreparedLead]) -> Iterator[PreparedLead]:
        keys = [lead_key(lead, self.key) for lead in leads]
        known = {} if self.mode == "append" else self.ledger.lookup(self.dialer_conn_id, self.target, keys)
        for lead, k in zip(leads, keys):
            entry = known.get(k)
            act = self.action(entry, lead)
            self.counts[act] += 1
            if act in (SEND_NEW, SEND_RETRY):
                yield lead
            elif len(self.skipped) < self.sample_limit:
                reason = {
                    SKIP_UNCHANGED: "the target holds this key with the same content",
                    SKIP_HELD: "the target holds this key (insert mode does not update it)",
                    SKIP_EXHAUSTED: f"refused or unknown on {entry.attempts if entry else 0} run(s); "
                                    f"max_sync_retries={self.max_retries}",
                }[act]
                self.skipped.append((lead.row, k[0], k[1], act, reason))

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "mode": self.mode,
            "target": self.target,
            "to_add": c[SEND_NEW],
            "retried": c[SEND_RETRY],
            "unchanged": c[SKIP_UNCHANGED],
            "held_by_target": c[SKIP_HELD],
            "retries_exhausted": c[SKIP_EXHAUSTED],
            "skipped_samples": [
                {"row": r, "key_kind": kk, "key": "..." + kv[-4:] if kk == "phone" else kv, "action": a, "reason": why}
                for r, kk, kv, a, why in self.skipped[:20]
            ],
        }


def outcome_entries(
    leads: Sequence[PreparedLead], outcome: ChunkOutcome, key: str = "external_id", writer: str | None = None,
) -> list[LedgerEntry]:
    """The ledger rows of one delivered chunk: refused and unknown rows as such, the others ``added``."""
    refused = {int(r["row"]): str(r.get("reason") or "refused") for r in outcome.refused if "row" in r}
    unknown = set(outcome.unknown) | set(outcome.missing)
    entries = []
    for lead in leads:
        kind, value = lead_key(lead, key)
        if lead.row in refused:
            entries.append(LedgerEntry(kind, value, "refused", reason=refused[lead.row], run_id=writer))
        elif lead.row in unknown:
            entries.append(LedgerEntry(kind, value, "unknown", reason="the vendor's answer was lost", run_id=writer))
        else:
            entries.append(LedgerEntry(kind, value, "added", content_hash=content_hash(lead), run_id=writer))
    return entries


def target_name(target: dict[str, Any]) -> str:
    """The ledger name of an operator's target: its vendor ids, in a stable order (``list_id=7``)."""
    ids = sorted((k, v) for k, v in target.items() if k.endswith(("_id", "_name")) and isinstance(v, (str, int)))
    if not ids:
        raise DialerConfigError(f"the target {sorted(target)} has no id to key the ledger by")
    return ",".join(f"{k}={v}" for k, v in ids)
