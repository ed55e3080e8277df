"""Sensors in poke mode (deferrable=False) against the emulator: uContact list loading, XCALLY CSV import counts."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from airflow_provider_dialer.exceptions import UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor, ListLoadedSensor

pytestmark = pytest.mark.integration
NOON_NY = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)
LEADS = [{"phones": [f"+1212555{i:04d}"], "first_name": f"L{i}", "timezone": "America/New_York"} for i in range(5)]


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: NOON_NY)
    return fresh_dialer_emulator


def test_list_loaded_sensor_pokes_until_the_hub_list_is_inactive(emu, tmp_path):
    emu.configure(ucontact_list_load_seconds=0.6)
    summary = UploadListOperator(
        task_id="u",
        conn_id="ucontact_default",
        source=LEADS,
        list_name="poke",
        settings={"hub": "sales"},
        progress=str(tmp_path / "p.json"),
    ).execute({})
    targets = summary["wait"]["targets"]
    assert targets and targets[0]["hub"] == "sales"
    sensor = ListLoadedSensor(task_id="s", conn_id="ucontact_default", targets=str(targets), deferrable=False)
    assert sensor.poke({}) is False  # still loading
    deadline = time.monotonic() + 10
    while not sensor.poke({}):
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_list_loaded_sensor_pokes_an_xcally_csv_import_until_every_contact_is_there(emu, tmp_path):
    emu.configure(xcally_import_rate=10)  # 5 contacts appear over ~0.5 s
    summary = UploadListOperator(
        task_id="u",
        conn_id="xcally_default",
        source=LEADS,
        list_name="poke",
        settings={"mode": "csv"},
        progress=str(tmp_path / "p.json"),
    ).execute({})
    sensor = ListLoadedSensor(
        task_id="s", conn_id="xcally_default", targets=summary["wait"]["targets"], deferrable=False
    )
    deadline = time.monotonic() + 10
    while not sensor.poke({}):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert len(emu.leads("xcally", keys=True)["xcally.csv"]["counts"]) == 5


def test_import_job_sensor_on_a_vendor_without_jobs_fails_clearly(emu):
    sensor = ImportJobSensor(task_id="s", conn_id="voipex_default", campaign_id=1, job_ids=[1], deferrable=False)
    with pytest.raises(UnsupportedCapabilityError, match="Voipex does not support ImportJobWatcher"):
        sensor.poke({})
