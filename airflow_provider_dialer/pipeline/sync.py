"""Sync by key: which prepared leads a run sends, given what the target already holds, and what it records after.

Over 500 lines because the plan (``SyncPlan``) and the run that carries it out (``SyncRun``) share the
ledger's keys and statuses; each is the other's only user.

A run in ``insert`` mode sends only the keys the target does not hold yet (plus the keys an earlier
run left refused or unknown, a bounded number of times); ``append`` sends everything, as a run
without a ledger does. ``upsert`` also updates the keys whose content changed, and ``mirror``
removes the keys that left the source; both need the vendor's verbs to change a contact by its id
(``ContactSyncer``), which the operator checks before any request.

The plan is frozen at the task's preparation instant: a retry of the same task sees the ledger as
its first attempt did (rows this task wrote since are treated as still to send), so every attempt
cuts the same chunks and exactly-once delivery across retries holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.pipeline.ledger import (
    DELIVERED,
    RETRYABLE,
    LedgerEntry,
    SyncLedger,
    content_hash,
    lead_key,
)

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.leads.model import PreparedLead

SYNC_MODES = ("append", "insert", "upsert", "mirror")

#: what the plan does with a lead
SEND_NEW = "add"
SEND_RETRY = "retry"
SEND_UPDATE = "update"
SKIP_UNCHANGED = "unchanged"
SKIP_HELD = "held_by_target"
SKIP_EXHAUSTED = "retries_exhausted"

#: the reason a failed update is recorded with: a retry of the same task updates that key again
#: (it was in that attempt's update stream, not in its chunks)
UPDATE_REFUSED = "update refused"
#: the reason an update finds its contact gone from the target with: the next run sends the key as new
UPDATE_GONE = "the target no longer holds this key; sent as new next run"


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
    #: called with every lead not sent: ``(lead, (key_kind, lead_key), action, reason)``
    on_skip: Callable[[PreparedLead, tuple[str, str], str, str], None] | None = None

    #: rows of leads whose earlier fate is unknown: they may have landed, so the vendor's state is read
    #: before they are sent again (see ``LeadsOperator``); only as many as there are unknown keys
    recheck_rows: set[int] = field(default_factory=set)
    #: upsert/mirror: the leads whose content changed, with their ledger row (updated after the adds)
    updates: list[tuple[PreparedLead, LedgerEntry]] = field(default_factory=list)
    #: mirror: every key of the source this run (what is not in it is removed from the target)
    seen: set[tuple[str, str]] | None = None

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.mode == "mirror" and self.seen is None:
            self.seen = set()
        if self.max_retries < 0:
            raise DialerConfigError(f"max_sync_retries must be 0 or more, got {self.max_retries!r}")

    def by_this_task(self, entry: LedgerEntry) -> bool:
        """Whether ``entry`` was written by an earlier attempt of this very task (same writer, after
        ``prepared_at``): it was in that attempt's plan, so it stays in this one's."""
        return entry.run_id == self.writer and entry.updated_at is not None and entry.updated_at >= self.prepared_at

    def action(self, entry: LedgerEntry | None, lead: PreparedLead) -> str:
        """What to do with one lead, from its ledger row as of ``prepared_at``."""
        if self.mode == "append" or entry is None:
            return SEND_NEW
        updates = self.mode in ("upsert", "mirror")
        if self.by_this_task(entry):
            # written by an earlier attempt of this task: it was in the plan, so it stays in it (an
            # update stays an update: moving it into the chunks would shift what each chunk holds)
            if updates and (
                entry.outcome == "updated" or (entry.reason or "").startswith((UPDATE_REFUSED, UPDATE_GONE))
            ):
                return SEND_UPDATE
            return SEND_RETRY if entry.outcome in RETRYABLE else SEND_NEW
        if entry.outcome in RETRYABLE:
            if entry.attempts > self.max_retries:
                return SKIP_EXHAUSTED
            if (entry.reason or "").startswith(UPDATE_REFUSED):
                # the target holds the contact, the vendor refused to change it: try the update again
                # (sending it as new would give the key a second contact)
                return SEND_UPDATE if updates else SKIP_HELD
            return SEND_RETRY
        if entry.outcome == "removed":
            return SEND_NEW
        if entry.outcome in DELIVERED and entry.content_hash == content_hash(lead):
            return SKIP_UNCHANGED
        return SEND_UPDATE if updates and entry.outcome in DELIVERED else SKIP_HELD

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
        if self.seen is not None:
            self.seen.update(keys)
        for lead, k in zip(leads, keys, strict=True):
            entry = known.get(k)
            act = self.action(entry, lead)
            self.counts[act] += 1
            if act == SEND_UPDATE:
                assert entry is not None
                self.updates.append((lead, entry))
                continue
            if act in (SEND_NEW, SEND_RETRY):
                if act == SEND_RETRY and entry is not None and entry.outcome == "unknown":
                    self.recheck_rows.add(lead.row)
                yield lead
                continue
            reason = {
                SKIP_UNCHANGED: "the target holds this key with the same content",
                SKIP_HELD: "the target holds this key (insert mode does not update it)",
                SKIP_EXHAUSTED: f"refused or unknown on {entry.attempts if entry else 0} run(s); "
                f"max_sync_retries={self.max_retries}",
            }[act]
            if len(self.skipped) < self.sample_limit:
                self.skipped.append((lead.row, k[0], k[1], act, reason))
            if self.on_skip is not None:
                self.on_skip(lead, k, act, reason)

    def summary(self) -> dict[str, Any]:
        c = self.counts
        return {
            "mode": self.mode,
            "target": self.target,
            "to_add": c[SEND_NEW],
            "to_update": c[SEND_UPDATE],
            "retried": c[SEND_RETRY],
            "unchanged": c[SKIP_UNCHANGED],
            "held_by_target": c[SKIP_HELD],
            "retries_exhausted": c[SKIP_EXHAUSTED],
            "skipped_samples": [
                {"row": r, "key_kind": kk, "key": "..." + kv[-4:] if kk == "phone" else kv, "action": a, "reason": why}
                for r, kk, kv, a, why in self.skipped[:20]
            ],
        }


def _status(exc: BaseException) -> int | None:
    from airflow_provider_dialer.exceptions import DialerHTTPError

    return exc.status if isinstance(exc, DialerHTTPError) else None


def _refusal(exc: BaseException) -> str | None:
    """Why the vendor refused one contact change (a 4xx other than auth and rate limit), masked; None
    when the error is not about the contact (it then fails the task, and a retry does the change again)."""
    from airflow_provider_dialer.exceptions import (
        DialerAuthError,
        DialerHTTPError,
        DialerRateLimitError,
    )

    if (
        isinstance(exc, DialerHTTPError)
        and not isinstance(exc, (DialerAuthError, DialerRateLimitError))
        and 400 <= exc.status < 500
    ):
        return f"HTTP {exc.status}: {exc.body[:200]}"
    return None


def outcome_entries(
    leads: Sequence[PreparedLead],
    outcome: ChunkOutcome,
    key: str = "external_id",
    writer: str | None = None,
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


#: the target keys that name what a vendor dials from, most encompassing first: a uContact hub (every
#: list in it is dialed), a campaign (UJET; an XCALLY list attached to one), a list, a call-list name
_TARGET_KEYS = (("hub", "channel"), ("campaign_id",), ("list_id",), ("list_name",))


def target_name(target: dict[str, Any]) -> str:
    """The ledger name of an operator's target: ``hub=Ventas,channel=telephony``, ``campaign_id=6``, ``list_id=7``."""
    for keys in _TARGET_KEYS:
        if target.get(keys[0]) not in (None, ""):
            return ",".join(f"{k}={target[k]}" for k in keys if target.get(k) not in (None, ""))
    raise DialerConfigError(
        f"the target {sorted(target)} has no hub, campaign, list id or list name to key the ledger by; pass sync_target"
    )


class SyncRun:
    """One task attempt's sync: the plan over the ledger, the ledger writes, and the outcome log.

    The operator hands it the prepared leads (``leads``), every chunk's final outcome
    (``on_outcome``, from ``ChunkDelivery``) and every reject (``on_reject``); it keeps nothing per
    lead in memory. ``close`` writes what is buffered; call it when the attempt ends, also when it
    defers (each attempt walks every chunk again, so the log it leaves is the whole run's).
    """

    def __init__(
        self,
        *,
        dialer_conn_id: str,
        target: str,
        mode: str,
        writer: str,
        prepared_at: dt.datetime,
        ledger_conn_id: str | None,
        ledger_table: str = "dialer_sync_ledger",
        key: str = "external_id",
        max_retries: int = 3,
        outcome_log: Any = None,
        outcome_log_conn_id: str | None = None,
    ) -> None:
        from airflow_provider_dialer.pipeline.outcome_log import OutcomeLog

        check_mode(mode)
        if mode != "append" and not ledger_conn_id:
            raise DialerConfigError(f"sync_mode={mode!r} needs ledger_conn_id: the database that remembers the target")
        self.dialer_conn_id, self.target, self.mode, self.writer, self.key = dialer_conn_id, target, mode, writer, key
        self.ledger = SyncLedger(ledger_conn_id, ledger_table, batch_size=1000) if ledger_conn_id else None
        self.plan = (
            SyncPlan(
                self.ledger,
                dialer_conn_id,
                target,
                mode,
                writer=writer,
                prepared_at=prepared_at,
                key=key,
                max_retries=max_retries,
                on_skip=self._skipped,
            )
            if self.ledger is not None
            else None
        )
        self.log = OutcomeLog(outcome_log, outcome_log_conn_id) if outcome_log is not None else None
        self.recorded: Counter[str] = Counter()
        self._removals: list[LedgerEntry] | None = None
        self._closed = False

    def _row(
        self,
        row: int | None,
        key: tuple[str, str] | None,
        outcome: str,
        reason: str | None = None,
        vendor_ids: dict[str, Any] | None = None,
    ) -> Any:
        import json

        from airflow_provider_dialer.pipeline.outcome_log import OutcomeRow

        return OutcomeRow(
            self.writer,
            self.dialer_conn_id,
            self.target,
            row,
            key[0] if key else None,
            key[1] if key else None,
            outcome,
            reason,
            json.dumps(vendor_ids) if vendor_ids else None,
        )

    def leads(self, prepared: Iterable[PreparedLead]) -> Iterator[PreparedLead]:
        return self.plan.filter(prepared) if self.plan is not None else iter(prepared)

    def split_rechecks(
        self,
        chunks: Iterable[tuple[str, list[PreparedLead]]],
        progress: dict[str, Any],
    ) -> Iterator[tuple[str, list[PreparedLead]]]:
        """Leads whose fate an earlier run left unknown go in a chunk of their own, ``<key>/recheck``,
        marked in ``progress`` as in flight: delivery then reads the vendor's state before sending any
        of them (those that landed are not sent again; where the vendor cannot tell, they stay unknown)."""
        rows = self.plan.recheck_rows if self.plan is not None else set()
        for key, leads in chunks:
            again = [lead for lead in leads if lead.row in rows] if rows else []
            if not again:
                yield key, leads
                continue
            rest = [lead for lead in leads if lead.row not in rows]
            if rest:
                yield key, rest
            recheck = f"{key}/recheck"
            progress.setdefault("chunks", {}).setdefault(recheck, {"status": "sending"})
            yield recheck, again

    def _skipped(self, lead: PreparedLead, key: tuple[str, str], action: str, reason: str) -> None:
        if self.log is not None:
            self.log.add(self._row(lead.row, key, "unchanged" if action == SKIP_UNCHANGED else "skipped", reason))

    def on_outcome(self, chunk_key: str, leads: Sequence[PreparedLead], outcome: ChunkOutcome) -> None:
        entries = outcome_entries(leads, outcome, self.key, self.writer)
        if self.ledger is not None:
            self.ledger.record(self.dialer_conn_id, self.target, entries, run_id=self.writer)
        for lead, entry in zip(leads, entries, strict=True):
            self.recorded[entry.outcome] += 1
            if self.log is not None:
                self.log.add(self._row(lead.row, entry.key, entry.outcome, entry.reason))

    def on_reject(self, reject: Any) -> None:
        if self.log is not None and reject.level == "error":
            key = ("external_id", reject.external_id) if reject.external_id else None
            self.log.add(self._row(reject.row, key, "rejected", f"{reject.reason}: {reject.detail}".rstrip(": ")))

    def on_held(self, lead: PreparedLead, until: str) -> None:
        if self.log is not None:
            self.log.add(self._row(lead.row, lead_key(lead, self.key), "held", f"until {until}"))

    # -- upsert and mirror: updates and removals through the vendor's verbs -----------------------

    def removals(self) -> list[LedgerEntry]:
        """``mirror``: the ledger rows of keys the target holds (or may hold) that this run's source
        lacks. Call it once every prepared lead went through ``leads``; read once, then kept."""
        if self.plan is None or self.mode != "mirror" or self.ledger is None:
            return []
        if self._removals is None:
            seen = self.plan.seen or set()
            self._removals = [
                e
                for e in self.ledger.entries(self.dialer_conn_id, self.target)
                # a key an earlier attempt of this task removed stays in the plan: a retry reports it
                # removed (``apply_changes`` sends nothing for it)
                if (e.outcome != "removed" or self.plan.by_this_task(e)) and e.key not in seen
            ]
        return self._removals

    def apply_changes(self, hook: Any, target: dict[str, Any]) -> None:
        """After the adds: update the keys whose content changed (``upsert``, ``mirror``), then remove
        the keys that left the source (``mirror``), by the vendor's ids.

        Ids come from the ledger where an earlier run stored them; the others are read from the
        vendor in one read (``sync_contact_ids``). An update the vendor refuses (the contact is gone,
        the new phone belongs to another contact) is recorded ``refused``: the next run sends the key
        again as new. A key to remove that the target does not hold is recorded ``removed`` without a
        request. Updates and removals are idempotent, so a retry of the task simply does them again.
        Every result goes to the ledger (batched) and the outcome log.
        """
        if self.plan is None or self.mode not in ("upsert", "mirror"):
            return
        updates = self.plan.updates
        removals = self.removals()
        if removals and self.plan.seen is not None and not self.plan.seen:
            from airflow_provider_dialer.exceptions import DialerConfigError

            raise DialerConfigError(
                f"sync_mode='mirror': the source gave no lead at all, and mirroring it would remove all "
                f"{len(removals)} key(s) the target {self.target!r} holds; refusing. If that is meant, "
                "remove them with RemoveLeadsOperator or reset the ledger's target"
            )
        if not updates and not removals:
            return
        done = [entry for entry in removals if entry.outcome == "removed"]  # by an earlier attempt of this task
        removals = [entry for entry in removals if entry.outcome != "removed"]
        for entry in done:
            self._log_outcome(None, entry.key, "removed", entry.reason, entry.vendor_ids or None)
        need = [entry.key for _, entry in updates if not entry.vendor_ids]
        need += [entry.key for entry in removals if not entry.vendor_ids]
        resolved = hook.sync_contact_ids(target, need) if need else {}

        def reread(key: tuple[str, str]) -> dict[str, Any] | None:
            # the ledger's ids are stale (the contact was removed and added again outside this ledger)
            ids: dict[tuple[str, str], dict[str, Any]] = hook.sync_contact_ids(target, [key])
            return ids.get(key)

        entries: list[LedgerEntry] = []
        for lead, entry in updates:
            ids = entry.vendor_ids or resolved.get(entry.key)
            try:
                if ids:
                    try:
                        ids = hook.sync_update(target, lead, ids)
                    except Exception as exc:  # retried by reading only when the ledger's id is gone
                        if not (entry.vendor_ids and _status(exc) == 404):
                            raise
                        ids = reread(entry.key)
                        ids = hook.sync_update(target, lead, ids) if ids else None
            except Exception as exc:  # a refusal of this one lead is kept; anything else propagates
                why = _refusal(exc)
                if why is None:
                    raise
                entries.append(self._refused(lead, entry, f"{UPDATE_REFUSED}: {why}"))
                continue
            if not ids:
                # gone from the target: the next run sends it again as new
                entries.append(self._refused(lead, entry, UPDATE_GONE))
                continue
            entries.append(
                LedgerEntry(
                    entry.key_kind,
                    entry.lead_key,
                    "updated",
                    content_hash=content_hash(lead),
                    vendor_ids=ids,
                    run_id=self.writer,
                )
            )
            self._log_outcome(lead.row, entry.key, "updated", None, ids)
        for entry in removals:
            ids = entry.vendor_ids or resolved.get(entry.key)
            held = bool(ids) and hook.sync_remove(target, ids)
            if not held and entry.vendor_ids:
                ids = reread(entry.key)
                held = bool(ids) and hook.sync_remove(target, ids)
            why = None if held else "the target no longer held this key"
            entries.append(
                LedgerEntry(
                    entry.key_kind, entry.lead_key, "removed", reason=why, vendor_ids=ids or {}, run_id=self.writer
                )
            )
            self._log_outcome(None, entry.key, "removed", why, ids or None)
        assert self.ledger is not None
        for start in range(0, len(entries), self.ledger.batch_size):
            self.ledger.record(
                self.dialer_conn_id, self.target, entries[start : start + self.ledger.batch_size], run_id=self.writer
            )

    def _refused(self, lead: PreparedLead, entry: LedgerEntry, reason: str) -> LedgerEntry:
        self._log_outcome(lead.row, entry.key, "refused", reason, entry.vendor_ids or None)
        return LedgerEntry(entry.key_kind, entry.lead_key, "refused", reason=reason, run_id=self.writer)

    def _log_outcome(
        self, row: int | None, key: tuple[str, str], outcome: str, reason: str | None, ids: dict[str, Any] | None
    ) -> None:
        self.recorded[outcome] += 1
        if self.log is not None:
            self.log.add(self._row(row, key, outcome, reason, ids))

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = (
            self.plan.summary() if self.plan is not None else {"mode": self.mode, "target": self.target}
        )
        if self.mode == "mirror" and self.plan is not None:
            out["to_remove"] = (
                len(self._removals)
                if self._removals is not None
                else (len(self.removals()) if not self._closed else None)
            )
        out["recorded"] = dict(sorted(self.recorded.items()))
        if self.log is not None:
            out["outcome_log"] = self.log.where
        return out

    def close(self) -> None:
        self._closed = True
        try:
            if self.log is not None:
                self.log.close()
        finally:
            if self.ledger is not None:
                self.ledger.close()
