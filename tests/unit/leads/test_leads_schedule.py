"""Schedule parsing: ISO 8601 forms, the uContact form, DST gaps and overlaps, and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads.schedule import ScheduleError, parse_schedule

UTC = UTC


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-03-09 10:00:00", "America/New_York", datetime(2026, 3, 9, 14, 0, tzinfo=UTC)),
        ("2026-03-09T10:00", "America/New_York", datetime(2026, 3, 9, 14, 0, tzinfo=UTC)),
        ("2026-03-09T10:00:00-03:00", "America/New_York", datetime(2026, 3, 9, 13, 0, tzinfo=UTC)),
        ("2026-03-09T10:00:00Z", "Asia/Kolkata", datetime(2026, 3, 9, 10, 0, tzinfo=UTC)),
        ("2026-03-09T10:00:00.250+05:30", "UTC", datetime(2026, 3, 9, 4, 30, 0, 250000, tzinfo=UTC)),
        ("2026-03-09", "America/Sao_Paulo", datetime(2026, 3, 9, 3, 0, tzinfo=UTC)),
        # spring forward: 02:30 does not exist in New York; shifted forward by the 1 h gap -> 03:30 EDT
        ("2026-03-08 02:30:00", "America/New_York", datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
        # fall back: 01:30 happens twice; the first (EDT, UTC-4) is taken
        ("2026-11-01 01:30:00", "America/New_York", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        # Lord Howe's 30 min gap: 02:15 -> 02:45 +11:00
        ("2026-10-04 02:15:00", "Australia/Lord_Howe", datetime(2026, 10, 3, 15, 45, tzinfo=UTC)),
        # Lord Howe's 30 min overlap: 01:45 first occurrence is +11:00
        ("2026-04-05 01:45:00", "Australia/Lord_Howe", datetime(2026, 4, 4, 14, 45, tzinfo=UTC)),
        ("  ", "UTC", None),
        (None, "UTC", None),
        (datetime(2026, 3, 9, 10, 0), "Asia/Kolkata", datetime(2026, 3, 9, 4, 30, tzinfo=UTC)),
        (datetime(2026, 3, 9, 10, 0, tzinfo=UTC), "Asia/Kolkata", datetime(2026, 3, 9, 10, 0, tzinfo=UTC)),
    ],
)
def test_parse_schedule(value: object, zone: str, expected: datetime | None) -> None:
    assert parse_schedule(value, zone) == expected


@pytest.mark.parametrize(
    "value", ["tomorrow", "09/03/2026 10:00", "2026-02-30 10:00:00", "2026-03-09 25:00", 1741514400, "x" * 80]
)
def test_bad_schedules_raise_schedule_error(value: object) -> None:
    with pytest.raises(ScheduleError):
        parse_schedule(value, "UTC")


ZONES = [
    "America/New_York",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Asia/Kolkata",
    "Europe/London",
    "Pacific/Chatham",
]


@settings(max_examples=300, deadline=None)
@given(
    local=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31)),
    zone=st.sampled_from(ZONES),
    form=st.sampled_from(["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]),
)
def test_naive_text_is_wall_time_in_zone(local: datetime, zone: str, form: str) -> None:
    local = local.replace(microsecond=0)
    got = parse_schedule(local.strftime(form), zone)
    assert got is not None and got.tzinfo is UTC
    back = got.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    # identical wall time, except inside a gap where it moves forward by less than the gap (<= 1 h)
    assert timedelta(0) <= back - local <= timedelta(hours=1)
    if back == local:
        assert got == local.replace(tzinfo=ZoneInfo(zone), fold=0).astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=70), zone=st.sampled_from(ZONES))
def test_any_text_parses_or_raises_schedule_error(text: str, zone: str) -> None:
    try:
        got = parse_schedule(text, zone)
    except ScheduleError:
        return
    assert got is None or got.tzinfo is UTC
