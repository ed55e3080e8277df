"""Runs every benchmark and writes their tables to docs/performance.md, with the machine they ran on.

    python bench/run_all.py                  # full sizes (several minutes)
    python bench/run_all.py --quick          # 100,000 leads / contacts, for a smoke run

Not part of the test suite: speed and memory targets live here, not in timed unit tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import pathlib
import platform
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "performance.md"


def run(args: list[str]) -> str:
    result = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    try:
        mem = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")) / 2**20
        mem_text = f"{mem:.0f} GiB RAM"
    except (OSError, StopIteration):
        mem_text = "RAM unknown"
    return f"{cpu}, {os.cpu_count()} cores, {mem_text}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = ["100000"] if args.quick else ["100000", "1000000"]
    contacts = "100000" if args.quick else "1000000"
    prepare = run(["bench/bench_prepare.py", "--sizes", *sizes])
    emulator = run(["bench/bench_emulator.py", "--contacts", contacts])
    upload = run(["bench/bench_upload.py", "--sizes", *sizes])
    latency = run(["bench/bench_latency.py", *(["--runs", "10"] if args.quick else [])])
    sync = run(["bench/bench_sync.py", "--sizes", *sizes])
    triggerer = run(["bench/bench_triggerer.py", *(["--triggers", "100", "--job-seconds", "6"] if args.quick else [])])
    quota = run(["bench/bench_quota.py", *(["--leads", "20"] if args.quick else [])])
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Performance

Measured {when} on {machine()}, with `python bench/run_all.py{" --quick" if args.quick else ""}`
(`make bench`). Each benchmark runs its workloads in fresh processes; peak RSS is that process's own.
Numbers from a shared 2-core machine move by several percent between runs.

## Lead preparation

`bench/bench_prepare.py`: `prepare_leads` over a CSV of realistic leads (several regions, repeated
numbers, bad rows), next to the bare cost of `phonenumbers` (parse, `is_valid_number`, E.164 format)
on the same rows in a plain loop. Targets: preparation at least 60% of the bare loop's throughput on
one core (and, with the `fast` extra, at least 3x it); peak RSS under 300 MB and within 15% between
100,000 and 1,000,000 leads. Then the same preparation with `workers=2` (the per-row work on two
worker processes, same result), and, when rphonenumbers is installed, preparation on one core
with it forced ("fast") and the bare loop on rphonenumbers.

{prepare}

## Emulator ingest

`bench/bench_emulator.py`: one bulk upload per vendor bulk endpoint, over real HTTP to the emulator
started as a separate process; the clock stops when the emulator reports every contact stored.
Target: at least 50,000 contacts/s at 1,000,000 contacts, and 1,000,000 stored contacts in well
under 2 GB.

{emulator}

## List upload, end to end

`bench/bench_upload.py`: `UploadListOperator.execute` from the same generated CSV to the emulator
(its own process, one fresh per workload, `bench/emu_process.py`), per list-capable vendor, each workload in a fresh process. Beside it: the
send stage alone (leads prepared before the clock), the transport ceiling (the hook's wire bodies,
built before the clock, posted with raw httpx at the same concurrency and chunk size), preparation
alone, the naive way (stock `HttpHook`, one request per lead, timed on a sample and
extrapolated), and, on XCALLY and UJET, the honest peer: `bench/handwritten_upload.py`, what a
competent engineer writes by hand (csv.DictReader, phonenumbers parse + is_valid + E.164, a set for
de-duplication, one bulk request per 1,000 contacts with httpx on 4 threads; no zones, windows,
schedules, reject report or exactly-once), on the same CSV and a fresh emulator in the same run.
Client-side rate limits are off. End to end runs with `prepare_workers=2`, once per phone library
(column "phones"; rphonenumbers forced when the `fast` extra is installed); the task
process's peak RSS and its two workers' are reported apart. Targets: end to end at 1,000,000 leads at
least 2x the hand-written script's speed and at least 60x the naive way; send stage at least 80% of
the transport ceiling; peak RSS under 300 MB and within 15% between 100,000 and 1,000,000 leads.

{upload}

## Sync ledger: an unchanged daily run

`bench/bench_sync.py`: a daily `upsert` run whose source is unchanged since the last run (so every
lead is found in the ledger unchanged and nothing is sent or updated): `prepare_leads` and the sync
plan (one ledger read per 500 leads), against `prepare_leads` alone, on SQLite and on PostgreSQL (a cluster the benchmark
starts). The first run's ledger writes (one statement per 1,000 leads) are timed beside it. Targets:
unchanged run under 2x preparation alone at 1,000,000 leads; peak RSS under 300 MB and flat.

{sync}

## Fresh-lead latency and import cost

`bench/bench_latency.py`: `PushFreshLeadsOperator.execute` for a 100-lead event batch; the
provider's import cost at DAG parse over a bare `import airflow.sdk` (target < 100 ms).

{latency}

## Triggerer load

`bench/bench_triggerer.py`: concurrent `ImportJobTrigger`s in one asyncio loop in one process, the
way the triggerer runs them, against UJET import jobs that stay in progress. Target: under one core.

{triggerer}

## One vendor quota across tasks

`bench/bench_quota.py`: three `PushFreshLeadsOperator` tasks start at once on one UJET connection,
each adding its own leads one request at a time, against the emulator's 10 requests/s per customer;
the emulator's own request log counts the 429s. The three processes stand for what a pool with 3
slots lets run at once (see [Operators](operators.md#one-vendor-quota-across-tasks-a-pool-per-connection)).
Target: no 429 when each task takes its share of the rate.

{quota}
"""
    # the hand-written reading of the numbers (profiles, misses) is kept across runs; its date says when it was written
    old = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
    marker = "\n## Reading the numbers"
    if marker in old:
        text = text.rstrip("\n") + "\n" + old[old.index(marker) :]
    OUT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
