"""The arguments of the lead-pushing operators: their parameters, checks, template fields and default pool.

``LeadsOperator`` (``base.py``) runs the pipeline; this base class holds what a DAG author passes
and what those arguments build (the source as templates render it, the progress store, the sync
run), so the execution flow reads apart from the argument handling.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow_provider_dialer.delivery import ProgressStore
    from airflow_provider_dialer.leads.prepare import OutsideWindowPolicy, PastSchedulePolicy


class LeadArguments(BaseOperator):
    """The arguments of every lead-pushing operator (``LeadsOperator`` and its subclasses), checked when
    the DAG is parsed, and what they build: the leads source, the progress store, the sync run.

    :param conn_id: dialer connection id; its type (``ucontact``, ``xcally``, ``voipex``, ``ujet``)
        picks the vendor.
    :param source: the leads: a list of dicts or ``Lead`` objects (e.g. an upstream XCom or
        ``dag_run.conf``), a path or ``ObjectStoragePath`` to a ``.csv`` / ``.jsonl`` file, a
        ``CsvSource`` / ``JsonLinesSource`` / ``SqlSource``, or ``{"sql": ..., "conn_id": ...}``
        (a query through any common.sql connection, read in pages).
    :param prepared_part: instead of ``source``: one part written by ``PreparePartsOperator`` /
        ``prepare_parts`` (its manifest entry, e.g. mapped with ``.expand(prepared_part=...)``, or its
        path); sent as prepared, with the calling window it was prepared with. See "Prepare once, send in parts".
    :param column_mapping: Lead field -> source column(s), e.g. ``{"phones": ["tel", "tel2"], "first_name": "nome",
        "timezone": "fuso"}`` (a ``ColumnMapping`` or its dict form).
    :param default_region: region for numbers written without a country code (e.g. ``"BR"``).
    :param default_timezone: zone for leads whose zone is neither given nor inferable from the number.
    :param calling_window: a ``CallingWindow`` or its dict form; default 08:00-21:00 local, every day.
    :param outside_window: ``"defer"`` (default) moves a lead to its next window opening; ``"reject"`` rejects it.
    :param past_schedule: ``"send_now"`` (default) treats a schedule in the past as none; ``"reject"`` rejects it.
    :param hold_back: for vendors that take no per-lead time: ``"defer"`` (default) pushes held leads
        when their window opens, deferring the task in between; ``"reject"`` rejects them.
    :param send_margin: seconds a lead's window must stay open after the send-time check (default 300): the
        time a chunk may still wait between that check and its request (other chunks, the rate limiter, a
        retry). A lead whose window closes sooner goes to the next opening like any lead outside it.
    :param dnc_source: a do-not-call source (any source kind) whose phones are suppressed.
    :param reject_report: path or ``ObjectStoragePath`` (``.csv`` or ``.jsonl``) for every reject.
    :param max_reject_ratio: fail the task (after the valid leads were handled) when the leads not
        delivered exceed this share of the leads read: rejected at preparation, refused by the vendor,
        or of unknown fate (sent, answer lost, the vendor's state cannot tell). Default 0: any such
        lead fails the task.
    :param dry_run: prepare and report what would be sent; send nothing.
    :param concurrency: chunks in flight at once.
    :param prepare_workers: processes preparing leads (phone parsing is CPU-bound): ``1`` (default)
        prepares in the task process; ``2`` or more spreads large sources (beyond their first 20,000
        rows) over that many worker processes, with the same result. See the performance page.
    :param chunk_size: leads per request; default per vendor.
    :param progress: ``"variable"`` (default: an Airflow Variable per task instance) or a local JSON
        file path, where delivery progress survives task retries.
    :param progress_retention_days: how long the progress of a task that succeeded is kept (default 7):
        clearing the task within that time sends nothing twice. Older completed progress of the same
        DAG is removed when one of its tasks succeeds.
    :param sync_mode: ``"append"`` (default: send every prepared lead, as a run without memory does),
        ``"insert"`` (send only the keys the target does not hold yet, and the keys an earlier run left
        refused or unknown, at most ``max_sync_retries`` times), ``"upsert"`` / ``"mirror"`` (also
        update changed keys / remove keys that left the source: only where the vendor has the verbs).
        Every mode but ``append`` needs ``ledger_conn_id``. See "Sync modes and the ledger".
    :param ledger_conn_id: a common.sql connection (PostgreSQL, SQLite) holding the sync ledger; with
        ``append`` too, the ledger then records what was sent, so a later run can switch to ``insert``.
    :param ledger_table: the ledger's table (created on first use).
    :param sync_key: ``"external_id"`` (default: the external id, else the E.164 phone) or ``"phone"``.
    :param sync_target: the ledger's name for the target; default from the target (hub, campaign, list).
    :param max_sync_retries: later runs that send a key again after it was refused or left unknown.
    :param outcome_log: every lead key of the run with its outcome: a ``.csv`` / ``.jsonl`` path or
        ``ObjectStoragePath``, or ``{"conn_id": ..., "table": ...}`` for a table.
    :param progress_log_seconds: seconds between two progress lines in the task log while leads are
        prepared and sent (default 30; 0 turns them off).
    :param run_report: path or ``ObjectStoragePath`` for a self-contained HTML report of the run,
        linked from the task as **Run report**.
    :param run_report_url: the address the **Run report** link opens instead of the report's own.
    """

    template_fields: Sequence[str] = (
        "conn_id",
        "source",
        "column_mapping",
        "default_region",
        "default_timezone",
        "reject_report",
        "dnc_source",
        "sync_target",
        "outcome_log",
        "run_report",
        "run_report_url",
        "prepared_part",
    )
    template_fields_renderers = {"source": "json", "column_mapping": "json"}
    ui_color = "#e8f4ff"

    #: the ``dry_run`` flag shadows BaseOperator.dry_run(), a method that only logs rendered fields
    #: and that Airflow 3 never calls on a task; typed as what it holds here
    dry_run: bool  # type: ignore[assignment]

    @classmethod
    def partial(cls, **kwargs: Any) -> Any:
        """Airflow's ``partial``, with the connection's default pool (see ``__init__``) for every mapped index.

        The scheduler places a mapped task's indexes from the partial's arguments, before any
        constructor runs, so the default pool must be chosen here. A ``conn_id`` given per index
        (in ``expand``) or templated gets none, as in ``__init__``.
        """
        from airflow.sdk.bases.operator import partial as airflow_partial
        from airflow.sdk.definitions._internal.contextmanager import DagContext, TaskGroupContext

        dag = kwargs.get("dag") or DagContext.get_current()
        group = kwargs.get("task_group") or (TaskGroupContext.get_current(dag) if dag else None)
        inherited = {
            **((dag.default_args or {}) if dag else {}),
            **((group.default_args or {}) if group else {}),
            **(kwargs.get("default_args") or {}),
        }
        if "conn_id" in kwargs:
            from airflow_provider_dialer.operators.pools import apply_connection_pool

            apply_connection_pool(kwargs, kwargs["conn_id"], inherited)
        return airflow_partial(cls, **kwargs)

    def __init__(
        self,
        *,
        conn_id: str,
        source: Any = None,
        prepared_part: Any = None,
        column_mapping: Any = None,
        default_region: str | None = None,
        default_timezone: str | None = None,
        calling_window: Any = None,
        outside_window: OutsideWindowPolicy = "defer",
        past_schedule: PastSchedulePolicy = "send_now",
        hold_back: str = "defer",
        send_margin: float = 300.0,
        dnc_source: Any = None,
        reject_report: Any = None,
        max_reject_ratio: float = 0.0,
        dry_run: bool = False,
        concurrency: int = 4,
        chunk_size: int | None = None,
        progress: str = "variable",
        progress_retention_days: float = 7.0,
        prepare_workers: int = 1,
        sync_mode: str = "append",
        ledger_conn_id: str | None = None,
        ledger_table: str = "dialer_sync_ledger",
        sync_key: str = "external_id",
        sync_target: str | None = None,
        max_sync_retries: int = 3,
        outcome_log: Any = None,
        progress_log_seconds: float = 30.0,
        run_report: Any = None,
        run_report_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        # the connection's pool when the deployment names one (operators/pools.py); Airflow hands a
        # DAG's default_args down whole, so a pool there is the user's choice too
        from airflow_provider_dialer.operators.pools import apply_connection_pool

        apply_connection_pool(kwargs, conn_id, kwargs.get("default_args") or {})
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.source = source
        self.prepared_part = prepared_part
        self.column_mapping = column_mapping
        self.default_region = default_region
        self.default_timezone = default_timezone
        self.calling_window = calling_window
        self.outside_window = outside_window
        self.past_schedule = past_schedule
        self.hold_back = hold_back
        self.send_margin = send_margin
        self.dnc_source = dnc_source
        self.reject_report = reject_report
        self.max_reject_ratio = max_reject_ratio
        self.dry_run = dry_run
        self.concurrency = concurrency
        self.chunk_size = chunk_size
        self.progress = progress
        self.progress_retention_days = progress_retention_days
        self.prepare_workers = prepare_workers
        self.sync_mode = sync_mode
        self.ledger_conn_id = ledger_conn_id
        self.ledger_table = ledger_table
        self.sync_key = sync_key
        self.sync_target = sync_target
        self.max_sync_retries = max_sync_retries
        self.outcome_log = outcome_log
        self.progress_log_seconds = progress_log_seconds
        self.run_report = run_report
        self.run_report_url = run_report_url
        from airflow_provider_dialer.pipeline.sync import SYNC_MODES

        if sync_mode not in SYNC_MODES:
            raise DialerConfigError(f"sync_mode must be one of {', '.join(SYNC_MODES)}, got {sync_mode!r}")
        if sync_mode != "append" and not ledger_conn_id:
            raise DialerConfigError(
                f"sync_mode={sync_mode!r} needs ledger_conn_id: the database that remembers the target"
            )
        if sync_key not in ("external_id", "phone"):
            raise DialerConfigError(f"sync_key must be 'external_id' or 'phone', got {sync_key!r}")
        if outside_window not in {"defer", "reject"}:
            raise DialerConfigError(f"outside_window must be 'defer' or 'reject', got {outside_window!r}")
        if past_schedule not in {"send_now", "reject"}:
            raise DialerConfigError(f"past_schedule must be 'send_now' or 'reject', got {past_schedule!r}")
        if hold_back not in {"defer", "reject"}:
            raise DialerConfigError(f"hold_back must be 'defer' or 'reject', got {hold_back!r}")
        if isinstance(send_margin, bool) or not isinstance(send_margin, int | float) or not 0 <= send_margin <= 3600:
            raise DialerConfigError(f"send_margin must be a number of seconds from 0 to 3600, got {send_margin!r}")
        if prepared_part is None and source is None:
            raise DialerConfigError(
                "give the leads: source (to prepare here) or prepared_part (prepared by PreparePartsOperator)"
            )
        if isinstance(prepare_workers, bool) or not isinstance(prepare_workers, int) or prepare_workers < 1:
            raise DialerConfigError(
                f"prepare_workers must be a whole number of processes, at least 1, got {prepare_workers!r}"
            )

    def _check_sync_mode(self, hook: Any) -> None:
        """``upsert`` and ``mirror`` change or remove contacts the target holds: only a hook whose vendor
        has the verbs for it (``ContactSyncer``) takes them; otherwise they fail here, before any request."""
        if self.sync_mode in ("upsert", "mirror"):
            from airflow_provider_dialer.capabilities import ContactSyncer
            from airflow_provider_dialer.exceptions import UnsupportedCapabilityError

            if isinstance(hook, ContactSyncer) and self.sync_mode in hook.sync_modes:
                return
            what = "update contacts in place" if self.sync_mode == "upsert" else "update and remove contacts"
            raise UnsupportedCapabilityError(
                getattr(hook, "vendor", type(hook).__name__),
                f"sync_mode={self.sync_mode!r} with {type(self).__name__} (it would {what})",
                "use sync_mode='insert' (only keys the target does not hold are sent) and RemoveLeadsOperator "
                "where the vendor can remove contacts",
            )

    def _sync_run(self, context: Any, target: dict[str, Any], prepared_at: dt.datetime) -> Any:
        """The attempt's sync (plan, ledger writes, outcome log), or None when neither a ledger nor a log is set."""
        if not self.ledger_conn_id and self.outcome_log is None:
            return None
        from airflow_provider_dialer.pipeline.sync import SyncRun, target_name

        if not target and not self.sync_target:
            raise DialerConfigError("a dry run with a ledger needs sync_target: it opens no target to name it by")
        ti = context["ti"]
        writer = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{getattr(ti, 'map_index', -1)}"
        return SyncRun(
            dialer_conn_id=self.conn_id,
            target=self.sync_target or target_name(target),
            mode=self.sync_mode,
            writer=writer,
            prepared_at=prepared_at,
            ledger_conn_id=self.ledger_conn_id,
            ledger_table=self.ledger_table,
            key=self.sync_key,
            max_retries=self.max_sync_retries,
            outcome_log=self.outcome_log,
        )

    def _store(self, context: Any) -> ProgressStore:
        from airflow_provider_dialer.pipeline.progress_store import (
            FileProgressStore,
            MemoryProgressStore,
            VariableProgressStore,
        )

        if self.dry_run:
            return MemoryProgressStore()
        if self.progress == "variable":
            return VariableProgressStore.for_task(context)
        return FileProgressStore(self.progress)

    @staticmethod
    def as_source(spec: Any) -> Any:
        """Accept what templates produce: a SQL spec dict, or a list rendered to text."""
        from airflow_provider_dialer.leads.rendered import rendered_value

        spec = rendered_value(spec, "source")
        if isinstance(spec, dict) and "sql" in spec:
            from airflow_provider_dialer.leads import SqlSource

            return SqlSource(**spec)
        return spec
