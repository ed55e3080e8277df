"""Where the operator's time goes, end to end: cProfile over ``UploadListOperator.execute`` against the emulator.

The emulator runs in its own process (``emu_process.BenchEmulator``); the operator runs here with
``prepare_workers=1`` so the whole pipeline (reading the CSV, phones, zones, windows, de-dup, waves,
mapping to the wire, encoding, HTTP, progress) is in the one profiled process. Own time is summed by
where the code lives, and the heaviest functions are listed.

    python bench/profile_upload.py --size 100000 --vendor xcally [--pstats out.prof]

cProfile slows pure-Python code more than C code, so shares are indicative: the buckets tell which
stage to look at, not its exact cost.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pathlib
import pstats
import sys
import tempfile
import time
from typing import Any

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

#: (bucket, substrings of "file:function") in order: the first match wins
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    (
        "phonenumbers / rphonenumbers (parse, validate, format, zones)",
        ("phonenumbers", "phone_backend", "leads/phones.py"),
    ),
    (
        "CSV reading and decoding",
        (
            "leads/sources.py",
            "_csv",
            "codecs",
            "{method 'readline'",
            "{method 'decode'",
            "{built-in method _io",
            "'read' of",
        ),
    ),
    (
        "per-row preparation (fields, schedule, zone, window, lead build)",
        (
            "leads/prepare.py",
            "leads/window.py",
            "leads/schedule.py",
            "leads/zones.py",
            "leads/columns.py",
            "zoneinfo",
            "datetime",
        ),
    ),
    ("de-duplication and do-not-call keys", ("leads/suppression.py", "sqlite3")),
    ("reject report", ("leads/report.py",)),
    ("waves, chunks, send-time window check (operator)", ("operators/base.py", "operators/lists.py")),
    (
        "mapping leads to the wire and JSON encoding",
        ("/wire.py", "json/encoder", "json/__init__", "{method 'encode'", "_json"),
    ),
    (
        "hook: requests, retries, rate limit",
        ("hooks/base.py", "hooks/xcally", "hooks/ujet", "hooks/voipex", "hooks/ucontact"),
    ),
    ("HTTP client (httpx, httpcore, ssl, sockets)", ("httpx", "httpcore", "h11", "ssl", "socket", "select", "anyio")),
    ("delivery and progress store", ("delivery.py",)),
    (IDLE := "idle: sender threads waiting for a chunk", ("concurrent/futures/thread.py", "threading", "queue")),
    ("pydantic", ("pydantic",)),
]


def _attributed_to_caller(key: tuple[str, int, str]) -> bool:
    return key[0] == "~" or "/re/" in key[0] or key[0].endswith(("/re.py", "/enum.py", "/functools.py", "/pathlib.py"))


def _stages_of(stats: pstats.Stats, key: tuple[str, int, str], depth: int) -> dict[str, float]:
    """The stages a function's time belongs to, as shares: its own, or (a helper) its callers'."""
    if not _attributed_to_caller(key):
        return {bucket_of(key): 1.0}
    entry = stats.stats.get(key)  # type: ignore[attr-defined]
    callers = entry[4] if entry else {}
    weight = sum(c[2] for c in callers.values())
    if depth > 6 or not weight:
        return {"other": 1.0}
    shares: dict[str, float] = {}
    for caller, counts in callers.items():
        for name, share in _stages_of(stats, caller, depth + 1).items():
            shares[name] = shares.get(name, 0.0) + share * counts[2] / weight
    return shares


def bucket_of(key: tuple[str, int, str]) -> str:
    filename, _, function = key
    text = f"{filename}:{function}"
    for name, needles in BUCKETS:
        if any(n in text for n in needles):
            return name
    return "other"


class _ThreadProfiles:
    """cProfile sees only the thread that enabled it: each thread started while this is installed runs
    under a profiler of its own, and ``stats`` merges them with the main thread's."""

    def __init__(self) -> None:
        import threading

        self.profiles: list[cProfile.Profile] = []
        self._real_run = threading.Thread.run
        profiles, real_run = self.profiles, self._real_run

        def run(thread: Any) -> None:
            profile = cProfile.Profile()
            profiles.append(profile)
            profile.enable()
            try:
                real_run(thread)
            finally:
                profile.disable()

        threading.Thread.run = run  # type: ignore[method-assign]

    def stop(self) -> None:
        import threading

        threading.Thread.run = self._real_run  # type: ignore[method-assign]


def run(size: int, vendor: str, pstats_out: str | None) -> str:
    from bench_prepare import generate
    from bench_upload import MAPPING, SETTINGS, WINDOW, _conn_env
    from emu_process import BenchEmulator

    with tempfile.TemporaryDirectory(prefix="profile-upload-") as work:
        csv_path = os.path.join(work, "leads.csv")
        generate(csv_path, size)
        emu = BenchEmulator()
        try:
            os.environ.update(_conn_env(emu, vendor))
            from airflow_provider_dialer.operators.lists import UploadListOperator

            op = UploadListOperator(
                task_id="profile",
                conn_id=f"{vendor}_default",
                source=csv_path,
                column_mapping=MAPPING,
                default_timezone="America/Montevideo",
                calling_window=WINDOW,
                max_reject_ratio=1.0,
                list_name=f"profile {vendor}",
                settings=dict(SETTINGS[vendor]),
                concurrency=4,
                progress=os.path.join(work, "progress.json"),
                prepare_workers=1,
            )
            __import__(f"airflow_provider_dialer.hooks.{vendor}")
            profiler = cProfile.Profile()
            threads = _ThreadProfiles()
            t0 = time.perf_counter()
            profiler.enable()
            summary = op.execute({})
            profiler.disable()
            wall = time.perf_counter() - t0
            threads.stop()
        finally:
            emu.stop()
    stats = pstats.Stats(profiler)
    for profile in threads.profiles:
        try:
            stats.add(profile)
        except TypeError:  # a thread that never ran a profiled call
            pass
    if pstats_out:
        stats.dump_stats(pstats_out)
    return report(
        stats,
        f"cProfile of `UploadListOperator.execute` ({vendor}, `prepare_workers=1`), {size:,} CSV rows, "
        f"{summary['accepted']:,} leads sent: {wall:.1f} s under the profiler",
    )


def report(stats: pstats.Stats, title: str) -> str:
    """Own time by stage (the ``BUCKETS``) and the heaviest functions of a profile."""
    totals: dict[str, float] = {}
    rows = []
    for key, (_, _, own, cumulative, callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((own, cumulative, key))
        if not _attributed_to_caller(key):
            totals[bucket_of(key)] = totals.get(bucket_of(key), 0.0) + own
            continue
        # a builtin or a stdlib helper (re.compile, pathlib, str methods) counts where it was called from,
        # following helpers called by helpers up to the first caller that has a stage
        for caller, (_, _, caller_own, _) in callers.items():
            for name, share in _stages_of(stats, caller, 0).items():
                totals[name] = totals.get(name, 0.0) + caller_own * share
    idle = totals.pop(IDLE, 0.0)
    profiled = sum(totals.values())
    out = [
        (
            f"{title}; {profiled:.1f} s of own time in every thread (builtins and `re` count where they are called "
            f"from; the sender threads' {idle:.1f} s idle, waiting for a chunk, are left out; waiting on the emulator "
            "counts in the HTTP client)."
        ),
        "",
        "| where | own time s | share |",
        "|---|---:|---:|",
    ]
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        out.append(f"| {name} | {seconds:.2f} | {seconds / profiled:.0%} |")
    out += ["", "Heaviest functions by own time:", "", "| function | own s | cumulative s |", "|---|---:|---:|"]
    for own, cumulative, (filename, line, function) in sorted(rows, reverse=True)[:15]:
        where = filename.split("site-packages/")[-1].split("o-parts/")[-1]
        out.append(f"| `{where}:{line} {function}` | {own:.2f} | {cumulative:.2f} |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--vendor", default="xcally", choices=("xcally", "ujet", "voipex", "ucontact"))
    parser.add_argument("--pstats", help="also dump the raw profile here (snakeviz, pstats)")
    parser.add_argument("--report", metavar="PSTATS", help="only tabulate a profile dumped earlier with --pstats")
    args = parser.parse_args()
    if args.report:
        print(report(pstats.Stats(args.report), f"Profile {args.report}"))
        return 0
    print(run(args.size, args.vendor, args.pstats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
