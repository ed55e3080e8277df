"""The row builder as it was before its per-row cost was cut: a frozen reference for the equivalence test.

``test_leads_row_equivalence.py`` runs every generated source through ``prepare_leads`` twice, once with
the current ``RowBuilder`` and once with this one, and asserts the same leads, rejects and reports.

Verbatim copies of ``airflow_provider_dialer/leads/phones.py``, ``csv_rows.py`` and ``row_builder.py``
at commit 75c0185 (only their imports merged, since they now live in one file). Everything they
import from the package is unchanged since that commit. Do not edit: a fix to the package that
changes what a row becomes belongs in the package and in a test of its own, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

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
from airflow_provider_dialer.leads.model import Lead
from airflow_provider_dialer.leads.report import Reject, RejectReason, mask_phones_in
from airflow_provider_dialer.leads.schedule import ScheduleError, parse_schedule
from airflow_provider_dialer.leads.sources import BadRow
from airflow_provider_dialer.leads.window import CallingWindow
from airflow_provider_dialer.leads.zones import canonical_zone, inferred_zone

# -- phones.py -----------------------------------------------------------------------------------
MAX_PHONE_TEXT = 64  # longer text is not a phone number; phonenumbers itself stops at 250


class PhoneResult(NamedTuple):
    """One parsed phone: ``e164`` when valid, else ``error``.

    ``zone_key`` is the digit string whose longest prefix names the number's zones (the E.164
    digits for geographic numbers, the country code for others); see ``PhoneNormaliser.zones``.
    """

    e164: str | None
    error: str | None
    zone_key: str = ""


def mask_phone(value: object) -> str:
    """Every character but the last four replaced by ``*`` (``+14155554567`` -> ``********4567``)."""
    text = "" if value is None else str(value)
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def packed(raw: str) -> str:
    """``raw`` without its spaces and hyphens when that leaves ``+digits`` or digits, else ``raw``.

    Lists mostly hold numbers like ``+1 212 291-0830``: phonenumbers parses them exactly as it
    parses ``+12122910830`` (its extension patterns all need a letter, ``#``, ``,`` or ``;``, and
    it drops separators itself), only ~15% slower. Shorter than three digits, separators can change
    which error phonenumbers reports, so such text is left alone.
    """
    if " " not in raw and "-" not in raw:
        return raw
    text = raw.replace(" ", "").replace("-", "")
    digits = text[1:] if text[:1] == "+" else text
    if len(digits) >= 3 and digits.isascii() and digits.isdigit():
        return text
    return raw


def phone_text(value: object) -> str:
    """Raw phone value as text; ints and integral floats (spreadsheets, JSON) lose their ``.0``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    return str(value).strip()


class PhoneNormaliser:
    """Parses raw phone text into E.164 plus the number's candidate zones, with an LRU cache.

    Leads lists repeat numbers (several rows per household, DNC lists, re-runs), and the cache makes
    each distinct ``(raw, region)`` cost one phonenumbers parse.

    :param backend: ``"auto"``, ``"phonenumbers"`` or ``"rphonenumbers"``; default
        ``$DIALER_PHONE_BACKEND``, else ``auto`` (see ``phone_backend.select_backend``).
    """

    def __init__(self, cache_size: int = 8192, backend: str | None = None) -> None:
        import phonenumbers
        from phonenumbers import PhoneNumberFormat, PhoneNumberType, is_number_type_geographical
        from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

        from airflow_provider_dialer.leads.phone_backend import FAST, select_backend

        self._pn = phonenumbers
        self._e164 = PhoneNumberFormat.E164
        self._unknown = PhoneNumberType.UNKNOWN
        self._is_geo = is_number_type_geographical
        self._tzdata = TIMEZONE_DATA
        self._tz_longest = TIMEZONE_LONGEST_PREFIX
        self._nsn = phonenumbers.national_significant_number
        # phonenumbers looks each metadata pattern up through re.compile's cache on every call; its own
        # pattern cache (one dict lookup; about 1,200 patterns, a fraction of a MB, with every region's
        # example numbers) makes a parse and validation about a fifth cheaper, with the same patterns
        enable_pattern_cache = getattr(phonenumbers, "enable_pattern_cache", None)
        if enable_pattern_cache is not None:
            enable_pattern_cache()
        self.backend = select_backend(backend)
        if self.backend.name == FAST:
            fast = self.backend.module
            self._fast_parse = fast.parse
            self._fast_type = fast.number_type
            self.normalise = lru_cache(maxsize=cache_size)(self._normalise_fast)
        else:
            self.normalise = lru_cache(maxsize=cache_size)(self._normalise)
        self._zone_cache: dict[str, tuple[str, ...]] = {}

    def zones(self, result: PhoneResult) -> tuple[str, ...]:
        """Candidate IANA zones of a valid number (sorted, current names); ``()`` when unknown.

        Computed only for leads without their own zone; cached per matched prefix, of which a
        country has a few hundred at most.
        """
        key = result.zone_key
        data = self._tzdata
        for n in range(min(self._tz_longest, len(key)), 0, -1):
            prefix = key[:n]
            if prefix in data:
                found = self._zone_cache.get(prefix)
                if found is None:
                    found = self._zone_cache[prefix] = self._zones_for(prefix)
                return found
        return ()

    def _zones_for(self, digits: str) -> tuple[str, ...]:
        # same longest-prefix lookup as phonenumbers.timezone, on the E.164 digits we already have
        data = self._tzdata
        for n in range(min(self._tz_longest, len(digits)), 0, -1):
            found = data.get(digits[:n])
            if found is not None:
                zones = []
                for name in found:
                    z = inferred_zone(name)
                    if z is not None and z not in zones:
                        zones.append(z)
                return tuple(sorted(zones))
        return ()

    def _normalise_fast(self, raw: str, region: str | None) -> PhoneResult:
        # the fast library only ever *accepts*: over the equivalence corpus it parsed some garbage
        # ("12;4") that phonenumbers refuses as not a number, and a lagging metadata release can
        # miss a range phonenumbers now has; so whatever it does not accept as valid, and every
        # reject reason, comes from phonenumbers
        if raw and len(raw) <= MAX_PHONE_TEXT:
            try:
                number = self._fast_parse(packed(raw), region)
                ntype = self._fast_type(number)
            except Exception:  # its NumberParseException, or anything else: not our code, the reference decides
                pass
            else:
                if ntype != self._unknown:
                    cc = number.country_code
                    digits = f"{cc}{self._nsn(number)}"
                    return PhoneResult("+" + digits, None, digits if self._is_geo(ntype, cc) else str(cc))
        return self._normalise(raw, region)

    def _normalise(self, raw: str, region: str | None) -> PhoneResult:
        if not raw:
            return PhoneResult(None, "empty")
        if len(raw) > MAX_PHONE_TEXT:
            return PhoneResult(None, f"longer than {MAX_PHONE_TEXT} characters")
        pn = self._pn
        try:
            number = pn.parse(packed(raw), region)
        except pn.NumberParseException as exc:
            return PhoneResult(None, _PARSE_ERRORS.get(exc.error_type, "not a phone number"))
        except Exception as exc:  # phonenumbers is not our code; a row must never raise
            return PhoneResult(None, f"not a phone number ({type(exc).__name__})")
        # number_type() is what is_valid_number() computes internally (UNKNOWN == invalid); calling it
        # once gives validity and the geographic test the zone lookup needs
        ntype = pn.number_type(number)
        if ntype == self._unknown:
            return PhoneResult(None, "not a valid number for its country")
        # what format_number(E164) returns for a valid number, minus its generic checks
        digits = f"{number.country_code}{self._nsn(number)}"
        zone_key = digits if self._is_geo(ntype, number.country_code) else str(number.country_code)
        return PhoneResult("+" + digits, None, zone_key)


_PARSE_ERRORS = {
    0: "no country: not in +<country code> form and no default region or country column",
    1: "not a phone number",
    2: "too short after the international prefix",
    3: "too short",
    4: "too long",
}


# -- csv_rows.py -----------------------------------------------------------------------------------
_R = RejectReason


class RowsFromMappings(Protocol):
    """What the plan needs of the row builder (``row_builder.RowBuilder``, which imports this module)."""

    mapping: ColumnMapping
    split_phones: re.Pattern[str] | None

    def build(self, n: int, raw: dict[str, Any]) -> Any: ...

    def row(self, n: int, item: Any) -> Any: ...


def csv_row_plan(builder: RowsFromMappings, names: list[str]) -> Callable[[int, list[str]], Any]:
    """``builder.row(n, dict(zip(names, values)))`` for full-width CSV rows, reading cells by position.

    ``dict(zip(...))`` keeps each name's first position and its last value; the plan binds the
    mapping to exactly those keys and reads each from its last position. Shorter rows (whose
    dict has fewer keys, so may bind differently) go through ``builder.row``.
    """
    keys = tuple(dict.fromkeys(names))
    at = {name: i for i, name in enumerate(names)}
    b = builder.mapping.bind(keys)
    phone_at = tuple(at[k] for k in b.phones)
    scalar_at = tuple((name, at[k]) for name, k in b.scalars)
    data_at = at[b.data] if b.data is not None else None
    rest_at = tuple((k, at[k]) for k in b.rest)
    custom_at = tuple((cf, at[k]) for cf, k in b.custom)
    split_phones = builder.split_phones
    build = builder.build
    merge_data = data_cell

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
                    merge_data(values[data_at], data)
                except RowProblem as problem:
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
        except RowProblem as problem:
            return problem.reject
        except Exception as exc:  # as in ``RowBuilder.row``
            return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    return row_values


# -- row_builder.py --------------------------------------------------------------------------------
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
                ext = cell_text(v)
            except TypeError as exc:
                return Reject(n, _R.INVALID_FIELD.value, "external_id", shorten(v), str(exc))
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

        texts: list[str | None] = []
        for name in _TEXT_FIELDS:
            v = get(name)
            if v is None:
                texts.append(None)
            elif type(v) is str:  # the common case, without a call
                texts.append(v.strip() or None)
            else:
                try:
                    texts.append(cell_text(v))
                except TypeError as exc:
                    return Reject(n, _R.INVALID_FIELD.value, name, shorten(v), str(exc), ext)
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
        v = get("priority")
        if v is None:
            priority = None
        else:
            try:
                priority = cell_priority(v)
            except (TypeError, ValueError, OverflowError):
                return Reject(n, _R.INVALID_FIELD.value, "priority", shorten(v), "not an integer", ext)
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
                    mask_phone(shorten(ob)),
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
        sched_raw = get("schedule")
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
            "data": raw["data"],
            "custom_fields": raw["custom_fields"],
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
