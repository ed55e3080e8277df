"""Fresh-lead latency and DAG-parse import cost.

1. ``PushFreshLeadsOperator.execute`` for a 100-lead event batch (a list of dicts, as ``dag_run.conf``
   brings them), uContact ``freshLeads`` and UJET single adds, against the emulator in its own
   process (``emu_process.BenchEmulator``): p50 / p95 / max over N warm runs in one process (each
   run a new operator and a new progress file), and the first ``execute`` of a fresh process (cold:
   the imports the task pays once), median over a few processes. UJET runs twice: with the
   connection's client-side limit off, and with the hook's default 10 requests/s (the vendor's
   limit, docs/vendors/ujet.md#decision-rate-limit-10-per-second, which a 100-lead batch of single adds cannot beat: >= 9 s).
2. Import cost at DAG parse: importing the provider's operators and sensors in a fresh interpreter
   after a bare ``import airflow.sdk`` (median of several processes; target < 100 ms), and which
   heavy modules that import drags in.

    python bench/bench_latency.py
    python bench/bench_latency.py --runs 10 --import-runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

BATCH = 100
SETTINGS = {"ucontact": {"hub": "sales"}, "ujet": {"campaign_id": 6}}
OPERATOR_MODULES = [
    "airflow_provider_dialer.operators.lists",
    "airflow_provider_dialer.operators.fresh_leads",
    "airflow_provider_dialer.operators.campaign",
    "airflow_provider_dialer.operators.contacts",
    "airflow_provider_dialer.operators.dialer_task",
    "airflow_provider_dialer.sensors.wait",
]
HEAVY = [
    "httpx",
    "phonenumbers",
    "pydantic",
    "pandas",
    "airflow_provider_dialer.hooks",
    "airflow_provider_dialer.leads.prepare",
    "airflow.providers.http",
]


def _batch(run: int) -> list[dict[str, Any]]:
    start = run * BATCH
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}",
            "external_id": f"EV-{i}",
            "timezone": "America/New_York",
        }
        for i in range(start, start + BATCH)
    ]


def _execute(vendor: str, run: int, work: str) -> float:
    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator

    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id=f"{vendor}_default",
        source=_batch(run),
        settings=dict(SETTINGS[vendor]),
        calling_window={"start": "00:00", "end": "24:00"},
        progress=os.path.join(work, f"progress-{os.getpid()}-{run}.json"),
    )
    t0 = time.perf_counter()
    summary = op.execute({})
    seconds = time.perf_counter() - t0
    if summary["accepted"] != BATCH:
        raise SystemExit(f"{vendor} run {run}: accepted {summary['accepted']} of {BATCH}: {summary}")
    return seconds


def worker_latency(vendor: str, first: str, runs: str, work: str) -> dict[str, Any]:
    import logging

    logging.disable(logging.INFO)  # the summary log is the same on every run; keep it off the clock's output
    times = [_execute(vendor, int(first) + i, work) for i in range(int(runs))]
    return {"cold": times[0], "warm": times[1:]}


def worker_import() -> dict[str, Any]:
    t0 = time.perf_counter()
    import airflow.sdk  # noqa: F401 - the import is what is timed

    t1 = time.perf_counter()
    import importlib

    before = set(sys.modules)

    for name in OPERATOR_MODULES:
        importlib.import_module(name)
    t2 = time.perf_counter()
    loaded = [m for m in HEAVY if m in sys.modules and m not in before]
    return {"airflow_sdk": t1 - t0, "provider": t2 - t1, "heavy": loaded, "modules": len(set(sys.modules) - before)}


WORKERS = {"latency": worker_latency, "import": worker_import}


def _spawn(kind: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(pathlib.Path(__file__).resolve()), "--worker", kind, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=900,
    )
    if out.returncode != 0:
        raise SystemExit(f"worker {kind} {args} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def latency(runs: int, cold_procs: int, limited_runs: int) -> list[dict[str, Any]]:
    from emu_process import BenchEmulator

    rows = []
    cases = [("ucontact", "ucontact", None, runs), ("ujet", "ujet (client limit off)", 0, runs)]
    if limited_runs:
        cases.append(("ujet", "ujet (default 10 req/s)", None, limited_runs))
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as work:
        for vendor, label, rate, n in cases:
            emu = BenchEmulator()
            try:
                conn = json.loads(emu.config[vendor]["conn_uri"])
                if rate is not None:
                    conn.setdefault("extra", {})["rate_limit_per_second"] = rate
                env = {f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT": json.dumps(conn)}
                base = 0
                main = _spawn("latency", vendor, str(base), str(n + 1), work, env=env)
                base += n + 1
                colds = [main["cold"]]
                for _ in range(cold_procs - 1 if n == runs else 0):
                    colds.append(_spawn("latency", vendor, str(base), "1", work, env=env)["cold"])
                    base += 1
            finally:
                emu.stop()
            warm = main["warm"]
            rows.append(
                {
                    "case": label,
                    "runs": len(warm),
                    "p50": _pct(warm, 0.5),
                    "p95": _pct(warm, 0.95),
                    "max": max(warm),
                    "cold": statistics.median(colds),
                    "cold_n": len(colds),
                }
            )
    return rows


def imports(n: int) -> dict[str, Any]:
    results = [_spawn("import") for _ in range(n)]
    return {
        "runs": n,
        "airflow_sdk": statistics.median(r["airflow_sdk"] for r in results),
        "provider": statistics.median(r["provider"] for r in results),
        "provider_max": max(r["provider"] for r in results),
        "heavy": results[-1]["heavy"],
        "modules": results[-1]["modules"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="warm runs per case")
    parser.add_argument("--cold-procs", type=int, default=3, help="fresh processes for the cold first execute")
    parser.add_argument("--limited-runs", type=int, default=3, help="UJET runs with the default 10 req/s (0: skip)")
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        sys.path.insert(0, str(ROOT))
        print(json.dumps(WORKERS[kind](*rest)))
        return 0
    rows = latency(args.runs, args.cold_procs, args.limited_runs)
    imp = imports(args.import_runs)
    print(
        f"PushFreshLeadsOperator, {BATCH}-lead batch, `execute` start to return (warm: one process; "
        f"cold: the first execute of a fresh process, median)\n"
    )
    print("| case | warm runs | p50 ms | p95 ms | max ms | cold first run ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['runs']} | {r['p50'] * 1000:.0f} | {r['p95'] * 1000:.0f} | {r['max'] * 1000:.0f} "
            f"| {r['cold'] * 1000:.0f} (n={r['cold_n']}) |"
        )
    print(
        f"\nImport cost at DAG parse, median of {imp['runs']} fresh processes: `import airflow.sdk` "
        f"{imp['airflow_sdk'] * 1000:.0f} ms, then the provider's operators and sensors "
        f"**{imp['provider'] * 1000:.0f} ms** (max {imp['provider_max'] * 1000:.0f} ms; target < 100 ms). "
        f"It adds {imp['modules']} modules; heavy ones among them: {', '.join(imp['heavy']) or 'none'}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
