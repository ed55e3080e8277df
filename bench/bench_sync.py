"""The sync ledger is not the bottleneck: a daily run whose source is unchanged since the last run, against prepare alone.

    python bench/bench_sync.py --sizes 100000 1000000

For each size, in fresh processes on the same generated CSV (bench_prepare's generator):

- ``prepare``: ``prepare_leads`` alone, every lead consumed in chunks of 1,000 (the baseline);
- ``seed`` (not timed in the table): a first run's ledger, every prepared lead recorded ``added`` in
  chunks of 1,000 through ``SyncRun.on_outcome``, as delivery does;
- ``unchanged``: the next day's run over the same source in ``--mode`` (``upsert`` by default; ``insert``
  and ``mirror`` too): ``prepare_leads`` and the sync plan (one ledger read per 500 leads); every lead is
  found unchanged, so nothing would be sent, updated or (``mirror``, which also keeps the run's keys and
  reads the whole ledger to find the keys that left) removed.

Both on SQLite (a file) and on PostgreSQL (a cluster this benchmark starts, installed with apt-get when
missing). Target: unchanged / prepare < 2 at 1,000,000 leads; peak RSS < 300 MB and flat across sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NOW = "2026-06-10T15:00:00+00:00"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _prepared(path: str):
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
    return prepare_leads(
        CsvSource(path), column_mapping=mapping, default_timezone="America/Montevideo", now=datetime.fromisoformat(NOW)
    )


def _sync(uri: str, writer: str, mode: str = "insert"):
    import datetime as dt

    from airflow_provider_dialer.pipeline.sync import SyncRun

    os.environ["AIRFLOW_CONN_BENCH_LEDGER"] = uri
    return SyncRun(
        dialer_conn_id="bench",
        target="list_id=1",
        mode=mode,
        writer=writer,
        prepared_at=dt.datetime.now(dt.UTC),
        ledger_conn_id="bench_ledger",
    )


def worker(kind: str, path: str, uri: str, mode: str = "upsert") -> dict[str, float]:
    from airflow_provider_dialer.capabilities import ChunkOutcome

    t0 = time.perf_counter()
    sent = seen = 0
    if kind == "prepare":
        for chunk in _prepared(path).chunks(1000):
            seen += len(chunk)
    elif kind == "seed":
        sync = _sync(uri, "day1")
        batch: list = []
        for lead in _prepared(path):
            batch.append(lead)
            if len(batch) == 1000:
                sync.on_outcome("k", batch, ChunkOutcome(accepted=len(batch)))
                seen, batch = seen + len(batch), []
        if batch:
            sync.on_outcome("k", batch, ChunkOutcome(accepted=len(batch)))
            seen += len(batch)
        sync.close()
    else:
        sync = _sync(uri, "day2", mode)
        prepared = _prepared(path)
        for _lead in sync.leads(prepared):
            sent += 1
        seen = prepared.report.prepared
        # what upsert and mirror would change after the adds: nothing on an unchanged day
        sent += len(sync.plan.updates) + len(sync.removals())
        sync.close()
    return {"seconds": time.perf_counter() - t0, "leads": seen, "sent": sent, "rss_mb": _rss_mb()}


def _run(kind: str, path: str, uri: str, mode: str = "upsert") -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, path, uri, mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--mode", choices=["insert", "upsert", "mirror"], default="upsert")
    parser.add_argument("--worker", nargs=4, metavar=("KIND", "PATH", "URI", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, ROOT)
        print(json.dumps(worker(*args.worker)))
        return
    sys.path.insert(0, HERE)
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    from bench_prepare import generate
    from local_postgres import local_postgres

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        for size in args.sizes:
            path = os.path.join(tmp, f"leads_{size}.csv")
            generate(path, size)
            base = _run("prepare", path, "-")
            for backend in args.backends:
                if backend == "sqlite":
                    uri = f"sqlite://{tmp}/ledger_{size}.db"
                    seed, unchanged = _run("seed", path, uri), _run("unchanged", path, uri, args.mode)
                else:
                    with local_postgres() as uri:
                        seed, unchanged = _run("seed", path, uri), _run("unchanged", path, uri, args.mode)
                assert unchanged["sent"] == 0, f"an unchanged source sent {unchanged['sent']} lead(s)"
                assert seed["leads"] == unchanged["leads"] == base["leads"]
                rows.append((size, backend, base, seed, unchanged))
    print(
        f"| leads | ledger | prepare alone (s) | first run's ledger writes + prepare (s) | unchanged {args.mode} run (s) "
        "| unchanged / prepare | sent | peak RSS prepare / unchanged (MB) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size, backend, base, seed, unchanged in rows:
        print(
            f"| {size:,} | {backend} | {base['seconds']:.1f} | {seed['seconds']:.1f} | {unchanged['seconds']:.1f} "
            f"| {unchanged['seconds'] / base['seconds']:.2f}x | {unchanged['sent']} "
            f"| {base['rss_mb']:.0f} / {unchanged['rss_mb']:.0f} |"
        )


if __name__ == "__main__":
    main()
