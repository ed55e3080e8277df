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
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = f"""# Performance

Measured {when} on {machine()}, with `python bench/run_all.py{' --quick' if args.quick else ''}`
(`make bench`). Each benchmark runs its workloads in fresh processes; peak RSS is that process's own.
Numbers from a shared 2-core machine move by several percent between runs.

## Lead preparation

`bench/bench_prepare.py`: `prepare_leads` over a CSV of realistic leads (several regions, repeated
numbers, bad rows), next to the bare cost of `phonenumbers` (parse, `is_valid_number`, E.164 format)
on the same rows in a plain loop. Targets: preparation at least 60% of the bare loop's throughput on
one core; peak RSS under 300 MB and within 15% between 100,000 and 1,000,000 leads.

{prepare}

## Emulator ingest

`bench/bench_emulator.py`: one bulk upload per vendor bulk endpoint, over real HTTP to the emulator
started as a separate process; the clock stops when the emulator reports every contact stored.
Target: at least 50,000 contacts/s at 1,000,000 contacts, and 1,000,000 stored contacts in well
under 2 GB.

{emulator}

## Not measured yet

The end-to-end `UploadListOperator` runs at 100,000 and 1,000,000 leads against the naive
one-request-per-lead way and the transport ceiling, fresh-lead latency, the import cost at DAG
parse (the test suite checks that operators import neither phonenumbers nor the hooks) and the
triggerer load test are open work.
"""
    OUT.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
