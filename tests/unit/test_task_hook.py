"""Operators and sensors keep one dialer hook for the task's life and close it when done or killed."""

from __future__ import annotations

from typing import Any

import pytest

import airflow_provider_dialer.capabilities as capabilities
import airflow_provider_dialer.hooks.registry as registry
from airflow_provider_dialer.capabilities import WaitState
from airflow_provider_dialer.operators.campaign import ControlCampaignOperator
from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor


class FakeHook:
    """A campaign controller, contact remover and import-job watcher that counts its clients."""

    vendor = "Fake"
    campaign_commands = frozenset({"start"})
    link_placeholders: dict = {}

    made: list[FakeHook] = []

    def __init__(self) -> None:
        self.closed = 0
        self.polls = 0
        FakeHook.made.append(self)

    def close(self) -> None:
        self.closed += 1

    def control(self, campaign_id: Any, command: str) -> dict:
        return {"id": campaign_id, "state": "running"}

    def remove_lead(self, campaign_id: Any, **by: Any) -> None:
        return None

    def import_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        self.polls += 1
        return WaitState(status="completed" if self.polls >= 3 else "in_progress", done=self.polls >= 3, failed=False)

    async def aimport_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        return self.import_job_state(campaign_id, job_id)


@pytest.fixture
def hooks(monkeypatch) -> list[FakeHook]:
    FakeHook.made = []
    monkeypatch.setattr(registry, "get_dialer_hook", lambda conn_id: FakeHook())
    return FakeHook.made


def test_operators_close_their_hook_when_execute_ends(hooks):
    assert (
        ControlCampaignOperator(task_id="c", conn_id="x", campaign_id=7, command="start").execute({})["state"]
        == "running"
    )
    assert (
        RemoveLeadsOperator(task_id="r", conn_id="x", campaign_id=7, phones=["+12125550100"]).execute({})["removed"]
        == 1
    )
    assert [h.closed for h in hooks] == [1, 1]


def test_a_failing_execute_closes_its_hook_too(hooks):
    with pytest.raises(Exception, match="campaign command 'pause'"):
        ControlCampaignOperator(task_id="c", conn_id="x", campaign_id=7, command="pause").execute({})
    assert [h.closed for h in hooks] == [1]


def test_a_poking_sensor_uses_one_client_for_all_its_pokes_and_closes_it(hooks):
    sensor = ImportJobSensor(
        task_id="s", conn_id="x", campaign_id=6, job_ids=[500], deferrable=False, poke_interval=0.01, timeout=10
    )
    assert [sensor.poke({}) for _ in range(3)] == [False, False, True]
    assert len(hooks) == 1 and hooks[0].polls == 3
    sensor.on_kill()  # the task is killed (or ends): its client is closed
    assert hooks[0].closed == 1
    sensor.on_kill()
    assert hooks[0].closed == 1  # closed once; a later poke would open a new client


def test_a_sensor_executed_in_poke_mode_closes_its_client_when_done(hooks):
    sensor = ImportJobSensor(
        task_id="s", conn_id="x", campaign_id=6, job_ids=[500], deferrable=False, poke_interval=0.01, timeout=10
    )
    sensor.execute({})
    assert len(hooks) == 1 and hooks[0].polls == 3 and hooks[0].closed == 1


def test_a_lead_upload_closes_its_hook_when_it_ends(hooks, monkeypatch, tmp_path):
    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator

    class Pusher(FakeHook):
        fresh_chunk_size = 10
        fresh_per_lead_schedule = True

        def open_fresh_target(self, settings):
            return {}

        def push_fresh_chunk(self, target, key, leads):
            return capabilities.ChunkOutcome(accepted=len(leads))

        def resolve_fresh_chunk(self, target, key, leads):
            return None

    monkeypatch.setattr(registry, "get_dialer_hook", lambda conn_id: Pusher())
    op = PushFreshLeadsOperator(
        task_id="p",
        conn_id="x",
        source=[{"phones": ["+12125550100"], "timezone": "UTC"}],
        calling_window={"start": "00:00", "end": "24:00"},
        progress=str(tmp_path / "p.json"),
    )
    summary = op.execute({})
    assert summary["accepted"] == 1
    assert [h.closed for h in hooks] == [1]
    # resumed after a hold-back (here: nothing left to send), the task opens and closes its hook again
    assert op.resume_after_hold({}, None)["accepted"] == 1
    assert [h.closed for h in hooks] == [1, 1]
