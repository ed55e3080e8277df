"""A deferred wait survives a triggerer restart: the trigger is rebuilt from ``serialize()`` as the triggerer
does (``import_string(classpath)(**kwargs)``), stopped mid-poll, rebuilt again in a fresh event loop (or
a fresh process, after SIGKILL), and yields the right event without any write being repeated; the event
then completes the deferred task.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import TaskDeferred
from airflow.sdk.module_loading import import_string

from airflow_provider_dialer.exceptions import DialerJobFailedError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor

pytestmark = pytest.mark.integration
UTC = dt.UTC
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
JOB = r"/contacts/jobs/"


def leads(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}",
            "external_id": f"EXT-{i}",
            "timezone": "America/New_York",
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    fresh_dialer_emulator.configure(ujet_rate_limit=0)
    return fresh_dialer_emulator


def deferred(task, context) -> tuple[str, dict]:
    """Run the task until it defers; return its trigger as the metadata database keeps it (JSON)."""
    with pytest.raises(TaskDeferred) as info:
        task.execute(context)
    classpath, kwargs = info.value.trigger.serialize()
    return classpath, json.loads(json.dumps(kwargs))


def rebuilt(serialized: tuple[str, dict]):
    classpath, kwargs = serialized
    return import_string(classpath)(**kwargs)


def writes(emu, vendor: str) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emu.requests(vendor) if r["method"] not in {"GET", "HEAD"}]


def polls(emu, vendor: str, pattern: str) -> int:
    return sum(1 for r in emu.requests(vendor, pattern) if r["method"] == "GET")


def first_life_cancelled_mid_poll(
    emu, vendor: str, pattern: str, serialized: tuple[str, dict], min_polls: int = 2
) -> None:
    """A triggerer runs the trigger until it has polled a few times, then goes away (the task is cancelled)."""

    async def run() -> None:
        events = rebuilt(serialized).run()
        pending = asyncio.ensure_future(events.__anext__())
        deadline = time.monotonic() + 10
        while await asyncio.to_thread(polls, emu, vendor, pattern) < min_polls:
            assert not pending.done(), f"the trigger fired before the restart: {pending.result().payload}"
            assert time.monotonic() < deadline, "the trigger never polled"
            await asyncio.sleep(0.02)
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pending
        await events.aclose()

    asyncio.run(run())


def second_life(serialized: tuple[str, dict]):
    """A new triggerer process picks the trigger up from the database: a fresh instance, a fresh loop."""

    async def run():
        events = rebuilt(serialized).run()
        try:
            return await asyncio.wait_for(events.__anext__(), timeout=20)
        finally:
            await events.aclose()

    return asyncio.run(run())


def stored_ujet(emu) -> dict[str, int]:
    return emu.leads("ujet", keys=True).get("ujet.import", {}).get("counts", {})


def test_import_wait_resumes_after_a_triggerer_restart_and_completes_the_upload(emu, tmp_path, fake_ti):
    emu.configure(ujet_job_seconds=60)  # the import stays in_progress while the first triggerer polls
    op = UploadListOperator(
        task_id="upload",
        conn_id="ujet_default",
        list_name="l",
        settings={"campaign_id": 6},
        source=leads(6),
        progress=str(tmp_path / "p.json"),
        chunk_size=4,
        wait_for_completion=True,
        poll_interval=0.05,
    )
    ti = fake_ti()
    serialized = deferred(op, {"ti": ti})
    sent = writes(emu, "ujet")
    assert [method for method, _ in sent] == ["POST", "POST"]  # two import chunks, then the task deferred

    first_life_cancelled_mid_poll(emu, "ujet", JOB, serialized)
    polled = polls(emu, "ujet", JOB)
    emu.configure(ujet_job_seconds=0)  # the jobs finish while no triggerer runs
    event = second_life(serialized)
    assert event.payload["status"] == "success"
    assert set(event.payload["items"]) == {str(j) for j in serialized[1]["job_ids"]}
    assert polls(emu, "ujet", JOB) > polled  # the new instance polled on its own
    assert writes(emu, "ujet") == sent  # no write repeated by either life of the trigger

    result = op.execute_complete({"ti": ti}, event.payload)
    assert result["wait_result"]["status"] == "success" and result["accepted"] == 6
    counts = stored_ujet(emu)
    assert len(counts) == 6 and set(counts.values()) == {1}


def test_failed_import_seen_after_a_triggerer_restart_fails_the_sensor(emu, tmp_path):
    op = UploadListOperator(
        task_id="first",
        conn_id="ujet_default",
        list_name="l",
        settings={"campaign_id": 6},
        source=leads(2),
        progress=str(tmp_path / "first.json"),
    )
    emu.configure(ujet_job_seconds=0)
    op.execute({})
    emu.state("ujet")  # the first import completes: its phones are now in the campaign
    emu.configure(ujet_job_seconds=60)
    # the operator skips leads the campaign holds; the hook's own import verb makes the job that fails
    from airflow_provider_dialer.hooks.ujet import UjetHook

    job_id = UjetHook("ujet_default").import_contacts(6, [{"name": "Again", "phone_number": "+12125550000"}])
    sensor = ImportJobSensor(
        task_id="wait", conn_id="ujet_default", campaign_id=6, job_ids=[job_id], poll_interval=0.05, timeout=60
    )
    serialized = deferred(sensor, {})
    sent = writes(emu, "ujet")

    first_life_cancelled_mid_poll(emu, "ujet", JOB, serialized)
    emu.configure(ujet_job_seconds=0)
    event = second_life(serialized)
    assert event.payload["status"] == "failed"
    assert "DuplicateContactPhoneOnCampaign" in event.payload["message"]
    assert writes(emu, "ujet") == sent
    with pytest.raises(DialerJobFailedError, match="DuplicateContactPhoneOnCampaign"):
        sensor.execute_complete({}, event.payload)
    assert stored_ujet(emu) == {"+12125550000": 1, "+12125550001": 1}  # the failed job stored nothing


def test_list_loading_wait_resumes_after_a_triggerer_restart(emu, tmp_path, monkeypatch, fake_ti):
    emu.configure(ucontact_list_load_seconds=0.8)  # lists stay loading while the first triggerer polls
    op = UploadListOperator(
        task_id="upload",
        conn_id="ucontact_default",
        list_name="june",
        settings={"hub": "sales"},
        source=leads(8),
        progress=str(tmp_path / "p.json"),
        chunk_size=4,
        wait_for_completion=True,
        poll_interval=0.05,
    )
    ti = fake_ti()
    serialized = deferred(op, {"ti": ti})
    assert serialized[0] == "airflow_provider_dialer.triggers.wait.ListLoadedTrigger"
    assert len(serialized[1]["targets"]) == 2
    sent = writes(emu, "ucontact")

    first_life_cancelled_mid_poll(emu, "ucontact", "/api/dialer/id/sales/lists/", serialized)
    lists = emu.state("ucontact")["ucontact_automation"]["lists"]
    assert {entry["status"] for entry in lists} == {"loading"}  # cancelled before the lists loaded
    event = second_life(serialized)
    assert event.payload["status"] == "success"
    assert {item["status"] for item in event.payload["items"].values()} == {"inactive"}
    assert writes(emu, "ucontact") == sent

    result = op.execute_complete({"ti": ti}, event.payload)
    assert result["wait_result"]["status"] == "success" and result["accepted"] == 8
    counts = emu.leads("ucontact", keys=True)["automation.lists"]["counts"]
    assert len(counts) == 8 and set(counts.values()) == {1}


# -- a real triggerer process, killed -----------------------------------------------------------------

TRIGGERER = """
import asyncio, json, sys
from airflow.sdk.module_loading import import_string

classpath, kwargs = json.loads(sys.argv[1])
trigger = import_string(classpath)(**kwargs)


async def main():
    async for event in trigger.run():
        print("EVENT " + json.dumps(event.payload), flush=True)
        return

asyncio.run(main())
"""


def triggerer(serialized: tuple[str, dict]) -> subprocess.Popen:
    import airflow_provider_dialer

    env = dict(os.environ)  # the connections point at the emulator; AIRFLOW_HOME is the tests' own
    root = str(Path(airflow_provider_dialer.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-c", TRIGGERER, json.dumps(serialized)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_triggerer_process_killed_mid_poll_then_a_new_process_completes_the_wait(emu, tmp_path, fake_ti):
    emu.configure(ujet_job_seconds=600)
    op = UploadListOperator(
        task_id="upload",
        conn_id="ujet_default",
        list_name="l",
        settings={"campaign_id": 6},
        source=leads(3),
        progress=str(tmp_path / "p.json"),
        wait_for_completion=True,
        poll_interval=0.05,
    )
    ti = fake_ti()
    serialized = deferred(op, {"ti": ti})
    sent = writes(emu, "ujet")

    first = triggerer(serialized)
    try:
        deadline = time.monotonic() + 60
        while polls(emu, "ujet", JOB) < 2:
            assert first.poll() is None, f"the triggerer exited early: {first.stderr.read()}"
            assert time.monotonic() < deadline, "the triggerer never polled"
            time.sleep(0.05)
    finally:
        first.send_signal(signal.SIGKILL)  # no cleanup, no goodbye: the process is gone
        out, _ = first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL and "EVENT " not in out  # killed before any event

    polled = polls(emu, "ujet", JOB)
    emu.configure(ujet_job_seconds=0)
    second = triggerer(serialized)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err
    (line,) = [line for line in out.splitlines() if line.startswith("EVENT ")]
    payload = json.loads(line.removeprefix("EVENT "))
    assert payload["status"] == "success"
    assert polls(emu, "ujet", JOB) > polled and writes(emu, "ujet") == sent

    result = op.execute_complete({"ti": ti}, payload)
    assert result["wait_result"]["status"] == "success" and result["accepted"] == 3
    counts = stored_ujet(emu)
    assert len(counts) == 3 and set(counts.values()) == {1}
