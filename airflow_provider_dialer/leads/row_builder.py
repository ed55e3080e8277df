"""The per-row part of preparation: one source row (a mapping, a ``Lead``, CSV cells) to an *outcome*.

An outcome is a ``Reject`` or a tuple ``(fields, phone key, alternative keys, warnings, too long)``:
``fields`` holds every ``PreparedLead`` field in its order, the keys are the E.164 digits as ints
(for de-duplication and do-not-call), ``warnings`` are the row's warning rejects and ``too long`` is
its ``field_too_long`` reject or ``None`` (applied by the run, after do-not-call). Per row, in this
order (a row is rejected for its first problem): readable object -> phones (primary valid,
alternatives valid or dropped with a warning) -> other fields -> time zone -> schedule -> calling
window. Everything here is row-local, so it runs in worker processes too (``parallel``); the
run-wide part (de-duplication, do-not-call, the report) is ``run``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow_provider_dialer.leads.cells import (
    RowProblem,
    cell_priority,
    cell_text,
    data_cell,
    field_too_long,
    same_id,
    shorten,
)
from airflow_provider_dialer.leads.columns import SCALAR_FIELDS, ColumnMapping
from airflow_provider_dialer.leads.csv_rows import csv_row_plan
from airflow_provider_dialer.leads.model import Lead
from airflow_provider_dialer.leads.phones import PhoneNormaliser, PhoneResult, mask_phone, phone_text
from airflow_provider_dialer.leads.report import Reject, RejectReason, mask_phones_in
from airflow_provider_dialer.leads.schedule import ScheduleError, parse_schedule
from airflow_provider_dialer.leads.sources import BadRow
from airflow_provider_dialer.leads.window import CallingWindow
from airflow_provider_dialer.leads.zones import canonical_zone

_R = RejectReason
_BREAK_OR_NUL = re.compile("[\r\n\x00]")
_TEXT_FIELDS = ("first_name", "last_name", "email", "agent", "content", "template", "subject")


class RowBuilder:
    """Turns rows into outcomes with one run's settings and caches (phones, plans, window answers).

    Built from the run's keyword arguments (``prepare_leads`` names them all), here and, from the
    same ``config``, in each worker process.
    """

    mapping: ColumnMapping
    default_region: str | None
    default_timezone: str | None
    window: CallingWindow
    defer: bool
    reject_past: bool
    now: datetime
    supported_regions: frozenset[str]
    field_limits: dict[str, int]

    def __init__(self, **config: Any) -> None:
        self.__dict__.update(config)
        self.phones = PhoneNormaliser()
        self._plans: dict[tuple[str, ...], Any] = {}
        seps = self.mapping.phone_separators
        #: what splits one cell into several phones (the mapping's separators), or ``None``
        self.split_phones = re.compile("[" + re.escape(seps) + "]") if seps else None
        self._bound_keys: tuple[Any, ...] | None = None
        self._bound: Any = None
        self._now_window: dict[tuple[str, ...], tuple[bool, datetime | None]] = {}
        self._sched_window: dict[tuple[datetime, tuple[str, ...]], tuple[bool, datetime | None]] = {}

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]:
        """Each row's outcome (see the module docstring), in order: the row-local part of preparation.

        ``task`` is ``("csv", header names)`` for ``CsvSource.records`` rows, else ``("items",)``.
        Runs in the run's process or in a worker process (``parallel``); it holds no run-wide state.
        """
        if task[0] != "csv":
            row = self.row
            return [row(n, item) for n, item in rows]
        names = task[1]
        row_values = self._plans.get(names)
        if row_values is None:
            row_values = self._plans[names] = csv_row_plan(self, list(names))
        row, width = self.row, len(names)
        return [
            (row_values(n, v) if len(v) == width else row(n, dict(zip(names, v, strict=False))))
            if type(v) is list
            else row(n, v)
            for n, v in rows
        ]

    def line_outcomes(self, task: tuple[Any, ...], chunk: Any) -> tuple[list[Any], int, int | None]:
        """A ``LineChunk``'s records cut and turned into outcomes: ``(outcomes, records, restart)``.

        Rows are numbered from 1 within the chunk (``renumbered`` moves them to the file's numbers);
        ``restart`` is the line where a record still open at the chunk's end begins, else ``None``.
        """
        rows, restart = chunk.parse(list(task[1]))
        return self.outcomes(task, rows), len(rows), restart

    def row(self, n: int, item: Any) -> Any:
        """An outcome (see the module docstring): a tuple or a ``Reject``."""
        try:
            return self._row(n, item)
        except RowProblem as problem:
            return problem.reject
        except Exception as exc:  # the promise is "never raise on row content"; tests assert this stays unused
            return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    def extract(self, item: Any) -> dict[str, Any]:
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
        split_phones = self.split_phones
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
            data_cell(get(b.data), data)
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
                n, _R.BAD_ROW.value, None, mask_phones_in(shorten(item)), f"not an object ({type(item).__name__})"
            )
        try:
            raw = self.extract(item)
        except RowProblem as problem:
            r = problem.reject
            return Reject(n, r.reason, r.field, r.value, r.detail)
        return self.build(n, raw)

    def build(self, n: int, raw: dict[str, Any]) -> Any:
        """Validate and normalise one row's raw field values (``extract``'s dict): an outcome tuple or a ``Reject``."""
        return self.build_row(n, tuple(map(raw.get, SCALAR_FIELDS)), raw["phones"], raw["data"], raw["custom_fields"])

    def build_row(
        self, n: int, cells: tuple[Any, ...], phones: list[Any], data: dict[str, Any], custom: dict[str, str]
    ) -> Any:
        """``build`` with the row already apart: ``cells`` holds the raw value of each of
        ``SCALAR_FIELDS`` in its order (``None`` or ``""`` where the row has none), ``phones`` the
        non-empty phone values, primary first. An outcome tuple or a ``Reject``."""
        (
            first_name,
            last_name,
            email,
            v,
            priority_raw,
            agent,
            tz_raw,
            sched_raw,
            country,
            content,
            template,
            subject,
            ob,
        ) = cells
        # external id first: every later reject can then name it
        if type(v) is str:
            ext = v.strip() or None
        elif v is None:
            ext = None
        else:
            try:
                ext = cell_text(v)
            except TypeError as exc:
                return Reject(n, _R.INVALID_FIELD.value, "external_id", shorten(v), str(exc))
        if ext is not None and not ext.isascii():  # isascii is O(1): ASCII ids skip this
            ext = same_id(ext)

        # region: the row's country, else the run default
        region = self.default_region
        if country is not None and country != "":
            if type(country) is str:
                c: str | None = country.strip()
                c = c.upper() if c else None
            else:
                c = cell_text(country) if not isinstance(country, (dict, list)) else None
                c = c.upper() if c else None
            if c not in self.supported_regions:
                return Reject(
                    n,
                    _R.INVALID_FIELD.value,
                    "country",
                    shorten(country),
                    "not an ISO 3166 country code phonenumbers knows",
                    ext,
                )
            region = c

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
            return Reject(n, _R.INVALID_PHONE.value, "phones[0]", mask_phone(shorten(primary_raw)), detail, ext)
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
                            mask_phone(shorten(alt_raw)),
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

        # the text fields: one type test each when they are text (always, from a CSV file)
        if (
            type(first_name) is str
            and type(last_name) is str
            and type(email) is str
            and type(agent) is str
            and type(content) is str
            and type(template) is str
            and type(subject) is str
        ):
            first_name = first_name.strip() or None
            last_name = last_name.strip() or None
            email = email.strip() or None
            agent = agent.strip() or None
            content = content.strip() or None
            template = template.strip() or None
            subject = subject.strip() or None
        else:
            texts: list[str | None] = []
            for name, value in zip(
                _TEXT_FIELDS, (first_name, last_name, email, agent, content, template, subject), strict=True
            ):
                if value is None:
                    texts.append(None)
                elif type(value) is str:
                    texts.append(value.strip() or None)
                else:
                    try:
                        texts.append(cell_text(value))
                    except TypeError as exc:
                        return Reject(n, _R.INVALID_FIELD.value, name, shorten(value), str(exc), ext)
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
                        mask_phones_in(shorten(value)),
                        "line break or NUL in a one-line field (a stray quote in the source?)",
                        ext,
                    )
        if priority_raw is None or priority_raw == "":  # what cell_priority returns None for, without a call
            priority = None
        else:
            try:
                priority = cell_priority(priority_raw)
            except (TypeError, ValueError, OverflowError):
                return Reject(n, _R.INVALID_FIELD.value, "priority", shorten(priority_raw), "not an integer", ext)
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
                    mask_phone(shorten(ob)),
                    (res.error or "") if res else "not text",
                    ext,
                )
            outbound = res.e164

        # time zone: the lead's own, else the number's single zone, else the campaign default
        window_zones: tuple[str, ...] = ()
        if tz_raw is not None and tz_raw != "":
            zone = canonical_zone(tz_raw) if isinstance(tz_raw, str) else None
            if zone is None:
                return Reject(
                    n, _R.UNKNOWN_TIMEZONE.value, "timezone", shorten(tz_raw), "not an IANA time zone name", ext
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
        if sched_raw is None or sched_raw == "":
            sched = None  # what parse_schedule returns for both
        else:
            try:
                sched = parse_schedule(sched_raw, zone)
            except ScheduleError as exc:
                return Reject(n, _R.BAD_SCHEDULE.value, "schedule", shorten(sched_raw), str(exc), ext)
        now = self.now
        if sched is not None and sched < now:
            if self.reject_past:
                return Reject(
                    n,
                    _R.SCHEDULE_IN_PAST.value,
                    "schedule",
                    shorten(sched_raw),
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
            "data": data,
            "custom_fields": custom,
            "content": content,
            "template": template,
            "subject": subject,
            "outbound_number": outbound,
        }
        # the length check is row-local, so it runs here (in the workers when there are some); the run
        # applies it at its place in the order of rejects (after do-not-call)
        limits = self.field_limits
        too_long = field_too_long(fields, limits, n, ext) if limits else None
        return (fields, int(e164[1:]), alt_keys, warnings, too_long)
