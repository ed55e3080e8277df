"""Every worked example of docs/leads.md, asserted exactly as documented."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_provider_dialer.leads import CallingWindow, prepare_leads
from airflow_provider_dialer.leads.schedule import parse_schedule

UTC = UTC


def one(row: dict, now: datetime, **kw):
    result = prepare_leads([row], now=now, **kw)
    leads = list(result)
    assert result.report.rejected == 0, result.report.samples
    return leads[0]


def test_example_1_kolkata_evening_moves_to_next_morning() -> None:
    lead = one({"phone": "+91 98123 45678"}, now=datetime(2026, 3, 6, 16, 0, tzinfo=UTC))
    assert (lead.phone, lead.timezone, lead.window_zones) == ("+919812345678", "Asia/Kolkata", ())
    assert lead.call_at == datetime(2026, 3, 7, 2, 30, tzinfo=UTC)
    assert lead.local_call_at().isoformat() == "2026-03-07T08:00:00+05:30"


def test_example_2_st_johns_half_hour_zone_after_dst_start() -> None:
    lead = one(
        {"phone": "+1 709 555 1234", "timezone": "America/St_Johns", "schedule": "2026-03-09 07:00:00"},
        now=datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
    )
    assert lead.call_at == datetime(2026, 3, 9, 10, 30, tzinfo=UTC)
    assert lead.local_call_at().isoformat() == "2026-03-09T08:00:00-02:30"


def test_example_3_lord_howe_half_hour_dst_gap() -> None:
    assert parse_schedule("2026-10-04 02:15:00", "Australia/Lord_Howe") == datetime(2026, 10, 3, 15, 45, tzinfo=UTC)
    now = datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
    gap = one({"phone": "+61 2 6563 2000", "schedule": "2026-10-04 02:15:00"}, now=now)
    assert gap.timezone == "Australia/Lord_Howe"
    assert gap.call_at == datetime(2026, 10, 3, 21, 0, tzinfo=UTC)
    assert gap.local_call_at().isoformat() == "2026-10-04T08:00:00+11:00"
    morning = one({"phone": "+61 2 6563 2001", "schedule": "2026-10-04 09:00:00"}, now=now)
    assert morning.call_at == datetime(2026, 10, 3, 22, 0, tzinfo=UTC)


def test_example_4_new_york_spring_forward_0230() -> None:
    now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    row = {"phone": "+1 212 555 1234", "schedule": "2026-03-08 02:30:00"}
    assert parse_schedule(row["schedule"], "America/New_York") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    guarded = one(row, now=now)
    assert guarded.call_at == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert guarded.local_call_at().isoformat() == "2026-03-08T08:00:00-04:00"
    unguarded = one(row, now=now, calling_window=CallingWindow.always())
    assert unguarded.local_call_at().isoformat() == "2026-03-08T03:30:00-04:00"


def test_example_5_number_in_several_zones() -> None:
    lead = one(
        {"phone": "+1 709 555 1234"}, now=datetime(2026, 3, 6, 11, 40, tzinfo=UTC), default_timezone="America/Halifax"
    )
    assert lead.window_zones == ("America/Halifax", "America/St_Johns")
    assert lead.timezone == "America/Halifax"
    assert lead.call_at == datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    window = CallingWindow()
    assert window.closes_at(lead.call_at, lead.zones) == datetime(2026, 3, 7, 0, 30, tzinfo=UTC)


def test_example_5b_us_toll_free_number() -> None:
    lead = one(
        {"phone": "+1 800 555 0199"}, now=datetime(2026, 3, 6, 11, 40, tzinfo=UTC), default_timezone="America/New_York"
    )
    assert len(lead.window_zones) == 42
    assert lead.call_at == datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    assert CallingWindow().closes_at(lead.call_at, lead.zones) == datetime(2026, 3, 7, 0, 30, tzinfo=UTC)


def test_example_6_2059_is_inside_2100_is_not() -> None:
    now = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)
    inside = one({"phone": "+55 11 91234 5678", "schedule": "2026-03-09 20:59:00"}, now=now)
    assert inside.call_at == datetime(2026, 3, 9, 23, 59, tzinfo=UTC)
    closing = one({"phone": "+55 11 91234 5679", "schedule": "2026-03-09 21:00:00"}, now=now)
    assert closing.call_at == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
    result = prepare_leads(
        [{"phone": "+55 11 91234 5679", "schedule": "2026-03-09 21:00:00"}], now=now, outside_window="reject"
    )
    assert list(result) == []
    assert [(r.reason, r.value) for r in result.report.samples] == [("outside_window", "2026-03-10T00:00:00+00:00")]
