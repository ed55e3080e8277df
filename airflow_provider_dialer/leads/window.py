"""The calling-hours guard: when a lead may be called, in its own local time, and the next instant it may.

Windows are wall-clock intervals per weekday, ``[start, end)`` (the end is exclusive: with the
default 08:00-21:00 a lead at 20:59 local is inside, at 21:00 it is not). An interval never crosses
midnight; write ``22:00-24:00`` and ``00:00-02:00`` for a night shift. A boundary that falls in a DST
gap or overlap is resolved on the safe side, so that every instant the window calls open reads a
wall-clock time inside ``[start, end)`` on an open day: an opening takes the later of its two
possible instants (a gap shifts it forward by the gap's length, an overlap takes its second
occurrence), a closing the earlier (a gap pulls it back by the gap's length, an overlap takes its
first occurrence). Holidays (a date list and/or the ``holidays`` package by country) close the whole
local day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.zones import canonical_zone, zone_info

UTC = UTC
_DAY = 86400
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")

Interval = tuple[int, int]  # seconds since local midnight, [start, end), end <= 86400


class CallingWindowError(DialerConfigError):
    """A calling window specification that cannot be understood, or a zone it cannot evaluate."""


def _seconds(value: str | time, *, is_end: bool) -> int:
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    m = _TIME_RE.match(str(value))
    if not m:
        raise CallingWindowError(f"calling window time {value!r} is not HH:MM or HH:MM:SS")
    h, mi, s = int(m[1]), int(m[2]), int(m[3] or 0)
    secs = h * 3600 + mi * 60 + s
    if mi > 59 or s > 59 or secs > _DAY or (secs == _DAY and not is_end):
        raise CallingWindowError(f"calling window time {value!r} is out of range (24:00 only as an end)")
    return secs


def _interval(value: Any) -> Interval:
    if isinstance(value, str):
        parts = value.split("-")
        if len(parts) != 2:
            raise CallingWindowError(f"calling window interval {value!r} is not 'HH:MM-HH:MM'")
        start, end = parts
    elif isinstance(value, Sequence) and len(value) == 2:
        start, end = value
    else:
        raise CallingWindowError(f"calling window interval {value!r} is not 'HH:MM-HH:MM' or (start, end)")
    s, e = _seconds(start, is_end=False), _seconds(end, is_end=True)
    if s >= e:
        raise CallingWindowError(f"calling window interval {value!r} is empty or crosses midnight; split it at 24:00")
    return (s, e)


def _intervals(value: Any) -> tuple[Interval, ...]:
    if (
        value is None
        or value == "closed"
        or (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 0)
    ):
        return ()
    if isinstance(value, str) or (
        isinstance(value, Sequence)
        and len(value) == 2
        and all(isinstance(v, (str, time)) and "-" not in str(v) for v in value)
    ):
        items = [value]
    else:
        items = list(value)
    out = sorted(_interval(v) for v in items)
    for (_, e1), (s2, _) in zip(out, out[1:], strict=False):
        if s2 < e1:
            raise CallingWindowError(f"calling window intervals {value!r} overlap")
    return tuple(out)


def _weekdays(key: Any) -> list[int]:
    if isinstance(key, int) and 0 <= key <= 6:
        return [key]
    days: list[int] = []
    for part in str(key).lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a[:3] not in _WEEKDAYS or b[:3] not in _WEEKDAYS:
                raise CallingWindowError(f"unknown weekday range {part!r} (use mon..sun)")
            i, j = _WEEKDAYS.index(a[:3]), _WEEKDAYS.index(b[:3])
            days.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part[:3] in _WEEKDAYS:
            days.append(_WEEKDAYS.index(part[:3]))
        elif part.isdigit() and int(part) <= 6:
            days.append(int(part))
        else:
            raise CallingWindowError(f"unknown weekday {part!r} (use mon..sun, or 0=Monday..6=Sunday)")
    return days


def _fmt(secs: int) -> str:
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}" + (f":{secs % 60:02d}" if secs % 60 else "")


def window_bound(day: date, seconds: int, zone: str, *, opening: bool) -> datetime:
    """The UTC instant of a window boundary, on the safe side when the wall-clock time is not unique.

    A wall-clock time in a DST gap or overlap maps to two instants (``fold=0`` and ``fold=1``). An
    opening takes the later one and a closing the earlier one: an opening in an overlap then does
    not let the repeated hour (whose clock reads before the opening) in, and a closing in a gap
    does not let the hour after the jump (whose clock reads past the closing) in.
    """
    if seconds >= _DAY:
        day, seconds = day + timedelta(days=seconds // _DAY), seconds % _DAY
    local = datetime(
        day.year, day.month, day.day, seconds // 3600, seconds % 3600 // 60, seconds % 60, tzinfo=zone_info(zone)
    )
    first, second = local.astimezone(UTC), local.replace(fold=1).astimezone(UTC)
    return max(first, second) if opening else min(first, second)


@dataclass(frozen=True, eq=False)
class CallingWindow:
    """When leads may be called, in each lead's local time. Default: 08:00-21:00 every day.

    :param start: opening time of every day not listed in ``weekly`` (``"08:00"``).
    :param end: closing time, exclusive (``"21:00"``; ``"24:00"`` means end of day).
    :param weekly: per-weekday intervals overriding ``start``/``end``: keys ``"mon"``..``"sun"``,
        ranges ``"mon-fri"``, lists ``"sat,sun"`` or 0=Monday..6=Sunday; values ``"09:00-20:00"``,
        a list of such intervals, or ``None``/``[]``/``"closed"`` for a closed day.
    :param holidays: dates (``date`` or ``"YYYY-MM-DD"``) closed all day, in the lead's local calendar.
    :param holiday_country: ISO country code for the ``holidays`` package (optional dependency:
        ``pip install airflow-provider-dialer[holidays]``); its holidays close the day too.
    :param holiday_subdivision: subdivision for ``holiday_country`` (e.g. ``"CA"`` for California).
    :param horizon_days: how far ``next_open`` searches before giving up (returns ``None``).

    Example::

        CallingWindow(weekly={"mon-fri": "09:00-20:00", "sat": "10:00-14:00", "sun": None},
                      holiday_country="US")
    """

    start: str | time = "08:00"
    end: str | time = "21:00"
    weekly: Mapping[Any, Any] | None = None
    holidays: Iterable[date | str] = ()
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    horizon_days: int = 14
    _days: tuple[tuple[Interval, ...], ...] = field(init=False, repr=False)
    _closed_dates: frozenset[date] = field(init=False, repr=False)
    _bounds: dict[tuple[str, date], tuple[tuple[datetime, datetime], ...]] = field(init=False, repr=False)
    _country_years: dict[int, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        base = _intervals((self.start, self.end))
        days: list[tuple[Interval, ...]] = [base] * 7
        for key, value in (self.weekly or {}).items():
            for d in _weekdays(key):
                days[d] = _intervals(value)
        closed: set[date] = set()
        for h in self.holidays or ():
            try:
                closed.add(h if isinstance(h, date) and not isinstance(h, datetime) else date.fromisoformat(str(h)))
            except ValueError:
                raise CallingWindowError(f"holiday {h!r} is not a date (YYYY-MM-DD)") from None
        if self.horizon_days < 1:
            raise CallingWindowError("horizon_days must be at least 1")
        if self.holiday_country:
            self._country_holidays(date.today().year)  # fail now, not on the first lead
        object.__setattr__(self, "_days", tuple(days))
        object.__setattr__(self, "_closed_dates", frozenset(closed))
        object.__setattr__(self, "_bounds", {})
        object.__setattr__(self, "holidays", tuple(sorted(closed)))

    # -- construction from plain data (operator arguments, templates, XCom) -------------------
    @classmethod
    def always(cls) -> CallingWindow:
        """A window open around the clock: the guard is effectively off (schedules still apply)."""
        return cls(start="00:00", end="24:00")

    @classmethod
    def from_spec(cls, spec: CallingWindow | Mapping[str, Any] | None) -> CallingWindow:
        """A window from ``None`` (the default 08:00-21:00), a window, or the dict ``to_spec`` returns."""
        if spec is None:
            return cls()
        if isinstance(spec, CallingWindow):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - {
                "start",
                "end",
                "weekly",
                "holidays",
                "holiday_country",
                "holiday_subdivision",
                "horizon_days",
            }
            if unknown:
                raise CallingWindowError(f"unknown calling window keys: {sorted(unknown)}")
            return cls(**dict(spec))
        raise CallingWindowError(f"a calling window is a CallingWindow or a dict, not {type(spec).__name__}")

    def to_spec(self) -> dict[str, Any]:
        """Plain JSON-able data that ``from_spec`` turns back into an equal window."""
        return {
            "weekly": {_WEEKDAYS[d]: [f"{_fmt(s)}-{_fmt(e)}" for s, e in iv] for d, iv in enumerate(self._days)},
            "holidays": [d.isoformat() for d in self.holidays],  # type: ignore[union-attr]  # dates after __post_init__
            "holiday_country": self.holiday_country,
            "holiday_subdivision": self.holiday_subdivision,
            "horizon_days": self.horizon_days,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CallingWindow):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def _key(self) -> tuple[Any, ...]:
        return (self._days, self._closed_dates, self.holiday_country, self.holiday_subdivision, self.horizon_days)

    def intervals_for(self, day: date) -> tuple[Interval, ...]:
        """Wall-clock intervals (seconds after midnight) open on ``day``; empty on closed days and holidays."""
        if day in self._closed_dates or (self.holiday_country and day in self._country_holidays(day.year)):
            return ()
        return self._days[day.weekday()]

    def _country_holidays(self, year: int) -> Any:
        cache: dict[int, Any] | None = getattr(self, "_country_years", None)
        if cache is None:
            cache = {}
            object.__setattr__(self, "_country_years", cache)
        if year not in cache:
            try:
                import holidays as holidays_package
            except ImportError:
                raise CallingWindowError(
                    "holiday_country needs the optional 'holidays' package: "
                    "pip install 'airflow-provider-dialer[holidays]'"
                ) from None
            try:
                assert self.holiday_country, "asked only of a window with holiday_country"
                cache[year] = holidays_package.country_holidays(
                    self.holiday_country, subdiv=self.holiday_subdivision, years=year
                )
            except NotImplementedError as exc:
                raise CallingWindowError(f"holidays has no calendar for {self.holiday_country!r}: {exc}") from None
        return cache[year]

    # -- the maths -----------------------------------------------------------------------------
    def _day_bounds(self, zone: str, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The open intervals of ``day`` in ``zone`` as UTC instants (cached per zone and day)."""
        key = (zone, day)
        found = self._bounds.get(key)
        if found is None:
            found = tuple(
                (window_bound(day, s, zone, opening=True), window_bound(day, e, zone, opening=False))
                for s, e in self.intervals_for(day)
            )
            found = tuple((s, e) for s, e in found if s < e)  # a short interval inside a DST jump is empty
            if len(self._bounds) > 65536:  # bounded: a run touches few (zone, day) pairs
                self._bounds.clear()
            self._bounds[key] = found
        return found

    @staticmethod
    def _check(at: datetime, zones: Sequence[str]) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise CallingWindowError(f"calling window needs an aware datetime, got naive {at.isoformat()}")
        if isinstance(zones, str):
            raise CallingWindowError("zones is a sequence of IANA names, not one string")
        if not zones:
            raise CallingWindowError("at least one zone is needed to evaluate a calling window")
        for z in zones:
            if canonical_zone(z) is None:
                raise CallingWindowError(f"unknown time zone {z!r}")
        return at.astimezone(UTC)

    def open_in_zone(self, at: datetime, zone: str) -> bool:
        """True when ``at`` (aware, UTC) is inside the window in ``zone``, without ``is_open``'s
        argument checks: for loops that checked their zones once and ask per lead."""
        day = at.astimezone(zone_info(zone)).date()
        for s, e in self._day_bounds(zone, day):
            if s <= at < e:
                return True
        return False

    def open_through(self, start: datetime, end: datetime, zone: str) -> bool:
        """True when the window is open at every instant of ``[start, end]`` (aware, UTC) in ``zone``:
        open at ``start`` and not closing before ``end`` (back-to-back intervals, as across midnight,
        count as one). ``open_in_zone``'s argument rules."""
        at = start
        for _ in range(4):  # a margin spans at most a few back-to-back intervals (two days' bounds)
            day = at.astimezone(zone_info(zone)).date()
            bounds = self._day_bounds(zone, day) + self._day_bounds(zone, day + timedelta(days=1))
            current = next(((s, e) for s, e in bounds if s <= at < e), None)
            if current is None:
                return False
            if end < current[1]:
                return True
            at = current[1]  # open until here: open beyond only if the next interval starts at this instant
        return False

    def _next_open_in(self, at: datetime, zone: str) -> datetime | None:
        day = at.astimezone(zone_info(zone)).date()
        for offset in range(self.horizon_days + 1):
            for s, e in self._day_bounds(zone, day + timedelta(days=offset)):
                if e > at:
                    return s if s > at else at
        return None

    def is_open(self, at: datetime, zones: Sequence[str]) -> bool:
        """True when ``at`` (aware) is inside the window in every one of ``zones``."""
        at = self._check(at, zones)
        return all(self.open_in_zone(at, z) for z in zones)

    def next_open(self, at: datetime, zones: Sequence[str]) -> datetime | None:
        """The earliest instant ``>= at`` (UTC) at which the window is open in ALL ``zones``.

        Returns ``at`` itself (in UTC) when already open, and ``None`` when no such instant exists
        within ``horizon_days`` (for example zones whose windows never overlap).
        """
        at = self._check(at, zones)
        return self.next_open_unchecked(at, zones)

    def next_open_unchecked(self, at: datetime, zones: Sequence[str]) -> datetime | None:
        """``next_open`` without its argument checks: ``at`` aware UTC, ``zones`` known and non-empty."""
        limit = at + timedelta(days=self.horizon_days)
        candidate = at
        # Each step jumps to the latest "next opening" among the closed zones; nothing in between can
        # be open in all zones, so the first candidate open everywhere is the earliest one.
        while candidate <= limit:
            latest: datetime | None = None
            for z in zones:
                if self.open_in_zone(candidate, z):
                    continue
                nxt = self._next_open_in(candidate, z)
                if nxt is None:
                    return None
                if latest is None or nxt > latest:
                    latest = nxt
            if latest is None:
                return candidate
            candidate = latest
        return None

    def closes_at(self, at: datetime, zones: Sequence[str]) -> datetime | None:
        """When the current open stretch ends (UTC, the earliest end among ``zones``); ``None`` if closed now."""
        at = self._check(at, zones)
        ends = []
        for z in zones:
            day = at.astimezone(zone_info(z)).date()
            end = next((e for s, e in self._day_bounds(z, day) if s <= at < e), None)
            if end is None:
                return None
            ends.append(end)
        return min(ends)
