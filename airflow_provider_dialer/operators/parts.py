"""Prepare once, send in parts: ``PreparePartsOperator`` / ``prepare_parts`` (the send side is ``operators/prepared_part.py``).

One task reads and prepares the whole source (global de-duplication, do-not-call, zones, schedules,
calling window, one reject report) and writes the prepared leads as parts plus a manifest to a
directory any worker reads (an ``ObjectStoragePath`` such as ``s3://bucket/parts/<run>``, or a local
path on one machine). It returns the manifest's part entries, so the lead operators map over them::

    parts = PreparePartsOperator(task_id="prepare", source=..., destination=..., parts=8)
    UploadListOperator.partial(task_id="upload", conn_id=..., list_name=...).expand(prepared_part=parts.output)

Each mapped task reads its part (``prepared_part``) and sends it without preparing anything again.
Its delivery progress is kept per map index like any lead task's, and the part's SHA-256 is recorded
in it: a retry cuts the same chunks from the same bytes, and a part that changed under a resumed task
fails it instead of delivering other leads under the old chunk keys.

A retried prepare task whose manifest is already complete returns it as it is: the source is
prepared once per destination, so the parts (and the mapped tasks' chunk keys) stay the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.prepare import OutsideWindowPolicy, PastSchedulePolicy

    pass


def _entries(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(entry) for entry in manifest["parts"]]


def prepare_parts(
    source: Any,
    destination: Any,
    *,
    parts: int | None = None,
    leads_per_part: int | None = None,
    column_mapping: Any = None,
    default_region: str | None = None,
    default_timezone: str | None = None,
    calling_window: Any = None,
    outside_window: OutsideWindowPolicy = "defer",
    past_schedule: PastSchedulePolicy = "send_now",
    dnc_source: Any = None,
    reject_report: Any = None,
    max_reject_ratio: float | None = None,
    prepare_workers: int = 1,
    field_limits: dict[str, int] | None = None,
    now: dt.datetime | None = None,
    conn_id: str | None = None,
    reuse: bool = True,
) -> list[dict[str, Any]]:
    """Prepare ``source`` once and write it as parts under ``destination``; return the part entries.

    Usable from a ``@task`` (return its value and ``.expand(prepared_part=...)`` over it) and what
    ``PreparePartsOperator`` runs. The preparation parameters are ``prepare_leads``'s / the lead
    operators'; the others:

    :param destination: directory of the parts and ``manifest.json`` (local path, URL or
        ``ObjectStoragePath``); use one per run, e.g. with the run id in it.
    :param parts: how many parts (leads dealt round-robin), or
    :param leads_per_part: how many leads in each part (contiguous).
    :param max_reject_ratio: when set, raise ``RejectRatioExceededError`` after the parts and the
        report were written if more of the rows read were rejected (nothing is sent then).
    :param field_limits: the most characters the dialer takes per field (the hook's
        ``lead_field_limits``); the sending task checks its own dialer's limits again.
    :param now: the preparation instant (default: now).
    :param conn_id: object-storage connection for a URL ``destination``.
    :param reuse: a complete manifest already under ``destination`` is returned as it is (a retried
        task prepares nothing again). ``False`` prepares again and overwrites the parts.
    :return: one entry per part: ``path``, ``part`` (index), ``leads``, ``first_row``, ``last_row``,
        ``sha256`` and ``manifest`` (the manifest's path); small enough for XCom.
    """
    from airflow_provider_dialer.leads import prepare_leads
    from airflow_provider_dialer.leads.parts import read_manifest, write_parts
    from airflow_provider_dialer.leads.window import CallingWindow

    manifest = read_manifest(destination, conn_id) if reuse else None
    if manifest is None:
        prepared = prepare_leads(
            source,
            column_mapping=column_mapping,
            default_region=default_region,
            default_timezone=default_timezone,
            calling_window=calling_window,
            outside_window=outside_window,
            past_schedule=past_schedule,
            do_not_call=dnc_source,
            reject_report=reject_report,
            now=now,
            workers=prepare_workers,
            field_limits=field_limits,
        )
        settings = {
            "calling_window": CallingWindow.from_spec(calling_window).to_spec(),
            "outside_window": outside_window,
            "past_schedule": past_schedule,
        }
        manifest = write_parts(
            prepared, destination, parts=parts, leads_per_part=leads_per_part, settings=settings, conn_id=conn_id
        )
    if conn_id:
        for entry in manifest["parts"]:
            entry["conn_id"] = conn_id
    if max_reject_ratio is not None and manifest["read"] and manifest["rejected"] / manifest["read"] > max_reject_ratio:
        from airflow_provider_dialer.leads.report import RejectRatioExceededError

        raise RejectRatioExceededError(
            manifest["rejected"], manifest["read"], max_reject_ratio, manifest["rejected_by_reason"]
        )
    return _entries(manifest)


class PreparePartsOperator(BaseOperator):
    """Read and prepare a source once; write the prepared leads as parts plus a manifest for mapped lead tasks.

    Everything a lead operator does before sending happens here, over the whole source: phones
    (E.164), zones, schedules, the calling window, de-duplication (a phone written ``+1 212 555 0101``
    in one row and ``2125550101`` in another is one lead, whichever part it would land in), do-not-call,
    and one reject report naming source rows. The lead operators then take one part each
    (``prepared_part``) and only send.

    :param source: the leads, as for the lead operators (path, ``ObjectStoragePath``, list, SQL spec).
    :param destination: directory for the parts and ``manifest.json`` that every worker can read:
        an ``ObjectStoragePath`` / URL (``s3://bucket/parts/{{ run_id }}``) or, on one machine, a local path.
    :param parts: how many parts to write, or
    :param leads_per_part: how many leads per part.
    :param column_mapping: as for the lead operators.
    :param default_region: as for the lead operators.
    :param default_timezone: as for the lead operators.
    :param calling_window: as for the lead operators; carried in every part, so the sending tasks
        check each lead against the same window at the moment they send.
    :param outside_window: as for the lead operators; carried in every part.
    :param past_schedule: as for the lead operators.
    :param dnc_source: as for the lead operators.
    :param reject_report: path / ``ObjectStoragePath`` (``.csv`` / ``.jsonl``) for every row rejected.
    :param max_reject_ratio: fail (no retry) when more than this share of the rows read was rejected,
        after the parts and the report were written, so nothing is sent. ``None``: never.
    :param prepare_workers: processes preparing leads, as for the lead operators.
    :param field_limits: the most characters the dialer takes per lead field.
    :param storage_conn_id: object-storage connection for a URL ``destination``.

    Returns (XCom) the list of part entries (``path``, ``part``, ``leads``, ``first_row``,
    ``last_row``, ``sha256``, ``manifest``), and pushes the manifest's counts under the key ``summary``.
    """

    template_fields: Sequence[str] = (
        "source",
        "destination",
        "column_mapping",
        "default_region",
        "default_timezone",
        "reject_report",
        "dnc_source",
        "parts",
        "leads_per_part",
    )
    template_fields_renderers = {"source": "json", "column_mapping": "json"}
    ui_color = "#e8f4ff"

    def __init__(
        self,
        *,
        source: Any,
        destination: Any,
        parts: int | None = None,
        leads_per_part: int | None = None,
        column_mapping: Any = None,
        default_region: str | None = None,
        default_timezone: str | None = None,
        calling_window: Any = None,
        outside_window: OutsideWindowPolicy = "defer",
        past_schedule: PastSchedulePolicy = "send_now",
        dnc_source: Any = None,
        reject_report: Any = None,
        max_reject_ratio: float | None = 0.0,
        prepare_workers: int = 1,
        field_limits: dict[str, int] | None = None,
        storage_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if parts is None and leads_per_part is None:
            raise DialerConfigError(
                "PreparePartsOperator needs parts (how many) or leads_per_part (how many leads each)"
            )
        self.source = source
        self.destination = destination
        self.parts = parts
        self.leads_per_part = leads_per_part
        self.column_mapping = column_mapping
        self.default_region = default_region
        self.default_timezone = default_timezone
        self.calling_window = calling_window
        self.outside_window = outside_window
        self.past_schedule = past_schedule
        self.dnc_source = dnc_source
        self.reject_report = reject_report
        self.max_reject_ratio = max_reject_ratio
        self.prepare_workers = prepare_workers
        self.field_limits = field_limits
        self.storage_conn_id = storage_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from airflow_provider_dialer.leads.parts import read_manifest
        from airflow_provider_dialer.leads.report import RejectRatioExceededError
        from airflow_provider_dialer.operators.base import LeadsOperator, utcnow

        as_source = LeadsOperator.as_source
        reused = read_manifest(self.destination, self.storage_conn_id) is not None
        entries = prepare_parts(
            as_source(self.source),
            self.destination,
            parts=_count(self.parts),
            leads_per_part=_count(self.leads_per_part),
            column_mapping=self.column_mapping,
            default_region=self.default_region,
            default_timezone=self.default_timezone,
            calling_window=self.calling_window,
            outside_window=self.outside_window,
            past_schedule=self.past_schedule,
            dnc_source=as_source(self.dnc_source) if self.dnc_source is not None else None,
            reject_report=self.reject_report,
            max_reject_ratio=None,
            prepare_workers=self.prepare_workers,
            field_limits=self.field_limits,
            now=utcnow(),
            conn_id=self.storage_conn_id,
        )
        manifest = read_manifest(self.destination, self.storage_conn_id) or {}
        summary = {
            k: manifest.get(k)
            for k in (
                "read",
                "prepared",
                "rejected",
                "rejected_by_reason",
                "warnings",
                "reject_report",
                "manifest",
                "prepared_at",
            )
        }
        summary["parts"] = len(entries)
        summary["reused_manifest"] = reused
        self.log.info(
            "%s: read %s, prepared %s, rejected %s %s; %d part(s) of %s lead(s) under %s",
            "manifest found (prepared by an earlier attempt)" if reused else "prepared once",
            summary["read"],
            summary["prepared"],
            summary["rejected"],
            summary["rejected_by_reason"],
            len(entries),
            [e["leads"] for e in entries],
            self.destination,
        )
        context["ti"].xcom_push(key="summary", value=summary)
        read, rejected = summary["read"] or 0, summary["rejected"] or 0
        if self.max_reject_ratio is not None and read and rejected / read > self.max_reject_ratio:
            from airflow.sdk.exceptions import AirflowFailException

            error = RejectRatioExceededError(rejected, read, self.max_reject_ratio, summary["rejected_by_reason"] or {})
            where = (
                f"every one is in {self.reject_report}" if self.reject_report else "set reject_report for the full list"
            )
            raise AirflowFailException(f"{error}; no part is sent ({where})")
        if not summary["prepared"]:
            self.log.warning("no lead survived preparation: the mapped tasks get no part to send")
        return entries


def _count(value: Any) -> int | None:
    """A part count from a template (``"5"``) or a param (``5``)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise DialerConfigError(f"parts / leads_per_part must be a whole number, got {value!r}") from None
    return value if isinstance(value, int) else int(value)
