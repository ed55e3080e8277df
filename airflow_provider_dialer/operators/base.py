"""What every lead-pushing operator shares: read and prepare leads, hold back what may not be dialed yet,
deliver chunks exactly once across retries, and report.

A subclass names the capability it needs and how to open its target and send/resolve a chunk; it
never names a vendor. The flow of one task:

1. pick the hook from the connection and check the capability (before reading anything);
2. load progress (an Airflow Variable by default), which fixes the preparation instant ``now`` and
   the target (list, hub, campaign) for every later attempt;
3. prepare the leads (streamed): phones, zones, schedules, the calling-hours guard, de-dup, DNC;
4. split them into *waves*: vendors that take a per-lead time get every lead now, with its time on
   the wire; for the others a lead whose time is in the future waits for its wave;
5. deliver the due waves' chunks with bounded concurrency (``ChunkDelivery``), checking each lead's
   calling window again against the clock of the moment its chunk goes out (``_screen``): a lead
   outside it gets the next opening on the wire, waits for a later wave, or is rejected, by policy;
6. defer until the next wave opens (no worker slot held), then resume at step 2;
7. push a small summary to XCom, write the reject report (with the leads the vendor refused and
   those whose fate is unknown), and fail only after the valid leads were handled when the leads
   not delivered (rejected + refused + unknown) exceed ``max_reject_ratio``;
8. on success, mark the progress complete; this DAG's progress completed more than
   ``progress_retention_days`` ago is removed (a cleared task sends nothing twice within that time).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.hooks.registry import TaskHook
from airflow_provider_dialer.operators.arguments import LeadArguments
from airflow_provider_dialer.operators.observe import ObservedRun
from airflow_provider_dialer.pipeline.summary import build_summary, log_summary, not_delivered_samples
from airflow_provider_dialer.pipeline.waves import (
    NOW_WAVE,
    WINDOW_MOVES,
    apply_moves,
    count_zones,
    parse_wave,
    release_wave,
    wave_of,
    with_moves,
)

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.delivery import ChunkDelivery, ProgressStore
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.leads.window import CallingWindow


def utcnow() -> dt.datetime:
    """The clock: read when a task starts and again as each chunk goes out (tests replace it)."""
    return dt.datetime.now(dt.UTC)


def _all_open_now(
    window: CallingWindow, leads: Sequence[PreparedLead], clock: dt.datetime, margin: dt.timedelta
) -> bool:
    """Whether every lead of a chunk is dialed now (no ``call_at``) in its own zone only, and the window
    is open in each of those zones from ``clock`` through ``clock + margin``: then ``_screen`` keeps them
    all, and this tells so with ``map`` and ``set`` (C) instead of a step per lead. False means "look
    lead by lead", never "outside"."""
    if list(map(attrgetter("call_at"), leads)).count(None) != len(leads):
        return False
    if set(map(attrgetter("window_zones"), leads)) - {()}:
        return False
    return all(window.open_through(clock, clock + margin, zone) for zone in set(map(attrgetter("timezone"), leads)))


class LeadsOperator(TaskHook, ObservedRun, LeadArguments):
    """Base of UploadList, PushFreshLeads and AddToDialerTask: the shared lead pipeline.

    Its parameters, and their checks, are those of :class:`LeadArguments` (``operators/arguments.py``).
    Progress lines, the HTML run report, asset events and OpenLineage facets come from ``ObservedRun``.
    """

    #: the capability (a Protocol from capabilities.py) this operator needs
    capability: type
    capability_label: str = ""

    #: the preparation report of the attempt running, while its file may still be open
    _open_report: Any = None
    #: the prepared part this attempt sends (``prepared_part``), once checked against the progress
    _part: Any = None

    # -- subclass interface ------------------------------------------------------------------

    def open_target(self, hook: Any) -> dict[str, Any]:
        """Create or find what chunks go into (runs once; the result is kept as progress)."""
        raise NotImplementedError

    def send_chunk(self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        raise NotImplementedError

    def resolve_chunk(
        self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        raise NotImplementedError

    def default_chunk_size(self, hook: Any, target: dict[str, Any]) -> int:
        return 500

    def per_lead_schedule(self, hook: Any, target: dict[str, Any]) -> bool:
        """Whether this send path's wire carries each lead's time (no hold-back needed). Default: no."""
        return False

    def after_delivery(self, hook: Any, target: dict[str, Any], summary: dict[str, Any], context: Any) -> Any:
        """Runs when every wave was delivered; returns the task's XCom value."""
        return summary

    # -- plumbing ------------------------------------------------------------------------------

    def _get_hook(self) -> Any:
        from airflow_provider_dialer.links import check_links

        hook = self.task_hook(self.capability, self.capability_label or None)
        check_links(self, hook)
        self._check_sync_mode(hook)
        return hook

    def _remember_links(self, hook: Any, target: dict[str, Any], ids: dict[str, Any]) -> None:
        """Build the task's links (see ``links.py``) from its target and the ids its chunks reported so far."""
        from airflow_provider_dialer.capabilities import LinkBuilder
        from airflow_provider_dialer.links import remember_links

        if isinstance(hook, LinkBuilder):
            remember_links(self, hook, hook.target_link_values(target, ids))

    def _prepare(self, now: dt.datetime, with_report: bool = True) -> Any:
        from airflow_provider_dialer.leads import prepare_leads

        if self._part is not None:  # prepared once upstream: read, do not prepare again
            from airflow_provider_dialer.operators.prepared_part import prepared_from_part

            limits = getattr(self._task_hook, "lead_field_limits", None)
            return prepared_from_part(self._part, now, self.reject_report if with_report else None, limits)

        return prepare_leads(
            self.as_source(self.source),
            column_mapping=self.column_mapping,
            default_region=self.default_region,
            default_timezone=self.default_timezone,
            calling_window=self.calling_window,
            outside_window=self.outside_window,
            past_schedule=self.past_schedule,
            do_not_call=self.as_source(self.dnc_source) if self.dnc_source is not None else None,
            now=now,
            reject_report=self.reject_report if with_report else None,
            workers=self.prepare_workers,
            # what the dialer would refuse for its length is rejected here, not by failing a chunk
            field_limits=getattr(self._task_hook, "lead_field_limits", None),
        )

    def _waves(
        self,
        prepared: Any,
        hook: Any,
        target: dict[str, Any],
        prepared_at: dt.datetime,
        now: dt.datetime,
        size: int,
        held: dict[str, int],
        zones: dict[str, dict[str, Any]] | None = None,
        window: CallingWindow | None = None,
        moves: dict[str, dict[str, Any]] | None = None,
        on_held: Any = None,
    ) -> Iterator[tuple[str, list[PreparedLead]]]:
        """Chunks of the waves due now, in source order, with deterministic keys; counts held leads.

        A lead's wave depends only on the preparation instant, never on the current time, so every
        attempt cuts the same chunks; the current time only decides which waves are due. ``moves``
        (from the progress) are the leads an earlier send found outside their window: each is taken
        out of its chunk after the chunk is cut (so the cut stays the same) and goes, if held, into
        the chunk ``<wave><<chunk key>`` of the wave it was moved to, and nowhere else.
        """
        per_lead = self.per_lead_schedule(hook, target)
        moves = moves or {}
        buffers: dict[str, list[PreparedLead]] = {}
        counters: dict[str, int] = {}
        # zones are counted in batches (``count_zones``: the same counts, its per-lead steps in C)
        uncounted: list[PreparedLead] = []
        for lead in prepared:
            if zones is not None:
                uncounted.append(lead)
                if len(uncounted) >= 4096:
                    count_zones(zones, uncounted)
                    uncounted = []
            wave = wave_of(lead, per_lead, prepared_at, window)
            if wave != NOW_WAVE and parse_wave(wave) > now:
                held[wave] = held.get(wave, 0) + 1
                if on_held is not None:
                    on_held(lead, wave)
                continue
            buffer = buffers.setdefault(wave, [])
            buffer.append(lead)
            if len(buffer) >= size:
                counters[wave] = counters.get(wave, 0) + 1
                yield from apply_moves(f"{wave}#{counters[wave]}", buffer, moves, now, held)
                buffers[wave] = []
        if zones is not None and uncounted:
            count_zones(zones, uncounted)
        for wave, buffer in buffers.items():
            if buffer:
                counters[wave] = counters.get(wave, 0) + 1
                yield from apply_moves(f"{wave}#{counters[wave]}", buffer, moves, now, held)

    def _screen(
        self,
        window: CallingWindow,
        per_lead: bool,
        delivery: ChunkDelivery,
        held: dict[str, int],
        lock: threading.Lock,
        key: str,
        leads: Sequence[PreparedLead],
    ) -> list[PreparedLead]:
        """The calling-hours guard at the moment a chunk goes out: the leads to send, re-planning the rest.

        Preparation checked each lead against the clock of the first attempt; a retry, a late resume
        or a slow chunk sends later. A lead goes out as it is when the window is open, in all its
        zones, at the instant it would be dialed: its ``call_at`` when still ahead, else now and still
        ``send_margin`` seconds later (the request may leave a little after this check: other chunks,
        the rate limiter, a retry; the window must not close in between). Otherwise,
        by policy: a vendor that carries a per-lead time gets it with ``call_at`` at the window's next
        opening; for the others it is held until that opening (a later wave); with
        ``outside_window="reject"`` or ``hold_back="reject"``, or no opening within the horizon, it is
        rejected as ``outside_window``. Each decision is recorded in the progress (``WINDOW_MOVES``,
        written with the chunk's ``sending`` mark, before the request) so later attempts cut it the same way.
        """
        clock = utcnow()
        margin = dt.timedelta(seconds=self.send_margin)
        if _all_open_now(window, leads, clock, margin):
            return list(leads)  # the common case, decided without a step per lead in Python
        send: list[PreparedLead] = []
        moves: dict[str, dict[str, Any]] = {}
        # one answer per zone set for the leads dialed at the send (this runs for every lead sent);
        # open_in_zone, not is_open: preparation validated the zones
        open_now: dict[Any, bool] = {}
        for lead in leads:
            call_at = lead.call_at
            if call_at is None or call_at <= clock:
                dial_at = clock
                zone_key = lead.window_zones or lead.timezone
                inside = open_now.get(zone_key)
                if inside is None:
                    inside = open_now[zone_key] = all(window.open_through(clock, clock + margin, z) for z in lead.zones)
            else:
                dial_at = call_at
                inside = all(window.open_in_zone(call_at, z) for z in lead.zones)
            if inside:
                send.append(lead)
                continue
            zones = lead.zones
            if dial_at is clock and all(window.open_in_zone(clock, z) for z in zones):
                dial_at = clock + margin  # open now but closing within the margin: the opening after it closes
            opening = window.next_open(dial_at, zones) if self.outside_window == "defer" else None
            if opening is not None and per_lead:
                # model_construct, not model_copy: preparation builds leads with a frozen fields set
                send.append(type(lead).model_construct(**{**lead.__dict__, "call_at": opening}))
                moves[str(lead.row)] = {"schedule": opening.isoformat()}
            elif opening is not None and self.hold_back == "defer":
                moves[str(lead.row)] = {"hold": release_wave(opening, zones, window)}
            else:
                why = (
                    f"no calling window open in all of {', '.join(zones)} within {window.horizon_days} days"
                    if self.outside_window == "defer" and opening is None
                    else f"outside the calling window in {', '.join(zones)} when sent"
                )
                moves[str(lead.row)] = {"reject": why, "at": clock.isoformat(), "external_id": lead.external_id}
        if moves:
            delivery.record(WINDOW_MOVES, moves)
            kinds: dict[str, int] = {}
            with lock:
                for move in moves.values():
                    kind = next(iter(move))
                    kinds[kind] = kinds.get(kind, 0) + 1
                    if kind == "hold":
                        held[move["hold"]] = held.get(move["hold"], 0) + 1
            self.log.warning(
                "chunk %s: %d lead(s) outside their calling window at %s: %s",
                key,
                len(moves),
                clock.isoformat(),
                ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())),
            )
        return send

    def execute(self, context: Any) -> Any:
        from airflow_provider_dialer.transport.redaction import redact_value

        try:
            # XCom is stored as returned (Airflow masks logs, not XCom): the same redaction as errors and logs
            return redact_value(self._run(context))
        finally:
            report, self._open_report = self._open_report, None
            if report is not None:
                report.close()
            self.close_task_hook()

    def resume_after_hold(self, context: Any, event: Any = None) -> Any:
        self.log.info("calling window opened; resuming delivery of held-back leads")
        return self.execute(context)

    @staticmethod
    def _late_write_seconds(hook: Any) -> float:
        """How long a read that finds leads missing settles (the connection's ``late_write_seconds``);
        a hook without connection settings gets the default, never no settling."""
        from airflow_provider_dialer.transport.settings import ConnectionSettings

        settings = getattr(hook, "settings", None)
        return float(getattr(settings, "late_write_seconds", ConnectionSettings.late_write_seconds))

    def _run(self, context: Any) -> Any:
        from airflow_provider_dialer.delivery import ChunkDelivery
        from airflow_provider_dialer.leads import check_source
        from airflow_provider_dialer.leads.window import CallingWindow

        hook = self._get_hook()
        if self.prepared_part is None:
            check_source(
                self.as_source(self.source), self.column_mapping
            )  # encoding, header, mapping: before any write
        else:
            from airflow_provider_dialer.operators.prepared_part import check_part_arguments

            if self._part is None:  # else checked by an earlier execute of this task object (bind_part set its window)
                check_part_arguments(self)
        store = self._store(context)
        state = store.load() or {}
        if self.prepared_part is not None:
            from airflow_provider_dialer.operators.prepared_part import bind_part

            self._part = bind_part(self, state, store)  # the part's digest pinned in the progress; its window adopted
        if "prepared_at" not in state:
            state["prepared_at"] = utcnow().isoformat()
        prepared_at = dt.datetime.fromisoformat(state["prepared_at"])
        if "target" not in state:
            state["target"] = {} if self.dry_run else self.open_target(hook)
            store.save(state)
        target = state["target"]
        if not self.dry_run:
            self._remember_links(hook, target, {})
        now = utcnow()
        sync = self._sync_run(context, target, prepared_at) if not self.dry_run or self.ledger_conn_id else None
        try:
            prepared = self._prepare(prepared_at)
            # the vendor's refusals and unknowns join the report after delivery (``execute`` closes it on failure)
            prepared.report.keep_open, self._open_report = True, prepared.report
            if sync is not None:
                prepared.report.listeners.append(sync.on_reject)
            held: dict[str, int] = {}
            zones: dict[str, dict[str, Any]] = {}
            size = self.chunk_size or self.default_chunk_size(hook, target)
            window = CallingWindow.from_spec(self.calling_window)
            moves = dict(state.get(WINDOW_MOVES) or {})  # a snapshot: this attempt's sends add to the state's
            leads = sync.leads(prepared) if sync is not None else prepared
            leads = self._observe_leads(prepared, leads, prepared_at)
            chunks = self._waves(
                leads,
                hook,
                target,
                prepared_at,
                max(now, prepared_at),
                size,
                held,
                zones,
                window,
                moves,
                on_held=sync.on_held if sync is not None else None,
            )
            if sync is not None:
                chunks = sync.split_rechecks(chunks, state)

            if self.dry_run:
                would_send = sum(len(chunk) for _, chunk in chunks)
                summary = build_summary(prepared, None, held, target, zones, self.hold_back, dry_run_sent=would_send)
                if sync is not None:
                    summary["sync"] = sync.summary()
                log_summary(self.log, self.conn_id, summary)
                self._observed(context, target, summary)
                return summary

            per_lead, lock = self.per_lead_schedule(hook, target), threading.Lock()
            held_at_send: dict[str, int] = {}  # filled by the chunk threads, under ``lock``
            delivery = ChunkDelivery(
                store,
                send=lambda key, leads: self.send_chunk(hook, target, key, leads),
                resolve=lambda key, leads: self.resolve_chunk(hook, target, key, leads),
                concurrency=self.concurrency,
                state=state,
                on_outcome=self._observe_outcome(sync.on_outcome if sync is not None else None),
                settle_seconds=self._late_write_seconds(hook),
                screen=lambda key, leads: self._screen(window, per_lead, delivery, held_at_send, lock, key, leads),
                # the screen's promise kept on the wire: a write later than the margin is not sent
                send_within=self.send_margin or None,
            )
            report = delivery.run(chunks)
            if sync is not None:
                sync.apply_changes(hook, target)  # upsert / mirror: updates and removals, after the adds
            for wave, count in held_at_send.items():
                held[wave] = held.get(wave, 0) + count
        finally:
            if sync is not None:
                sync.close()
        prepared.report.add_vendor_answers(report.refused_rows, report.unknown_rows, report.already_held)
        prepared.report.close()
        return self._finish(context, hook, store, target, prepared, report, held, zones, sync, state)

    def _finish(
        self,
        context: Any,
        hook: Any,
        store: Any,
        target: dict[str, Any],
        prepared: Any,
        report: Any,
        held: dict[str, int],
        zones: dict[str, dict[str, Any]],
        sync: Any,
        state: dict[str, Any],
    ) -> Any:
        self._remember_links(hook, target, report.ids)
        held_total = sum(held.values())
        if held and self.hold_back == "defer":
            summary = with_moves(build_summary(prepared, report, held, target, zones, self.hold_back), state)
            log_summary(self.log, self.conn_id, summary)
            self._defer_until(min(held), held_total)
        summary = with_moves(build_summary(prepared, report, held, target, zones, self.hold_back), state)
        if sync is not None:
            summary["sync"] = sync.summary()
        log_summary(self.log, self.conn_id, summary)
        self._observed(context, target, summary)
        result = self.after_delivery(hook, target, summary, context)
        self._check_rejects(prepared, summary)
        self._complete_progress(store)
        return result

    def _complete_progress(self, store: ProgressStore | None = None, context: Any = None) -> None:
        """The task ended successfully: mark its progress complete and remove this DAG's progress completed
        more than ``progress_retention_days`` ago. A failure here is logged, not raised: the leads are delivered."""
        from airflow_provider_dialer.exceptions import DialerError

        try:
            (store if store is not None else self._store(context)).complete(
                dt.timedelta(days=self.progress_retention_days)
            )
        except (DialerError, OSError, RuntimeError) as exc:
            self.log.warning("could not mark the delivery progress complete or remove old progress (%s)", exc)

    def _defer_until(self, wave: str, held: int) -> None:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = parse_wave(wave)
        self.log.info("%d lead(s) may not be dialed before their calling window opens; deferring until %s", held, wave)
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume_after_hold")

    def _check_rejects(self, prepared: Any, summary: dict[str, Any]) -> None:
        """Fail (no retry: a retry would not change the answer) when the leads not delivered exceed
        ``max_reject_ratio`` of the leads read. Not delivered: rejected at preparation, refused by the
        vendor, or of unknown fate. One threshold for the three, because each is a lead the caller
        cannot count on being dialed, and its default 0 keeps a run with any of them red."""
        read = summary["read"] or 0
        rejected = summary["rejected"]
        refused = sum((summary.get("refused_by_vendor") or {}).values())
        unknown = summary.get("unknown", 0)
        missed = rejected + refused + unknown
        if read and missed / read > self.max_reject_ratio:
            from airflow.sdk.exceptions import AirflowFailException

            where = (
                f"every one of them is in the reject report at {self.reject_report}"
                if self.reject_report
                else "set reject_report for the full list (the log and XCom hold samples)"
            )
            samples = not_delivered_samples(summary, limit=5)
            raise AirflowFailException(
                f"{missed} of {read} leads not delivered ({missed / read:.1%} > max_reject_ratio "
                f"{self.max_reject_ratio:.1%}): rejected {rejected} {summary['rejected_by_reason']}, refused by the "
                f"vendor {refused} {summary.get('refused_by_vendor') or {}}, unknown fate {unknown}. The other leads "
                f"were handled (accepted: {summary.get('accepted', 0)}); {where}."
                + (f" Samples (phones masked):\n{samples}" if samples else "")
            )
