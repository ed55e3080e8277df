"""The README's main command: a daily multi-vendor launch, end to end, against the bundled emulator.

1. starts the emulator (``python -m airflow_provider_dialer.emulator``) on free loopback ports;
2. points the Airflow connections at it through ``AIRFLOW_CONN_*`` environment variables, and a
   SQLite leads database (``dialer_leads_db``) holding today's leads;
3. migrates a fresh SQLite metadata DB and runs ``airflow dags test dialer_launch_demo``;
4. prints a short report: leads read, rejected by reason, pushed per vendor, scheduled per
   timezone, and the import job and list final states read back from the emulator.

Run it through ``make demo``. Exits non-zero when any step fails; always stops what it started.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "example_dags" / "data" / "leads_sample.csv"
DAG_ID = "dialer_launch_demo"


def start_emulator(workdir: pathlib.Path) -> tuple[subprocess.Popen[bytes], dict[str, dict[str, str]]]:
    config_path = workdir / "emulator.json"
    log = open(workdir / "emulator.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_dialer.emulator", "--config-out", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while not config_path.exists() or not config_path.read_text().strip().endswith("}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"emulator did not start; see {workdir / 'emulator.log'}")
        time.sleep(0.05)
    config = json.loads(config_path.read_text())
    import httpx

    for vendor, info in config.items():
        while True:
            try:
                httpx.get(f"{info['base_url']}/_emulator/health", timeout=2).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"emulator {vendor} is not answering") from None
                time.sleep(0.05)
    return proc, config


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def leads_db(path: pathlib.Path, day: str) -> None:
    """Today's leads (the sample file) in a SQLite table, as a warehouse table would hold them."""
    with open(SAMPLE, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    columns = list(rows[0])
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE leads ({', '.join(columns)}, due_date TEXT)")
        db.executemany(
            f"INSERT INTO leads VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[row[c] or None for c in columns] + [day] for row in rows],
        )
        # another day's lead: the data interval must keep it out
        db.execute(
            "INSERT INTO leads (id_cliente, nome, tel, due_date) VALUES ('C-OTHER', 'Other', '+5511900000000', '2000-01-01')"
        )


def run(cmd: list[str], env: dict[str, str], log: pathlib.Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    log.write_text(result.stdout + "\n--- stderr ---\n" + result.stderr)
    return result


def report(summary: dict, config: dict[str, dict[str, str]]) -> None:
    import httpx

    print("\n=== dialer demo: daily multi-vendor launch (emulator) ===")
    first = next(iter(summary.values()))
    print(f"leads read:        {first['read']}  (each vendor task reads the same day's rows)")
    print(f"rejected:          {first['rejected']}  {first['rejected_by_reason']}")
    print("\npushed per vendor:")
    for vendor, s in summary.items():
        refused = s.get("refused_by_vendor") or {}
        print(
            f"  {vendor:<9} accepted {s['accepted']:>3}  refused by vendor {sum(refused.values()):>2}  "
            f"unknown {s['unknown']}  outside window now {s['held_back']}  ids {s.get('ids')}"
        )
    print("\nscheduled per timezone (uContact fresh leads, local first/last call):")
    for zone, info in (summary["ucontact"].get("scheduled_by_timezone") or {}).items():
        print(
            f"  {zone:<22} {info['leads']} lead(s), {info['call_now']} now, "
            f"first {info['first_local'] or '-'}, last {info['last_local'] or '-'}"
        )
    ujet = httpx.get(f"{config['ujet']['base_url']}/_emulator/state", timeout=10).json()["ujet"]
    jobs = ujet.get("jobs", {})
    job_states = {jid: j.get("status") for jid, j in (jobs.items() if isinstance(jobs, dict) else enumerate(jobs))}
    print(f"\nUJET import jobs:  {job_states}")
    print(f"UJET wait result:  {summary['ujet'].get('wait_result', {}).get('status')}")
    xcally = summary["xcally"]
    print(
        f"XCALLY list:       id {xcally['ids'].get('list_id')}, wait result "
        f"{(xcally.get('wait_result') or {}).get('status')}, campaign {xcally.get('campaign_id')}"
    )
    leads = {v: httpx.get(f"{config[v]['base_url']}/_emulator/leads", timeout=10).json() for v in config}
    dupes = {v: {ep: e["duplicates"] for ep, e in per.items() if e["duplicates"]} for v, per in leads.items()}
    print(f"leads stored twice anywhere: {sum(len(d) for d in dupes.values())}")


def main() -> int:
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="dialer-demo-"))
    home = workdir / "airflow-home"
    day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_CONN_DIALER_LEADS_DB": f"sqlite://{workdir / 'leads.db'}",
        }
    )
    leads_db(workdir / "leads.db", day)
    print(f"demo workdir: {workdir}")
    proc, config = start_emulator(workdir)
    try:
        for vendor, info in config.items():
            env[f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT"] = info["conn_uri"]
            print(f"emulator {vendor:<9} {info['base_url']}")
        airflow = str(pathlib.Path(sys.executable).parent / "airflow")
        migrated = run([airflow, "db", "migrate"], env, workdir / "db-migrate.log")
        if migrated.returncode != 0:
            print(f"airflow db migrate failed; see {workdir / 'db-migrate.log'}")
            return 1
        print(f"running: airflow dags test {DAG_ID} {day}")
        started = time.monotonic()
        result = run([airflow, "dags", "test", DAG_ID, day], env, workdir / "dags-test.log")
        elapsed = time.monotonic() - started
        marker = [
            line for line in result.stdout.splitlines() + result.stderr.splitlines() if "DIALER-DEMO-REPORT " in line
        ]
        failed = result.returncode != 0 or "state=failed" in result.stdout or not marker
        if failed:
            print(result.stdout[-4000:])
            print(result.stderr[-4000:])
            print(f"\nthe DAG run failed (exit {result.returncode}); full log: {workdir / 'dags-test.log'}")
            return 1
        summary = json.loads(marker[-1].split("DIALER-DEMO-REPORT ", 1)[1])
        report(summary, config)
        print(f"\nDAG run {DAG_ID} succeeded in {elapsed:.1f}s; full log: {workdir / 'dags-test.log'}")
        return 0
    finally:
        stop(proc)


if __name__ == "__main__":
    raise SystemExit(main())
