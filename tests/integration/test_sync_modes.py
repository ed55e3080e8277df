"""``upsert`` and ``mirror`` over the emulator, day after day, with the ledger on SQLite and on PostgreSQL.

A seeded generator evolves a source from day to day (new people, renamed people, people with a new
phone, people who leave); after each day the campaign is read through the emulator's admin API and
compared with what the source says it should hold, computed from the generator alone:

- every key of the source is held exactly once, with its current name and phone (no lead twice);
- ``mirror``: nothing else of the source's keys is held (no removed lead left); ``upsert``: a key
  that left the source keeps its last content;
- the outcome log counts adds, updates and removals as the generator made them;
- a day with no change sends nothing (no write request at all).

A second scenario walks a refused update that succeeds the next day and an unknown fate that the
next day resolves by reading.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import uuid
from collections import Counter

import pytest

from airflow_provider_dialer.exceptions import UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.pipeline.ledger import SyncLedger

pytestmark = pytest.mark.integration
UTC = dt.UTC
DAY1 = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York
CAMPAIGN = 6
WRITES = ("POST", "PUT", "PATCH", "DELETE")


class TI:
    dag_id = "daily_launch"
    task_id = "upload"
    map_index = -1

    def __init__(self, day: int) -> None:
        self.run_id = f"scheduled__day{day}"


class Source:
    """A source table that changes from day to day, seeded. ``people``: external id -> (phone, name)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.next_phone = 0
        self.next_id = 0
        self.people: dict[str, tuple[str, str]] = {}
        self.changes: Counter = Counter()

    def _phone(self) -> str:
        self.next_phone += 1  # never reused: a phone left behind by a removal is not handed out again
        return f"+1415555{self.next_phone:04d}"

    def add(self, n: int) -> None:
        for _ in range(n):
            self.next_id += 1
            self.people[f"SRC-{self.next_id}"] = (self._phone(), f"Person {self.next_id}")

    def evolve(self, day: int) -> None:
        """Rename some, give some a new phone, drop some, add some: each a random share."""
        self.changes = Counter()
        keys = sorted(self.people)
        self.rng.shuffle(keys)
        k = len(keys)
        renamed, rephoned, removed = (self.rng.randint(0, k // 4) for _ in range(3))
        for key in keys[:renamed]:
            phone, name = self.people[key]
            self.people[key] = (phone, f"{name} d{day}")
        for key in keys[renamed : renamed + rephoned]:
            self.people[key] = (self._phone(), self.people[key][1])
        for key in keys[renamed + rephoned : renamed + rephoned + removed]:
            del self.people[key]
        added = self.rng.randint(0, 6)
        self.add(added)
        self.changes.update(updated=renamed + rephoned, removed=removed, added=added)

    def rows(self) -> list[dict]:
        return [
            {"phones": [phone], "first_name": name, "external_id": key, "timezone": "America/New_York"}
            for key, (phone, name) in self.people.items()
        ]


@pytest.fixture
def emu(fresh_dialer_emulator):
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.0)
    return fresh_dialer_emulator


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request, tmp_path, monkeypatch):
    conn_id = f"ledger_{request.param}_{uuid.uuid4().hex[:8]}"
    uri = f"sqlite://{tmp_path}/ledger.db" if request.param == "sqlite" else request.getfixturevalue("postgres_uri")
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", uri)
    return conn_id, f"ledger_{uuid.uuid4().hex[:10]}"


def run_day(monkeypatch, tmp_path, ledger, mode: str, day: int, rows: list[dict], **kwargs) -> dict:
    monkeypatch.setattr(base_module, "utcnow", lambda: DAY1 + dt.timedelta(days=day - 1))
    conn_id, table = ledger
    op = UploadListOperator(
        task_id="upload",
        conn_id="ujet_default",
        list_name="daily",
        settings={"campaign_id": CAMPAIGN},
        source=rows,
        progress=str(tmp_path / f"progress-{day}.json"),
        chunk_size=5,
        sync_mode=mode,
        ledger_conn_id=conn_id,
        ledger_table=table,
        outcome_log=str(tmp_path / f"outcomes-{day}.csv"),
        **kwargs,
    )
    return op.execute({"ti": TI(day)})


def outcomes(tmp_path, day: int) -> Counter:
    with open(tmp_path / f"outcomes-{day}.csv", newline="", encoding="utf-8") as f:
        return Counter(row["outcome"] for row in csv.DictReader(f))


def held(emu) -> dict[str, tuple[str, str]]:
    """The campaign's contacts of the source (external id ``SRC-``/``L-``), read through the admin API;
    asserts that no external id and no phone is held twice."""
    dump = emu.state("ujet")
    contacts = dump.get("ujet", dump)["campaigns"][str(CAMPAIGN)]["contacts"]
    phones = Counter(c["phone_number"] for c in contacts)
    assert max(phones.values(), default=1) == 1, f"a phone held twice: {phones.most_common(3)}"
    ours = [c for c in contacts if str(c.get("external_unique_id") or "").startswith(("SRC-", "L-"))]
    ids = Counter(c["external_unique_id"] for c in ours)
    assert max(ids.values(), default=1) == 1, f"a lead held twice: {ids.most_common(3)}"
    return {c["external_unique_id"]: (c["phone_number"], c["name"]) for c in ours}


def writes_since(emu, before: int) -> list[dict]:
    return [r for r in emu.requests("ujet")[before:] if r["method"] in WRITES]


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_days_of_source_changes_leave_the_campaign_as_the_source_says(emu, tmp_path, monkeypatch, ledger, mode, seed):
    source = Source(seed)
    source.add(12)
    expected: dict[str, tuple[str, str]] = {}
    for day in (1, 2, 3):
        if day > 1:
            source.evolve(day)
        summary = run_day(monkeypatch, tmp_path, ledger, mode, day, source.rows())
        if mode == "upsert":
            expected.update(source.people)  # a key that left keeps its last content
        else:
            expected = dict(source.people)
        names = {key: (phone, name) for key, (phone, name) in held(emu).items()}
        assert names == expected, f"day {day}"
        log = outcomes(tmp_path, day)
        if day == 1:
            assert log == {"added": 12}
        else:
            assert log["added"] == source.changes["added"] == summary["accepted"]
            assert log["updated"] == source.changes["updated"] == summary["sync"]["to_update"]
            assert log["removed"] == (source.changes["removed"] if mode == "mirror" else 0)
            assert log["refused"] == log["unknown"] == 0

    # day 4: nothing changed: nothing is written to the dialer at all
    before = len(emu.requests("ujet"))
    summary = run_day(monkeypatch, tmp_path, ledger, mode, 4, source.rows())
    assert writes_since(emu, before) == []
    assert summary["accepted"] == 0 and summary["sync"]["to_update"] == 0
    assert summary["sync"].get("to_remove", 0) == 0
    assert outcomes(tmp_path, 4) == {"unchanged": len(source.people)}
    assert held(emu) == expected


@pytest.mark.parametrize("seed", [3, 11])
def test_a_retried_mirror_task_reports_what_its_first_attempt_did(emu, tmp_path, monkeypatch, ledger, seed):
    """The same day's task run again after it finished (Airflow lost its success and retried it, as
    seen in a deployment): the retry sends no write again, and its summary and outcome log still
    count every add, update and removal of that day, as the first attempt's did."""
    source = Source(seed)
    source.add(12)
    run_day(monkeypatch, tmp_path, ledger, "mirror", 1, source.rows())
    source.evolve(2)
    while not source.changes["removed"]:  # the case under test needs a removal
        source.evolve(2)
    first = run_day(monkeypatch, tmp_path, ledger, "mirror", 2, source.rows())
    first_log = outcomes(tmp_path, 2)
    assert first_log["removed"] == source.changes["removed"] == first["sync"]["recorded"]["removed"]
    before = len(emu.requests("ujet"))
    again = run_day(monkeypatch, tmp_path, ledger, "mirror", 2, source.rows())  # same run, same progress file
    assert [r for r in writes_since(emu, before) if r["method"] == "DELETE"] == []
    assert again["sync"]["recorded"] == first["sync"]["recorded"]
    assert again["sync"]["to_remove"] == first["sync"]["to_remove"] == source.changes["removed"]
    assert outcomes(tmp_path, 2) == first_log
    assert held(emu) == dict(source.people)


def lead(key: str, phone: str, name: str) -> dict:
    return {"phones": [phone], "first_name": name, "external_id": key, "timezone": "America/New_York"}


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_a_refused_update_succeeds_the_next_day_and_an_unknown_fate_is_resolved(
    emu, tmp_path, monkeypatch, ledger, mode
):
    from airflow_provider_dialer.hooks.ujet import UjetHook

    base = [lead(f"L-{i}", f"+1415556{i:04d}", f"Lead {i}") for i in range(6)]
    run_day(monkeypatch, tmp_path, ledger, mode, 1, base)
    assert len(held(emu)) == 6
    outsider = "+14155569999"
    UjetHook("ujet_default").add_contact(CAMPAIGN, {"name": "Outsider", "phone_number": outsider})

    # day 2: a new lead whose import answer is lost and whose campaign cannot be read back: unknown
    emu.set_faults(
        "ujet",
        [
            {"kind": "drop_after", "method": "POST", "path": r"/contacts/import$", "times": 1},
            {"kind": "status", "status": 400, "method": "GET", "path": r"/contacts$", "after": 1},
        ],
    )
    day2 = run_day(
        monkeypatch, tmp_path, ledger, mode, 2, base + [lead("L-new", "+14155560100", "New")], max_reject_ratio=1.0
    )
    emu.set_faults("ujet", [])
    assert day2["unknown"] == 1 and outcomes(tmp_path, 2)["unknown"] == 1
    assert "L-new" in held(emu)  # it did land

    # day 3: the new lead is read back (not sent again); lead 0 moves to the outsider's phone: refused;
    # lead 5 left the source
    day3_rows = [lead("L-0", outsider, "Lead 0")] + base[1:5] + [lead("L-new", "+14155560100", "New")]
    before = len(emu.requests("ujet", "/contacts/import"))
    day3 = run_day(monkeypatch, tmp_path, ledger, mode, 3, day3_rows, max_reject_ratio=1.0)
    assert day3["sync"]["retried"] == 1 and day3["unknown"] == 0  # the unknown lead, read back
    assert len(emu.requests("ujet", "/contacts/import")) == before  # nothing imported again
    log = outcomes(tmp_path, 3)
    assert log["added"] == 1 and log["refused"] == 1 and log["removed"] == (1 if mode == "mirror" else 0)
    state = held(emu)
    assert state["L-0"][0] == "+14155560000"  # the refused update left it as it was
    assert ("L-5" in state) is (mode == "upsert")
    with SyncLedger(ledger[0], ledger[1]) as book:
        row = book.lookup("ujet_default", f"campaign_id={CAMPAIGN}", [("external_id", "L-0")])[("external_id", "L-0")]
    assert row.outcome == "refused" and row.attempts == 1

    # day 4: the outsider is gone: the update is tried again and succeeds (an update, not a second contact)
    RemoveLeadsOperator(task_id="rm", conn_id="ujet_default", campaign_id=CAMPAIGN, phones=[outsider]).execute({})
    day4 = run_day(monkeypatch, tmp_path, ledger, mode, 4, day3_rows)
    assert day4["sync"]["to_update"] == 1 and day4["accepted"] == 0
    assert outcomes(tmp_path, 4) == {"updated": 1, "unchanged": 5}
    state = held(emu)
    assert state["L-0"] == (outsider, "Lead 0")
    expected = {"L-0", "L-1", "L-2", "L-3", "L-4", "L-new"} | ({"L-5"} if mode == "upsert" else set())
    assert set(state) == expected


@pytest.mark.parametrize("conn_id", ["xcally_default", "voipex_default", "ucontact_default"])
@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_modes_a_vendor_cannot_do_faithfully_fail_before_any_request(emu, tmp_path, ledger, conn_id, mode):
    settings = {"hub": "sales"} if conn_id == "ucontact_default" else {}
    op = UploadListOperator(
        task_id="u",
        conn_id=conn_id,
        list_name="x",
        settings=settings,
        source=[lead("L-1", "+14155560001", "A")],
        progress=str(tmp_path / "p.json"),
        sync_mode=mode,
        ledger_conn_id=ledger[0],
        ledger_table=ledger[1],
    )
    with pytest.raises(UnsupportedCapabilityError, match=f"sync_mode='{mode}'.*insert") as raised:
        op.execute({"ti": TI(1)})
    assert raised.value.vendor.lower().startswith(conn_id.split("_")[0][:5])
    assert [r for r in emu.requests(conn_id.split("_")[0]) if "token" not in r["path"]] == []


def test_mirror_dry_run_plans_the_difference_and_an_empty_source_removes_nothing(emu, tmp_path, monkeypatch, ledger):
    from airflow_provider_dialer.exceptions import DialerConfigError

    base = [lead(f"L-{i}", f"+1415556{i:04d}", f"Lead {i}") for i in range(5)]
    run_day(monkeypatch, tmp_path, ledger, "mirror", 1, base)
    before = len(emu.requests("ujet"))
    today = [lead("L-0", "+14155560000", "Renamed")] + base[1:3] + [lead("L-9", "+14155560009", "New")]
    op = UploadListOperator(
        task_id="upload",
        conn_id="ujet_default",
        list_name="daily",
        source=today,
        dry_run=True,
        sync_mode="mirror",
        ledger_conn_id=ledger[0],
        ledger_table=ledger[1],
        sync_target=f"campaign_id={CAMPAIGN}",
    )
    plan = op.execute({"ti": TI(2)})["sync"]
    assert (plan["to_add"], plan["to_update"], plan["unchanged"], plan["to_remove"]) == (1, 1, 2, 2)
    assert emu.requests("ujet")[before:] == []

    # a source that comes back empty (a broken extract) would wipe the campaign: refused, nothing removed
    with pytest.raises(DialerConfigError, match="source gave no lead"):
        run_day(monkeypatch, tmp_path, ledger, "mirror", 2, [])
    assert set(held(emu)) == {f"L-{i}" for i in range(5)}
    assert [r for r in emu.requests("ujet")[before:] if r["method"] == "DELETE"] == []


INSERT_VENDORS = {
    "xcally": ("xcally_default", {"mode": "batch"}),
    "ujet": ("ujet_default", {"campaign_id": CAMPAIGN}),
    "voipex": ("voipex_default", {}),
    "ucontact": ("ucontact_default", {"hub": "sales"}),
}


def stored_phones(emu, vendor: str) -> Counter:
    """Every phone (digits) the vendor stored, over all its write endpoints, with how many times."""
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0.0, ucontact_list_load_seconds=0.0)
    emu.state(vendor)  # settles what loads in the background
    counts: Counter = Counter()
    for entry in emu.leads(vendor, keys=True).values():
        for key, n in entry.get("counts", {}).items():
            counts["".join(ch for ch in key if ch.isdigit())] += n
    return counts


@pytest.mark.parametrize("vendor", sorted(INSERT_VENDORS))
@pytest.mark.parametrize("seed", [3, 99])
def test_insert_days_of_source_changes_store_each_key_once_per_vendor(emu, tmp_path, monkeypatch, ledger, vendor, seed):
    """``insert`` on every vendor: a key is sent the first day it appears and never again (a renamed
    or re-phoned key stays as first sent; a key that left stays too); an unchanged day writes nothing."""
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0.0, ucontact_list_load_seconds=0.0)
    conn_id, settings = INSERT_VENDORS[vendor]
    source = Source(seed)
    source.add(10)
    first_phone: dict[str, str] = {}
    first_content: dict[str, tuple[str, str]] = {}

    def run(day: int) -> dict:
        monkeypatch.setattr(base_module, "utcnow", lambda: DAY1 + dt.timedelta(days=day - 1))
        op = UploadListOperator(
            task_id="upload",
            conn_id=conn_id,
            list_name="daily",
            settings=dict(settings),
            source=source.rows(),
            progress=str(tmp_path / f"progress-{day}.json"),
            chunk_size=4,
            sync_mode="insert",
            ledger_conn_id=ledger[0],
            ledger_table=ledger[1],
            outcome_log=str(tmp_path / f"outcomes-{day}.csv"),
        )
        return op.execute({"ti": TI(day)})

    for day in (1, 2, 3):
        if day > 1:
            source.evolve(day)
        new = [key for key in source.people if key not in first_phone]
        summary = run(day)
        for key in new:
            first_phone[key] = source.people[key][0]
            first_content[key] = source.people[key]
        differs = sum(1 for key, content in source.people.items() if first_content[key] != content)
        assert summary["accepted"] == len(new)
        expected = Counter("".join(ch for ch in p if ch.isdigit()) for p in first_phone.values())
        assert stored_phones(emu, vendor) == expected, f"day {day}"
        log = outcomes(tmp_path, day)
        assert log["added"] == len(new) and log["skipped"] == differs  # held by the target with other content
        assert log["unchanged"] == len(source.people) - len(new) - differs

    before = len(emu.requests(vendor))
    summary = run(4)
    assert summary["accepted"] == 0 and summary["chunks"] == 0
    writes = [r for r in emu.requests(vendor)[before:] if r["method"] in WRITES]
    assert all(any(w in r["path"].lower() for w in ("login", "token", "auth")) for r in writes), writes
