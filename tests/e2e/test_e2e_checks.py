"""The checks ``scripts/e2e.py`` makes on a deployment's logs, on lines shaped like those its components
write (taken from a ``make e2e`` run): an error-level line fails the run wherever it is, and a line
that only mentions "error" (uvicorn's logger is called ``uvicorn.error``) does not.

Needs no deployment: runs with the rest of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

#: lines as the components write them: structlog's console renderer (scheduler, dag-processor,
#: triggerer, api-server, celery workers) and JSON (task logs)
QUIET = [
    "2026-12-03T09:41:23.698362Z [info     ] Started server process [15675] [uvicorn.error] loc=server.py:103",
    "2026-12-03T09:41:13.494350Z [warning  ] ASGI app factory detected. Using it, but please consider setting"
    " the --factory flag explicitly. [uvicorn.error] loc=config.py:520",
    json.dumps({"timestamp": "2026-12-03T09:42:01.071524Z", "level": "warning", "event": "leads not delivered"}),
    json.dumps({"timestamp": "2026-12-03T09:42:01.071524Z", "level": "info", "event": "error_rate 0 [error]"}),
]
LOUD = [
    "2026-12-03T09:41:23.698362Z [error    ] Executor reported task failed [airflow.jobs] loc=scheduler_job_runner.py:1",
    "\x1b[2m2026-12-03T09:41:23.698362Z\x1b[0m [\x1b[31m\x1b[1merror    \x1b[0m] XCom not found [task]",
    "2026-12-03T09:41:23.698362Z [critical ] the triggerer died [airflow.jobs.triggerer_job_runner]",
    json.dumps({"timestamp": "2026-12-03T09:42:01.071524Z", "level": "error", "event": "Task failed"}),
    '{"timestamp":"2026-12-03T09:42:01.071524Z","level":"error","event":"Task failed"}',
    "[2026-12-03 09:41:23,698] {celery.py:12} ERROR - Worker lost",
]


@pytest.fixture(scope="module")
def e2e():
    spec = importlib.util.spec_from_file_location("dialer_e2e_script", ROOT / "scripts" / "e2e.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def deployment(tmp_path: pathlib.Path, e2e, *, component: str = "", task: str = "") -> tuple[pathlib.Path, list]:
    """A deployment's folders as ``make e2e`` leaves them, with quiet lines everywhere plus the given ones."""
    home, logs = tmp_path / "home", tmp_path / "logs"
    attempt = home / "logs" / "dag_id=d" / "run_id=r" / "task_id=t" / "attempt=1.log"
    attempt.parent.mkdir(parents=True)
    attempt.write_text("\n".join([*QUIET, task]) + "\n")
    logs.mkdir()
    for name in e2e.COMPONENTS:
        (logs / f"{name}.log").write_text("\n".join([*QUIET, component if name == "triggerer" else ""]) + "\n")
    return logs, [("d", "r")]


def test_a_quiet_deployment_passes(tmp_path, e2e):
    logs, runs = deployment(tmp_path, e2e)
    e2e.assert_no_error_lines(tmp_path / "home", runs, logs)


@pytest.mark.parametrize("line", LOUD)
@pytest.mark.parametrize("where", ["component", "task"])
def test_an_error_level_line_fails_the_run_wherever_it_is(tmp_path, e2e, line, where):
    logs, runs = deployment(tmp_path, e2e, **{where: line})
    with pytest.raises(e2e.Failed, match="error-level lines in a normal run"):
        e2e.assert_no_error_lines(tmp_path / "home", runs, logs)


def test_a_component_that_left_no_log_fails_the_check(tmp_path, e2e):
    logs, runs = deployment(tmp_path, e2e)
    (logs / "triggerer.log").unlink()
    with pytest.raises(e2e.Failed, match="no log of the triggerer"):
        e2e.assert_no_error_lines(tmp_path / "home", runs, logs)


RACE = (
    "2026-12-03T10:03:34.782598Z [error    ] Executor LocalExecutor(parallelism=8) reported that the task instance"
    " <TaskInstance: dialer_large_list_mapped.upload manual__2026-12-03T10:03:06.474580+00:00 map_index=3 [queued]"
    " ti_id=01a23b5b-c3e4-7207-a058-01bf5c8b257c> finished with state success, but the task instance's state"
    " attribute is queued. Learn more: https://airflow.apache.org/docs/apache-airflow/stable/troubleshooting.html"
)
AFTERMATH = (
    "2026-12-03T10:03:40.522864Z [error    ] Workload execution failed.     "
    "[airflow.executors.local_executor.LocalExecutor] loc=local_executor.py:110 workload_type=ExecuteTask"
)


def test_airflows_deferral_race_is_reported_not_failed_on(tmp_path, e2e, capsys):
    """Airflow's own scheduler race (a stale executor success after a fast trigger) and the refused
    attempt that follows it are named in the output; the run does not fail over them."""
    logs, runs = deployment(tmp_path, e2e, component=RACE + "\n" + AFTERMATH)
    e2e.assert_no_error_lines(tmp_path / "home", runs, logs)
    assert "deferral race" in capsys.readouterr().out


@pytest.mark.parametrize("line", [AFTERMATH, RACE.replace("[error    ]", "[info     ]") + "\n" + AFTERMATH])
def test_a_failed_workload_without_the_race_fails_the_run(tmp_path, e2e, line):
    logs, runs = deployment(tmp_path, e2e, component=line)
    with pytest.raises(e2e.Failed, match="Workload execution failed"):
        e2e.assert_no_error_lines(tmp_path / "home", runs, logs)


def workload_line(task_id: str, map_index: int, run_id: str = "manual__2026-12-03T19:18:11.090567+00:00") -> str:
    """A Celery worker's "Executing workload" line as the e2e run's workers write it (the log path names
    the attempt's task too, so a check must read the task instance, not the path)."""
    return (
        "2026-12-03T19:18:12.617030Z [info     ] [7f0056dd-3f72-4767-a246-1c6e30bdae82] Executing workload in Celery:"
        " dag_rel_path=PurePosixPath('dialer_large_list_mapped.py') bundle_info=BundleInfo(name='dags-folder',"
        f" version=None) log_path='dag_id=dialer_large_list_mapped/run_id={run_id}/task_id=upload/"
        f"map_index={map_index}/attempt=1.log' ti=TaskInstanceDTO(id=UUID('01a23d57-c1b8-7f1f-a07e-d9f007e64071'),"
        f" task_id='{task_id}', dag_id='dialer_large_list_mapped', run_id='{run_id}', try_number=1,"
        f" dag_version_id=UUID('01a23d57-b105-71a1-a44b-d912d91e4802'), map_index={map_index}, hostname='',"
        " context_carrier={'traceparent': '00-07963b276c920333e6c087aacecc3d4b-a9e148073f70400b-00'},"
        " queue='default', pool_slots=1, priority_weight=2, external_executor_id=None, executor_config=None)"
        " sentry_integration='sentry_sdk.integrations.celery.CeleryIntegration' type='ExecuteTask'"
        " [airflow.providers.celery.executors.celery_executor_utils] loc=celery_executor_utils.py:254"
    )


def test_a_workers_map_indexes_are_read_from_its_own_log(e2e):
    """The map indexes of the run's upload a worker executed, first parts and resumed parts alike; the
    prepare task, another run's uploads and other lines are not counted. (A task instance's hostname
    names only the worker of its last part: one CI run had every resumed part on one worker while the
    other ran the first parts of half of them.)"""
    run = "manual__2026-12-03T19:18:11.090567+00:00"
    log = "\n".join(
        [
            *QUIET,
            workload_line("prepare", -1),
            workload_line("upload", 1),
            workload_line("upload", 3),
            workload_line("upload", 1),  # its resumed part, after the deferral
            workload_line("upload", 6, run_id="manual__2026-12-03T20:00:00+00:00"),
            "2026-12-03T19:18:06.571093Z [info     ] w2@vm ready. [celery.apps.worker] loc=worker.py:182",
        ]
    )
    assert e2e.executed_map_indexes(log, "dialer_large_list_mapped", run, "upload") == {1, 3}
    assert e2e.executed_map_indexes(log, "dialer_large_list_mapped", run, "prepare") == {-1}
    assert e2e.executed_map_indexes("\n".join(QUIET), "dialer_large_list_mapped", run, "upload") == set()
