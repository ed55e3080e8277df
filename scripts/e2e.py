"""`make e2e`: the provider in a real Airflow deployment, as a user would run it.

``python scripts/e2e.py local``
    PostgreSQL (Debian's ``postgresql``) as the metadata DB; ``airflow api-server``, ``scheduler``,
    ``dag-processor`` and ``triggerer`` as separate processes with the LocalExecutor; the bundled
    emulator as the dialers. Triggers through the REST API (``logical_date: null``, as a manual run
    is made): the demo DAG, the UJET launch (its sensor defers to the triggerer), the asset-driven
    push (``POST /api/v2/assets/events``), the mapped DAG, the uContact hub launch, the Voipex launch,
    the daily sync and the upload that emits an asset (its run report published by a local web
    server); one more run through ``airflow dags trigger``; then the scheduler runs the DAG scheduled
    on that asset.
    Then asserts: every run succeeded; the deferred tasks ran in the triggerer; the asset event
    carries the upload's counts and its consumer read them; the daily sync's second day sent the
    difference of its two exports; the emulator holds each lead once; no
    error-level line in any task's log or in the scheduler's, dag-processor's, triggerer's or
    api-server's; no credential in any log file, XCom, rendered field or ``pg_dump`` of the metadata
    DB. Then the browser tests (``tests/e2e``, Playwright driving Debian's ``chromium``) run against
    the same api-server; one of them triggers an example from the UI.
``python scripts/e2e.py local --serve [--no-runs]``, then ``python scripts/e2e.py browser [pytest arguments]``
    The same deployment kept up (with or without the runs) until ``.e2e/local/stop`` exists, and the
    browser tests, or those named (``tests/e2e/test_ui.py -k port``), run against it.
``python scripts/e2e.py celery``
    The same metadata DB and components with the CeleryExecutor on ``redis-server`` and two workers;
    runs the mapped DAG and asserts that its map indexes ran on both workers, and that no log (the
    workers' included) has an error-level line.

One file, over 500 lines, on purpose: docs/deploy.md sends a reader here for any step it keeps
short, and the deployment reads top to bottom (packages, processes, the scenarios, the checks)
without a second file to open.

Everything lives under ``.e2e/<mode>/`` (logs, screenshots, the pg_dump), kept for a failed run to
be read. Every process started here is stopped at the end, whatever happened. Missing Debian
packages are installed with apt-get (root) or ``sudo apt-get``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "example_dags" / "data" / "leads_sample.csv"
PY = sys.executable
AIRFLOW = str(pathlib.Path(PY).parent / "airflow")

# fixed ports, away from Airflow's defaults so a developer's own Airflow keeps running beside it
PORTS = {
    "local": {"api": 28080, "pg": 28432, "logs": 28793, "trigger_logs": 28794, "reports": 28795},
    "celery": {
        "api": 28180,
        "pg": 28532,
        "logs": 28893,
        "trigger_logs": 28894,
        "redis": 28379,
        "worker_logs": [28895, 28896],
    },
}
ADMIN_PASSWORD = "e2e-admin-" + secrets.token_hex(6)


def say(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Failed(Exception):
    """An assertion of the end-to-end run failed."""


def check(ok: Any, msg: str) -> None:
    if not ok:
        raise Failed(msg)


# ----------------------------------------------------------------------------------------------
# Debian packages
# ----------------------------------------------------------------------------------------------


def pg_bin() -> pathlib.Path | None:
    found = sorted(pathlib.Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def ensure_debian(packages: dict[str, bool]) -> None:
    """apt-get install the packages whose check is False (once, after apt-get update)."""
    missing = [name for name, present in packages.items() if not present]
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    say(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], check=True, env=env, stdout=subprocess.DEVNULL)


# ----------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------


class Stack:
    """The processes this run started, stopped in reverse order."""

    def __init__(self, work: pathlib.Path) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stops: list[Any] = []

    def start(self, name: str, cmd: list[str], env: dict[str, str], **kw: Any) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=kw.pop("cwd", ROOT), start_new_session=True, **kw
        )
        self.procs.append((name, proc))
        return proc

    def stop_one(self, name: str) -> None:
        for i, (each, proc) in enumerate(self.procs):
            if each == name and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
                del self.procs[i]
                return

    def alive(self) -> None:
        for name, proc in self.procs:
            check(proc.poll() is None, f"{name} exited with {proc.returncode}; see {self.logs / (name + '.log')}")

    def stop(self) -> None:
        # one at a time, newest first: the workers finish before the broker and the database go
        for name, proc in reversed(self.procs):
            if proc.poll() is not None:
                continue
            try:
                os.killpg(proc.pid, signal.SIGTERM)  # the component and the children it forked
                proc.wait(30)
            except ProcessLookupError:
                continue
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop on SIGTERM; killing it")
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        for stop in reversed(self.stops):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - stop the rest anyway
                say(f"stopping failed: {exc}")


def wait_for(what: str, probe: Any, timeout: float, stack: Stack | None = None, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if stack:
            stack.alive()
        try:
            value = probe()
            if value:
                return value
        except Exception:  # noqa: BLE001 - not there yet
            pass
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


# ----------------------------------------------------------------------------------------------
# PostgreSQL, Redis, the emulator
# ----------------------------------------------------------------------------------------------


def start_postgres(stack: Stack, port: int) -> str:
    """A throw-away cluster on ``port`` (trust auth on loopback); returns the SQLAlchemy URL."""
    bindir = pg_bin()
    assert bindir
    data = pathlib.Path(f"/tmp/dialer-e2e-pg-{port}")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    as_pg: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        shutil.chown(data, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_pg, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    proc = stack.start(
        "postgres",
        [
            *as_pg,
            str(bindir / "postgres"),
            "-D",
            str(data / "db"),
            "-p",
            str(port),
            "-k",
            str(data),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
        ],
        env=dict(os.environ),
    )
    stack.stops.append(lambda: shutil.rmtree(data, ignore_errors=True))

    def ready() -> bool:
        return (
            subprocess.run(
                [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL
            ).returncode
            == 0
        )

    wait_for("PostgreSQL", ready, 30, stack)
    subprocess.run(
        [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"], check=True
    )
    say(f"PostgreSQL {bindir.parent.name} on 127.0.0.1:{port} (pid {proc.pid})")
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/airflow"


def pg_dump(port: int, out: pathlib.Path) -> str:
    bindir = pg_bin()
    assert bindir
    dump = subprocess.run(
        [str(bindir / "pg_dump"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    out.write_text(dump)
    return dump


def start_redis(stack: Stack, port: int) -> str:
    stack.start(
        "redis",
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        env=dict(os.environ),
    )

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_for("redis-server", ping, 20, stack)
    return f"redis://127.0.0.1:{port}/0"


def start_emulator(stack: Stack) -> dict[str, dict[str, Any]]:
    import httpx

    config_path = stack.work / "emulator.json"
    stack.start(
        "emulator",
        [
            PY,
            "-m",
            "airflow_provider_dialer.emulator",
            "--config-out",
            str(config_path),
            "--set",
            "ujet_rate_limit=0",
            "--set",
            "ujet_job_seconds=0.5",
        ],
        env=dict(os.environ),
    )
    wait_for("the emulator", lambda: config_path.read_text().strip().endswith("}"), 30, stack, every=0.1)
    config = json.loads(config_path.read_text())
    for info in config.values():
        wait_for(
            "the emulator",
            lambda info=info: httpx.get(f"{info['base_url']}/_emulator/health", timeout=2).is_success,
            30,
            stack,
        )
    return config


def start_report_server(stack: Stack, folder: pathlib.Path, port: int) -> str:
    """A static web server for the run reports (as a bucket behind a web server would publish them)."""
    import httpx

    folder.mkdir(parents=True, exist_ok=True)
    stack.start(
        "reports",
        [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(folder)],
        env=dict(os.environ),
    )
    base = f"http://127.0.0.1:{port}"
    wait_for("the report server", lambda: httpx.get(base + "/", timeout=2).is_success, 20, stack)
    return base


def secrets_of(config: dict[str, dict[str, Any]]) -> set[str]:
    """Every credential the emulator's connections hold (passwords, tokens, keys)."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif (
            isinstance(value, str)
            and len(value) >= 6
            and any(word in key.lower() for word in ("pass", "token", "key", "secret"))
        ):
            found.add(value)

    for info in config.values():
        walk(info.get("credentials", {}))
    return found


# ----------------------------------------------------------------------------------------------
# Airflow
# ----------------------------------------------------------------------------------------------


def airflow_env(work: pathlib.Path, mode: str, db_url: str, config: dict[str, dict[str, Any]]) -> dict[str, str]:
    from cryptography.fernet import Fernet

    ports = PORTS[mode]
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": ADMIN_PASSWORD}))
    api = f"http://127.0.0.1:{ports['api']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if mode == "celery" else "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            # connections saved in the UI are encrypted at rest with this key
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__PORT": str(ports["api"]),
            # every component signs and checks the same tokens: one secret for all of them
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["logs"]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
            # a task Airflow's deferral race (see AIRFLOW_RACE) sends to retry runs again within seconds,
            # not after the default five minutes
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "10",
            "AIRFLOW_CONN_DIALER_LEADS_DB": f"sqlite://{work / 'leads.db'}",
            # the daily sync's ledger (SQLite here; PostgreSQL in production)
            "AIRFLOW_CONN_DIALER_SYNC_LEDGER": f"sqlite://{work / 'ledger.db'}",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT), str(ROOT / "scripts"), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    for (
        vendor,
        info,
    ) in config.items():  # the dialers' connections come from the environment (a secrets backend would do)
        env[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"] = info["conn_uri"]
    return env


def leads_db(path: pathlib.Path, day: str) -> None:
    """The demo's source table: the sample leads due ``day``, plus one lead of another day."""
    rows = list(csv.DictReader(SAMPLE.open(newline="", encoding="utf-8")))
    columns = list(rows[0])
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE leads ({', '.join(columns)}, due_date TEXT)")
        db.executemany(
            f"INSERT INTO leads VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[row[c] or None for c in columns] + [day] for row in rows],
        )
        db.execute(
            "INSERT INTO leads (id_cliente, nome, tel, due_date) VALUES ('C-OTHER', 'Other', '+5511900000000', '2000-01-01')"
        )


def callable_now_leads(path: pathlib.Path, first: int = 40, per_region: int = 3) -> int:
    """A leads CSV whose leads are all inside their 09:00-20:00 window now (the UJET launch holds back
    the others until their window opens, which a few-minute run cannot wait for)."""
    from zoneinfo import ZoneInfo

    import phonenumbers

    zones = {
        "US": "America/New_York",
        "BR": "America/Sao_Paulo",
        "GB": "Europe/London",
        "DE": "Europe/Berlin",
        "IN": "Asia/Kolkata",
        "JP": "Asia/Tokyo",
        "AU": "Australia/Sydney",
        "MX": "America/Mexico_City",
        "AE": "Asia/Dubai",
        "NZ": "Pacific/Auckland",
        "CL": "America/Santiago",
        "TH": "Asia/Bangkok",
    }
    now = dt.datetime.now(dt.UTC)
    rows = []
    for region, zone in zones.items():
        local = now.astimezone(ZoneInfo(zone))
        # an hour short of the 20:00 close: the run starts minutes later, and a lead whose window closes
        # within the operators' send margin (5 minutes) is held like one outside it
        if not (9 <= local.hour < 19) or local.weekday() == 6:
            continue
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        national = str(example.national_number)
        for i in range(first, first + per_region):
            number = phonenumbers.parse(f"+{example.country_code}{national[:-2]}{i:02d}")
            if phonenumbers.is_valid_number(number):
                rows.append(
                    {
                        "id_cliente": f"E2E-{region}-{i}",
                        "nome": f"Lead {region} {i}",
                        "sobrenome": "E2E",
                        "tel": phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
                        "tel_alt": "",
                        "email": "",
                        "fuso": zone,
                        "agendar": "",
                        "pais": region,
                        "prioridade": "",
                    }
                )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["id_cliente"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def start_airflow(stack: Stack, env: dict[str, str], mode: str) -> None:
    say("airflow db migrate")
    result = subprocess.run([AIRFLOW, "db", "migrate"], env=env, capture_output=True, text=True, cwd=ROOT)
    (stack.logs / "db-migrate.log").write_text(result.stdout + result.stderr)
    check(result.returncode == 0, f"airflow db migrate failed; see {stack.logs / 'db-migrate.log'}")
    port = PORTS[mode]["api"]
    stack.start("api-server", [AIRFLOW, "api-server", "-H", "127.0.0.1", "-p", str(port), "--workers", "1"], env)
    stack.start("scheduler", [AIRFLOW, "scheduler"], env)
    stack.start("dag-processor", [AIRFLOW, "dag-processor"], env)
    stack.start("triggerer", [AIRFLOW, "triggerer"], env)
    if mode == "celery":
        for i, log_port in enumerate(PORTS["celery"]["worker_logs"], start=1):
            worker_env = {
                **env,
                "DIALER_E2E_WORKER": f"w{i}",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "e2e_hostname.worker_hostname",
                # two workers on one host: each serves its logs on its own port
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            }
            stack.start(
                f"celery-worker-{i}",
                [AIRFLOW, "celery", "worker", "--concurrency", "2", "--celery-hostname", f"w{i}@%h"],
                worker_env,
            )
    import httpx

    wait_for(
        "the api-server",
        lambda: httpx.get(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2).is_success,
        120,
        stack,
    )


class Api:
    """The REST API v2 with a bearer token of the simple auth manager's admin."""

    def __init__(self, base: str) -> None:
        import httpx

        self.base = base
        token = httpx.post(f"{base}/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
        token.raise_for_status()
        self.client = httpx.Client(
            base_url=f"{base}/api/v2", timeout=60, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
        )

    def get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(path, params=params)
        resp.raise_for_status()
        return resp.json()

    def send(self, method: str, path: str, body: Any) -> Any:
        resp = self.client.request(method, path, json=body)
        check(resp.is_success, f"{method} {path} answered {resp.status_code}: {resp.text[:500]}")
        return resp.json()

    def unpause(self, dag_id: str) -> None:
        wait_for(f"DAG {dag_id} to be parsed", lambda: self.client.get(f"/dags/{dag_id}").is_success, 180, every=2)
        self.send("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        run = self.send("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        say(f"triggered {dag_id}: {run['dag_run_id']} (logical_date {run.get('logical_date')})")
        return run["dag_run_id"]

    def wait_run(self, dag_id: str, run_id: str, stack: Stack, timeout: float = 300) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            run = self.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            return run if run["state"] in ("success", "failed") else None

        run = wait_for(f"{dag_id} {run_id}", finished, timeout, stack, every=2)
        tis = self.task_instances(dag_id, run_id)
        check(
            run["state"] == "success",
            f"{dag_id} {run_id} ended {run['state']}: "
            + ", ".join(f"{t['task_id']}[{t['map_index']}]={t['state']}" for t in tis),
        )
        say(f"{dag_id} {run_id}: success ({len(tis)} task instances)")
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", limit=100)["task_instances"]


# ----------------------------------------------------------------------------------------------
# Assertions
# ----------------------------------------------------------------------------------------------


def assert_no_duplicates(config: dict[str, dict[str, Any]]) -> dict[str, int]:
    import httpx

    stored = {}
    for vendor, info in config.items():
        leads = httpx.get(f"{info['base_url']}/_emulator/leads", timeout=10).json()
        for endpoint, entry in leads.items():
            check(
                not entry["duplicates"], f"the emulator holds leads twice at {vendor} {endpoint}: {entry['duplicates']}"
            )
            stored[f"{vendor} {endpoint}"] = entry.get("total", entry.get("unique", 0))
    return stored


def assert_no_secret(
    api: Api, runs: list[tuple[str, str]], secret_values: set[str], work: pathlib.Path, pg_port: int, home: pathlib.Path
) -> None:
    def scan(where: str, text: str) -> None:
        for value in secret_values:
            check(value not in text, f"a credential (…{value[-3:]}) appears in {where}")

    files = 0
    for path in list(home.rglob("*")) + list((work / "logs").rglob("*.log")):
        if path.is_file() and path.suffix in (".log", ".json", ".txt", "") and "passwords.json" not in path.name:
            scan(str(path), path.read_text(errors="replace"))
            files += 1
    xcoms = rendered = 0
    for dag_id, run_id in runs:
        for ti in api.task_instances(dag_id, run_id):
            scan(f"rendered fields of {dag_id}.{ti['task_id']}", json.dumps(ti.get("rendered_fields")))
            rendered += 1
            path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/xcomEntries"
            for entry in api.get(path, map_index=ti["map_index"], limit=100)["xcom_entries"]:
                value = api.get(f"{path}/{entry['key']}", map_index=ti["map_index"], deserialize=True)
                scan(f"XCom {entry['key']} of {dag_id}.{ti['task_id']}", json.dumps(value, default=str))
                xcoms += 1
    dump = pg_dump(pg_port, work / "metadata.sql")
    scan("pg_dump of the metadata DB", dump)
    check(files > 5 and xcoms > 5 and rendered > 5, f"too little scanned: {files} files, {xcoms} XComs, {rendered} TIs")
    say(
        f"no credential in {files} log files, {xcoms} XComs, {rendered} rendered task instances, "
        f"pg_dump ({len(dump) // 1024} KiB)"
    )


def assert_deferred_in_triggerer(home: pathlib.Path, dag_id: str, run_id: str, task_id: str) -> None:
    folder = home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    trigger_logs = [p for p in folder.rglob("*.log.trigger.*.log") if p.stat().st_size]
    check(trigger_logs, f"{dag_id}.{task_id} left no triggerer log under {folder}: it did not defer")
    text = "".join(p.read_text() for p in trigger_logs)
    check("Trigger fired event" in text or "fired" in text.lower(), f"no trigger event in {trigger_logs}")
    say(f"{dag_id}.{task_id} deferred and its trigger ran in the triggerer ({trigger_logs[0].name})")


#: an error-level line as each component writes it, by its level field only (a message that mentions
#: "[error]" is not one): structlog's console lines (``<time> [error    ]``), JSON task logs
#: (``"level": "error"``) and the standard library's format (``[<time>] {<file>} ERROR - ``)
ERROR_LINE = re.compile(
    r'^\S+ \[(error|critical)\s*\]|^\{.*"level":\s*"(error|critical)"|^\[[^]]*\] \{[^}]*\} (ERROR|CRITICAL) - '
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
#: Airflow's own error lines for a race of its scheduler (apache/airflow issues 66374 and 67287, open in
#: 3.3.2): a task whose trigger fires within seconds of its deferral is requeued, then the stale
#: "success" of the attempt that deferred arrives, the scheduler logs a state mismatch and marks the
#: task up_for_retry, and the resumed attempt already started is refused ("Workload execution
#: failed."). The retry resumes the task from its progress (the emulator still holds each lead once,
#: checked apart). These lines are reported, not failed on; any other error line fails the run.
AIRFLOW_RACE = re.compile(r"finished with state success, but the task instance's state attribute is (queued|scheduled)")
AIRFLOW_RACE_AFTERMATH = re.compile(r"\[error\s*\] Workload execution failed\.")
#: the components whose own logs a normal run keeps free of error-level lines
COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")


def error_lines(path: pathlib.Path) -> list[str]:
    """The error-level lines of ``path``, colours stripped."""
    text = path.read_text(errors="replace")
    plain = (ANSI.sub("", line) for line in text.splitlines())
    return [line for line in plain if ERROR_LINE.search(line)]


def assert_no_error_lines(
    home: pathlib.Path, runs: list[tuple[str, str]], logs: pathlib.Path, components: tuple[str, ...] = COMPONENTS
) -> None:
    """A normal run logs nothing at error level: not in its tasks' logs (the worker's and the
    triggerer's part of each), not in the scheduler's, dag-processor's, triggerer's or api-server's own."""
    bad = []
    task_logs = 0
    for dag_id, run_id in runs:
        for path in (home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}").rglob("*.log"):
            task_logs += 1
            bad += [f"{path.relative_to(home)}: {line}" for line in error_lines(path)]
    for name in components:
        path = logs / f"{name}.log"
        check(path.is_file() and path.stat().st_size, f"no log of the {name} at {path}")
        bad += [f"{path.name}: {line}" for line in error_lines(path)]
        # what the task supervisors logged (a missing XCom, for one) goes to the executor's log
        bad += [
            f"{path.name}: {line[:300]}"
            for line in path.read_text(errors="replace").splitlines()
            if "XCom not found" in line
        ]
    check(task_logs >= len(runs), f"only {task_logs} task logs for {len(runs)} runs under {home / 'logs'}")
    races = [line for line in bad if AIRFLOW_RACE.search(line)]
    aftermath = [line for line in bad if AIRFLOW_RACE_AFTERMATH.search(line)]
    if races and len(aftermath) <= len(races):
        for line in races:
            say(f"Airflow's deferral race (a retry follows; not the provider's): {line[:160]}")
        bad = [line for line in bad if line not in races and line not in aftermath]
    check(not bad, "error-level lines in a normal run:\n" + "\n".join(line[:300] for line in bad[:20]))
    say(f"no error-level line in {task_logs} task logs and the logs of the {', '.join(components)}")


# ----------------------------------------------------------------------------------------------
# The two scenarios
# ----------------------------------------------------------------------------------------------


def run_local(stack: Stack, env: dict[str, str], config: dict[str, dict[str, Any]], pg_port: int) -> None:
    home = pathlib.Path(env["AIRFLOW_HOME"])
    api = Api(env["AIRFLOW__API__BASE_URL"])
    runs: list[tuple[str, str]] = []

    # 1. the asset-driven push: the upstream system posts an asset event. Only this DAG is unpaused
    # now: unpausing a cron-scheduled DAG makes the scheduler run its latest tick at once
    # (catchup=False still runs the last one), which would push the same leads a second time
    api.unpause("dialer_event_asset_push")
    asset = wait_for(
        "the asset dialer_hot_leads",
        lambda: api.get("/assets", name_pattern="dialer_hot_leads")["assets"],
        120,
        stack,
        every=2,
    )[0]
    hot = [
        {"phones": ["+5531988887777"], "first_name": "Ana", "external_id": "HOT-1"},
        {"phones": ["+81398765432"], "first_name": "Yui", "timezone": "Asia/Tokyo", "external_id": "HOT-2"},
    ]
    api.send("POST", "/assets/events", {"asset_id": asset["id"], "extra": {"leads": hot}})
    event_run = wait_for(
        "the asset-triggered run",
        lambda: api.get("/dags/dialer_event_asset_push/dagRuns")["dag_runs"],
        120,
        stack,
        every=2,
    )[0]
    runs.append(("dialer_event_asset_push", event_run["dag_run_id"]))
    api.wait_run(*runs[-1], stack)

    # 2. manual runs of the scheduled DAGs: the scheduler restarts without creating scheduled runs
    # ([scheduler] use_job_schedule=False), so unpausing them starts only what is triggered here
    stack.stop_one("scheduler")
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    stack.start("scheduler", [AIRFLOW, "scheduler"], env)
    for dag_id in MANUAL_RUNS:
        api.unpause(dag_id)
    # scheduled on the upload's asset: unpaused when the event comes, so the event queues a run of it
    api.unpause("dialer_after_upload")
    # each example has its UJET campaign (the demo 6, the UJET launch 7, the mapped DAG 9); the UJET launch and the mapped
    # DAG get leads of their own here, all callable now
    leads_file, parts_file = stack.work / "callable_now.csv", stack.work / "callable_now_parts.csv"
    n = callable_now_leads(leads_file, first=40)
    check(callable_now_leads(parts_file, first=60, per_region=4) >= 8, "too few regions inside their window now")
    say(f"{n} leads inside their calling window now for the UJET launch")
    # the demo's XCALLY tasks use a connection stored in the metadata DB (encrypted with the Fernet
    # key) that sets link templates, so the browser tests can follow the tasks' extra links
    xcally = config["xcally"]
    origin = xcally["base_url"]
    host, port = origin.rsplit(":", 1)
    api.send(
        "POST",
        "/connections",
        {
            "connection_id": "xcally_links",
            "conn_type": "xcally",
            "host": origin,
            "port": int(port),
            "login": xcally["credentials"]["user"],
            "password": xcally["credentials"]["password"],
            "extra": json.dumps(
                {
                    "campaign_link_template": "{origin}/campaigns/{campaign_id}",
                    "list_link_template": "{origin}/lists/{list_id}?name={list_name}",
                }
            ),
        },
    )
    runs += [
        ("dialer_launch_demo", api.trigger("dialer_launch_demo", {"xcally_conn_id": "xcally_links"})),
        ("dialer_ujet_launch", api.trigger("dialer_ujet_launch", {"leads_path": str(leads_file)})),
        ("dialer_large_list_mapped", api.trigger("dialer_large_list_mapped", {"leads_path": str(parts_file)})),
    ]
    # the other examples that render a run's date, each on leads of its own inside their window now
    # (numbers distinct from the files above); the upload's report goes to a folder a web server publishes
    own = {name: stack.work / f"callable_now_{name}.csv" for name in ("hub", "priority", "voipex", "asset")}
    for first, path in zip((70, 75, 80, 85), own.values(), strict=True):
        callable_now_leads(path, first=first)
    reports = stack.work / "reports"
    reports_url = start_report_server(stack, reports, PORTS["local"]["reports"])
    runs += [
        (
            "dialer_ucontact_hub_launch",
            api.trigger(
                "dialer_ucontact_hub_launch", {"leads_path": str(own["hub"]), "priority_path": str(own["priority"])}
            ),
        ),
        ("dialer_voipex_launch", api.trigger("dialer_voipex_launch", {"leads_path": str(own["voipex"])})),
        # two days of exports of leads callable now (UJET holds back the others for hours): a mirror
        # sync, day 2 sends only the difference
        ("dialer_daily_sync", api.trigger("dialer_daily_sync", sync_days(stack.work))),
        (
            "dialer_upload_asset",
            api.trigger(
                "dialer_upload_asset",
                {"source": str(own["asset"]), "report_dir": str(reports), "report_base_url": reports_url},
            ),
        ),
    ]
    # the CLI: `airflow dags trigger` makes a run without a logical date too
    conf = {
        "campaign": "POWER<-",
        "leads": [
            {
                "phones": ["+59894123456"],
                "first_name": "Carmen",
                "external_id": "CLI-1",
                "timezone": "America/Montevideo",
            }
        ],
    }
    cli = subprocess.run(
        [AIRFLOW, "dags", "trigger", "dialer_rest_triggered_push", "-c", json.dumps(conf), "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    (stack.logs / "dags-trigger.log").write_text(cli.stdout + cli.stderr)
    check(cli.returncode == 0, f"airflow dags trigger failed; see {stack.logs / 'dags-trigger.log'}")
    cli_run = wait_for(
        "the CLI-triggered run",
        lambda: api.get("/dags/dialer_rest_triggered_push/dagRuns")["dag_runs"],
        60,
        stack,
        every=1,
    )[0]
    runs.append(("dialer_rest_triggered_push", cli_run["dag_run_id"]))
    for dag_id, run_id in runs:
        run = api.wait_run(dag_id, run_id, stack)
        check(
            run.get("logical_date") is None,
            f"{dag_id} {run_id} has a logical date; it should be a manual run without one",
        )
    assert_deferred_in_triggerer(home, "dialer_ujet_launch", runs[2][1], "wait_import")
    assert_deferred_in_triggerer(
        home, "dialer_ucontact_hub_launch", dict(runs)["dialer_ucontact_hub_launch"], "wait_loaded"
    )
    assert_sync_sent_the_difference(api, dict(runs)["dialer_daily_sync"], stack.work)
    upload_run = dict(runs)["dialer_upload_asset"]
    report = assert_report_published(api, upload_run, reports, reports_url)
    runs.append(("dialer_after_upload", assert_asset_consumer_ran(api, stack, env, upload_run)))
    # the same upload with no web server named: its link is the file's own address
    unpublished = stack.work / "callable_now_unpublished.csv"
    callable_now_leads(unpublished, first=90)
    runs.append(
        (
            "dialer_upload_asset",
            api.trigger(
                "dialer_upload_asset", {"source": str(unpublished), "report_dir": str(reports / "unpublished")}
            ),
        )
    )
    api.wait_run(*runs[-1], stack)
    file_link = api.get(f"/dags/dialer_upload_asset/dagRuns/{runs[-1][1]}/taskInstances/upload/links")["extra_links"]
    written = reports / "unpublished" / "dialer_upload_asset" / (runs[-1][1].replace(":", "-") + ".html")
    check(file_link.get("Run report") == f"file://{written}" and written.is_file(), f"the file link is {file_link}")
    report["file"] = {"run_id": runs[-1][1], "url": file_link["Run report"]}
    demo_run = runs[1][1]
    xcom = "/dags/dialer_launch_demo/dagRuns/{}/taskInstances/{}/xcomEntries/return_value"

    def value(task_id: str) -> Any:
        got = api.get(xcom.format(demo_run, task_id))["value"]
        return json.loads(got) if isinstance(got, str) and got[:1] in '[{"' else got

    campaign_id, upload = value("xcally_campaign"), value("xcally_upload")
    from urllib.parse import quote

    day = api.get(f"/dags/dialer_launch_demo/dagRuns/{demo_run}")["run_after"][:10]  # the DAG's list name
    expected = {
        "xcally_campaign": {"Dialer campaign": f"{origin}/campaigns/{campaign_id}"},
        "xcally_upload": {"Dialer list": f"{origin}/lists/{upload['ids']['list_id']}?name={quote('leads ' + day)}"},
    }
    (stack.work / "links.json").write_text(
        json.dumps({"dag_id": "dialer_launch_demo", "run_id": demo_run, "expected": expected, "report": report})
    )
    stored = assert_no_duplicates(config)
    say(f"the emulator holds each lead once: {stored}")
    assert_no_error_lines(home, runs, stack.logs)
    (stack.work / "runs.json").write_text(json.dumps(runs))
    typed = set()
    assert_no_secret(api, runs, secrets_of(config) | typed, stack.work, pg_port, home)


#: the examples run_local triggers by hand (REST or CLI): unpaused while the scheduler creates no scheduled run
MANUAL_RUNS = (
    "dialer_launch_demo",
    "dialer_ujet_launch",
    "dialer_large_list_mapped",
    "dialer_rest_triggered_push",
    "dialer_ucontact_hub_launch",
    "dialer_voipex_launch",
    "dialer_daily_sync",
    "dialer_upload_asset",
    "dialer_multi_timezone",  # triggered from the UI by the browser tests
)


def sync_days(work: pathlib.Path) -> dict[str, str]:
    """The daily sync's conf: two exports of leads callable now; day 2 drops two, changes the last name
    of two and adds two."""
    day1, extra = work / "sync_day1.csv", work / "sync_extra.csv"
    callable_now_leads(day1, first=50)
    callable_now_leads(extra, first=55)
    rows = list(csv.DictReader(day1.open(encoding="utf-8")))
    new = list(csv.DictReader(extra.open(encoding="utf-8")))[:2]
    check(len(rows) >= 6 and len(new) == 2, f"too few leads callable now for the daily sync: {len(rows)}")
    kept = rows[2:]
    for row in kept[:2]:
        row["sobrenome"] += "-Changed"
    day2 = work / "sync_day2.csv"
    with day2.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(kept + new)
    return {"day_1": str(day1), "day_2": str(day2), "outcome_dir": str(work / "outcomes")}


def assert_sync_sent_the_difference(api: Api, run_id: str, work: pathlib.Path) -> None:
    """The daily sync's second day sent what differs between the two exports, counted here from the files."""
    fields = ("tel", "nome", "sobrenome", "email", "fuso")  # the columns the example maps
    day1, day2 = (
        {row["id_cliente"]: tuple(row[f] for f in fields) for row in csv.DictReader(path.open(encoding="utf-8"))}
        for path in (work / "sync_day1.csv", work / "sync_day2.csv")
    )
    expected = {
        "day_1": {"added": len(day1), "updated": 0, "removed": 0},
        "day_2": {
            "added": len(day2.keys() - day1.keys()),
            "updated": sum(1 for key in day1.keys() & day2.keys() if day1[key] != day2[key]),
            "removed": len(day1.keys() - day2.keys()),
        },
    }
    got = api.get(f"/dags/dialer_daily_sync/dagRuns/{run_id}/taskInstances/report/xcomEntries/return_value")["value"]
    got = json.loads(got) if isinstance(got, str) else got
    check({day: got[day]["sent"] for day in expected} == expected, f"the daily sync sent {got}, not {expected}")
    say(f"dialer_daily_sync: day 2 sent the difference of the exports, {expected['day_2']}")


def assert_report_published(api: Api, run_id: str, folder: pathlib.Path, base_url: str) -> dict[str, Any]:
    """The upload wrote its run report under ``folder``, the web server serves it, and the task's
    **Run report** link (its XCom, as the UI reads it) opens it there. Returns what the browser test checks."""
    import httpx

    path = folder / "dialer_upload_asset" / (run_id.replace(":", "-") + ".html")
    check(path.is_file(), f"dialer_upload_asset wrote no run report at {path}")
    url = f"{base_url}/dialer_upload_asset/{path.name}"
    link = api.get(f"/dags/dialer_upload_asset/dagRuns/{run_id}/taskInstances/upload/links")["extra_links"]
    check(link.get("Run report") == url, f"the Run report link is {link}, not {url}")
    served = httpx.get(url, timeout=10)
    check(served.is_success and served.text == path.read_text(encoding="utf-8"), f"{url} does not serve {path}")
    summary = api.get(f"/dags/dialer_upload_asset/dagRuns/{run_id}/taskInstances/upload/xcomEntries/return_value")
    value = summary["value"]
    value = json.loads(value) if isinstance(value, str) else value
    say(f"run report {path.name}: linked and served at {url}")
    return {"dag_id": "dialer_upload_asset", "run_id": run_id, "task_id": "upload", "url": url, "summary": value}


def assert_asset_consumer_ran(api: Api, stack: Stack, env: dict[str, str], upload_run: str) -> str:
    """The upload recorded one asset event with its counts; the DAG scheduled on the asset runs on it
    (the scheduler restarted with scheduled runs on, every cron example paused first) and reads them."""
    from airflow_provider_dialer.lineage import dialer_asset

    uri = dialer_asset("xcally_default", "list=daily leads").uri
    asset = next(a for a in api.get("/assets", uri_pattern=uri, limit=100)["assets"] if a["uri"] == uri)
    events = [e for e in api.get("/assets/events", asset_id=asset["id"], limit=100)["asset_events"]]
    check(len(events) == 1 and events[0]["source_run_id"] == upload_run, f"asset events of {uri}: {events}")
    extra = events[0]["extra"]
    xcom = api.get(f"/dags/dialer_upload_asset/dagRuns/{upload_run}/taskInstances/upload/xcomEntries/return_value")
    summary = json.loads(xcom["value"]) if isinstance(xcom["value"], str) else xcom["value"]
    for key in ("read", "prepared", "rejected", "accepted", "unknown"):
        check(
            extra.get(key) == summary[key], f"the asset event's {key} is {extra.get(key)}, the upload's {summary[key]}"
        )
    check(extra["read"] > 0 and extra["accepted"] > 0, f"an empty upload: {extra}")
    for dag_id in MANUAL_RUNS:
        api.send("PATCH", f"/dags/{dag_id}", {"is_paused": True})
    stack.stop_one("scheduler")
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "True"
    stack.start("scheduler", [AIRFLOW, "scheduler"], env)
    run = wait_for(
        "dialer_after_upload to run on the asset event",
        lambda: api.get("/dags/dialer_after_upload/dagRuns")["dag_runs"],
        120,
        stack,
        every=2,
    )[0]
    api.wait_run("dialer_after_upload", run["dag_run_id"], stack)
    check(run["run_type"] == "asset_triggered", f"dialer_after_upload ran as {run['run_type']}")
    path = "/dags/dialer_after_upload/dagRuns/{}/taskInstances/uploads_to_export/xcomEntries/return_value"
    read = api.get(path.format(run["dag_run_id"]))["value"]
    read = json.loads(read) if isinstance(read, str) else read
    check(
        [(u["read"], u["accepted"]) for u in read] == [(summary["read"], summary["accepted"])],
        f"dialer_after_upload read {read}",
    )
    # back to manual runs only, for the browser test's UI trigger
    stack.stop_one("scheduler")
    env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
    stack.start("scheduler", [AIRFLOW, "scheduler"], env)
    for dag_id in ("dialer_multi_timezone", "dialer_upload_asset"):
        api.unpause(dag_id)
    say(f"asset event of the upload: {extra['read']} read, {extra['accepted']} accepted; dialer_after_upload read it")
    return str(run["dag_run_id"])


def browser_tests(env: dict[str, str], work: pathlib.Path) -> None:
    say("browser tests (tests/e2e, Playwright on Debian's chromium)")
    shots = work / "screenshots"
    shots.mkdir(exist_ok=True)
    test_env = {
        **env,
        "DIALER_E2E_API": env["AIRFLOW__API__BASE_URL"],
        "DIALER_E2E_PASSWORD": ADMIN_PASSWORD,
        "DIALER_E2E_SCREENSHOTS": str(shots),
        "DIALER_E2E_WORK": str(work),
    }
    result = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:dialer_emulator", str(ROOT / "tests" / "e2e")],
        env=test_env,
        cwd=ROOT,
    )
    check(result.returncode == 0, f"browser tests failed; screenshots in {shots}")


def run_celery(stack: Stack, env: dict[str, str], config: dict[str, dict[str, Any]]) -> None:
    api = Api(env["AIRFLOW__API__BASE_URL"])
    api.unpause("dialer_large_list_mapped")  # the scheduler runs with use_job_schedule=False: no scheduled run
    # leads callable now (the mapped uploads reject the others), in small parts so both workers get some
    parts_file = stack.work / "callable_now_parts.csv"
    n = callable_now_leads(parts_file, first=60, per_region=4)
    check(n >= 8, "too few regions inside their window now")
    run_id = api.trigger("dialer_large_list_mapped", {"leads_per_part": 2, "leads_path": str(parts_file)})
    api.wait_run("dialer_large_list_mapped", run_id, stack)
    mapped = [ti for ti in api.task_instances("dialer_large_list_mapped", run_id) if ti["task_id"] == "upload"]
    # a task instance's hostname names only the worker of its last part (an upload that deferred and
    # resumed ran its first part elsewhere): each worker's own log says which workloads it executed
    ran = {
        f"w{i}": executed_map_indexes(
            (stack.logs / f"celery-worker-{i}.log").read_text(errors="replace"),
            "dialer_large_list_mapped",
            run_id,
            "upload",
        )
        for i in range(1, len(PORTS["celery"]["worker_logs"]) + 1)
    }
    say(f"upload map indexes each worker executed (its log): {ran}")
    missing = {ti["map_index"] for ti in mapped} - set().union(*ran.values())
    check(len(mapped) >= 4 and not missing, f"map indexes {sorted(missing)} ran on no worker the logs show: {ran}")
    check(all(ran.values()), f"the map indexes did not run on both workers: {ran}")
    stored = assert_no_duplicates(config)
    check(stored.get("ujet ujet.import") == n, f"the emulator holds {stored} of the {n} leads sent")
    worker_logs = tuple(f"celery-worker-{i}" for i in range(1, len(PORTS["celery"]["worker_logs"]) + 1))
    assert_no_error_lines(
        pathlib.Path(env["AIRFLOW_HOME"]), [("dialer_large_list_mapped", run_id)], stack.logs, COMPONENTS + worker_logs
    )
    say(f"the emulator holds each of the {n} leads once: {stored}")


def executed_map_indexes(worker_log: str, dag_id: str, run_id: str, task_id: str) -> set[int]:
    """The map indexes of ``task_id`` in run ``run_id`` a Celery worker's log says it executed (its
    "Executing workload in Celery: ... ti=TaskInstanceDTO(...)" lines: a first part and a resumed
    part of a deferred task are one line each)."""
    found = set()
    for line in worker_log.splitlines():
        ti = line.partition("ti=TaskInstanceDTO(")[2]
        if "Executing workload in Celery" not in line or not ti:
            continue
        fields = dict(re.findall(r"\b(task_id|dag_id|run_id|map_index)=('[^']*'|-?\d+)", ti))
        if (fields.get("dag_id"), fields.get("run_id"), fields.get("task_id")) == (
            repr(dag_id),
            repr(run_id),
            repr(task_id),
        ) and "map_index" in fields:
            found.add(int(fields["map_index"]))
    return found


def browser_tests_on_served() -> int:
    """``e2e.py browser [pytest arguments]``: the browser tests (or those named) against the deployment
    ``e2e.py local --serve`` keeps up, e.g. to watch one fail on a change and pass without it."""
    served = ROOT / ".e2e" / "local" / "env.json"
    if not served.is_file():
        say(f"no deployment to test: start `python scripts/e2e.py local --serve` first ({served} is missing)")
        return 2
    env = {
        **os.environ,
        **json.loads(served.read_text()),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    tests = sys.argv[2:] or [str(ROOT / "tests" / "e2e")]
    command = [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:dialer_emulator", *tests]
    return subprocess.run(command, env=env, cwd=ROOT).returncode


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "local"
    if mode == "browser":
        return browser_tests_on_served()
    check(mode in PORTS, f"usage: e2e.py local|celery [--serve [--no-runs]] | browser [pytest arguments] (got {mode})")
    work = ROOT / ".e2e" / mode
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ensure_debian(
        {
            "postgresql": pg_bin() is not None,
            "redis-server": mode != "celery" or shutil.which("redis-server") is not None,
            "chromium": mode != "local" or pathlib.Path("/usr/bin/chromium").exists(),
        }
    )
    started = time.monotonic()
    stack = Stack(work)
    try:
        ports = PORTS[mode]
        db_url = start_postgres(stack, ports["pg"])
        if mode == "celery":
            broker = start_redis(stack, ports["redis"])
        config = start_emulator(stack)
        env = airflow_env(work, mode, db_url, config)
        if mode == "celery":
            env["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] = "False"
            env["AIRFLOW__CELERY__BROKER_URL"] = broker
            env["AIRFLOW__CELERY__RESULT_BACKEND"] = "db+" + db_url.replace("+psycopg2", "")
        leads_db(work / "leads.db", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"))
        start_airflow(stack, env, mode)
        if "--serve" in sys.argv:  # a developer's look at the deployment: runs until .e2e/<mode>/stop exists
            if mode == "local" and "--no-runs" not in sys.argv:
                run_local(stack, env, config, ports["pg"])
            say(f"serving on {env['AIRFLOW__API__BASE_URL']} (admin / {ADMIN_PASSWORD}); touch {work / 'stop'} to stop")
            (work / "env.json").write_text(
                json.dumps(
                    {
                        "DIALER_E2E_API": env["AIRFLOW__API__BASE_URL"],
                        "DIALER_E2E_PASSWORD": ADMIN_PASSWORD,
                        "DIALER_E2E_WORK": str(work),
                        "DIALER_E2E_SCREENSHOTS": str(work / "screenshots"),
                    }
                )
            )
            wait_for("the stop file", lambda: (work / "stop").exists(), 7200, stack, every=1)
            return 0
        if mode == "local":
            run_local(stack, env, config, ports["pg"])
            browser_tests(env, work)
        else:
            run_celery(stack, env, config)
        say(f"{mode}: passed in {time.monotonic() - started:.0f}s; logs in {work}")
        return 0
    except Failed as exc:
        say(f"FAILED: {exc}")
        return 1
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
