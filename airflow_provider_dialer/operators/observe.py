"""What a lead operator tells the world about its run, besides delivering: progress lines in the log,
an HTML run report, asset events and OpenLineage facets.

A mixin of ``LeadsOperator`` (kept apart from the delivery pipeline in ``base.py``): the pipeline
calls :meth:`ObservedRun._observe_leads` on its lead stream, :meth:`ObservedRun._observe_outcome`
as ``ChunkDelivery``'s ``on_outcome`` and :meth:`ObservedRun._observed` with the summary. Nothing
here changes what is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from airflow_provider_dialer.delivery import ProgressStore


class ObservedRun:
    """Progress logging, the run report, asset events and lineage of a lead operator.

    It reads three of the operator's parameters (``LeadsOperator`` takes them, so that ``partial``,
    ``expand`` and ``default_args`` know them):

    - ``progress_log_seconds``: seconds between two progress lines in the task log while leads are
      prepared and sent (rows read, prepared, rejected, chunks sent, accepted, leads/s, ETA when the
      source's size is known); 0 turns them off. Default 30.
    - ``run_report``: a path or ``ObjectStoragePath`` (templated) for a self-contained HTML report of
      the run: counts by outcome, rejects by reason with masked samples, and a chart of when leads
      will be called per time zone in local hours. Linked from the task as **Run report**.
    - ``run_report_url``: the address the **Run report** link opens (templated), when the report is
      published elsewhere than where it is written (a bucket behind a web server); default: the
      report's own address (``file://...``, ``s3://bucket/key``).
    """

    #: set by the run: what ``get_openlineage_facets_on_complete`` reports
    _lineage: dict[str, Any] | None = None
    #: set when the report was written in this process: the **Run report** link's address
    run_report_link: str = ""

    progress_log_seconds: float = 30.0
    run_report: Any = None
    run_report_url: str | None = None

    if TYPE_CHECKING:
        # what the lead operator this is mixed into provides
        source: Any
        conn_id: str
        dag_id: str
        task_id: str

        @property
        def log(self) -> Logger: ...
        def _store(self, context: Any) -> ProgressStore: ...

    # -- during the run -------------------------------------------------------------------------

    def _observe_leads(self, prepared: Any, leads: Iterable[Any], prepared_at: dt.datetime) -> Iterator[Any]:
        """The lead stream, watched: progress ticks, and the call-hour counts when a report is wanted."""
        from airflow_provider_dialer.progress import ProgressLog, source_size

        total = source_size(self.source)
        self._progress = ProgressLog(self.log, self.progress_log_seconds, prepared.report, total)
        self._call_hours = None
        if self.run_report:
            from airflow_provider_dialer.run_report import CallHours

            self._call_hours = CallHours(prepared_at)
            leads = self._call_hours.watch(leads)
        return self._progress.watch(leads)

    def _observe_outcome(self, then: Any = None) -> Any:
        """``ChunkDelivery``'s ``on_outcome``: counts each chunk's answer for the progress line, then ``then``."""
        progress = getattr(self, "_progress", None)
        return progress.on_outcome(then) if progress is not None else then

    def _observed(self, context: Any, target: dict[str, Any], summary: dict[str, Any]) -> None:
        """The run is over (delivered or dry): log the last progress line, write the report, fill the
        asset events and keep what lineage reports. Never fails the task over a report it cannot write."""
        progress = getattr(self, "_progress", None)
        if progress is not None and progress.enabled and progress.lines:
            self.log.info("progress: %s (done)", progress.line())
        self._lineage = {"target": target, "summary": summary}
        if self.run_report:
            call_hours = getattr(self, "_call_hours", None)
            hours = call_hours.as_dict() if call_hours is not None else {}
            self._write_report(context, target, summary, hours)
        from airflow_provider_dialer.lineage import emit_asset_events

        emit_asset_events(self, context, target, summary)

    def _observed_after_wait(self, context: Any, summary: dict[str, Any]) -> None:
        """After a deferred wait (a fresh process): the target from the progress, the asset events, the
        link to the report written before the wait."""
        target: dict[str, Any] = {}
        try:
            state = self._store(context).load() or {}
            target = state.get("target") or {}
        except Exception:  # noqa: BLE001 - the counts still go out without the target's name
            pass
        self._lineage = {"target": target, "summary": summary}
        if self.run_report:
            from airflow_provider_dialer.run_report import report_url

            self.run_report_link = self.run_report_url or report_url(self.run_report)
        from airflow_provider_dialer.lineage import emit_asset_events

        emit_asset_events(self, context, target, summary)

    def _write_report(
        self, context: Any, target: dict[str, Any], summary: dict[str, Any], hours: dict[str, list[int]]
    ) -> None:
        from airflow_provider_dialer.lineage import target_label
        from airflow_provider_dialer.run_report import render, report_url, write

        ti = context.get("ti") if hasattr(context, "get") else None
        meta = {
            "dag_id": getattr(ti, "dag_id", None) or self.dag_id,
            "task_id": getattr(ti, "task_id", None) or self.task_id,
            "run_id": getattr(ti, "run_id", None),
            "conn_id": self.conn_id,
            "target": target_label(target) if target else "(dry run: no target opened)",
            "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        try:
            write(self.run_report, render(summary, hours, meta))
        except Exception as exc:  # noqa: BLE001 - the leads are delivered; a report is a picture of it
            from airflow_provider_dialer.transport.redaction import redact_value

            self.log.warning(
                "could not write the run report to %s: %s",
                report_url(self.run_report),
                redact_value(str(exc)),
            )
            return
        self.run_report_link = self.run_report_url or report_url(self.run_report)
        self.log.info("run report written to %s", report_url(self.run_report))

    # -- OpenLineage (called by the openlineage provider's listener, when installed) --------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs (the source, the do-not-call source), the output (the dialer target) and row counts;
        None without the OpenLineage provider."""
        from airflow_provider_dialer.lineage import operator_lineage

        return operator_lineage(self)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on completion: a run failed over its reject ratio still delivered its other leads."""
        from airflow_provider_dialer.lineage import operator_lineage

        return operator_lineage(self)
