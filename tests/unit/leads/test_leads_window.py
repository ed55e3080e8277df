"""CallingWindow: exclusive end, weekdays, holidays, DST, multi-zone intersection, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads import CallingWindow
from airflow_provider_dialer.leads.window import CallingWindowError

UTC = UTC
NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_default_window_end_is_exclusive() -> None:
    w = CallingWindow()
    # 2026-03-09 New York is EDT (UTC-4)
    assert w.is_open(utc(2026, 3, 10, 0, 59), [NY])  # 20:59 local
    assert not w.is_open(utc(2026, 3, 10, 1, 0), [NY])  # 21:00 local
    assert w.is_open(utc(2026, 3, 9, 12, 0), [NY])  # 08:00 local
    assert not w.is_open(utc(2026, 3, 9, 11, 59, 59), [NY])  # 07:59:59 local


def test_next_open_returns_at_when_open_and_next_morning_when_closed() -> None:
    w = CallingWindow()
    at = utc(2026, 3, 9, 15, 0)
    assert w.next_open(at, [NY]) == at
    assert w.next_open(utc(2026, 3, 10, 1, 0), [NY]) == utc(2026, 3, 10, 12, 0)


def test_weekly_overrides_and_closed_days() -> None:
    w = CallingWindow(weekly={"mon-fri": "09:00-20:00", "sat": ["10:00-12:00", "14:00-16:00"], "sun": None})
    # Saturday 2026-03-07, New York EST (UTC-5): 12:30 local is in the lunch gap
    assert not w.is_open(utc(2026, 3, 7, 17, 30), [NY])
    assert w.next_open(utc(2026, 3, 7, 17, 30), [NY]) == utc(2026, 3, 7, 19, 0)
    # Saturday 16:00 local closes; Sunday closed; Monday 09:00 EDT (DST began Sunday) = 13:00Z
    assert w.next_open(utc(2026, 3, 7, 21, 0), [NY]) == utc(2026, 3, 9, 13, 0)
    assert w.to_spec()["weekly"]["sat"] == ["10:00-12:00", "14:00-16:00"]
    assert CallingWindow.from_spec(w.to_spec()) == w


def test_holiday_dates_and_country_calendar() -> None:
    w = CallingWindow(holidays=["2026-03-09"])
    assert not w.is_open(utc(2026, 3, 9, 15, 0), [NY])
    assert w.next_open(utc(2026, 3, 9, 15, 0), [NY]) == utc(2026, 3, 10, 12, 0)
    us = CallingWindow(holiday_country="US")
    # 2026-07-03 (Friday) is the observed Independence Day; 07-04 is the holiday itself
    assert not us.is_open(utc(2026, 7, 3, 15, 0), [NY])
    assert not us.is_open(utc(2026, 7, 4, 15, 0), [NY])
    assert us.next_open(utc(2026, 7, 3, 15, 0), [NY]) == utc(2026, 7, 5, 12, 0)


def test_multi_zone_intersection_and_no_common_window() -> None:
    w = CallingWindow()
    zones = ["America/Halifax", "America/St_Johns"]
    # 11:40Z: Halifax 07:40 (closed), St John's 08:10 (open) -> both open at Halifax 08:00 = 12:00Z
    assert w.next_open(utc(2026, 3, 6, 11, 40), zones) == utc(2026, 3, 6, 12, 0)
    # St John's closes first: 21:00 NST = 00:30Z
    assert w.closes_at(utc(2026, 3, 6, 23, 0), zones) == utc(2026, 3, 7, 0, 30)
    assert w.is_open(utc(2026, 3, 7, 0, 29), zones) and not w.is_open(utc(2026, 3, 7, 0, 30), zones)
    # London 08-21Z, Guam 22-11Z, Chicago 14-03Z (March 6, before US DST): no instant in all three
    assert w.next_open(utc(2026, 3, 6, 0, 0), ["Pacific/Guam", "Europe/London", "America/Chicago"]) is None


def test_boundaries_in_dst_gap_shift_forward() -> None:
    w = CallingWindow(start="02:30", end="04:00")
    # 2026-03-08 New York: 02:00 EST jumps to 03:00 EDT; 02:30 is resolved to 03:30 EDT = 07:30Z
    assert w.next_open(utc(2026, 3, 8, 6, 0), [NY]) == utc(2026, 3, 8, 7, 30)
    assert w.is_open(utc(2026, 3, 8, 7, 59), [NY]) and not w.is_open(utc(2026, 3, 8, 8, 0), [NY])


def test_always_is_open_at_every_instant() -> None:
    w = CallingWindow.always()
    for hour in range(0, 48, 5):
        assert w.is_open(utc(2026, 3, 8, 0, 0) + timedelta(hours=hour, minutes=59, seconds=59), [NY, "Asia/Kolkata"])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": "21:00", "end": "08:00"},
        {"start": "8", "end": "21:00"},
        {"weekly": {"funday": "09:00-10:00"}},
        {"weekly": {"mon": ["09:00-12:00", "11:00-13:00"]}},
        {"holidays": ["2026-13-01"]},
        {"horizon_days": 0},
    ],
)
def test_bad_specs_raise_clear_errors(kwargs: dict) -> None:
    with pytest.raises(CallingWindowError):
        CallingWindow(**kwargs)


def test_misuse_raises() -> None:
    w = CallingWindow()
    with pytest.raises(CallingWindowError, match="aware"):
        w.is_open(datetime(2026, 3, 6, 12, 0), [NY])
    with pytest.raises(CallingWindowError, match="unknown time zone"):
        w.next_open(utc(2026, 3, 6), ["Mars/Olympus"])
    with pytest.raises(CallingWindowError, match="not one string"):
        w.is_open(utc(2026, 3, 6), NY)  # type: ignore[arg-type]


ZONES = [
    NY,
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Europe/London",
    "America/Halifax",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "Asia/Kathmandu",
    "Australia/Sydney",
]
instants = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC))
windows = st.sampled_from(
    [
        CallingWindow(),
        CallingWindow(weekly={"mon-fri": "09:00-20:00", "sat": "10:00-14:00", "sun": None}),
        CallingWindow(start="01:30", end="02:45"),  # boundaries inside DST gaps/overlaps somewhere
        CallingWindow(weekly={"mon-sun": ["08:00-12:00", "13:00-24:00"]}, holidays=["2026-03-08", "2026-10-04"]),
    ]
)


@settings(max_examples=300, deadline=None)
@given(at=instants, zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3, unique=True), window=windows)
def test_next_open_is_open_in_every_zone_and_earliest_locally(
    at: datetime, zones: list[str], window: CallingWindow
) -> None:
    found = window.next_open(at, zones)
    if found is None:
        # only legitimate when no instant in the horizon is open in all zones: sample every 15 min
        t = at
        while t < at + timedelta(days=window.horizon_days):
            assert not window.is_open(t, zones)
            t += timedelta(minutes=15)
        return
    assert found >= at
    assert window.is_open(found, zones)
    if found > at:
        assert not window.is_open(found - timedelta(microseconds=1), zones)
    assert window.is_open(at, zones) == (found == at)


@settings(max_examples=200, deadline=None)
@given(at=instants, zone=st.sampled_from(ZONES))
def test_default_window_matches_local_wall_clock(at: datetime, zone: str) -> None:
    from zoneinfo import ZoneInfo

    local = at.astimezone(ZoneInfo(zone))
    expected = 8 <= local.hour < 21
    assert CallingWindow().is_open(at, [zone]) == expected


def test_intervals_for_holiday_date_object() -> None:
    w = CallingWindow(holidays=[date(2026, 12, 25)])
    assert w.intervals_for(date(2026, 12, 25)) == ()
    assert w.intervals_for(date(2026, 12, 24)) == ((8 * 3600, 21 * 3600),)
