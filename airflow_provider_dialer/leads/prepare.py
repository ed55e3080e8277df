"""``prepare_leads``: turn source rows into ``PreparedLead``s and rejects, streaming, one row at a time.

Per row, in this order (a row is rejected for its first problem): readable object -> phones
(primary valid, alternatives valid or dropped with a warning) -> other fields -> time zone ->
schedule -> calling window. Then, per chunk and in row order: do-not-call, duplicate phone,
duplicate external id (the first row wins). Nothing here raises on row content.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from airflow_provider_dialer.exceptions import DialerConfigError, DialerUsageError, DialerValueError
from airflow_provider_dialer.leads.columns import SCALAR_FIELDS, ColumnMapping
from airflow_provider_dialer.leads.model import Lead, PreparedLead, prepared_lead_from_fields
from airflow_provider_dialer.leads.phones import PhoneNormaliser, PhoneResult, mask_phone, phone_text
from airflow_provider_dialer.leads.report import PreparationReport, Reject, RejectReason, RejectWriter, mask_phones_in
from airflow_provider_dialer.leads.schedule import ScheduleError, parse_schedule
from airflow_provider_dialer.leads.sources import BadRow, CsvSource, IterableSource, SqlSource, as_source
from airflow_provider_dialer.leads.window import CallingWindow
from airflow_provider_dialer.leads.zones import canonical_zone

UTC = UTC
OutsideWindowPolicy = Literal["defer", "reject"]
PastSchedulePolicy = Literal["send_now", "reject"]
_R = RejectReason
_TEXT_LIMIT = 200
_BREAK_OR_NUL = re.compile("[\r\n\x00]")
_TEXT_FIELDS = ("first_name", "last_name", "email", "agent", "content", "template", "subject")


class _RowProblem(Exception):
    """Internal: carries a reject out of the per-row code path."""

    def __init__(self, reject: Reject) -> None:
        self.reject = reject


def _shorten(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value) if isinstance(value, (dict, list, tuple)) else str(value)
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 3] + "..."


def field_too_long(fields: dict[str, Any], limits: Mapping[str, int], row: int, ext: str | None) -> Reject | None:
    """A ``field_too_long`` reject for the first field longer than the dialer takes, else None."""
    for name, limit in limits.items():
        value = fields.get(name)
        # the common case (text within the limit, or no value) without building a tuple per field
        if value is None or (type(value) is str and len(value) <= limit):
            continue
        items = value.items() if isinstance(value, dict) else ((None, value),)
        for sub, text in items:
            if isinstance(text, str) and len(text) > limit:
                where = name if sub is None else f"{name}.{sub}"
                return Reject(
                    row,
                    _R.FIELD_TOO_LONG.value,
                    where,
                    _shorten(text),
                    f"{len(text)} characters; the dialer takes at most {limit}",
                    ext,
                )
    return None


def _text(value: Any) -> str | None:
    """A cell as stripped text; ``None`` for empty; raises ``TypeError`` for containers."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != value:  # NaN from a dataframe-shaped upstream means "empty"
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else str(value)
    if isinstance(value, (dict, list, tuple, set, bytes, bytearray)):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return str(value).strip() or None


def _priority(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise ValueError("not an integer")
    if isinstance(value, int):
        return value
    text = _text(value)
    if text is None:
        return None
    number = float(text)  # "3", "3.0"; "abc" raises ValueError
    if not number.is_integer() or abs(number) > 2**31:
        raise ValueError("not an integer")
    return int(number)


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
    run = _Run(
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


class _Run:
    """The state of one preparation run: caches, policies, the report."""

    # set from the keyword arguments (prepare_leads names them all); a worker's copy has no report
    mapping: ColumnMapping
    dnc_mapping: ColumnMapping
    default_region: str | None
    default_timezone: str | None
    window: CallingWindow
    defer: bool
    reject_past: bool
    dedupe_phone: bool
    dedupe_external_id: bool
    external_id_ignore_case: bool
    now: datetime
    report: PreparationReport
    supported_regions: frozenset[str]
    field_limits: dict[str, int]

    def __init__(self, workers: int = 1, parallel_after_rows: int = 0, **kw: Any) -> None:
        self.__dict__.update(kw)
        #: what a worker process needs to build its own ``_Run`` (everything row-local; no report)
        self.config = {k: v for k, v in kw.items() if k != "report"}
        self.workers = workers
        self.parallel_after_rows = parallel_after_rows
        self.phones = PhoneNormaliser()
        self._plans: dict[tuple[str, ...], Any] = {}
        seps = self.mapping.phone_separators
        self._split_phones = re.compile("[" + re.escape(seps) + "]") if seps else None
        self._bound_keys: tuple[Any, ...] | None = None
        self._bound: Any = None
        self._now_window: dict[tuple[str, ...], tuple[bool, datetime | None]] = {}
        self._sched_window: dict[tuple[datetime, tuple[str, ...]], tuple[bool, datetime | None]] = {}

    # -- orchestration ---------------------------------------------------------------------------
    def stream(self, rows_source: Any, dnc_source: Any, chunk_rows: int) -> Iterator[PreparedLead]:
        from airflow_provider_dialer.leads.suppression import RunKeys

        keys = RunKeys()
        report = self.report
        try:
            has_dnc = False
            if dnc_source is not None:
                self._load_dnc(dnc_source, keys)
                has_dnc = True
            settle = self._settle
            if type(rows_source) is CsvSource:
                # CSV fast path: cells by position, the mapping bound to the header once (no dict per row)
                records: Iterator[Any] = rows_source.records()
                names = next(records, None)
                if names is None:
                    records, names = iter(()), []
                else:  # before the first row: a column the file lacks is a configuration error
                    self.mapping.check_columns(names, f"the header of {rows_source.path}")
                task: tuple[Any, ...] = ("csv", tuple(names))
            else:
                records, task = rows_source.rows(), ("items",)
                if isinstance(rows_source, CsvSource):  # a subclass: its rows() reads the file as the fast path does
                    names = rows_source.header()
                    if names:
                        self.mapping.check_columns(names, f"the header of {rows_source.path}")
                elif type(rows_source) is SqlSource:
                    records = _checked_first(records, self.mapping, "the query result")
            for outcomes in self._chunks_of_outcomes(records, chunk_rows, task):
                report.rows += len(outcomes)
                yield from settle(outcomes, keys, has_dnc)
            report.finish()
        finally:
            keys.close()
            report.close_unfinished()  # a failed or abandoned run still leaves a readable report

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]:
        """Each row's outcome (see ``_settle``), in order: the row-local part of preparation.

        ``task`` is ``("csv", header names)`` for ``CsvSource.records`` rows, else ``("items",)``.
        Runs here or in a worker process (``leads/parallel.py``); it must stay free of run-wide state.
        """
        if task[0] != "csv":
            row = self.row
            return [row(n, item) for n, item in rows]
        names = task[1]
        row_values = self._plans.get(names)
        if row_values is None:
            row_values = self._plans[names] = self._csv_plan(list(names))
        row, width = self.row, len(names)
        return [
            (row_values(n, v) if len(v) == width else row(n, dict(zip(names, v, strict=False))))
            if type(v) is list
            else row(n, v)
            for n, v in rows
        ]

    def _chunks_of_outcomes(
        self, records: Iterator[Any], chunk_rows: int, task: tuple[Any, ...]
    ) -> Iterator[list[Any]]:
        """Outcome lists of ``chunk_rows`` rows in source order: here, or on ``workers`` processes.

        Each chunk is read straight into outcomes when working alone (no list of raw rows kept alive).
        """
        outcomes = self.outcomes
        if self.workers > 1:
            from airflow_provider_dialer.leads.parallel import parallel_outcomes

            yield from parallel_outcomes(self, records, chunk_rows, task)
            return
        while chunk := outcomes(task, islice(records, chunk_rows)):
            yield chunk

    def _load_dnc(self, source: Any, keys: Any) -> None:
        report = self.report
        saved = (self._bound_keys, self._bound, self.mapping, self._split_phones)
        seps = self.dnc_mapping.phone_separators
        self.mapping, self._bound_keys, self._bound = self.dnc_mapping, None, None
        self._split_phones = re.compile("[" + re.escape(seps) + "]") if seps else None
        try:
            rows = source.rows()
            while batch := list(islice(rows, 5000)):
                found: list[tuple[int, int]] = []
                for n, item in batch:
                    report.dnc_entries += 1
                    try:
                        raw = self._extract(item) if not isinstance(item, BadRow) else None
                    except Exception:
                        raw = None
                    if not raw or not raw["phones"]:
                        report.dnc_invalid += 1
                        continue
                    country = raw.get("country")
                    region = str(country).upper() if country else self.default_region
                    for p in raw["phones"]:
                        result = self.phones.normalise(phone_text(p), region)
                        if result.e164 is None:
                            report.dnc_invalid += 1
                        else:
                            found.append((int(result.e164[1:]), n))
                keys.add("dnc", found)
        finally:
            self._bound_keys, self._bound, self.mapping, self._split_phones = saved

    def _settle(self, outcomes: list[Any], keys: Any, has_dnc: bool) -> Iterator[PreparedLead]:
        """De-duplicate and suppress one chunk in row order, then build the survivors.

        An outcome is a ``Reject`` or a tuple ``(fields, phone key, alternative keys, warnings)``
        whose ``fields`` dict is already in ``PreparedLead`` field order.
        """
        report = self.report
        add = report.add
        candidates = [o for o in outcomes if type(o) is tuple]
        dedupe_phone, dedupe_ext = self.dedupe_phone, self.dedupe_external_id
        fold = self.external_id_ignore_case
        dnc: dict[int, int] = {}
        if has_dnc and candidates:
            dnc = keys.found("dnc", (k for c in candidates for k in (c[1], *c[2])))
        seen_phone = keys.found("phone", [c[1] for c in candidates]) if dedupe_phone and candidates else {}
        seen_ext = (
            keys.found(
                "external_id",
                [e.casefold() if fold else e for c in candidates if (e := c[0]["external_id"]) is not None],
            )
            if dedupe_ext and candidates
            else {}
        )
        new_phone: list[tuple[int, int]] = []
        new_ext: list[tuple[str, int]] = []
        construct = prepared_lead_from_fields
        for o in outcomes:
            if type(o) is not tuple:
                add(o)
                continue
            fields, key, alt_keys, warnings = o
            row, ext = fields["row"], fields["external_id"]
            if dnc and key in dnc:
                add(
                    Reject(
                        row,
                        _R.DO_NOT_CALL.value,
                        "phones[0]",
                        mask_phone(fields["phone"]),
                        "on the do-not-call list",
                        ext,
                    )
                )
                continue
            if self.field_limits:
                too_long = field_too_long(fields, self.field_limits, row, ext)
                if too_long is not None:
                    add(too_long)
                    continue
            if dedupe_phone:
                first = seen_phone.get(key)
                if first is not None:
                    add(
                        Reject(
                            row,
                            _R.DUPLICATE_PHONE.value,
                            "phones[0]",
                            mask_phone(fields["phone"]),
                            f"same phone as row {first}",
                            ext,
                        )
                    )
                    continue
            if ext is not None and dedupe_ext:
                ext_key = ext.casefold() if fold else ext
                first = seen_ext.get(ext_key)
                if first is not None:
                    add(
                        Reject(
                            row,
                            _R.DUPLICATE_EXTERNAL_ID.value,
                            "external_id",
                            _shorten(ext),
                            f"same external_id as row {first}",
                            ext,
                        )
                    )
                    continue
            for w in warnings:
                add(w)
            if dnc and alt_keys:
                kept = []
                for i, (alt, akey) in enumerate(zip(fields["alternatives"], alt_keys, strict=False), 1):
                    if akey in dnc:
                        add(
                            Reject(
                                row,
                                _R.DO_NOT_CALL_ALTERNATIVE.value,
                                f"phones[{i}]",
                                mask_phone(alt),
                                "alternative on the do-not-call list; dropped",
                                ext,
                                "warning",
                            )
                        )
                    else:
                        kept.append(alt)
                fields["alternatives"] = tuple(kept)
            if dedupe_phone:
                seen_phone[key] = row
                new_phone.append((key, row))
            if ext is not None and dedupe_ext:
                seen_ext[ext_key] = row
                new_ext.append((ext_key, row))
            report.prepared += 1
            yield construct(fields)
        keys.add("phone", new_phone)
        keys.add("external_id", new_ext)

    # -- one row ---------------------------------------------------------------------------------
    def row(self, n: int, item: Any) -> Any:
        """An outcome tuple (see ``_settle``) or a ``Reject``."""
        try:
            return self._row(n, item)
        except _RowProblem as problem:
            return problem.reject
        except Exception as exc:  # the promise is "never raise on row content"; tests assert this stays unused
            return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    def _csv_plan(self, names: list[str]) -> Any:
        """``row(n, dict(zip(names, values)))`` for full-width CSV rows, reading cells by position.

        ``dict(zip(...))`` keeps each name's first position and its last value; the plan binds the
        mapping to exactly those keys and reads each from its last position. Shorter rows (whose
        dict has fewer keys, so may bind differently) go through ``row``.
        """
        keys = tuple(dict.fromkeys(names))
        at = {name: i for i, name in enumerate(names)}
        b = self.mapping.bind(keys)
        phone_at = tuple(at[k] for k in b.phones)
        scalar_at = tuple((name, at[k]) for name, k in b.scalars)
        data_at = at[b.data] if b.data is not None else None
        rest_at = tuple((k, at[k]) for k in b.rest)
        custom_at = tuple((cf, at[k]) for cf, k in b.custom)
        split_phones = self._split_phones
        build = self._build
        data_cell = _data_cell

        def row_values(n: int, values: list[str]) -> Any:
            try:
                phones: list[Any] = []
                for i in phone_at:
                    v = values[i]
                    if v == "":
                        continue
                    if split_phones is not None and split_phones.search(v):
                        phones.extend(p for p in (x.strip() for x in split_phones.split(v)) if p)
                    else:
                        phones.append(v)
                raw: dict[str, Any] = {name: values[i] for name, i in scalar_at}
                raw["phones"] = phones
                data: dict[str, Any] = {}
                if data_at is not None:
                    try:
                        data_cell(values[data_at], data)
                    except _RowProblem as problem:
                        r = problem.reject
                        return Reject(n, r.reason, r.field, r.value, r.detail)
                for k, i in rest_at:
                    v = values[i]
                    if v != "":
                        data[k] = v
                raw["data"] = data
                custom = {}
                for cf, i in custom_at:
                    v = values[i]
                    if v != "":
                        custom[cf] = v
                raw["custom_fields"] = custom
                return build(n, raw)
            except _RowProblem as problem:
                return problem.reject
            except Exception as exc:  # as in ``row``
                return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

        return row_values

    def _extract(self, item: Any) -> dict[str, Any]:
        """Raw Lead field values from a mapping (through the column mapping) or a ``Lead``."""
        if isinstance(item, Lead):
            raw = {name: getattr(item, name) for name in SCALAR_FIELDS}
            raw["phones"] = list(item.phones)
            raw["data"] = dict(item.data)
            raw["custom_fields"] = dict(item.custom_fields)
            return raw
        keys = tuple(item)
        if keys != self._bound_keys:
            self._bound = self.mapping.bind(keys)
            self._bound_keys = keys
        b = self._bound
        get = item.get
        phones: list[Any] = []
        split_phones = self._split_phones
        for k in b.phones:
            v = get(k)
            if v is None or v == "":
                continue
            if isinstance(v, (list, tuple)):
                phones.extend(p for p in v if p is not None and p != "")
            elif isinstance(v, str) and split_phones is not None and split_phones.search(v):
                phones.extend(p for p in (x.strip() for x in split_phones.split(v)) if p)
            else:
                phones.append(v)
        raw = {name: get(k) for name, k in b.scalars}
        raw["phones"] = phones
        data: dict[str, Any] = {}
        if b.data is not None:
            _data_cell(get(b.data), data)
        for k in b.rest:
            v = get(k)
            if v is not None and v != "":
                data[k] = v
        raw["data"] = data
        custom = {}
        for cf, k in b.custom:
            v = get(k)
            if v is not None and v != "":
                custom[cf] = v if isinstance(v, str) else str(v)
        raw["custom_fields"] = custom
        return raw

    def _row(self, n: int, item: Any) -> Any:
        if isinstance(item, BadRow):
            return Reject(n, item.reason, None, mask_phones_in(item.preview) or None, item.detail)
        if not isinstance(item, (dict, Mapping, Lead)):
            return Reject(
                n, _R.BAD_ROW.value, None, mask_phones_in(_shorten(item)), f"not an object ({type(item).__name__})"
            )
        try:
            raw = self._extract(item)
        except _RowProblem as problem:
            r = problem.reject
            return Reject(n, r.reason, r.field, r.value, r.detail)
        return self._build(n, raw)

    def _build(self, n: int, raw: dict[str, Any]) -> Any:
        """Validate and normalise one row's raw field values: an outcome tuple or a ``Reject``."""
        get = raw.get
        # external id first: every later reject can then name it
        v = get("external_id")
        if v is None:
            ext = None
        elif type(v) is str:
            ext = v.strip() or None
        else:
            try:
                ext = _text(v)
            except TypeError as exc:
                return Reject(n, _R.INVALID_FIELD.value, "external_id", _shorten(v), str(exc))
        if ext is not None and not ext.isascii():  # isascii is O(1): ASCII ids skip this
            ext = same_id(ext)

        # region: the row's country, else the run default
        region = self.default_region
        country = get("country")
        if country is not None and country != "":
            if type(country) is str:
                c: str | None = country.strip()
                c = c.upper() if c else None
            else:
                c = _text(country) if not isinstance(country, (dict, list)) else None
                c = c.upper() if c else None
            if c not in self.supported_regions:
                return Reject(
                    n,
                    _R.INVALID_FIELD.value,
                    "country",
                    _shorten(country),
                    "not an ISO 3166 country code phonenumbers knows",
                    ext,
                )
            region = c

        phones = raw["phones"]
        if not phones:
            return Reject(n, _R.MISSING_PHONE.value, "phones", None, "no phone number", ext)
        normalise = self.phones.normalise
        primary_raw = phones[0]
        if type(primary_raw) is str:
            primary: PhoneResult | None = normalise(primary_raw.strip(), region)
        else:
            primary = (
                normalise(phone_text(primary_raw), region)
                if isinstance(primary_raw, (str, int, float)) and not isinstance(primary_raw, bool)
                else None
            )
        if primary is None or primary.e164 is None:
            detail = (primary.error or "") if primary is not None else f"not text ({type(primary_raw).__name__})"
            return Reject(n, _R.INVALID_PHONE.value, "phones[0]", mask_phone(_shorten(primary_raw)), detail, ext)
        e164 = primary.e164
        alt_keys: tuple[int, ...] = ()
        warnings: tuple[Reject, ...] = ()
        if len(phones) > 1:
            alternatives: list[str] = []
            alt_key_list: list[int] = []
            warning_list: list[Reject] = []
            for i, alt_raw in enumerate(phones[1:], 1):
                if type(alt_raw) is str:
                    alt: PhoneResult | None = normalise(alt_raw.strip(), region)
                else:
                    alt = (
                        normalise(phone_text(alt_raw), region)
                        if isinstance(alt_raw, (str, int, float)) and not isinstance(alt_raw, bool)
                        else None
                    )
                if alt is None or alt.e164 is None:
                    detail = (alt.error or "") if alt is not None else f"not text ({type(alt_raw).__name__})"
                    warning_list.append(
                        Reject(
                            n,
                            _R.INVALID_ALTERNATIVE.value,
                            f"phones[{i}]",
                            mask_phone(_shorten(alt_raw)),
                            f"{detail}; dropped",
                            ext,
                            "warning",
                        )
                    )
                elif alt.e164 != e164 and alt.e164 not in alternatives:
                    alternatives.append(alt.e164)
                    alt_key_list.append(int(alt.e164[1:]))
            alt_tuple = tuple(alternatives)
            alt_keys = tuple(alt_key_list)
            warnings = tuple(warning_list)
        else:
            alt_tuple = ()

        texts: list[str | None] = []
        for name in _TEXT_FIELDS:
            v = get(name)
            if v is None:
                texts.append(None)
            elif type(v) is str:  # the common case, without a call
                texts.append(v.strip() or None)
            else:
                try:
                    texts.append(_text(v))
                except TypeError as exc:
                    return Reject(n, _R.INVALID_FIELD.value, name, _shorten(v), str(exc), ext)
        first_name, last_name, email, agent, content, template, subject = texts
        # isprintable() is one C pass and true for nearly every name; only the rest are searched
        if not (
            (first_name is None or first_name.isprintable())
            and (last_name is None or last_name.isprintable())
            and (email is None or email.isprintable())
        ):
            for name, value in (("first_name", first_name), ("last_name", last_name), ("email", email)):
                if value is not None and _BREAK_OR_NUL.search(value):
                    # a name never spans lines: a line break is what a stray quote makes of the rows after it
                    return Reject(
                        n,
                        _R.INVALID_FIELD.value,
                        name,
                        mask_phones_in(_shorten(value)),
                        "line break or NUL in a one-line field (a stray quote in the source?)",
                        ext,
                    )
        v = get("priority")
        if v is None:
            priority = None
        else:
            try:
                priority = _priority(v)
            except (TypeError, ValueError, OverflowError):
                return Reject(n, _R.INVALID_FIELD.value, "priority", _shorten(v), "not an integer", ext)
        ob = get("outbound_number")
        outbound = None
        if ob is not None and ob != "":
            res = (
                normalise(phone_text(ob), region)
                if isinstance(ob, (str, int, float)) and not isinstance(ob, bool)
                else None
            )
            if res is None or res.e164 is None:
                return Reject(
                    n,
                    _R.INVALID_FIELD.value,
                    "outbound_number",
                    mask_phone(_shorten(ob)),
                    (res.error or "") if res else "not text",
                    ext,
                )
            outbound = res.e164

        # time zone: the lead's own, else the number's single zone, else the campaign default
        tz_raw = get("timezone")
        window_zones: tuple[str, ...] = ()
        if tz_raw is not None and tz_raw != "":
            zone = canonical_zone(tz_raw) if isinstance(tz_raw, str) else None
            if zone is None:
                return Reject(
                    n, _R.UNKNOWN_TIMEZONE.value, "timezone", _shorten(tz_raw), "not an IANA time zone name", ext
                )
        else:
            candidates = self.phones.zones(primary)
            if len(candidates) == 1:
                zone = candidates[0]
            elif candidates:
                # the number may be in several zones: call only when the window is open in all of them.
                # The lead is called in one of its own zones (uContact gets it on the wire): the campaign
                # default only when it is one of them, else the first candidate
                zone = self.default_timezone if self.default_timezone in candidates else candidates[0]
                window_zones = candidates
            elif self.default_timezone is not None:
                zone = self.default_timezone
            else:
                return Reject(
                    n,
                    _R.UNKNOWN_TIMEZONE.value,
                    "timezone",
                    None,
                    "no timezone given, none implied by the number, no default_timezone",
                    ext,
                )

        # schedule, in the lead's zone
        sched_raw = get("schedule")
        if sched_raw is None or sched_raw == "":
            sched = None  # what parse_schedule returns for both
        else:
            try:
                sched = parse_schedule(sched_raw, zone)
            except ScheduleError as exc:
                return Reject(n, _R.BAD_SCHEDULE.value, "schedule", _shorten(sched_raw), str(exc), ext)
        now = self.now
        if sched is not None and sched < now:
            if self.reject_past:
                return Reject(
                    n,
                    _R.SCHEDULE_IN_PAST.value,
                    "schedule",
                    _shorten(sched_raw),
                    f"before now ({now.isoformat()})",
                    ext,
                )
            sched = None  # send_now: as if unscheduled, so the window check below uses now

        # calling window
        zones = window_zones or (zone,)
        window = self.window
        if sched is None:
            cached = self._now_window.get(zones)
            if cached is None:
                is_open = all(window.open_in_zone(now, z) for z in zones)
                cached = (is_open, None if is_open else window.next_open_unchecked(now, zones))
                self._now_window[zones] = cached
            is_open, next_at = cached
            call_at = None
        else:
            # dialer schedules cluster on round times, so (instant, zones) repeats a lot
            cached = self._sched_window.get((sched, zones))
            if cached is None:
                is_open = all(window.open_in_zone(sched, z) for z in zones)
                cached = (is_open, None if is_open else window.next_open_unchecked(sched, zones))
                if len(self._sched_window) > 65536:
                    self._sched_window.clear()
                self._sched_window[(sched, zones)] = cached
            is_open, next_at = cached
            call_at = sched
        if not is_open:
            when = sched or now
            if not self.defer:
                return Reject(
                    n,
                    _R.OUTSIDE_WINDOW.value,
                    "schedule" if sched else None,
                    when.isoformat(),
                    f"outside the calling window in {', '.join(zones)}",
                    ext,
                )
            if next_at is None:
                return Reject(
                    n,
                    _R.OUTSIDE_WINDOW.value,
                    "schedule" if sched else None,
                    when.isoformat(),
                    f"no calling window open in all of {', '.join(zones)} within {window.horizon_days} days",
                    ext,
                )
            call_at = next_at
        # PreparedLead field order (see PREPARED_FIELD_ORDER; a unit test pins it)
        fields = {
            "row": n,
            "phone": e164,
            "alternatives": alt_tuple,
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "external_id": ext,
            "priority": priority,
            "agent": agent,
            "timezone": zone,
            "window_zones": window_zones,
            "call_at": call_at,
            "data": raw["data"],
            "custom_fields": raw["custom_fields"],
            "content": content,
            "template": template,
            "subject": subject,
            "outbound_number": outbound,
        }
        return (fields, int(e164[1:]), alt_keys, warnings)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"))


def same_id(text: str) -> str | None:
    """An external id in the form de-duplication compares and the dialer receives: NFC, without
    zero-width characters (``U+200B-U+200F``, ``U+2060``, ``U+FEFF``), without surrounding spaces
    of any kind; ``None`` when nothing is left. Case is kept."""
    import unicodedata

    return unicodedata.normalize("NFC", text.translate(_INVISIBLE)).strip() or None


def _checked_first(records: Iterator[Any], mapping: ColumnMapping, where: str) -> Iterator[Any]:
    """``records`` after checking the mapping against the first row's keys (a result's columns)."""
    first = next(records, None)
    if first is None:
        return
    if isinstance(first[1], Mapping):
        mapping.check_columns(list(first[1]), where)
    yield first
    yield from records


def _data_cell(d: Any, data: dict[str, Any]) -> None:
    """Merge the ``data`` column's value (a dict or JSON object text) into ``data``; ``_RowProblem`` otherwise."""
    if isinstance(d, dict):
        data.update(d)
    elif isinstance(d, str) and d.strip():
        try:
            parsed = json.loads(d) if d.lstrip().startswith("{") else None
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise _RowProblem(Reject(0, _R.INVALID_FIELD.value, "data", _shorten(d), "data is not a JSON object"))
        data.update(parsed)
    elif d is not None and d != "":
        raise _RowProblem(Reject(0, _R.INVALID_FIELD.value, "data", _shorten(d), "data is not an object"))
