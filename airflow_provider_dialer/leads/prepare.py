"""``prepare_leads``: turn source rows into ``PreparedLead``s and rejects, streaming, one row at a time.

This module checks the arguments and hands back the stream; the work is in the modules it is made of:
``row_builder`` (one row to an outcome: phones, fields, zone, schedule, calling window; its CSV fast
path in ``csv_rows``, its cell helpers in ``cells``), ``run`` (the run: do-not-call, duplicates, the
report, in row order) and ``parallel`` (the row-local part on worker processes). Nothing here raises
on row content.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from airflow_provider_dialer.exceptions import DialerConfigError, DialerUsageError, DialerValueError
from airflow_provider_dialer.leads.cells import field_too_long, same_id
from airflow_provider_dialer.leads.columns import ColumnMapping
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.leads.report import PreparationReport, RejectWriter
from airflow_provider_dialer.leads.sources import CsvSource, IterableSource, as_source
from airflow_provider_dialer.leads.window import CallingWindow
from airflow_provider_dialer.leads.zones import canonical_zone

# public names of preparation that live in the modules it is made of
__all__ = [
    "OutsideWindowPolicy",
    "PastSchedulePolicy",
    "PreparedLeads",
    "check_source",
    "field_too_long",
    "prepare_leads",
    "same_id",
]

OutsideWindowPolicy = Literal["defer", "reject"]
PastSchedulePolicy = Literal["send_now", "reject"]


class PreparedLeads:
    """The result of ``prepare_leads``: iterate it (once) for ``PreparedLead``s, or take ``chunks(size)``.

    ``report`` (counts by reason, samples, ``check_ratio``) is complete when iteration has finished.
    """

    def __init__(self, run: Iterator[PreparedLead], report: PreparationReport, now: datetime) -> None:
        self._run = run
        self.report = report
        self.now = now
        self._started = False

    def __iter__(self) -> Iterator[PreparedLead]:
        if self._started:
            raise DialerUsageError("prepared leads stream once; call prepare_leads again to re-read the source")
        self._started = True
        return self._run

    def chunks(self, size: int = 1000) -> Iterator[list[PreparedLead]]:
        """Lists of at most ``size`` prepared leads, in source order."""
        if size < 1:
            raise DialerValueError(f"chunk size must be at least 1, got {size!r}")
        it = iter(self)
        while chunk := list(islice(it, size)):
            yield chunk

    def consume(self) -> PreparationReport:
        """Run to the end without keeping leads (validation-only runs) and return the report."""
        for _ in self:
            pass
        return self.report


def prepare_leads(
    source: Any,
    *,
    column_mapping: ColumnMapping | Mapping[str, Any] | None = None,
    default_region: str | None = None,
    default_timezone: str | None = None,
    calling_window: CallingWindow | Mapping[str, Any] | None = None,
    outside_window: OutsideWindowPolicy = "defer",
    past_schedule: PastSchedulePolicy = "send_now",
    do_not_call: Any = None,
    do_not_call_mapping: ColumnMapping | Mapping[str, Any] | None = None,
    dedupe_by: tuple[str, ...] = ("phone", "external_id"),
    external_id_ignore_case: bool = False,
    reject_report: Any = None,
    reject_format: str | None = None,
    reject_report_conn_id: str | None = None,
    now: datetime | None = None,
    chunk_rows: int = 1000,
    sample_limit: int = 100,
    workers: int = 1,
    parallel_after_rows: int = 20_000,
    field_limits: Mapping[str, int] | None = None,
    mapping: ColumnMapping | Mapping[str, Any] | None = None,
) -> PreparedLeads:
    """Prepare leads from any source for any dialer: phones, zone, schedule, calling window, de-dup, DNC.

    :param source: rows: an iterable / XCom value of dicts or ``Lead``s, a CSV or JSONL path / URL /
        ``ObjectStoragePath``, or a ``CsvSource``, ``JsonLinesSource``, ``SqlSource``.
    :param column_mapping: ``ColumnMapping`` (or dict of its fields) naming the source columns; the
        operators' argument of the same name.
    :param default_region: ISO country for numbers written without ``+<country code>`` (e.g. ``"UY"``);
        a row's ``country`` column overrides it. ``None``: such numbers are ``invalid_phone``.
    :param default_timezone: campaign zone for leads whose zone is neither given nor implied by the
        number; ``None``: such leads are ``unknown_timezone``.
    :param calling_window: the guard; ``None`` means the default ``CallingWindow()`` (08:00-21:00
        local, every day). It is never off by accident: pass ``CallingWindow.always()`` to disable it.
    :param outside_window: ``"defer"`` (default) moves a lead to its next window opening;
        ``"reject"`` rejects it as ``outside_window``.
    :param past_schedule: ``"send_now"`` (default) treats a past schedule as none (call now, or at
        the next opening); ``"reject"`` rejects it as ``schedule_in_past``.
    :param do_not_call: phones never to call, from any source kind (iterables may hold bare strings).
    :param do_not_call_mapping: column mapping for the DNC source (default: ``phone``/``phones``).
    :param dedupe_by: ``"phone"`` (normalised primary) and/or ``"external_id"``; ``()`` turns it off.
        External ids are compared (and sent) in NFC form, without zero-width characters and
        surrounding spaces; see ``same_id``.
    :param external_id_ignore_case: ``True`` makes ``ABC-1`` and ``abc-1`` one id for de-duplication
        (the first row's spelling is sent); by default case is significant.
    :param reject_report: path / URL / ``ObjectStoragePath`` receiving every reject as it happens.
    :param reject_format: ``"csv"`` or ``"jsonl"``; from the report's suffix when ``None``.
    :param now: the preparation instant (aware); default: the time of this call. Inject it in tests
        and in operators that must be deterministic.
    :param chunk_rows: rows read and de-duplicated together (bounds memory).
    :param sample_limit: rejects kept in ``report.samples``.
    :param workers: processes for the per-row work (phones, zone, schedule, window), which is
        CPU-bound; ``1`` (default) does everything in this process. With more, rows beyond the first
        ``parallel_after_rows`` go to ``workers`` worker processes in chunks and come back in source
        order; de-duplication, do-not-call and the report stay here, so the result is the same.
    :param parallel_after_rows: rows prepared in this process before any worker starts (small
        inputs never pay for starting processes).
    :param field_limits: the most characters the dialer takes per lead field, e.g.
        ``{"first_name": 255, "email": 255}`` (a dict field such as ``custom_fields`` limits each
        value); a longer value rejects the row as ``field_too_long`` instead of failing its chunk at
        the vendor. Operators pass their hook's ``lead_field_limits``.
    :param mapping: deprecated spelling of ``column_mapping`` (a ``DeprecationWarning``).
    :return: ``PreparedLeads``; nothing is read until it is iterated.

    Example::

        result = prepare_leads("s3://crm/leads.csv", column_mapping={"phones": ["tel"], "first_name": "nome"},
                               default_region="UY", default_timezone="America/Montevideo")
        for chunk in result.chunks(500):
            hook.push(chunk)
        result.report.check_ratio(0.01)
    """
    import phonenumbers

    mapping = ColumnMapping.from_spec(_column_mapping_argument("prepare_leads", column_mapping, mapping))
    window = CallingWindow.from_spec(calling_window)
    if default_region is not None:
        default_region = str(default_region).upper()
        if default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise DialerConfigError(f"default_region {default_region!r} is not an ISO country phonenumbers knows")
    if default_timezone is not None:
        zone = canonical_zone(default_timezone)
        if zone is None:
            raise DialerConfigError(f"default_timezone {default_timezone!r} is not an IANA time zone")
        default_timezone = zone
    if outside_window not in ("defer", "reject"):
        raise DialerConfigError(f"outside_window must be 'defer' or 'reject', got {outside_window!r}")
    if past_schedule not in ("send_now", "reject"):
        raise DialerConfigError(f"past_schedule must be 'send_now' or 'reject', got {past_schedule!r}")
    unknown = set(dedupe_by) - {"phone", "external_id"}
    if unknown:
        raise DialerConfigError(f"dedupe_by accepts 'phone' and 'external_id', got {sorted(unknown)}")
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None or now.utcoffset() is None:
        raise DialerConfigError("now must be an aware datetime")
    now = now.astimezone(UTC)
    if chunk_rows < 1:
        raise DialerConfigError("chunk_rows must be at least 1")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise DialerConfigError(f"workers must be a whole number of processes, at least 1, got {workers!r}")
    rows_source = as_source(source)
    dnc_source = None
    if do_not_call is not None:
        if isinstance(do_not_call, (list, tuple, set, frozenset)) or (
            not isinstance(do_not_call, (str, bytes, Mapping)) and hasattr(do_not_call, "__next__")
        ):
            do_not_call = IterableSource(
                {"phone": v} if isinstance(v, (str, int)) and not isinstance(v, bool) else v for v in do_not_call
            )
        dnc_source = as_source(do_not_call)
    writer = RejectWriter(reject_report, reject_format, reject_report_conn_id) if reject_report is not None else None
    report = PreparationReport(sample_limit=sample_limit, writer=writer)
    from airflow_provider_dialer.leads.run import PreparationRun

    run = PreparationRun(
        mapping=mapping,
        dnc_mapping=ColumnMapping.from_spec(do_not_call_mapping),
        default_region=default_region,
        default_timezone=default_timezone,
        window=window,
        defer=outside_window == "defer",
        reject_past=past_schedule == "reject",
        dedupe_phone="phone" in dedupe_by,
        dedupe_external_id="external_id" in dedupe_by,
        external_id_ignore_case=bool(external_id_ignore_case),
        now=now,
        report=report,
        supported_regions=frozenset(phonenumbers.SUPPORTED_REGIONS),
        workers=workers,
        parallel_after_rows=max(0, int(parallel_after_rows)),
        field_limits=dict(field_limits or {}),
    )
    return PreparedLeads(run.stream(rows_source, dnc_source, chunk_rows), report, now)


def _column_mapping_argument(function: str, column_mapping: Any, mapping: Any) -> Any:
    """``column_mapping``, or the deprecated ``mapping=`` a caller still passes (with a warning)."""
    if mapping is None:
        return column_mapping
    import warnings

    if column_mapping is not None:
        raise DialerConfigError(f"{function}: give column_mapping only (mapping is its deprecated spelling)")
    warnings.warn(
        f"{function}(mapping=...) is deprecated; pass column_mapping=... (the operators' name)",
        DeprecationWarning,
        stacklevel=3,
    )
    return mapping


def check_source(
    source: Any,
    column_mapping: ColumnMapping | Mapping[str, Any] | None = None,
    *,
    mapping: ColumnMapping | Mapping[str, Any] | None = None,
) -> None:
    """Check, before anything is written anywhere, what a file source can tell up front.

    A CSV file's encoding and header are read and the mapping is checked against the header; a JSON
    Lines file's encoding is detected. Either raises ``DialerConfigError`` as ``prepare_leads``
    would at its first row. Other sources are left alone: reading a generator or a query twice
    would consume or repeat it (a query's columns are checked at its first row, before any lead
    is handed on). ``mapping`` is the deprecated spelling of ``column_mapping``.
    """
    from airflow_provider_dialer.leads.sources import JsonLinesSource

    column_mapping = _column_mapping_argument("check_source", column_mapping, mapping)
    spec = as_source(source)
    if isinstance(spec, CsvSource):
        names = spec.header()
        if names:
            ColumnMapping.from_spec(column_mapping).check_columns(names, f"the header of {spec.path}")
    elif isinstance(spec, JsonLinesSource):
        spec.check_encoding()
