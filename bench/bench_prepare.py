"""Benchmark: prepare_leads throughput and peak memory from CSV, against the bare cost of phonenumbers.

Not part of the test suite. Run::

    python bench/bench_prepare.py                      # 100,000 and 1,000,000 leads
    python bench/bench_prepare.py --sizes 100000

For every size it writes a CSV of realistic leads (several countries, national and international
formats, ~8% repeated numbers, ~2% bad rows) into a temporary directory, then measures, each in a
fresh subprocess so peak RSS belongs to that run alone:

- ``bare``: a plain loop over the same CSV rows doing phonenumbers parse + is_valid_number +
  format E.164 on every phone of the row (primary and alternative: the floor any preparation pays);
- ``prepare``: ``prepare_leads`` over the same file, iterating every prepared lead;
- ``prepare, workers=N`` (``--workers``, default 2): the same with the per-row work on N worker
  processes (same result, checked); RSS is the task process's peak plus the workers' peak sum, and
  "task CPU" the task process's own CPU seconds (reading, hand-off, settling rows in order: the
  serial part that bounds it).
- ``prepare, fast`` (``--fast``, the default when rphonenumbers is installed): one core again,
  phones parsed by rphonenumbers (the ``fast`` extra, forced whatever its metadata release; same
  counts checked), and the bare loop again with rphonenumbers in place of phonenumbers.

``prepare`` and ``workers=N`` force phonenumbers (``DIALER_PHONE_BACKEND=phonenumbers``), so the
columns keep measuring the reference whether or not the extra is installed.

It prints a Markdown table: rows/s, preparation as a percentage of the bare loop, peak RSS.
Targets: preparation >= 60% of bare throughput (one core); peak RSS < 300 MB and within 15% across sizes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

# (weight, country column, national/international template, timezone column value or "")
_PROFILES = [
    (20, "US", "+1 212 {x3}-{d4}", ""),
    (10, "US", "(415) {x3}-{d4}", ""),  # national form, needs the country column
    (10, "UY", "+598 9{x1} {d3} {e3}", ""),
    (10, "BR", "+55 11 9{d4}-{e4}", "America/Sao_Paulo"),
    (10, "IN", "+91 98{d4}{e4}", ""),
    (8, "ES", "+34 6{d2} {d3} {e3}", "Europe/Madrid"),
    (8, "MX", "+52 55 {d4} {e4}", ""),
    (8, "AU", "+61 4{a2} {d3} {e3}", "Australia/Sydney"),
    (6, "CA", "+1 709 {x3} {d4}", ""),  # Newfoundland/Labrador: two zones
    (10, "AR", "+54 9 11 {x1}{d3}-{e4}", ""),
]
_FIRST = ["Ana", "João", "María", "Priya", "Liam", "Zoë", "Chloé", "Mateo", "Aarav", "Olivia"]
_LAST = ["Silva", "García", "Sharma", "Smith", "Müller", "Rossi", "Pérez", "O'Neil", "Nguyen", "Kaur"]
NOW = "2026-03-10T15:00:00+00:00"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def generate(path: str, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    weights = [p[0] for p in _PROFILES]
    recent: list[list[str]] = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "tel", "tel2", "nome", "sobrenome", "pais", "fuso", "agendar", "email", "segment"])
        for i in range(1, rows + 1):
            roll = rng.random()
            if roll < 0.005:
                w.writerow([f"L{i}", "not a phone", "", "X", "", "", "", "", "", ""])
                continue
            if roll < 0.01:
                w.writerow([f"L{i}", "+12125550100", "", "X", "", "", "Mars/Olympus", "", "", ""])
                continue
            if roll < 0.015:
                w.writerow([f"L{i}", "+12125550100", "", "X", "", "", "", "tomorrow-ish", "", ""])
                continue
            if roll < 0.02:
                w.writerow([f"L{i}", "+12125550100", "extra", "fields", "", "", "", "", "", "", "x", "y"])
                continue
            if recent and roll < 0.10:  # a repeated number from a recent row (household, re-import)
                phone, country = rng.choice(recent)
            else:
                _, country, tpl, _ = rng.choices(_PROFILES, weights)[0]
                phone = tpl.format(
                    d1=_digits(rng, 1),
                    d2=_digits(rng, 2),
                    d3=_digits(rng, 3),
                    d4=_digits(rng, 4),
                    e3=_digits(rng, 3),
                    e4=_digits(rng, 4),
                    x1=str(rng.randint(2, 8)),
                    x3=str(rng.randint(2, 9)) + _digits(rng, 2),
                    a2=rng.choice(["00", "01", "02", "03", "04", "10", "12", "20", "50"]),
                )
                if len(recent) < 5000:
                    recent.append([phone, country])
                else:
                    recent[rng.randrange(5000)] = [phone, country]
            profile = next(p for p in _PROFILES if p[1] == country)
            tz = profile[3] if rng.random() < 0.5 else ""
            sched = (
                f"2026-03-{rng.randint(11, 20):02d} {rng.randint(0, 23):02d}:{rng.choice(['00', '30'])}:00"
                if rng.random() < 0.2
                else ""
            )
            alt = (
                ""
                if rng.random() < 0.7
                else profile[2].format(
                    d1="9",
                    d2="12",
                    d3=_digits(rng, 3),
                    d4=_digits(rng, 4),
                    e3=_digits(rng, 3),
                    e4=_digits(rng, 4),
                    x1="5",
                    x3="5" + _digits(rng, 2),
                    a2="12",
                )
            )
            w.writerow(
                [
                    f"L{i}",
                    phone,
                    alt,
                    rng.choice(_FIRST),
                    rng.choice(_LAST),
                    country,
                    tz,
                    sched,
                    f"user{i}@example.com",
                    rng.choice(["gold", "silver", "new"]),
                ]
            )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class TreeRss:
    """Samples the RSS of this process's descendants (preparation workers live under a forkserver)."""

    def __init__(self, every: float = 0.2) -> None:
        import threading

        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(every):
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def worker_bare(path: str, library: str = "phonenumbers") -> dict[str, float]:
    import importlib

    phonenumbers = importlib.import_module(library)

    e164 = phonenumbers.PhoneNumberFormat.E164
    t0 = time.perf_counter()
    n = valid = 0
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            n += 1
            # every phone the preparation parses: the primary and, when present, the alternative
            for raw in (row[1], row[2]):
                if not raw:
                    continue
                try:
                    number = phonenumbers.parse(raw, row[5] or None)
                except phonenumbers.NumberParseException:
                    continue
                if phonenumbers.is_valid_number(number):
                    phonenumbers.format_number(number, e164)
                    valid += 1
    seconds = time.perf_counter() - t0
    return {"rows": n, "valid": valid, "seconds": seconds, "rss_mb": _peak_rss_mb()}


def worker_prepare(path: str, workers: int = 1) -> dict[str, float]:
    from datetime import datetime

    from airflow_provider_dialer.leads import ColumnMapping, prepare_leads
    from airflow_provider_dialer.leads.sources import CsvSource

    mapping = ColumnMapping(
        phones=["tel", "tel2"],
        external_id="id",
        first_name="nome",
        last_name="sobrenome",
        country="pais",
        timezone="fuso",
        schedule="agendar",
    )
    # With one process there are no descendants: scanning /proc for them would only steal the GIL.
    tree = TreeRss() if workers > 1 else None
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    result = prepare_leads(
        CsvSource(path),
        column_mapping=mapping,
        default_timezone="America/Montevideo",
        now=datetime.fromisoformat(NOW),
        reject_report=os.path.join(os.path.dirname(path), "rejects.csv"),
        workers=workers,
    )
    prepared = 0
    for chunk in result.chunks(1000):
        prepared += len(chunk)
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    report = result.report
    return {
        "rows": report.rows,
        "prepared": prepared,
        "rejected": report.rejected,
        "seconds": seconds,
        # this process's own CPU (all its threads, not the workers'): with workers, the serial part's cost
        "cpu_s": cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime,
        "rss_mb": _peak_rss_mb(),
        "workers_rss_mb": tree.stop() if tree else 0.0,
        "counts": dict(report.counts),
    }


def _run_worker(kind: str, path: str, backend: str = "phonenumbers") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, path],
        check=True,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        env={**os.environ, "DIALER_PHONE_BACKEND": backend},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=2, help="prepare_leads(workers=...) for the extra column")
    parser.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add one-core columns parsing with rphonenumbers (default: when it is installed)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fast is None:
        import importlib.util

        args.fast = importlib.util.find_spec("rphonenumbers") is not None
    if args.worker:
        kind, path = args.worker
        sys.path.insert(0, os.getcwd())
        workers = int(kind[len("prepare") :] or 1) if kind.startswith("prepare") else 0
        if kind.startswith("bare"):
            print(json.dumps(worker_bare(path, "rphonenumbers" if kind == "bare-fast" else "phonenumbers")))
        else:
            print(json.dumps(worker_prepare(path, workers)))
        return
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        for size in args.sizes:
            path = os.path.join(tmp, f"leads_{size}.csv")
            generate(path, size)
            bare = _run_worker("bare", path)
            prep = _run_worker("prepare", path)
            prep2 = _run_worker(f"prepare{args.workers}", path)
            fast = _run_worker("prepare", path, backend="rphonenumbers") if args.fast else None
            if fast is not None:
                fast["bare_fast"] = _run_worker("bare-fast", path)
            results.append((size, bare, prep, prep2, fast))
            print(f"# {size}: rejects by reason {prep['counts']}", file=sys.stderr)
    w = args.workers
    print(
        f"| leads | bare phonenumbers rows/s | prepare_leads rows/s | prepare / bare | prepared | rejected "
        f"| peak RSS bare (MB) | peak RSS prepare (MB) | workers={w} rows/s | workers={w} / bare "
        f"| workers={w} RSS: task + workers (MB) | workers={w} task CPU s |"
        + (" fast rows/s | fast / bare | fast / prepare | bare rphonenumbers rows/s |" if args.fast else "")
    )
    print(
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|---:|---:|---:|" if args.fast else "")
    )
    for size, bare, prep, prep2, fast in results:
        b = bare["rows"] / bare["seconds"]
        p = prep["rows"] / prep["seconds"]
        p2 = prep2["rows"] / prep2["seconds"]
        assert prep2["prepared"] == prep["prepared"] and prep2["counts"] == prep["counts"], "workers changed the result"
        print(
            f"| {size:,} | {b:,.0f} | {p:,.0f} | {p / b:.0%} | {prep['prepared']:,} | {prep['rejected']:,} "
            f"| {bare['rss_mb']:.0f} | {prep['rss_mb']:.0f} | {p2:,.0f} | {p2 / b:.0%} "
            f"| {prep2['rss_mb']:.0f} + {prep2['workers_rss_mb']:.0f} | {prep2['cpu_s']:.1f} |",
            end="",
        )
        if fast is not None:
            assert fast["prepared"] == prep["prepared"] and fast["counts"] == prep["counts"], (
                "rphonenumbers changed the result"
            )
            f = fast["rows"] / fast["seconds"]
            bf = fast["bare_fast"]
            assert bf["valid"] == bare["valid"], "rphonenumbers and phonenumbers disagree on the bare loop"
            print(f" {f:,.0f} | {f / b:.0%} | {f / p:.2f}x | {bf['rows'] / bf['seconds']:,.0f} |", end="")
        print()
    if len(results) > 1:
        rss = [r[2]["rss_mb"] for r in results]
        print(f"\npeak RSS spread across sizes: {(max(rss) - min(rss)) / min(rss):.1%} (target <= 15%)")
    print("\n" + targets(results))


def verdict(what: str, value: str, ok: bool) -> str:
    """One target's line: what it asks, what was measured, met or missed."""
    return f"- {what}: {value}, {'met' if ok else 'missed'}"


def targets(results: list[Any]) -> str:
    """The issue's targets at the largest size measured, each met or missed."""
    size, bare, prep, _, fast = results[-1]
    b = bare["rows"] / bare["seconds"]
    p = prep["rows"] / prep["seconds"]
    lines = [f"Targets at {size:,} leads (one core):"]
    lines.append(verdict("preparation >= 60% of the bare phonenumbers loop", f"{p / b:.0%}", p / b >= 0.6))
    if fast is not None:
        f = fast["rows"] / fast["seconds"]
        lines.append(verdict("with the `fast` extra >= 3x the bare phonenumbers loop", f"{f / b:.2f}x", f / b >= 3))
    peak = max(max(r[2]["rss_mb"], r[4]["rss_mb"] if r[4] else 0) for r in results)
    lines.append(verdict("peak RSS < 300 MB", f"{peak:.0f} MB", peak < 300))
    if len(results) > 1:
        rss = [r[2]["rss_mb"] for r in results]
        spread = (max(rss) - min(rss)) / min(rss)
        lines.append(verdict("peak RSS within 15% across sizes", f"{spread:.1%}", spread <= 0.15))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
