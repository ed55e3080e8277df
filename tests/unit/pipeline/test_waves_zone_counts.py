"""``count_zones`` (the batch the send loop uses) counts exactly what ``count_zone`` counts lead by lead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline.waves import count_zone, count_zones

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
