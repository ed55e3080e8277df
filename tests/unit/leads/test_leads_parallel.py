"""prepare_leads with worker processes gives exactly what it gives alone, and survives a dead worker."""

from __future__ import annotations

import csv
import os
import random
import signal
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import parallel, prepare_leads
from airflow_provider_dialer.leads.sources import CsvSource

from .test_leads_fast_paths import NOW, _DictRowsCsv, _messy_csv, outcome

MAPPING = {
    "phones": ["tel", "tel2"],
    "external_id": "id",
    "first_name": "nome",
    "country": "pais",
    "timezone": "fuso",
    "schedule": "agendar",
    "priority": "prio",
}
KW = dict(
    column_mapping=MAPPING,
    default_region="UY",
    default_timezone="America/Montevideo",
    chunk_rows=37,
    do_not_call=["+12125550100"],
)


@pytest.fixture(scope="module")
def messy(tmp_path_factory) -> Path:
    """Messy rows (mostly rejects) followed by plain ones in several zones, with repeats."""
    path = tmp_path_factory.mktemp("parallel") / "messy.csv"
    _messy_csv(path, n=800)
    rng = random.Random(11)
    with path.open("a", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        for i in range(1200):
            tel = rng.choice(
                [
                    f"+1 212 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                    f"+598 9{rng.randint(1000000, 1000400)}",
                    f"+91 98{rng.randint(10000000, 99999999)}",
                    f"+61 4{rng.randint(10000000, 99999999)}",
                ]
            )
            w.writerow(
                [
                    f"P{i}",
                    tel,
                    "",
                    "Ana",
                    "",
                    rng.choice(["", "Asia/Kolkata"]),
                    rng.choice(["", "2026-03-10 10:00:00"]),
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return path


@pytest.mark.parametrize("after", [0, 100])
def test_workers_give_the_same_leads_report_and_reject_file(tmp_path: Path, messy: Path, after: int) -> None:
    alone = outcome(CsvSource(messy), reject_report=str(tmp_path / "alone.csv"), **KW)
    spread = outcome(
        CsvSource(messy), reject_report=str(tmp_path / "spread.csv"), workers=2, parallel_after_rows=after, **KW
    )
    assert spread == alone
    counts = alone[1]["counts"]
    assert alone[1]["prepared"] > 1000 and counts["duplicate_phone"] > 0 and counts["invalid_phone"] > 0


def test_workers_on_dict_rows(tmp_path: Path, messy: Path) -> None:
    """The general path (rows as dicts, as from JSON Lines, SQL or an iterable) spreads the same way."""
    alone = outcome(_DictRowsCsv(messy), **KW)
    assert outcome(_DictRowsCsv(messy), workers=3, parallel_after_rows=0, **KW) == alone


def test_workers_never_start_below_the_threshold(monkeypatch, messy: Path) -> None:
    started, real_start = [], parallel.start_pool
    monkeypatch.setattr(parallel, "start_pool", lambda run: started.append(run) or real_start(run))
    result = prepare_leads(
        CsvSource(messy),
        workers=2,
        parallel_after_rows=10_000,
        now=NOW,
        **{k: v for k, v in KW.items() if k != "do_not_call"},
    )
    assert sum(1 for _ in result) > 1000
    assert started == []  # 2,000 rows: all prepared in this process


def test_a_dead_worker_loses_nothing(monkeypatch, tmp_path: Path, messy: Path, caplog) -> None:
    alone = outcome(CsvSource(messy), reject_report=str(tmp_path / "alone.csv"), **KW)
    real_start = parallel.start_pool

    def pool_that_dies(run) -> ProcessPoolExecutor:
        """A real pool whose workers are killed once started: the next chunk finds the pool broken."""
        pool = real_start(run)
        for pid in list(pool._processes):
            os.kill(pid, signal.SIGKILL)
        return pool

    monkeypatch.setattr(parallel, "start_pool", pool_that_dies)
    got = outcome(CsvSource(messy), reject_report=str(tmp_path / "died.csv"), workers=2, parallel_after_rows=100, **KW)
    assert got == alone
    assert any("preparation worker process failed" in r.getMessage() for r in caplog.records)


def test_a_pool_that_cannot_start_prepares_here(monkeypatch, messy: Path, caplog) -> None:
    alone = outcome(CsvSource(messy), **KW)

    def cannot(run) -> ProcessPoolExecutor:
        raise OSError("no more processes")

    monkeypatch.setattr(parallel, "start_pool", cannot)
    assert outcome(CsvSource(messy), workers=2, parallel_after_rows=0, **KW) == alone
    assert any("could not start 2 preparation workers" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_workers_must_be_a_positive_whole_number(bad) -> None:
    with pytest.raises(DialerConfigError, match="workers must be a whole number"):
        prepare_leads([], workers=bad, now=NOW)
