"""Exactly-once delivery of lead chunks: progress that survives a task retry, and the unknown-fate rule.

Over 500 lines because ``ChunkDelivery`` is one state machine (mark, send, resolve, settle, split)
whose steps read and write the same progress under one lock; split apart, each piece would need it all.

Every chunk has a deterministic key (the same source and settings give the same chunks on every
attempt). Before a chunk is sent its key is written to the progress store as ``sending``; after the
vendor answers it is marked ``done`` with its outcome (written with the next save, see
``ChunkDelivery``). On a retry:

- ``done`` chunks are skipped (their outcome is reused for the summary);
- ``sending`` chunks (the previous attempt died or lost the answer) are never resent blindly: the
  vendor's state is read back through ``resolve``; when the vendor cannot tell, the chunk's leads are
  reported ``unknown``; a read that finds leads missing is settled first (read again
  ``settle_seconds`` later, see ``ChunkDelivery._settled``), as the vendor may still apply a write
  it received, and only the leads the settled read proves absent are sent again;
- chunks the vendor refused as a whole with a status that proves it did not apply them (4xx other
  than 408, 429, 503) are marked ``failed`` and sent again on the next attempt;
- a chunk sent record by record that stopped part-way (``ChunkInterruptedError``) is kept as
  ``partial``: what its first records did is recorded, and the next attempt sends only the rest.
- a chunk the vendor refused as a whole with a status that points at its content (400, 413, 422)
  is split in halves, and the halves again, until the leads the vendor refuses are found one by
  one: each is reported refused with the vendor's reason, the rest land (see ``_split``).

The stores themselves (memory, a journal file, Airflow Variable) are in ``pipeline/progress_store.py``;
this module holds what delivery needs of one (``ProgressStore``). A task that ended successfully
marks its progress complete; completed progress of the same DAG older than the retention is removed
then (``ProgressStore.complete``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerDeliveryUnknownError,
    DialerError,
    DialerHTTPError,
    DialerSendTooLateError,
    mask_phone_numbers,
)
from airflow_provider_dialer.transport.send_by import send_by

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

log = logging.getLogger(__name__)

#: statuses that prove the vendor did not apply a write
NOT_APPLIED = frozenset({400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503})
#: statuses of a chunk refused for its content: the chunk is split until the refused leads are found
SPLIT_ON = frozenset({400, 413, 422})
#: how many times a chunk whose write would have left too late is checked against the window again
#: (after the wait the server or the rate limit asked for) and sent, before the attempt gives up on it
#: (the next attempt starts from its progress)
SCREEN_ROUNDS = 5


def vendor_reason(exc: DialerHTTPError) -> tuple[str | None, str]:
    """The field (when the vendor names one) and the vendor's own words for a refusal, phones masked.

    A JSON body's ``message`` (and the first ``errors[].path``) is preferred to the raw body; the
    text is cut to 300 characters. ``DialerHTTPError`` masks phone numbers in its body already.
    """
    import json as _json

    body = (exc.body or "").strip()
    field_name: str | None = None
    detail = body
    try:
        data = _json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            path = errors[0].get("path")
            field_name = str(path) if path else None
            detail = str(errors[0].get("message") or data.get("message") or body)
        elif data.get("message"):
            detail = str(data["message"])
    detail = f"HTTP {exc.status}: {detail}" if detail else f"HTTP {exc.status}"
    return field_name, detail[:300]


#: reads, ``settle_seconds`` apart, after the first one before leads still changing are reported unknown
SETTLE_ROUNDS = 6
#: times the leads a settled read proved absent are sent again for one chunk
RESEND_ROUNDS = 3


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
        accepted=before.accepted + after.accepted,
        refused=before.refused + after.refused,
        unknown=before.unknown + after.unknown,
        missing=after.missing,
        ids=ids,
        how=after.how,
        already_held=before.already_held + after.already_held,
    )


class ProgressStore(Protocol):
    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...

    # A store may also offer ``save_changes(state, changed)``: the same save, told which entries
    # (``("chunks", key)``, ``(section, name)``) changed since the last one, so it can write only those.

    def complete(self, retention: dt.timedelta) -> None:
        """The task ended successfully: mark the progress complete (a cleared task then sends nothing
        twice) and remove this DAG's progress that was completed more than ``retention`` ago."""


@dataclass
class DeliveryReport:
    """Totals over all chunks of one delivery (this attempt and the ones before it)."""

    chunks: int = 0
    #: chunks a previous attempt had delivered (skipped by this one)
    chunks_skipped: int = 0
    #: chunks whose outcome was learnt by reading the vendor's state after their answer was lost
    #: (in this attempt or an earlier one)
    chunks_resolved: int = 0
    #: chunks refused as a whole for their content and split to find the leads the vendor refuses
    chunks_split: int = 0
    accepted: int = 0
    #: rows of ``accepted`` leads the target already held (nothing new stored for them)
    already_held: list[int] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    #: every refused lead ``{"row", "reason", "detail"[, "field"]}`` (the progress holds them anyway)
    refused_rows: list[dict[str, Any]] = field(default_factory=list)
    unknown: int = 0
    #: every row whose fate is unknown
    unknown_rows: list[int] = field(default_factory=list)
    ids: dict[str, list[Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, outcome: ChunkOutcome) -> None:
        self.accepted += outcome.accepted
        self.already_held.extend(outcome.already_held)
        if outcome.how == "resolved":
            self.chunks_resolved += 1
        elif outcome.how == "split":
            self.chunks_split += 1
        for entry in outcome.refused:
            reason = entry.get("reason", "refused")
            self.refused[reason] = self.refused.get(reason, 0) + 1
            if entry.get("detail"):
                # a hook may quote the vendor, and the vendor may quote the phone: these rows reach logs
                entry = {**entry, "detail": mask_phone_numbers(str(entry["detail"]))}
            self.refused_rows.append(entry)
        self.unknown += len(outcome.unknown)
        self.unknown_rows.extend(outcome.unknown)
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
        on_outcome: Callable[[str, Sequence[PreparedLead], ChunkOutcome], None] | None = None,
        settle_seconds: float = 0.0,
        screen: Callable[[str, Sequence[PreparedLead]], Sequence[PreparedLead]] | None = None,
        send_within: float | None = None,
    ) -> None:
        self.store = store
        #: called in the calling thread with every chunk's final outcome (delivered, resolved, or done
        #: in an earlier attempt), with all of the chunk's leads: the sync ledger records from it
        self.on_outcome = on_outcome
        self._chunk_of: dict[Future[ChunkOutcome], tuple[str, Sequence[PreparedLead]]] = {}
        self.send = send
        self.resolve = resolve
        #: called just before leads go out (a chunk, its pending rest, or a resend): returns the leads
        #: that may go out now; what it keeps back it records with ``record`` (saved with the next mark)
        self.screen = screen
        #: seconds after a screen within which its writes must leave (the window check's margin); a
        #: write that would leave later is not sent (``DialerSendTooLateError``) and its chunk is
        #: screened again. None: no limit (no screen, or the caller keeps its own)
        self.send_within = send_within
        self.concurrency = max(1, concurrency)
        self.settle_seconds = max(0.0, float(settle_seconds))
        self.state = state if state is not None else (store.load() or {})
        self.state.setdefault("chunks", {})
        self.report = DeliveryReport()
        self._lock = threading.Lock()
        #: the state's entries changed since the last save, for a store that writes only those
        #: (``save_changes``, see ``pipeline.progress_store.FileProgressStore``); the first save is whole
        self._changed: set[tuple[str, ...]] = set()
        self._saved_whole = False
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._timer: threading.Timer | None = None

    def _mark(
        self,
        key: str,
        status: str,
        outcome: ChunkOutcome | None = None,
        pending: list[int] | None = None,
        piece: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            entry: dict[str, Any] = {"status": status}
            if outcome is not None:
                entry["outcome"] = outcome.as_dict()
            if pending is not None:
                entry["pending"] = pending
            if piece is not None:
                entry["piece"] = piece
            self.state["chunks"][key] = entry
            self._changed.add(("chunks", key))
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
            self._changed.update((section, name) for name in entries)

    def _save(self) -> None:
        """Write the state, or only what changed when the store can (the caller holds the lock)."""
        save_changes = getattr(self.store, "save_changes", None)
        if save_changes is not None and self._saved_whole:
            save_changes(self.state, self._changed)
        else:
            self.store.save(self.state)
            self._saved_whole = True
        self._changed = set()
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._timer = None

    def flush(self) -> None:
        """Write ``done`` marks not saved yet."""
        with self._lock:
            self._timer = None
            if self._unsaved:
                self._save()

    def _unknown(self, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        return ChunkOutcome(unknown=[lead.row for lead in leads], how="unknown")

    def _read(self, key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        """The vendor's state for a chunk whose fate is unknown, settled (see :meth:`_settled`)."""
        try:
            return self._settled(key, leads)
        except DialerError as exc:
            log.warning("chunk %s: reading the vendor's state failed (%s); its leads are reported unknown", key, exc)
            return None

    def _settled(self, key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        """Read until the leads found missing stay missing over ``settle_seconds``: only then are they absent.

        A server may still apply a request after its client stopped waiting (a late write). A read
        taken at once would call such leads missing, they would be sent again, and the late write
        would then store them twice. So a read that finds every lead returns at once (nothing is
        resent), and a read that misses some is repeated ``settle_seconds`` later: the missing leads
        count as absent (and are resent) only when two reads that far apart agree. Reads keep going,
        ``settle_seconds`` apart, while they change (an import still storing), at most
        ``SETTLE_ROUNDS`` times; leads still changing then are reported ``unknown``.

        The guarantee rests on one assumption, stated in ``docs/reliability.md``: the vendor applies
        a request no later than ``settle_seconds`` after the client gave up on it. Every call comes
        after the client gave up (the send raised, or the attempt that sent it ended), so the second
        read is at least that long after. ``settle_seconds`` of 0 reads once (no settling).
        """
        first = self.resolve(key, leads)
        if first is None or not first.missing or self.settle_seconds <= 0:
            return first
        for _ in range(SETTLE_ROUNDS):
            log.info(
                "chunk %s: %d lead(s) not found; reading again in %.1fs in case a late write lands",
                key,
                len(first.missing),
                self.settle_seconds,
            )
            time.sleep(self.settle_seconds)
            again = self.resolve(key, leads)
            if again is None or not again.missing or set(again.missing) == set(first.missing):
                return again
            first = again
        log.warning(
            "chunk %s: the vendor's state kept changing over %d reads; %d lead(s) reported unknown",
            key,
            SETTLE_ROUNDS + 1,
            len(first.missing),
        )
        first.unknown += first.missing
        first.missing = []
        return first

    @staticmethod
    def _absorb(outcome: ChunkOutcome, other: ChunkOutcome) -> None:
        outcome.accepted += other.accepted
        outcome.already_held += other.already_held
        outcome.refused += other.refused
        outcome.unknown += other.unknown + other.missing
        for kind, values in other.ids.items():
            outcome.ids.setdefault(kind, []).extend(values)

    def _note_resend(self, key: str) -> None:
        """Record that the chunk's missing leads are being sent again (under ``<key>/resend``)."""
        with self._lock:
            self.state["chunks"].setdefault(key, {"status": "sending"})["resending"] = True
            self._changed.add(("chunks", key))
            self._save()

    def _resolve_or_unknown(
        self, key: str, leads: Sequence[PreparedLead], resend: bool = True, resent_before: bool = False
    ) -> ChunkOutcome:
        """Learn a chunk's fate from a settled read (see :meth:`_settled`); send what it proved absent again.

        The leads are resent under ``<key>/resend``; when that answer is lost too, its own settled
        read decides, and what it proves absent is sent once more, at most ``RESEND_ROUNDS`` sends
        in all. Leads no read could settle are reported ``unknown``, never sent blindly.
        """
        outcome = self._read(key, leads)
        if outcome is None:
            return self._unknown(leads)
        outcome.how = "resolved"
        if not outcome.missing:
            return outcome
        rows = set(outcome.missing)
        outcome.missing = []
        again = [lead for lead in leads if lead.row in rows]
        if not resend:
            outcome.unknown += [lead.row for lead in again]
            return outcome
        if resent_before:
            # the attempt that ended was sending them again: read that resend before sending
            again = self._settle_resend(key, again, outcome)
        for _ in range(RESEND_ROUNDS):
            screened_at = time.monotonic()
            if again and self.screen is not None:
                # the calling window is checked again against the clock of this send
                again = list(self.screen(f"{key}/resend", again))
            if not again:
                return outcome
            # a settled read proved these leads absent: sending them once more cannot duplicate them
            log.warning("chunk %s: %d lead(s) did not land; sending them again", key, len(again))
            self._note_resend(key)
            try:
                self._absorb(outcome, self._send_in_time(f"{key}/resend", again, screened_at))
                return outcome
            except DialerSendTooLateError as exc:
                if exc.writes_sent:
                    again = self._settle_resend(key, again, outcome)
                else:  # nothing of it went out: wait as asked, the next round checks the windows again
                    log.warning("chunk %s: resend %s; checking its calling windows again in %.1fs", key, exc, exc.wait)
                    time.sleep(exc.wait)
            except (DialerDeliveryUnknownError, DialerHTTPError) as exc:
                log.warning("chunk %s: resend failed (%s); reading the vendor's state again", key, exc)
                again = self._settle_resend(key, again, outcome)
        outcome.unknown += [lead.row for lead in again]
        return outcome

    def _settle_resend(self, key: str, again: list[PreparedLead], outcome: ChunkOutcome) -> list[PreparedLead]:
        """Read the resend of ``again`` into ``outcome``; return the leads it proved absent (or [] when unreadable)."""
        earlier = self._read(f"{key}/resend", again)
        if earlier is None:
            outcome.unknown += [lead.row for lead in again]
            return []
        still = set(earlier.missing)
        earlier.missing = []
        self._absorb(outcome, earlier)
        return [lead for lead in again if lead.row in still]

    def _stopped(self, key: str, handled: ChunkOutcome | None, pending: list[int]) -> None:
        """Record a chunk whose ``pending`` rows were not applied: ``failed`` if nothing else was, else ``partial``."""
        if handled is None or not (handled.accepted or handled.refused or handled.unknown):
            self._mark(key, "failed")
        else:
            self._mark(key, "partial", handled, pending)

    def _send_in_time(self, key: str, leads: Sequence[PreparedLead], screened_at: float) -> ChunkOutcome:
        """``send``, its writes refused once ``send_within`` seconds have passed since the screen."""
        if self.send_within is None or self.screen is None:
            return self.send(key, leads)
        with send_by(screened_at + self.send_within):
            return self.send(key, leads)

    def _deliver_one(
        self, key: str, leads: Sequence[PreparedLead], prior: ChunkOutcome | None = None, rounds: int = 1
    ) -> ChunkOutcome:
        screened_at = time.monotonic()
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
            outcome = self._send_in_time(key, leads, screened_at)
        except DialerSendTooLateError as exc:
            if exc.writes_sent:  # part of the chunk went out before: learn what landed, as for a lost answer
                log.warning("chunk %s: %s; reading the vendor's state to learn what landed", key, exc)
                outcome = self._resolve_or_unknown(key, leads)
            elif rounds < SCREEN_ROUNDS:  # nothing went out: wait as asked, check the windows at that instant, send
                log.warning("chunk %s: %s; checking its calling windows again in %.1fs", key, exc, exc.wait)
                time.sleep(exc.wait)
                return self._deliver_one(key, leads, prior, rounds + 1)
            else:
                self._stopped(key, prior, rows)
                raise
        except ChunkInterruptedError as exc:
            log.warning(
                "chunk %s stopped after some records (%s); the next attempt sends only the %d left",
                key,
                exc.cause,
                len(exc.pending),
            )
            self._stopped(key, merge_outcomes(prior, exc.outcome), exc.pending)
            raise exc.cause from None
        except DialerDeliveryUnknownError as exc:
            log.warning("chunk %s: %s; reading the vendor's state to learn what landed", key, exc)
            outcome = self._resolve_or_unknown(key, leads)
        except DialerHTTPError as exc:
            if self._splits(exc):
                outcome = self._split(key, leads, prior, exc, screened_at)
                self._mark(key, "done", outcome)
                return outcome
            if exc.status in NOT_APPLIED or isinstance(exc, DialerAuthError):
                # refused before anything was applied (an auth failure may come with a 200 body of "0")
                self._stopped(key, prior, rows)
                raise
            log.warning("chunk %s: %s; its fate is unknown, reading the vendor's state", key, exc)
            outcome = self._resolve_or_unknown(key, leads)
        outcome = merge_outcomes(prior, outcome)
        if prior is not None and prior.how == "split":
            outcome.how = "split"  # the rest of a chunk whose split an earlier attempt began
        self._mark(key, "done", outcome)
        return outcome

    @staticmethod
    def _splits(exc: DialerHTTPError) -> bool:
        """Whether a refusal of a whole chunk points at its content (so at one or more of its leads)."""
        return exc.status in SPLIT_ON and not isinstance(exc, DialerAuthError)

    def _split(
        self,
        key: str,
        leads: Sequence[PreparedLead],
        prior: ChunkOutcome | None,
        refusal: DialerHTTPError,
        screened_at: float,
    ) -> ChunkOutcome:
        """Find the leads a vendor refuses in a chunk it refused as a whole, and deliver the others.

        The chunk is cut in halves, each half sent under its own key (``<key>/<first row>+<size>``,
        so a lost answer is read back under the name it was sent with); a half refused for its
        content is cut again, down to single leads, which are reported refused with the vendor's
        reason. A chunk with one bad lead among n costs about 2*log2(n) extra requests.

        Before each piece goes out the chunk is saved as ``sending`` with what is done so far, the
        rows still pending and the piece in flight: a retry reads that piece back and sends only
        the rest. Any other failure stops the split the way it stops a chunk.
        """
        log.warning(
            "chunk %s: the vendor refused it as a whole (%s); splitting it to find the leads it refuses",
            key,
            vendor_reason(refusal)[1],
        )
        done = merge_outcomes(prior, ChunkOutcome(how="split"))
        done.how = "split"
        if len(leads) == 1:
            stack: list[list[PreparedLead]] = []
            self._refuse(done, leads[0], refusal)
        else:
            half = len(leads) // 2
            stack = [list(leads[half:]), list(leads[:half])]
        while stack:
            piece = stack.pop()
            piece_key = f"{key}/{piece[0].row}+{len(piece)}"
            pending = [lead.row for part in (piece, *reversed(stack)) for lead in part]
            self._mark(key, "sending", done, pending, {"key": piece_key, "rows": [lead.row for lead in piece]})
            try:
                got = self._send_in_time(piece_key, piece, screened_at)
            except DialerSendTooLateError as exc:
                if not exc.writes_sent:  # the chunk's window check no longer holds: the next attempt checks again
                    self._stopped(key, done, pending)
                    raise
                log.warning("chunk %s: %s; reading the vendor's state to learn what landed", piece_key, exc)
                got = self._resolve_or_unknown(piece_key, piece)
            except ChunkInterruptedError as exc:
                self._stopped(key, merge_outcomes(done, exc.outcome), [*exc.pending, *pending[len(piece) :]])
                raise exc.cause from None
            except DialerDeliveryUnknownError as exc:
                log.warning("chunk %s: %s; reading the vendor's state to learn what landed", piece_key, exc)
                got = self._resolve_or_unknown(piece_key, piece)
            except DialerHTTPError as exc:
                if self._splits(exc):
                    if len(piece) == 1:
                        self._refuse(done, piece[0], exc)
                    else:
                        half = len(piece) // 2
                        stack += [piece[half:], piece[:half]]
                    continue
                if exc.status in NOT_APPLIED or isinstance(exc, DialerAuthError):
                    self._stopped(key, done, pending)
                    raise
                log.warning("chunk %s: %s; its fate is unknown, reading the vendor's state", piece_key, exc)
                got = self._resolve_or_unknown(piece_key, piece)
            self._absorb(done, got)
            done.missing = []
        return done

    @staticmethod
    def _refuse(outcome: ChunkOutcome, lead: PreparedLead, exc: DialerHTTPError) -> None:
        field_name, detail = vendor_reason(exc)
        entry: dict[str, Any] = {"row": lead.row, "reason": "vendor_refused", "detail": detail}
        if field_name:
            entry["field"] = field_name
        outcome.refused.append(entry)
        log.warning("row %d: refused by the vendor: %s", lead.row, detail)

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
                chunk = leads
                if previous and previous["status"] == "done":
                    self.report.chunks_skipped += 1
                    self._count(key, chunk, ChunkOutcome.from_dict(previous["outcome"]))
                    continue
                prior = ChunkOutcome.from_dict(previous["outcome"]) if previous and previous.get("outcome") else None
                if previous and "pending" in previous:
                    # the chunk stopped part-way before: only its records that did not land are left
                    pending = set(previous["pending"])
                    leads = [lead for lead in leads if lead.row in pending]
                if previous and previous["status"] == "sending" and previous.get("piece"):
                    # the previous attempt died while splitting this chunk: read back the piece in
                    # flight, then deliver the rows it never sent (splitting again if need be)
                    piece = previous["piece"]
                    in_piece = set(piece["rows"])
                    log.warning(
                        "chunk %s: piece %s was in flight when the previous attempt ended; reading the vendor's state",
                        key,
                        piece["key"],
                    )
                    resent = bool(self.state["chunks"].get(piece["key"], {}).get("resending"))
                    read = self._resolve_or_unknown(
                        piece["key"], [lead for lead in leads if lead.row in in_piece], resent_before=resent
                    )
                    prior = merge_outcomes(prior, read)
                    prior.how, prior.missing = "split", []
                    leads = [lead for lead in leads if lead.row not in in_piece]
                    if not leads:
                        self._mark(key, "done", prior)
                        self._count(key, chunk, prior)
                        continue
                elif previous and previous["status"] == "sending":
                    log.warning(
                        "chunk %s was in flight when the previous attempt ended; reading the vendor's state", key
                    )
                    resolved = self._resolve_or_unknown(key, leads, resent_before=bool(previous.get("resending")))
                    outcome = merge_outcomes(prior, resolved)
                    self._mark(key, "done", outcome)
                    self._count(key, chunk, outcome)
                    continue
                while len(in_flight) >= self.concurrency:
                    in_flight = self._collect(in_flight, errors)
                if errors:
                    continue  # after a hard failure nothing new is sent; the retry picks it up
                future = pool.submit(self._deliver_one, key, leads, prior)
                self._chunk_of[future] = (key, chunk)
                in_flight.add(future)
            while in_flight:
                in_flight = self._collect(in_flight, errors)
        if errors:
            self.report.failures = [str(e) for e in errors]
            raise errors[0]
        return self.report

    def _collect(self, in_flight: set[Future[ChunkOutcome]], errors: list[BaseException]) -> set[Future[ChunkOutcome]]:
        done, pending = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            key, chunk = self._chunk_of.pop(future)
            exc = future.exception()
            if exc is not None:
                errors.append(exc)
            else:
                self._count(key, chunk, future.result())
        return pending

    def _count(self, key: str, leads: Sequence[PreparedLead], outcome: ChunkOutcome) -> None:
        """A chunk's final outcome: into the report, and to the listener (the sync ledger) if any."""
        self.report.add(outcome)
        if self.on_outcome is not None:
            self.on_outcome(key, leads, outcome)
