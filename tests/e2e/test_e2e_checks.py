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
