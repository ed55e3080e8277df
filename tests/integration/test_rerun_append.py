"""Re-runs in ``append`` mode over overlapping leads, against the emulator over real HTTP.

Runs the same upload three times over seeded random subsets of one pool of people (so each run
overlaps the earlier ones by a different share) and checks, through the emulator's admin API:

- XCALLY CSV imports: the list wait expects exactly the contacts the list ends up holding (Motion's
  duplicate check skips the phones it holds, so "baseline + sent" would never come), and the wait
  completes;
- UJET imports: leads whose phone the campaign holds are not imported (the vendor would fail the
  whole job with ``DuplicateContactPhoneOnCampaign``); every job completes, every phone is held once,
  and each skipped lead is in the reject report as ``held`` with its reason.

The expected overlap is computed from the generated sets, not from the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re

import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.triggers.wait import ImportJobTrigger, ListLoadedTrigger

from .conftest import first_event

pytestmark = pytest.mark.integration
UTC = dt.UTC
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York
POOL = 40


def person(i: int) -> dict:
    return {
        "phones": [f"+1212555{i:04d}"],
        "first_name": f"Lead{i}",
        "external_id": f"EXT-{i}",
        "timezone": "America/New_York",
    }


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def state(emu, vendor: str) -> dict:
    dump = emu.state(vendor)
    return dump.get(vendor, dump)


def runs(seed: int) -> list[list[int]]:
    """Three runs over one pool of people: each a random subset, shuffled (so the overlap lands in any chunk)."""
    rng = random.Random(seed)
    out = []
    for _ in range(3):
        chosen = rng.sample(range(POOL), rng.randint(1, POOL))
        out.append(chosen)
    return out


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.0)
    return fresh_dialer_emulator


def upload(tmp_path, conn_id: str, settings: dict, run: int, ids: list[int]) -> dict:
    op = UploadListOperator(
        task_id="upload",
        conn_id=conn_id,
        list_name="rerun",
        settings=dict(settings),
        source=[person(i) for i in ids],
        progress=str(tmp_path / f"progress-{conn_id}-{run}.json"),
        chunk_size=7,
        reject_report=str(tmp_path / f"rejects-{conn_id}-{run}.csv"),
    )
    return op.execute({})


def report_rows(tmp_path, conn_id: str, run: int) -> list[dict]:
    with open(tmp_path / f"rejects-{conn_id}-{run}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("seed", [3, 11, 2026])
def test_xcally_csv_rerun_waits_only_for_contacts_that_come(emu, tmp_path, seed):
    held: set[int] = set()
    for run, ids in enumerate(runs(seed), start=1):
        overlap = len(set(ids) & held)
        summary = upload(tmp_path, "xcally_default", {"mode": "csv"}, run, ids)
        list_id = summary["ids"]["list_id"]
        assert summary["accepted"] == len(ids) and summary["already_held"] == overlap
        (target,) = summary["wait"]["targets"]
        held |= set(ids)
        # what the list holds once every import ran, read through the admin API
        contacts = [c for c in state(emu, "xcally")["contacts"] if c["ListId"] == list_id]
        phones = [digits(c["phone"]) for c in contacts]
        assert len(phones) == len(set(phones)) == len(held), "a phone stored twice, or one missing"
        assert set(phones) == {f"1212555{i:04d}" for i in held}
        assert target["expected"] == len(held), (target, len(held))
        event = first_event(ListLoadedTrigger("xcally_default", [target], poll_interval=0.05, timeout=30))
        assert event.payload["status"] == "success", event.payload
        held_rows = [r for r in report_rows(tmp_path, "xcally_default", run) if r["level"] == "held"]
        assert len(held_rows) == overlap and {r["reason"] for r in held_rows} <= {"already_in_target"}


@pytest.mark.parametrize("seed", [5, 17, 2026])
def test_ujet_rerun_skips_leads_the_campaign_holds_and_never_fails_the_import(emu, tmp_path, seed):
    held: set[int] = set()
    for run, ids in enumerate(runs(seed), start=1):
        overlap = set(ids) & held
        summary = upload(tmp_path, "ujet_default", {"campaign_id": 6}, run, ids)
        assert summary["accepted"] == len(ids) and summary["already_held"] == len(overlap)
        job_ids = (summary["wait"] or {}).get("job_ids") or []
        if job_ids:
            event = first_event(ImportJobTrigger("ujet_default", 6, job_ids, poll_interval=0.05, timeout=30))
            assert event.payload["status"] == "success", event.payload
        else:
            assert not set(ids) - held  # nothing new: no import was sent at all
        held |= set(ids)
        campaign = state(emu, "ujet")["campaigns"]["6"]
        phones = [digits(c["phone_number"]) for c in campaign["contacts"]]
        assert len(phones) == len(set(phones)), "a phone held twice"
        assert {p for p in phones if p.startswith("1212555")} == {f"1212555{i:04d}" for i in held}
        failed = [j for j in state(emu, "ujet")["jobs"].values() if j.get("status") == "failed"]
        assert failed == [], failed
        rows = report_rows(tmp_path, "ujet_default", run)
        held_rows = [r for r in rows if r["level"] == "held"]
        assert len(held_rows) == len(overlap) and {r["reason"] for r in held_rows} <= {"already_in_target"}
        assert all("+1212555" not in r["detail"] for r in held_rows)  # no full phone in the report text
