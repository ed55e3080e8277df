"""Progress in an Airflow Variable, with a real metadata database (``dag.test()``): progress that exists but
cannot be read (corrupt JSON, a value the Fernet key no longer decrypts) fails the task and sends nothing;
a task that succeeds keeps its Variable, marked complete, and removes its DAG's progress completed
more than the retention ago."""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_dialer.operators import base as base_module

pytestmark = [pytest.mark.integration, pytest.mark.dagtest]
UTC = dt.UTC
RUN_AT = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York
DAG_ID, TASK_ID = "dialer_rest_triggered_push", "dialer_task"  # an example DAG: progress="variable", the default
CONF = {
    "campaign": "POWER<-",
    "leads": [
        {"phones": [f"+1212555{i:04d}"], "first_name": f"L{i}", "timezone": "America/New_York"} for i in range(1, 6)
    ],
}


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def emu(fresh_dialer_emulator, airflow_db, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: RUN_AT)
    return fresh_dialer_emulator


def progress_key(logical_date: dt.datetime) -> str:
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    run_id = DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date, run_after=logical_date)
    return f"dialer_progress:{DAG_ID}:{run_id}:{TASK_ID}:-1"


def run_dag(logical_date: dt.datetime) -> dict[str, str]:
    import os

    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).dags[DAG_ID]
    for task in dag.tasks:
        task.retries = 0
    run = dag.test(run_after=logical_date, logical_date=logical_date, run_conf=CONF)
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def stored(emu) -> list[dict]:
    return emu.state("ucontact")["ucontact_integra"]["tasks"]


def variable_row(key: str):
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(Variable).where(Variable.key == key))
        return None if row is None else (row._val, row.is_encrypted)


def test_a_successful_task_keeps_its_progress_for_the_retention_and_removes_older_progress(emu):
    import json

    from airflow.models.variable import Variable  # the metadata DB's model: the test runs outside a task

    now = dt.datetime.now(UTC)
    others = {
        f"dialer_progress:{DAG_ID}:old_run:{TASK_ID}:-1": {
            "chunks": {},
            "completed_at": (now - dt.timedelta(days=8)).isoformat(),
        },
        f"dialer_progress:{DAG_ID}:recent_run:{TASK_ID}:-1": {
            "chunks": {},
            "completed_at": (now - dt.timedelta(days=1)).isoformat(),
        },
        f"dialer_progress:{DAG_ID}:failed_run:{TASK_ID}:-1": {"chunks": {"now#1": {"status": "sending"}}},
        f"dialer_progress:other_dag:old_run:{TASK_ID}:-1": {
            "chunks": {},
            "completed_at": (now - dt.timedelta(days=30)).isoformat(),
        },
    }
    for key, value in others.items():
        Variable.set(key, value, serialize_json=True)
    when = RUN_AT + dt.timedelta(minutes=1)
    assert run_dag(when) == {TASK_ID: "success"}
    assert len(stored(emu)) == 5
    own = variable_row(progress_key(when))
    assert own is not None and "completed_at" in json.loads(Variable.get(progress_key(when)))
    assert variable_row(f"dialer_progress:{DAG_ID}:old_run:{TASK_ID}:-1") is None  # past the 7-day retention
    for kept in list(others)[1:]:
        assert variable_row(kept) is not None, kept  # recent, failed, or another DAG's
    # clearing the task that succeeded: nothing is sent twice
    assert run_dag(when) == {TASK_ID: "success"}
    assert len(stored(emu)) == 5
    for key in others:
        Variable.delete(key)


def test_corrupt_progress_json_fails_the_task_and_sends_nothing(emu, capfd):
    from airflow.models.variable import Variable

    when = RUN_AT + dt.timedelta(minutes=2)
    key = progress_key(when)
    Variable.set(key, '{"prepared_at": "2026-06-10T16:00:00+00:00", "chunks": {"now#1": {"status": "do')
    before = variable_row(key)
    assert run_dag(when) == {TASK_ID: "failed"}
    assert stored(emu) == []  # nothing sent again
    assert variable_row(key) == before  # left as found
    out = "".join(capfd.readouterr())
    assert "DialerProgressError" in out and "Way out" in out and key in out


def test_progress_the_fernet_key_cannot_decrypt_fails_the_task_and_sends_nothing(emu, monkeypatch, capfd):
    from airflow.models.crypto import get_fernet
    from airflow.models.variable import Variable
    from cryptography.fernet import Fernet

    when = RUN_AT + dt.timedelta(minutes=3)
    key = progress_key(when)
    monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())
    get_fernet.cache_clear()
    try:
        Variable.set(key, '{"prepared_at": "2026-06-10T16:00:00+00:00", "chunks": {"now#1": {"status": "done"}}}')
        assert variable_row(key)[1] is True  # stored encrypted
        monkeypatch.setenv("AIRFLOW__CORE__FERNET_KEY", Fernet.generate_key().decode())  # the key was rotated
        get_fernet.cache_clear()
        assert run_dag(when) == {TASK_ID: "failed"}
        assert stored(emu) == []
        assert variable_row(key) is not None
        out = "".join(capfd.readouterr())
        assert "DialerProgressError" in out and "cannot decrypt" in out
    finally:
        monkeypatch.undo()
        get_fernet.cache_clear()
