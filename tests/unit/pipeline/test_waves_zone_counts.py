"""``count_zones`` (the batch the send loop uses) counts exactly what a plain loop over the leads counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline.waves import count_zones


def count_zone(zones: dict, lead: PreparedLead) -> None:
    """The reference: one lead at a time, as the send loop counted before ``count_zones``."""
    entry = zones.setdefault(lead.timezone, {"leads": 0, "call_now": 0, "first": None, "last": None})
    entry["leads"] += 1
    if lead.call_at is None:
        entry["call_now"] += 1
        return
    if entry["first"] is None or lead.call_at < entry["first"]:
        entry["first"] = lead.call_at
    if entry["last"] is None or lead.call_at > entry["last"]:
        entry["last"] = lead.call_at


ZONES = ["America/New_York", "Asia/Kolkata", "UTC", "Australia/Lord_Howe"]
leads = st.lists(
    st.builds(
        lambda row, zone, offset: PreparedLead(
            row=row,
            phone=f"+1202555{row:04d}",
            timezone=zone,
            call_at=None if offset is None else datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=offset),
        ),
        st.integers(1, 9999),
        st.sampled_from(ZONES),
        st.one_of(st.none(), st.integers(0, 5)),  # few instants: equal first/last values happen
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(before=leads, batch=leads, after=leads)
def test_batch_counts_equal_counts_one_by_one(before, batch, after):
    one_by_one: dict = {}
    batched: dict = {}
    for lead in before + batch + after:
        count_zone(one_by_one, lead)
    for lead in before:  # a batch adds to counts already there
        count_zone(batched, lead)
    count_zones(batched, batch)
    count_zones(batched, after)
    assert batched == one_by_one
