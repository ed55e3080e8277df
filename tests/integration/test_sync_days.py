"""Daily launches over the emulator with the sync ledger: three days in a row per vendor, the dialer's state read
through the emulator's admin API after each day (no lead twice, nothing sent on an unchanged day), a lead the vendor
refused that lands the next day, and a lead whose fate was unknown resolved by reading before anything is resent."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

import pytest

from airflow_provider_dialer.exceptions import DialerConfigError, UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.pipeline.ledger import SyncLedger

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York, inside the default 08:00-21:00 window
DAY1 = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)

VENDORS = {
    "xcally": ("xcally_default", {"mode": "batch"}),
    "ujet": ("ujet_default", {"campaign_id": 6}),
    "voipex": ("voipex_default", {}),
    "ucontact": ("ucontact_default", {"hub": "sales"}),
}


class TI:
    """The task instance fields the sync uses to name the writer: one run per day."""

    dag_id = "daily_launch"
    task_id = "upload"
    map_index = -1

    def __init__(self, day: int) -> None:
        self.run_id = f"scheduled__day{day}"


def people(ids, renamed=()) -> list[dict]:
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}{'-new-name' if i in renamed else ''}",
            "external_id": f"EXT-{i}",
            "timezone": "America/New_York",
        }
        for i in ids
    ]


@pytest.fixture
def emu(fresh_dialer_emulator):
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.0, ucontact_list_load_seconds=0.0)
    return fresh_dialer_emulator


@pytest.fixture
def ledger_conn(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_DIALER_LEDGER", f"sqlite://{tmp_path}/ledger.db")
    return "dialer_ledger"


def stored(emu, vendor: str) -> Counter:
    """Every phone the vendor stored, over all its write endpoints, with how many times."""
    counts: Counter = Counter()
    emu.state(vendor)  # settles what loads in the background (uContact lists, UJET import jobs)
    for entry in emu.leads(vendor, keys=True).values():
        for key, n in entry.get("counts", {}).items():
            counts["".join(ch for ch in key if ch.isdigit())] += n
    return counts


def run_day(monkeypatch, tmp_path, vendor, day, source, ledger_conn, **kwargs):
    conn_id, settings = VENDORS[vendor]
    monkeypatch.setattr(base_module, "utcnow", lambda: DAY1 + dt.timedelta(days=day - 1))
    op = UploadListOperator(
        task_id="upload",
        conn_id=conn_id,
        list_name="daily",
        settings=dict(settings),
        source=source,
        progress=str(tmp_path / f"progress-{vendor}-{day}.json"),
        chunk_size=4,
        sync_mode="insert",
        ledger_conn_id=ledger_conn,
        outcome_log=str(tmp_path / f"outcomes-{vendor}-{day}.csv"),
        **kwargs,
    )
    return op.execute({"ti": TI(day)})


def outcomes(tmp_path, vendor, day) -> Counter:
    with open(tmp_path / f"outcomes-{vendor}-{day}.csv", newline="", encoding="utf-8") as f:
        return Counter(row["outcome"] for row in csv.DictReader(f))


@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_three_days_send_only_the_difference(emu, tmp_path, monkeypatch, ledger_conn, vendor):
    # day 1: ten leads, all new
    day1 = run_day(monkeypatch, tmp_path, vendor, 1, people(range(10)), ledger_conn)
    assert day1["accepted"] == 10 and day1["sync"]["to_add"] == 10
    held = stored(emu, vendor)
    assert len(held) == 10 and set(held.values()) == {1}
    assert outcomes(tmp_path, vendor, 1) == {"added": 10}

    # day 2: the same ten (two renamed) and three new ones: only the three new ones are sent
    day2 = run_day(monkeypatch, tmp_path, vendor, 2, people(range(13), renamed={2, 5}), ledger_conn)
    assert day2["accepted"] == 3
    assert (day2["sync"]["to_add"], day2["sync"]["unchanged"], day2["sync"]["held_by_target"]) == (3, 8, 2)
    held = stored(emu, vendor)
    assert len(held) == 13 and set(held.values()) == {1}, f"a lead was stored twice: {held}"
    assert outcomes(tmp_path, vendor, 2) == {"added": 3, "unchanged": 8, "skipped": 2}

    # day 3: nothing changed: nothing is sent at all
    before = len(emu.requests(vendor))
    day3 = run_day(monkeypatch, tmp_path, vendor, 3, people(range(13), renamed={2, 5}), ledger_conn)
    assert day3["accepted"] == 0 and day3["chunks"] == 0
    assert stored(emu, vendor) == held
    writes = [r for r in emu.requests(vendor)[before:] if r["method"] in ("POST", "PUT", "PATCH", "DELETE")]
    assert writes == [] or vendor in ("ucontact", "voipex"), writes  # only logins may write on an unchanged day
    assert all(
        "login" in r["path"].lower() or "token" in r["path"].lower() or "auth" in r["path"].lower() for r in writes
    ), writes


def test_a_refused_lead_lands_the_next_day(emu, tmp_path, monkeypatch, ledger_conn):
    """UJET refuses a phone the campaign already holds; once that contact is gone, the next run sends it again."""
    monkeypatch.setattr(base_module, "utcnow", lambda: DAY1)
    outsider = PushFreshLeadsOperator(
        task_id="other",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=people([3]),
        progress=str(tmp_path / "other.json"),
    )
    outsider.execute({"ti": TI(0)})

    def push(day):
        monkeypatch.setattr(base_module, "utcnow", lambda: DAY1 + dt.timedelta(days=day - 1))
        op = PushFreshLeadsOperator(
            task_id="fresh",
            conn_id="ujet_default",
            settings={"campaign_id": 6},
            source=people(range(5)),
            progress=str(tmp_path / f"fresh-{day}.json"),
            sync_mode="insert",
            ledger_conn_id=ledger_conn,
            max_reject_ratio=1.0,
        )
        return op.execute({"ti": TI(day)})

    day1 = push(1)
    assert day1["accepted"] == 4 and sum(day1["refused_by_vendor"].values()) == 1
    with SyncLedger(ledger_conn) as ledger:
        row = ledger.lookup("ujet_default", "campaign_id=6", [("external_id", "EXT-3")])[("external_id", "EXT-3")]
    assert row.outcome == "refused" and row.attempts == 1
    RemoveLeadsOperator(task_id="rm", conn_id="ujet_default", campaign_id=6, phones=["+12125550003"]).execute({})
    day2 = push(2)
    assert day2["sync"]["retried"] == 1 and day2["sync"]["unchanged"] == 4 and day2["accepted"] == 1
    campaign = (
        [c for c in emu.state("ujet")["campaigns"] if str(c["id"]) == "6"][0]
        if isinstance(emu.state("ujet").get("campaigns"), list)
        else None
    )
    held = stored(emu, "ujet")
    assert held["12125550003"] == 2  # once by the outsider (then removed), once by day 2
    assert all(held[f"1212555{i:04d}"] == 1 for i in (0, 1, 2, 4))
    del campaign


def test_an_unknown_fate_is_read_back_before_anything_is_resent(emu, tmp_path, monkeypatch, ledger_conn):
    """Day 1 loses the answer of a bulk add and cannot read the list either; day 2 reads the list first and finds
    the leads there: they are recorded as added, not sent again."""
    emu.set_faults(
        "xcally",
        [
            {"kind": "drop_after", "method": "POST", "path": r"/cm/lists/\d+/contacts$", "times": 1},
            {
                "kind": "status",
                "status": 400,
                "method": "GET",
                "path": r"/cm/contacts$",
                "after": 1,
            },  # after the baseline count
        ],
    )
    day1 = run_day(monkeypatch, tmp_path, "xcally", 1, people(range(4)), ledger_conn, max_reject_ratio=1.0)
    assert day1["unknown"] == 4 and day1["accepted"] == 0
    assert stored(emu, "xcally") == Counter({f"1212555{i:04d}": 1 for i in range(4)})  # it did land
    emu.set_faults("xcally", [])
    day2 = run_day(monkeypatch, tmp_path, "xcally", 2, people(range(6)), ledger_conn)
    assert day2["sync"]["retried"] == 4 and day2["sync"]["to_add"] == 2
    held = stored(emu, "xcally")
    assert len(held) == 6 and set(held.values()) == {1}, held
    assert day2["accepted"] == 6 and day2["unknown"] == 0
    assert outcomes(tmp_path, "xcally", 2) == {"added": 6}


def test_modes_that_need_vendor_verbs_fail_before_any_request(emu, tmp_path, ledger_conn):
    for mode in ("upsert", "mirror"):
        op = UploadListOperator(
            task_id="u",
            conn_id="xcally_default",
            list_name="x",
            source=people(range(2)),
            progress=str(tmp_path / "p.json"),
            sync_mode=mode,
            ledger_conn_id=ledger_conn,
        )
        with pytest.raises(UnsupportedCapabilityError, match=f"sync_mode='{mode}'.*insert"):
            op.execute({"ti": TI(1)})
    assert emu.requests("xcally") == []
    with pytest.raises(DialerConfigError, match="ledger_conn_id"):
        UploadListOperator(task_id="u", conn_id="xcally_default", list_name="x", source=[], sync_mode="insert")


def test_a_dry_run_reports_the_planned_difference_and_sends_nothing(emu, tmp_path, monkeypatch, ledger_conn):
    day1 = run_day(monkeypatch, tmp_path, "xcally", 1, people(range(5)), ledger_conn)
    before = len(emu.requests("xcally"))
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="daily",
        source=people(range(8)),
        dry_run=True,
        sync_mode="insert",
        ledger_conn_id=ledger_conn,
        sync_target=f"list_id={day1['ids']['list_id']}",
    )
    summary = op.execute({"ti": TI(2)})
    assert summary["dry_run"] and summary["would_send"] == 3
    assert (summary["sync"]["to_add"], summary["sync"]["unchanged"]) == (3, 5)
    assert emu.requests("xcally")[before:] == []
    with pytest.raises(DialerConfigError, match="sync_target"):
        UploadListOperator(
            task_id="upload",
            conn_id="xcally_default",
            list_name="daily",
            source=people(range(8)),
            dry_run=True,
            sync_mode="insert",
            ledger_conn_id=ledger_conn,
        ).execute({"ti": TI(2)})
