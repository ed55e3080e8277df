"""Fixtures for the leads tests: a fixed preparation instant and an Airflow home that is not the user's."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime

import pytest

# SqlSource resolves connections through Airflow; keep its config out of ~/airflow
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="leads-airflow-home-"))

# Friday 2026-03-06 12:00 UTC: 07:00 in New York, 17:30 in Kolkata, 08:30 in St John's
NOW = datetime(2026, 3, 6, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    return NOW
