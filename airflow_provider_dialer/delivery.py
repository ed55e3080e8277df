"""Exactly-once delivery of lead chunks: progress that survives a task retry, and the unknown-fate rule.

Every chunk has a deterministic key (the same source and settings give the same chunks on every
attempt). Before a chunk is sent its key is written to the progress store as ``sending``; after the
vendor answers it is marked ``done`` with its outcome (written with the next save, see
``ChunkDelivery``). On a retry:

- ``done`` chunks are skipped (their outcome is reused for the summary);
- ``sending`` chunks (the previous attempt died or lost the answer) are never resent blindly: the
  vendor's state is read back through ``resolve``; when the vendor cannot tell, the chunk's leads are
  reported ``unknown``;
- chunks the vendor refused as a whole with a status that proves it did not apply them (4xx other
  than 408, 429, 503) are marked ``failed`` and sent again on the next attempt;
- a chunk sent record by record that stopped part-way (``ChunkInterruptedError``) is kept as
  ``partial``: what its first records did is recorded, and the next attempt sends only the rest.

XCom is cleared when a task retries, so progress lives in an Airflow Variable by default (one per
task instance and map index) or in a JSON file for local runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.exceptions import DialerAuthError, DialerDeliveryUnknownError, DialerError, DialerHTTPError

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

log = logging.getLogger(__name__)

#: statuses that prove the vendor did not apply a write
NOT_APPLIED = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503})


class ChunkInterruptedError(DialerError):
    """A chunk sent record by record stopped at a record the vendor provably did not apply.

    ``outcome`` covers the records handled before it, ``pending`` the rows not applied (that record
    and the ones after it), ``cause`` why it stopped. Delivery records both and raises ``cause``; the
    next attempt sends only ``pending``, so the records that landed are never sent twice.
    """

    def __init__(self, outcome: ChunkOutcome, pending: Sequence[int], cause: DialerError) -> None:
        super().__init__(str(cause))
        self.outcome = outcome
        self.pending = list(pending)
        self.cause = cause


def merge_outcomes(before: ChunkOutcome | None, after: ChunkOutcome) -> ChunkOutcome:
    """One chunk's outcome over attempts: what an earlier attempt learnt plus what this one did."""
    if before is None:
        return after
    ids = {kind: list(values) for kind, values in before.ids.items()}
    for kind, values in after.ids.items():
        bucket = ids.setdefault(kind, [])
        bucket.extend(v for v in values if v not in bucket)
    return ChunkOutcome(
        accepted=before.accepted + after.accepted, refused=before.refused + after.refused,
        unknown=before.unknown + after.unknown, missing=after.missing, ids=ids, how=after.how,
    )


class ProgressStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...


class MemoryProgressStore:
    """Progress kept in memory (dry runs and tests)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def load(self) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.state)) if self.state is not None else None

    def save(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))


class FileProgressStore:
    """Progress in a JSON file (a local path)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        return json.loads(self.path.read_text(encoding="utf-8"))

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.path)


class VariableProgressStore:
    """Progress in an Airflow Variable, keyed by DAG, run, task and map index (survives retries)."""

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    def for_task(cls, context: Any) -> VariableProgressStore:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        key = f"dialer_progress:{ti.dag_id}:{ti.run_id}:{ti.task_id}:{map_index}"
        return cls(key)

    def load(self) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        return Variable.get(self.key, default=None, deserialize_json=True)

    def save(self, state: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, state, serialize_json=True)


@dataclass
class DeliveryReport:
    """Totals over all chunks of one delivery (this attempt and the ones before it)."""

    chunks: int = 0
    chunks_skipped: int = 0
    chunks_resolved: int = 0
    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    refused_rows: list[dict[str, Any]] = field(default_factory=list)
    unknown: int = 0
    unknown_rows: list[int] = field(default_factory=list)
    ids: dict[str, list[Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: ChunkOutcome, samples: int = 100) -> None:
        self.accepted += outcome.accepted
        for entry in outcome.refused:
            reason = entry.get("reason", "refused")
            self.refused[reason] = self.refused.get(reason, 0) + 1
            if len(self.refused_rows) < samples:
                self.refused_rows.append(entry)
        self.unknown += len(outcome.unknown)
        room = samples - len(self.unknown_rows)
        if room > 0:
            self.unknown_rows.extend(outcome.unknown[:room])
        for kind, values in outcome.ids.items():
            bucket = self.ids.setdefault(kind, [])
            bucket.extend(v for v in values if v not in bucket)


class ChunkDelivery:
    """Sends keyed chunks with bounded concurrency, recording progress before and after each send.

    Every mark that guards against a second send (``sending``, ``partial``, ``failed``, a resend) is
    saved before the request goes out. A ``done`` mark only saves work on a retry (the chunk is
    skipped instead of read back), so it is written with the next save, at the latest
    ``flush_seconds`` after it was made (a timer writes it when no other save comes), and at the end
    of the run: a 1,000,000-lead upload writes its progress about once per chunk instead of twice
    (each write is an Airflow Variable update).
    """

    #: longest a ``done`` mark waits for the next save
    flush_seconds: float = 1.0

    def __init__(
        self,
        store: ProgressStore,
        send: Callable[[str, Sequence[PreparedLead]], ChunkOutcome],
        resolve: Callable[[str, Sequence[PreparedLead]], ChunkOutcome | None],
        concurrency: int = 4,
        state: dict[str, Any] | None = None,
        screen: Callable[[str, Sequence[PreparedLead]], Sequence[PreparedLead]] | None = None,
    ) -> None:
        self.store = store
        self.send = send
        self.resolve = resolve
        #: called just before leads go out (a chunk, its pending rest, or a resend): returns the leads
        #: that may go out now; what it keeps back it records with ``record`` (saved with the next mark)
        self.screen = screen
        self.concurrency = max(1, concurrency)
        self.state = state if state is not None else (store.load() or {})
        self.state.setdefault("chunks", {})
        self.report = DeliveryReport()
        self._lock = threading.Lock()
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._timer: threading.Timer | None = None

    def _mark(self, key: str, status: str, outcome: ChunkOutcome | None = None, pending: list[int] | None = None) -> None:
        with self._lock:
            entry: dict[str, Any] = {"status": status}
            if outcome is not None:
                entry["outcome"] = outcome.as_dict()
            if pending is not None:
                entry["pending"] = pending
            self.state["chunks"][key] = entry
            if status == "done" and time.monotonic() - self._saved_at < self.flush_seconds:
                self._unsaved = True  # saved with the next mark, or by the timer (see the class docstring)
                if self._timer is None:
                    self._timer = threading.Timer(self.flush_seconds, self.flush)
                    self._timer.daemon = True
                    self._timer.start()
            else:
                self._save()

    def record(self, section: str, entries: dict[str, Any]) -> None:
        """Add ``entries`` to a section of the progress state; they are written with the next save
        (the ``sending`` mark that follows a screen, before its request goes out)."""
        with self._lock:
            self.state.setdefault(section, {}).update(entries)

    def _save(self) -> None:
        """Write the state (the caller holds the lock)."""
        self.store.save(self.state)
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._timer: threading.Timer | None = None

    def flush(self) -> None:
        """Write ``done`` marks not saved yet."""
        with self._lock:
            self._timer = None
            if self._unsaved:
                self._save()

    def _unknown(self, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        return ChunkOutcome(unknown=[lead.row for lead in leads], how="unknown")

    def _read(self, key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        try:
            return self.resolve(key, leads)
        except DialerError as exc:
            log.warning("chunk %s: reading the vendor's state failed (%s); its leads are reported unknown", key, exc)
            return None

    @staticmethod
    def _absorb(outcome: ChunkOutcome, other: ChunkOutcome) -> None:
        outcome.accepted += other.accepted
        outcome.refused += other.refused
        outcome.unknown += other.unknown + other.missing
        for kind, values in other.ids.items():
            outcome.ids.setdefault(kind, []).extend(values)

    def _note_resend(self, key: str) -> None:
        """Record that the chunk's missing leads are being sent again (under ``<key>/resend``)."""
        with self._lock:
            self.state["chunks"].setdefault(key, {"status": "sending"})["resending"] = True
            self._save()

    def _resolve_or_unknown(
        self, key: str, leads: Sequence[PreparedLead], resend: bool = True, resent_before: bool = False
    ) -> ChunkOutcome:
        outcome = self._read(key, leads)
        if outcome is None:
            return self._unknown(leads)
        outcome.how = "resolved"
        if outcome.missing and resend:
            # the read proved these leads did not land: sending them once more cannot duplicate them
            rows = set(outcome.missing)
            again = [lead for lead in leads if lead.row in rows]
            outcome.missing = []
            if resent_before:
                # the attempt that ended was sending them again: read that resend before sending
                earlier = self._read(f"{key}/resend", again)
                if earlier is None:
                    outcome.unknown += [lead.row for lead in again]
                    return outcome
                still = set(earlier.missing)
                earlier.missing = []
                self._absorb(outcome, earlier)
                again = [lead for lead in again if lead.row in still]
                if not again:
                    return outcome
            if self.screen is not None:
                again = list(self.screen(f"{key}/resend", again))
                if not again:
                    return outcome
            log.warning("chunk %s: %d lead(s) did not land; sending them again", key, len(again))
            self._note_resend(key)
            try:
                retry = self.send(f"{key}/resend", again)
            except (DialerDeliveryUnknownError, DialerHTTPError) as exc:
                log.warning("chunk %s: resend failed (%s); reading the vendor's state again", key, exc)
                retry = self._resolve_or_unknown(f"{key}/resend", again, resend=False)
            self._absorb(outcome, retry)
        elif outcome.missing:
            outcome.unknown += outcome.missing
            outcome.missing = []
        return outcome

    def _stopped(self, key: str, handled: ChunkOutcome | None, pending: list[int]) -> None:
        """Record a chunk whose ``pending`` rows were not applied: ``failed`` if nothing else was, else ``partial``."""
        if handled is None or not (handled.accepted or handled.refused or handled.unknown):
            self._mark(key, "failed")
        else:
            self._mark(key, "partial", handled, pending)

    def _deliver_one(self, key: str, leads: Sequence[PreparedLead], prior: ChunkOutcome | None = None) -> ChunkOutcome:
        if self.screen is not None:
            leads = self.screen(key, leads)
            if not leads:  # every lead kept back: nothing goes out
                outcome = prior or ChunkOutcome()
                self._mark(key, "done", outcome)
                return outcome
        rows = [lead.row for lead in leads]
        # a partial chunk keeps what its first records did while the rest is in flight
        self._mark(key, "sending", prior, rows if prior is not None else None)
        try:
            outcome = self.send(key, leads)
        except ChunkInterruptedError as exc:
            log.warning("chunk %s stopped after some records (%s); the next attempt sends only the %d left",
                        key, exc.cause, len(exc.pending))
            self._stopped(key, merge_outcomes(prior, exc.outcome), exc.pending)
            raise exc.cause from None
        except DialerDeliveryUnknownError as exc:
            log.warning("chunk %s: %s; reading the vendor's state to learn what landed", key, exc)
            outcome = self._resolve_or_unknown(key, leads)
        except DialerHTTPError as exc:
            if exc.status in NOT_APPLIED or isinstance(exc, DialerAuthError):
                # refused before anything was applied (an auth failure may come with a 200 body of "0")
                self._stopped(key, prior, rows)
                raise
            log.warning("chunk %s: %s; its fate is unknown, reading the vendor's state", key, exc)
            outcome = self._resolve_or_unknown(key, leads)
        outcome = merge_outcomes(prior, outcome)
        self._mark(key, "done", outcome)
        return outcome

    def run(self, chunks: Iterable[tuple[str, Sequence[PreparedLead]]]) -> DeliveryReport:
        """Deliver every chunk not yet done; raise the first hard failure after the others finished."""
        try:
            return self._run(chunks)
        finally:
            timer = self._timer
            if timer is not None:
                timer.cancel()
            self.flush()

    def _run(self, chunks: Iterable[tuple[str, Sequence[PreparedLead]]]) -> DeliveryReport:
        errors: list[BaseException] = []
        in_flight: set[Future[ChunkOutcome]] = set()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dialer-chunk") as pool:
            for key, leads in chunks:
                self.report.chunks += 1
                previous = self.state["chunks"].get(key)
                if previous and previous["status"] == "done":
                    self.report.chunks_skipped += 1
                    self.report.add(ChunkOutcome.from_dict(previous["outcome"]))
                    continue
                prior = ChunkOutcome.from_dict(previous["outcome"]) if previous and previous.get("outcome") else None
                if previous and "pending" in previous:
                    # the chunk stopped part-way before: only its records that did not land are left
                    pending = set(previous["pending"])
                    leads = [lead for lead in leads if lead.row in pending]
                if previous and previous["status"] == "sending":
                    log.warning("chunk %s was in flight when the previous attempt ended; reading the vendor's state", key)
                    resolved = self._resolve_or_unknown(key, leads, resent_before=bool(previous.get("resending")))
                    outcome = merge_outcomes(prior, resolved)
                    self._mark(key, "done", outcome)
                    self.report.chunks_resolved += 1
                    self.report.add(outcome)
                    continue
                while len(in_flight) >= self.concurrency:
                    in_flight = self._collect(in_flight, errors)
                if errors:
                    continue  # after a hard failure nothing new is sent; the retry picks it up
                in_flight.add(pool.submit(self._deliver_one, key, leads, prior))
            while in_flight:
                in_flight = self._collect(in_flight, errors)
        if errors:
            self.report.failures = [str(e) for e in errors]
            raise errors[0]
        return self.report

    def _collect(self, in_flight: set[Future[ChunkOutcome]], errors: list[BaseException]) -> set[Future[ChunkOutcome]]:
        done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            exc = future.exception()
            if exc is not None:
                errors.append(exc)
            else:
                self.report.add(future.result())
        return pending
