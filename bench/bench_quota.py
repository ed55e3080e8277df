"""Benchmark: three concurrent UJET tasks on one connection against the vendor's 10 requests/s.

Not part of the test suite. Run::

    python bench/bench_quota.py
    python bench/bench_quota.py --tasks 3 --leads 40

The emulator runs in its own process with UJET's rate limit on (10 requests/s per customer, a
token bucket holding one second's worth; beyond it: 429 with ``Retry-After: 1``). For each case,
``--tasks`` processes start at once, each running ``PushFreshLeadsOperator.execute`` for its own
``--leads`` leads (one single add per lead, the path fresh leads take), on the same connection
with a different ``rate_limit_per_second``:

- ``each task at the vendor's rate``: the hook's default 10/s in every task (what three tasks do
  when nothing coordinates them);
- ``rate / tasks``: each task's exact share, 10/3 per second;
- ``0.9 x rate / tasks``: the share with 10% headroom for clock and network jitter (the documented
  setting, see docs/operators.md).

The processes stand for the tasks an Airflow pool with ``--tasks`` slots lets run at once (the
pool's part is to cap that number; there is no scheduler here). The emulator's own request log
(``/_emulator/requests``) gives the 429s and the requests; its lead store the contacts stored.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

VENDOR_RATE = 10.0  # the emulator's UJET default, the vendor's documented limit


def worker_task(index: str, leads: str, work: str) -> dict[str, Any]:
    import logging

    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator

    logging.disable(logging.WARNING)  # the retry warnings of the uncoordinated case would flood the output
    i, n = int(index), int(leads)
    batch = [
        {
            "phones": [f"+1212555{i}{k:03d}"],
            "first_name": f"T{i}L{k}",
            "external_id": f"Q-{i}-{k}",
            "timezone": "America/New_York",
        }
        for k in range(n)
    ]
    op = PushFreshLeadsOperator(
        task_id=f"push_{i}",
        conn_id="ujet_default",
        source=batch,
        settings={"campaign_id": 6},
        calling_window={"start": "00:00", "end": "24:00"},
        progress=os.path.join(work, f"progress-{i}.json"),
    )
    t0 = time.perf_counter()
    try:
        summary = op.execute({})
        accepted, error = summary["accepted"], None
    except Exception as exc:  # the uncoordinated case may exhaust its retries: report it, do not hide it
        accepted, error = 0, f"{type(exc).__name__}: {str(exc)[:200]}"
    return {"seconds": time.perf_counter() - t0, "accepted": accepted, "error": error}


def run_case(per_task_rate: float, tasks: int, leads: int) -> dict[str, Any]:
    import httpx
    from emu_process import BenchEmulator

    emu = BenchEmulator(settings=["--set", f"ujet_rate_limit={VENDOR_RATE:g}", "--set", "ujet_job_seconds=0"])
    try:
        conn = json.loads(emu.config["ujet"]["conn_uri"])
        conn.setdefault("extra", {})["rate_limit_per_second"] = per_task_rate
        env = {**os.environ, "AIRFLOW_CONN_UJET_DEFAULT": json.dumps(conn)}
        with tempfile.TemporaryDirectory(prefix="bench-quota-") as work:
            t0 = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [
                        sys.executable,
                        str(pathlib.Path(__file__).resolve()),
                        "--worker",
                        "task",
                        str(i),
                        str(leads),
                        work,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                    env=env,
                )
                for i in range(tasks)
            ]
            results = []
            for p in procs:
                out, err = p.communicate(timeout=900)
                if p.returncode != 0:
                    raise SystemExit(f"task failed:\n{out[-2000:]}\n{err[-4000:]}")
                results.append(json.loads(out.strip().splitlines()[-1]))
            wall = time.perf_counter() - t0
        rows = httpx.get(f"{emu.url('ujet')}/_emulator/requests", timeout=60).json()
        summary = httpx.get(f"{emu.url('ujet')}/_emulator/leads", timeout=60).json()
        stored = sum(entry["distinct"] for entry in summary.values())
        duplicates = sum(entry["total"] - entry["distinct"] for entry in summary.values())
    finally:
        emu.stop()
    api = [r for r in rows if not r["path"].startswith("/_emulator")]
    # the busiest second the vendor saw: requests it answered other than 429, per 1-second window
    stamps = sorted(r["ts"] for r in api if r["status"] != 429)
    busiest, j = 0, 0
    for k, ts in enumerate(stamps):
        while stamps[j] <= ts - 1.0:
            j += 1
        busiest = max(busiest, k - j + 1)
    return {
        "rate": per_task_rate,
        "requests": len(api),
        "429": sum(r["status"] == 429 for r in api),
        "accepted": sum(r["accepted"] for r in results),
        "stored": stored,
        "duplicates": duplicates,
        "errors": [r["error"] for r in results if r["error"]],
        "wall": wall,
        "slowest": max(r["seconds"] for r in results),
        "busiest": busiest,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3)
    parser.add_argument("--leads", type=int, default=40, help="fresh leads per task (one request each)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        sys.path.insert(0, str(ROOT))
        print(json.dumps({"task": worker_task}[kind](*rest)))
        return 0
    cases = [
        ("each task at the vendor's rate", VENDOR_RATE),
        ("rate / tasks", VENDOR_RATE / args.tasks),
        ("0.9 x rate / tasks", 0.9 * VENDOR_RATE / args.tasks),
    ]
    print(
        f"{args.tasks} concurrent `PushFreshLeadsOperator` tasks, {args.leads} UJET single adds each, "
        f"one connection, emulator limit {VENDOR_RATE:g} requests/s\n"
    )
    print(
        "| case | per-task rate_limit_per_second | requests | 429 answers | busiest second (answered) "
        "| leads accepted | contacts stored (duplicates) | slowest task s | failed tasks |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, rate in cases:
        r = run_case(rate, args.tasks, args.leads)
        print(
            f"| {label} | {rate:.2f} | {r['requests']} | {r['429']} | {r['busiest']} | {r['accepted']} | {r['stored']} ({r['duplicates']}) "
            f"| {r['slowest']:.1f} | {len(r['errors'])} |",
            flush=True,
        )
        for e in r["errors"]:
            print(f"  failed: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
