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
5. deliver the due waves' chunks with bounded concurrency (``ChunkDelivery``);
6. defer until the next wave opens (no worker slot held), then resume at step 2;
7. push a small summary to XCom, write the reject report, and fail only after the valid leads were
   handled when rejects exceed ``max_reject_ratio``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dialer.capabilities import TaskHook
from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.delivery import DeliveryReport, ProgressStore
    from airflow_provider_dialer.leads.model import PreparedLead

NOW_WAVE = "now"
WAVE_GRANULARITY = dt.timedelta(minutes=5)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def wave_of(lead: PreparedLead, per_lead_schedule: bool, now: dt.datetime) -> str:
    """The wave a lead belongs to: ``now`` or the (rounded-up) instant its window opens."""
    if per_lead_schedule or lead.call_at is None or lead.call_at <= now:
        return NOW_WAVE
    epoch = lead.call_at.timestamp()
    step = WAVE_GRANULARITY.total_seconds()
    rounded = math.ceil(epoch / step) * step
    return dt.datetime.fromtimestamp(rounded, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _count_zone(zones: dict[str, dict[str, Any]], lead: PreparedLead) -> None:
    entry = zones.setdefault(lead.timezone, {"leads": 0, "call_now": 0, "first": None, "last": None})
    entry["leads"] += 1
    if lead.call_at is None:
        entry["call_now"] += 1
        return
    if entry["first"] is None or lead.call_at < entry["first"]:
        entry["first"] = lead.call_at
    if entry["last"] is None or lead.call_at > entry["last"]:
        entry["last"] = lead.call_at


def zones_summary(zones: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per zone: leads, how many may be called now, and the first/last scheduled call in local time."""
    from zoneinfo import ZoneInfo

    out = {}
    for zone, entry in sorted(zones.items()):
        local = ZoneInfo(zone)
        out[zone] = {
            "leads": entry["leads"],
            "call_now": entry["call_now"],
            "first_local": entry["first"].astimezone(local).isoformat() if entry["first"] else None,
            "last_local": entry["last"].astimezone(local).isoformat() if entry["last"] else None,
        }
    return out


def parse_wave(wave: str) -> dt.datetime:
    return dt.datetime.strptime(wave, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


class LeadsOperator(TaskHook, BaseOperator):
    """Base of UploadList, PushFreshLeads and AddToDialerTask: the shared lead pipeline.

    :param conn_id: dialer connection id; its type (``ucontact``, ``xcally``, ``voipex``, ``ujet``)
        picks the vendor.
    :param source: the leads: a list of dicts or ``Lead`` objects (e.g. an upstream XCom or
        ``dag_run.conf``), a path or ``ObjectStoragePath`` to a ``.csv`` / ``.jsonl`` file, a
        ``CsvSource`` / ``JsonLinesSource`` / ``SqlSource``, or ``{"sql": ..., "conn_id": ...}``
        (a query through any common.sql connection, read in pages).
    :param column_mapping: Lead field -> source column(s), e.g. ``{"phones": ["tel", "tel2"], "first_name": "nome",
        "timezone": "fuso"}`` (a ``ColumnMapping`` or its dict form).
    :param default_region: region for numbers written without a country code (e.g. ``"BR"``).
    :param default_timezone: zone for leads whose zone is neither given nor inferable from the number.
    :param calling_window: a ``CallingWindow`` or its dict form; default 08:00-21:00 local, every day.
    :param outside_window: ``"defer"`` (default) moves a lead to its next window opening; ``"reject"`` rejects it.
    :param past_schedule: ``"send_now"`` (default) treats a schedule in the past as none; ``"reject"`` rejects it.
    :param hold_back: for vendors that take no per-lead time: ``"defer"`` (default) pushes held leads
        when their window opens, deferring the task in between; ``"reject"`` rejects them.
    :param dnc_source: a do-not-call source (any source kind) whose phones are suppressed.
    :param reject_report: path or ``ObjectStoragePath`` (``.csv`` or ``.jsonl``) for every reject.
    :param max_reject_ratio: fail the task (after the valid leads were handled) when rejects exceed
        this share of the leads read. Default 0: any reject fails the task.
    :param dry_run: prepare and report what would be sent; send nothing.
    :param concurrency: chunks in flight at once.
    :param prepare_workers: processes preparing leads (phone parsing is CPU-bound): ``1`` (default)
        prepares in the task process; ``2`` or more spreads large sources (beyond their first 20,000
        rows) over that many worker processes, with the same result. See the performance page.
    :param chunk_size: leads per request; default per vendor.
    :param progress: ``"variable"`` (default: an Airflow Variable per task instance) or a local JSON
        file path, where delivery progress survives task retries.
    """

    template_fields: Sequence[str] = (
        "conn_id", "source", "column_mapping", "default_region", "default_timezone", "reject_report", "dnc_source",
    )
    template_fields_renderers = {"source": "json", "column_mapping": "json"}
    ui_color = "#e8f4ff"

    #: the capability (a Protocol from capabilities.py) this operator needs
    capability: type
    capability_label: str = ""

    def __init__(
        self,
        *,
        conn_id: str,
        source: Any,
        column_mapping: Any = None,
        default_region: str | None = None,
        default_timezone: str | None = None,
        calling_window: Any = None,
        outside_window: str = "defer",
        past_schedule: str = "send_now",
        hold_back: str = "defer",
        dnc_source: Any = None,
        reject_report: Any = None,
        max_reject_ratio: float = 0.0,
        dry_run: bool = False,
        concurrency: int = 4,
        chunk_size: int | None = None,
        progress: str = "variable",
        prepare_workers: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.source = source
        self.column_mapping = column_mapping
        self.default_region = default_region
        self.default_timezone = default_timezone
        self.calling_window = calling_window
        self.outside_window = outside_window
        self.past_schedule = past_schedule
        self.hold_back = hold_back
        self.dnc_source = dnc_source
        self.reject_report = reject_report
        self.max_reject_ratio = max_reject_ratio
        self.dry_run = dry_run
        self.concurrency = concurrency
        self.chunk_size = chunk_size
        self.progress = progress
        self.prepare_workers = prepare_workers
        if outside_window not in {"defer", "reject"}:
            raise DialerConfigError(f"outside_window must be 'defer' or 'reject', got {outside_window!r}")
        if past_schedule not in {"send_now", "reject"}:
            raise DialerConfigError(f"past_schedule must be 'send_now' or 'reject', got {past_schedule!r}")
        if hold_back not in {"defer", "reject"}:
            raise DialerConfigError(f"hold_back must be 'defer' or 'reject', got {hold_back!r}")
        if isinstance(prepare_workers, bool) or not isinstance(prepare_workers, int) or prepare_workers < 1:
            raise DialerConfigError(f"prepare_workers must be a whole number of processes, at least 1, got {prepare_workers!r}")

    # -- subclass interface ------------------------------------------------------------------

    def open_target(self, hook: Any) -> dict[str, Any]:
        """Create or find what chunks go into (runs once; the result is kept as progress)."""
        raise NotImplementedError

    def send_chunk(self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        raise NotImplementedError

    def resolve_chunk(self, hook: Any, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        raise NotImplementedError

    def default_chunk_size(self, hook: Any, target: dict[str, Any]) -> int:
        return 500

    def per_lead_schedule(self, hook: Any, target: dict[str, Any]) -> bool:
        """Whether the vendor carries each lead's time on the wire (no hold-back needed)."""
        return bool(getattr(hook, "supports_per_lead_schedule", False))

    def after_delivery(self, hook: Any, target: dict[str, Any], summary: dict[str, Any], context: Any) -> Any:
        """Runs when every wave was delivered; returns the task's XCom value."""
        return summary

    # -- plumbing ------------------------------------------------------------------------------

    def _get_hook(self) -> Any:
        from airflow_provider_dialer.links import check_links

        hook = self.task_hook(self.capability, self.capability_label or None)
        check_links(self, hook)
        return hook

    def _remember_links(self, hook: Any, target: dict[str, Any], ids: dict[str, Any]) -> None:
        """Build the task's links (see ``links.py``) from its target and the ids its chunks reported so far."""
        from airflow_provider_dialer.capabilities import LinkBuilder
        from airflow_provider_dialer.links import remember_links

        if isinstance(hook, LinkBuilder):
            remember_links(self, hook, hook.target_link_values(target, ids))

    def _store(self, context: Any) -> ProgressStore:
        from airflow_provider_dialer.delivery import FileProgressStore, MemoryProgressStore, VariableProgressStore

        if self.dry_run:
            return MemoryProgressStore()
        if self.progress == "variable":
            return VariableProgressStore.for_task(context)
        return FileProgressStore(self.progress)

    @staticmethod
    def _as_source(spec: Any) -> Any:
        """Accept what templates produce: a SQL spec dict, or a list rendered to text."""
        if isinstance(spec, dict) and "sql" in spec:
            from airflow_provider_dialer.leads import SqlSource

            return SqlSource(**spec)
        if isinstance(spec, str) and spec.lstrip().startswith(("[", "(")):
            import ast
            import json

            try:
                return json.loads(spec)
            except ValueError:
                return ast.literal_eval(spec)
        return spec

    def _prepare(self, now: dt.datetime, with_report: bool = True) -> Any:
        from airflow_provider_dialer.leads import prepare_leads

        return prepare_leads(
            self._as_source(self.source),
            mapping=self.column_mapping,
            default_region=self.default_region,
            default_timezone=self.default_timezone,
            calling_window=self.calling_window,
            outside_window=self.outside_window,
            past_schedule=self.past_schedule,
            do_not_call=self._as_source(self.dnc_source) if self.dnc_source is not None else None,
            now=now,
            reject_report=self.reject_report if with_report else None,
            workers=self.prepare_workers,
        )

    def _waves(
        self, prepared: Any, hook: Any, target: dict[str, Any], prepared_at: dt.datetime, now: dt.datetime,
        size: int, held: dict[str, int], zones: dict[str, dict[str, Any]] | None = None,
    ) -> Iterator[tuple[str, list[PreparedLead]]]:
        """Chunks of the waves due now, in source order, with deterministic keys; counts held leads.

        A lead's wave depends only on the preparation instant, never on the current time, so every
        attempt cuts the same chunks; the current time only decides which waves are due.
        """
        per_lead = self.per_lead_schedule(hook, target)
        buffers: dict[str, list[PreparedLead]] = {}
        counters: dict[str, int] = {}
        for lead in prepared:
            if zones is not None:
                _count_zone(zones, lead)
            wave = wave_of(lead, per_lead, prepared_at)
            if wave != NOW_WAVE and parse_wave(wave) > now:
                held[wave] = held.get(wave, 0) + 1
                continue
            buffer = buffers.setdefault(wave, [])
            buffer.append(lead)
            if len(buffer) >= size:
                counters[wave] = counters.get(wave, 0) + 1
                yield f"{wave}#{counters[wave]}", buffer
                buffers[wave] = []
        for wave, buffer in buffers.items():
            if buffer:
                counters[wave] = counters.get(wave, 0) + 1
                yield f"{wave}#{counters[wave]}", buffer

    def execute(self, context: Any) -> Any:
        from airflow_provider_dialer.hooks.base import redact_value

        try:
            # XCom is stored as returned (Airflow masks logs, not XCom): the same redaction as errors and logs
            return redact_value(self._run(context))
        finally:
            self.close_task_hook()

    def resume_after_hold(self, context: Any, event: Any = None) -> Any:
        self.log.info("calling window opened; resuming delivery of held-back leads")
        return self.execute(context)

    def _run(self, context: Any) -> Any:
        from airflow_provider_dialer.delivery import ChunkDelivery

        hook = self._get_hook()
        store = self._store(context)
        state = store.load() or {}
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
        prepared = self._prepare(prepared_at)
        held: dict[str, int] = {}
        zones: dict[str, dict[str, Any]] = {}
        size = self.chunk_size or self.default_chunk_size(hook, target)
        chunks = self._waves(prepared, hook, target, prepared_at, max(now, prepared_at), size, held, zones)

        if self.dry_run:
            would_send = sum(len(chunk) for _, chunk in chunks)
            summary = self._summary(prepared, None, held, target, zones, dry_run_sent=would_send)
            self._log_summary(summary)
            return summary

        delivery = ChunkDelivery(
            store,
            send=lambda key, leads: self.send_chunk(hook, target, key, leads),
            resolve=lambda key, leads: self.resolve_chunk(hook, target, key, leads),
            concurrency=self.concurrency,
            state=state,
        )
        report = delivery.run(chunks)
        self._remember_links(hook, target, report.ids)
        held_total = sum(held.values())
        if held and self.hold_back == "defer":
            summary = self._summary(prepared, report, held, target, zones)
            self._log_summary(summary)
            self._defer_until(min(held), held_total)
        summary = self._summary(prepared, report, held, target, zones)
        self._log_summary(summary)
        result = self.after_delivery(hook, target, summary, context)
        self._check_rejects(prepared, summary)
        return result

    def _defer_until(self, wave: str, held: int) -> None:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger

        moment = parse_wave(wave)
        self.log.info("%d lead(s) may not be dialed before their calling window opens; deferring until %s", held, wave)
        self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume_after_hold")

    def _summary(
        self, prepared: Any, report: DeliveryReport | None, held: dict[str, int], target: dict[str, Any],
        zones: dict[str, dict[str, Any]], dry_run_sent: int | None = None,
    ) -> dict[str, Any]:
        counts = dict(sorted(prepared.report.counts.items()))
        summary: dict[str, Any] = {
            "read": prepared.report.rows,
            "prepared": prepared.report.prepared,
            "rejected": sum(counts.values()),
            "rejected_by_reason": counts,
            "warnings": dict(prepared.report.warnings),
            "reject_samples": [r.to_dict() for r in prepared.report.samples[:20]],
            "reject_report": prepared.report.report_path,
            "held_back": sum(held.values()),
            "held_back_until": {wave: n for wave, n in sorted(held.items())},
            "scheduled_by_timezone": zones_summary(zones),
        }
        if self.hold_back == "reject" and held:
            summary["rejected_by_reason"] = {**counts, "outside_window": counts.get("outside_window", 0) + summary["held_back"]}
            summary["rejected"] += summary["held_back"]
        if dry_run_sent is not None:
            summary.update({"dry_run": True, "would_send": dry_run_sent})
            return summary
        assert report is not None
        summary.update(
            {
                "accepted": report.accepted,
                "refused_by_vendor": report.refused,
                "refused_samples": report.refused_rows[:20],
                "unknown": report.unknown,
                "unknown_rows": report.unknown_rows[:100],
                "chunks": report.chunks,
                "chunks_already_delivered": report.chunks_skipped,
                "chunks_resolved_after_unknown_fate": report.chunks_resolved,
                "ids": {**{k: v for k, v in target.items() if k.endswith("_id")}, **report.ids},
            }
        )
        return summary

    def _log_summary(self, summary: dict[str, Any]) -> None:
        rows = [
            ("leads read", summary["read"]),
            ("prepared", summary["prepared"]),
            ("rejected", summary["rejected"]),
            *((f"  rejected: {k}", v) for k, v in sorted(summary["rejected_by_reason"].items())),
            ("held back (window)", summary["held_back"]),
        ]
        if summary.get("dry_run"):
            rows.append(("would send (dry run)", summary["would_send"]))
        else:
            rows += [
                ("accepted by vendor", summary["accepted"]),
                *((f"  refused: {k}", v) for k, v in sorted(summary["refused_by_vendor"].items())),
                ("unknown fate", summary["unknown"]),
                ("chunks (already delivered)", f"{summary['chunks']} ({summary['chunks_already_delivered']})"),
            ]
        width = max(len(r[0]) for r in rows)
        self.log.info("delivery summary (%s):\n%s", self.conn_id, "\n".join(f"  {k:<{width}}  {v}" for k, v in rows))
        schedule = summary.get("scheduled_by_timezone") or {}
        if schedule:
            lines = [
                f"  {zone:<24} {info['leads']:>7} lead(s)  now: {info['call_now']:>7}  first: {info['first_local'] or '-'}"
                f"  last: {info['last_local'] or '-'}"
                for zone, info in schedule.items()
            ]
            self.log.info("who is called when (local times):\n%s", "\n".join(lines))

    def _check_rejects(self, prepared: Any, summary: dict[str, Any]) -> None:
        read = summary["read"] or 0
        rejected = summary["rejected"]
        if read and rejected / read > self.max_reject_ratio:
            from airflow.sdk.exceptions import AirflowFailException

            where = f"the reject report at {self.reject_report}" if self.reject_report else "the reject samples in the log"
            raise AirflowFailException(
                f"{rejected} of {read} leads rejected ({rejected / read:.1%} > max_reject_ratio "
                f"{self.max_reject_ratio:.1%}): {summary['rejected_by_reason']}. The valid leads were delivered "
                f"(accepted: {summary.get('accepted', 0)}); see {where}."
            )
