"""Triggerer load: N concurrent ImportJobTriggers in one asyncio loop in one process, against UJET jobs that stay in progress.

The emulator runs in its own process (``emu_process.BenchEmulator``) with UJET import jobs that stay
``in_progress`` for ``--job-seconds`` and no vendor rate limit. This process creates N import jobs (one
contact each) over HTTP, then starts a fresh worker process that does what the triggerer does with
each trigger: ``serialize()``, re-create it from its classpath and kwargs, and run ``run()`` to its
first event, all N as tasks of one asyncio loop. The connection comes from ``AIRFLOW_CONN_UJET_DEFAULT``
(read through ``BaseHook.aget_connection`` by ``aget_dialer_hook``). Measured in the worker: wall time
to the last event, CPU time / wall time (whole run, and the busiest 1-second window), peak RSS, RSS
before the triggers start; from the emulator: the polls it answered. Target: under one core.

    python bench/bench_triggerer.py                      # 500 triggers, 2 s polls, jobs of 20 s
    python bench/bench_triggerer.py --triggers 100 --job-seconds 6
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def worker(job_ids_json: str, poll_interval: str, timeout: str) -> dict[str, Any]:
    import asyncio
    import resource

    from airflow.sdk.module_loading import import_string

    from airflow_provider_dialer.triggers.wait import ImportJobTrigger

    job_ids = json.loads(job_ids_json)
    triggers = []
    for job_id in job_ids:
        classpath, kwargs = ImportJobTrigger(
            "ujet_default", 6, [job_id], float(poll_interval), float(timeout)
        ).serialize()
        triggers.append(import_string(classpath)(**kwargs))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    async def first_event(trigger: Any) -> dict[str, Any]:
        events = trigger.run()
        try:
            return (await events.__anext__()).payload
        finally:
            await events.aclose()

    async def main() -> tuple[list[Any], list[tuple[float, float]]]:
        samples: list[tuple[float, float]] = []

        async def sample() -> None:
            while True:
                samples.append((time.perf_counter(), time.process_time()))
                await asyncio.sleep(0.25)

        sampler = asyncio.create_task(sample())
        results = await asyncio.gather(*(first_event(t) for t in triggers), return_exceptions=True)
        samples.append((time.perf_counter(), time.process_time()))
        sampler.cancel()
        return results, samples

    wall0, cpu0 = time.perf_counter(), time.process_time()
    results, samples = asyncio.run(main())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    busiest = 0.0
    for i, (t_a, c_a) in enumerate(samples):
        for t_b, c_b in samples[i + 1 :]:
            if t_b - t_a >= 1.0:
                busiest = max(busiest, (c_b - c_a) / (t_b - t_a))
                break
    statuses: dict[str, int] = {}
    for r in results:
        key = r.get("status", "?") if isinstance(r, dict) else f"exception {type(r).__name__}: {r}"[:120]
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "wall": wall,
        "cpu": cpu,
        "busiest_1s": busiest,
        "rss_before_mb": rss_before,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "statuses": statuses,
    }


def create_jobs(emu: Any, n: int) -> list[Any]:
    import httpx

    c = emu.creds("ujet")
    headers = {"Authorization": "Basic " + base64.b64encode(f"{c['user']}:{c['token']}".encode()).decode()}
    url = f"{emu.url('ujet')}/apps/api/v1/outbound_dialer/campaigns/6/contacts/import"
    ids = []
    with httpx.Client(timeout=30) as client:
        for i in range(n):
            body = json.dumps([{"name": f"T{i}", "phone_number": f"+1202555{i:04d}"}]).encode()
            r = client.post(url, headers=headers, files={"file": ("contacts.json", body, "application/json")})
            r.raise_for_status()
            ids.append(r.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    return ids


def measure(n: int, poll: float, job_seconds: float) -> dict[str, Any]:
    import httpx
    from emu_process import BenchEmulator

    settings = ["--set", "ujet_rate_limit=0", "--set", f"ujet_job_seconds={job_seconds}"]
    emu = BenchEmulator(settings=settings)
    try:
        t0 = time.perf_counter()
        job_ids = create_jobs(emu, n)
        created_in = time.perf_counter() - t0
        conn = json.loads(emu.config["ujet"]["conn_uri"])
        env = {**os.environ, "AIRFLOW_CONN_UJET_DEFAULT": json.dumps(conn)}
        emu_cpu0 = sum(emu.ps.cpu_times()[:2])
        out = subprocess.run(
            [
                sys.executable,
                str(pathlib.Path(__file__).resolve()),
                "--worker",
                json.dumps(job_ids),
                str(poll),
                str(job_seconds * 4 + 60),
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=job_seconds * 4 + 180,
        )
        if out.returncode != 0:
            raise SystemExit(f"worker failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        result["emulator_cpu"] = sum(emu.ps.cpu_times()[:2]) - emu_cpu0
        rows = httpx.get(f"{emu.url('ujet')}/_emulator/requests", timeout=60).json()
        result["polls"] = sum(1 for r in rows if "/contacts/jobs/" in r["path"])
        result["poll_errors"] = sum(1 for r in rows if "/contacts/jobs/" in r["path"] and r.get("status", 0) >= 400)
        result.update(triggers=n, poll_interval=poll, job_seconds=job_seconds, jobs_created_in=created_in)
        return result
    finally:
        emu.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triggers", type=int, default=500)
    parser.add_argument("--poll-interval", type=float, default=2.0)
    parser.add_argument("--job-seconds", type=float, default=20.0)
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(worker(*args.worker)))
        return 0
    r = measure(args.triggers, args.poll_interval, args.job_seconds)
    print(
        f"{r['triggers']} ImportJobTriggers in one asyncio loop, poll every {r['poll_interval']:g} s, UJET jobs in "
        f"progress for {r['job_seconds']:g} s after creation (creating them took {r['jobs_created_in']:.1f} s)\n"
    )
    print(
        "| triggers | wall s | CPU s | CPU / wall (cores) | busiest 1 s (cores) | RSS before MB | peak RSS MB "
        "| polls answered | poll errors | events | emulator CPU s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    events = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
    print(
        f"| {r['triggers']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['cpu'] / r['wall']:.2f} | {r['busiest_1s']:.2f} "
        f"| {r['rss_before_mb']:.0f} | {r['rss_peak_mb']:.0f} | {r['polls']:,} | {r['poll_errors']} | {events} "
        f"| {r['emulator_cpu']:.1f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
