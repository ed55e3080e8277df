"""Example DAGs run end to end with dag.test() against the emulator: deferred sensors, held-back uploads, the demo.

Most runs have no logical date, as `airflow dags trigger` and a REST trigger with ``logical_date: null``
make them (no ``data_interval_*``, ``ds`` or ``logical_date`` in templates); the demo runs both ways.

The clock the operators read is frozen at a preparation instant T0 until a task defers for leads held
back for their calling window; it then jumps to a minute past the instant they are released, as a
triggerer would resume the task, so they become due on resume without the test waiting for real
hours (the DateTimeTrigger's moment is already past in real time, so it fires at once). The clock
must follow the release instant: the operators check each lead's window again as it is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.pipeline import waves as waves_module

pytestmark = [pytest.mark.integration, pytest.mark.dagtest]
UTC = dt.UTC
T0 = dt.datetime(2026, 6, 10, 14, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def clock(monkeypatch):
    calls: dict = {"n": 0, "now": T0}

    def fake_now() -> dt.datetime:
        calls["n"] += 1
        return calls["now"]

    real_defer = base_module.LeadsOperator._defer_until

    def defer_until(self, wave: str, held: int) -> None:
        calls["now"] = max(calls["now"], waves_module.parse_wave(wave) + dt.timedelta(minutes=1))
        real_defer(self, wave, held)

    monkeypatch.setattr(base_module, "utcnow", fake_now)
    monkeypatch.setattr(base_module.LeadsOperator, "_defer_until", defer_until)
    return calls


@pytest.fixture
def emu(fresh_dialer_emulator, airflow_db, clock):
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.2, ucontact_list_load_seconds=0.3)
    return fresh_dialer_emulator


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    folder = os.environ["AIRFLOW__CORE__DAGS_FOLDER"]
    bag = DagBag(dag_folder=folder)
    dag = bag.dags[dag_id]
    for task in dag.tasks:  # a failure must fail the test now, not wait out retry delays
        task.retries = 0
    return dag


def states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def xcoms(run, task_id: str) -> dict[str, object]:
    """The XComs a task of the run left, by key (``_link_<class>`` holds an extra link's URL)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id, XComModel.run_id == run.run_id, XComModel.task_id == task_id
            )
        )
        return {row.key: row.value for row in rows}


def with_link_templates(emu, monkeypatch, vendor: str, **templates: str) -> str:
    """Add link templates to the vendor's default connection; returns the links' {origin}."""
    conn = emu.connection(vendor)
    conn["extra"] = {**conn["extra"], **templates}
    monkeypatch.setenv(f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT", json.dumps(conn))
    return emu.base_url(vendor)


def test_ujet_launch_import_then_deferred_sensor(emu, monkeypatch):
    origin = with_link_templates(
        emu,
        monkeypatch,
        "ujet",
        campaign_link_template="{origin}/campaigns/{campaign_id}",
        list_link_template="{origin}/campaigns/{campaign_id}/imports/{job_id}",
    )
    run = load_dag("dialer_ujet_launch").test(logical_date=None)
    assert str(run.state) == "success", states(run)
    # the links Airflow stored: the upload's from its run, the sensor's from before its deferral, read back on resume
    upload = xcoms(run, "import_contacts")
    first_job = upload["return_value"]["ids"]["job_ids"][0]
    for task_id in ("import_contacts", "wait_import"):
        links = xcoms(run, task_id)
        assert links["_link_DialerCampaignLink"] == f"{origin}/campaigns/7", task_id
        assert links["_link_DialerListLink"] == f"{origin}/campaigns/7/imports/{first_job}", task_id
    counts = emu.leads("ujet", keys=True)["ujet.import"]["counts"]
    # 12 sample rows: bad phone, unknown zone, duplicate external id, duplicate phone are rejected
    assert len(counts) == 8 and set(counts.values()) == {1}
    jobs = emu.state("ujet")["ujet"]["jobs"]
    assert jobs and all(job["status"] == "completed" for job in (jobs.values() if isinstance(jobs, dict) else jobs))


def test_ucontact_hub_launch_waits_for_the_list_then_pushes_fresh_leads(emu, capfd, clock):
    run = load_dag("dialer_ucontact_hub_launch").test(logical_date=None)
    assert str(run.state) == "success", states(run)
    # the default connection sets no link templates: no task asks for a link XCom that cannot exist
    # (Airflow logs each missing XCom at error level, once per dialer task and link)
    logged = capfd.readouterr()
    assert "XCom not found" not in logged.out + logged.err
    assert xcoms(run, "upload_list").get("_link_DialerListLink", "") == ""
    leads = emu.leads("ucontact", keys=True)
    listed = leads["automation.lists"]["scopes"]["hub renewals"]
    assert listed["distinct"] == 8 and listed["duplicates"] == {}
    fresh = leads["automation.freshLeads"]["counts"]
    assert len(fresh) == 3 and set(fresh.values()) == {1}
    # no lead is queued twice in the hub: none of the fresh leads is in the hub's list
    assert set(fresh).isdisjoint(leads["automation.lists"]["counts"])
    # every fresh lead is dialed inside Mon-Sat 08:00-21:00 of its own zone, computed here with zoneinfo: a
    # scheduleDate (local wall time in the lead's zone) inside the window and not before the send, or, with
    # none, the clock of the send (the fake clock's last instant: the push is the DAG's last task) inside it
    sent_at = clock["now"]
    pushed = emu.state("ucontact")["ucontact_automation"]["fresh_leads"]["renewals"]
    assert len(pushed) == 3
    for lead in pushed:
        zone = ZoneInfo(lead["timezone"])
        if "scheduleDate" in lead:
            local = dt.datetime.strptime(lead["scheduleDate"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
            assert local >= sent_at.astimezone(zone).replace(second=0, microsecond=0), lead
        else:
            local = sent_at.astimezone(zone)
        assert local.weekday() != 6 and dt.time(8) <= local.time() < dt.time(21), (lead, local)


def test_rest_triggered_push_with_leads_in_conf(emu):
    conf = {
        "campaign": "POWER<-",
        "leads": [
            {
                "phones": ["+59894123456", "+59899111222"],
                "first_name": "Carmen",
                "external_id": "C-7",
                "data": {"idcustomer": "7"},
                "timezone": "America/Montevideo",
            },
            {"phones": ["+12125550147"], "first_name": "Noah", "timezone": "America/New_York"},
        ],
    }
    run = load_dag("dialer_rest_triggered_push").test(logical_date=None, run_conf=conf)
    assert str(run.state) == "success", states(run)
    tasks = emu.state("ucontact")["ucontact_integra"]["tasks"]
    assert [t["campaign"] for t in tasks] == ["POWER<-", "POWER<-"]
    carmen = tasks[0]
    assert carmen["destination"] == "59894123456" and carmen["alternatives"] == "59899111222"
    assert "idcustomer=7" in carmen["data"]
    assert set(carmen) >= {
        "calldate",
        "campaign",
        "destination",
        "alternatives",
        "agent",
        "data",
        "source",
        "bulk",
        "automatic",
    }


def test_event_asset_push_replayed_by_hand(emu):
    conf = {
        "leads": [
            {"phones": ["+5511912345678"], "first_name": "Ana"},
            {"phones": ["+81312345678"], "first_name": "Yui", "timezone": "Asia/Tokyo"},
        ]
    }
    run = load_dag("dialer_event_asset_push").test(logical_date=None, run_conf=conf)
    assert str(run.state) == "success", states(run)
    fresh = emu.leads("ucontact", keys=True)["automation.freshLeads"]["counts"]
    assert set(fresh) == {"+5511912345678", "+81312345678"}


def test_voipex_launch_call_lists_campaign_start(emu, monkeypatch):
    with_link_templates(
        emu,
        monkeypatch,
        "voipex",
        campaign_link_template="https://portal.example/campaigns/{campaign_id}",
        list_link_template="https://portal.example/call-lists/{list_id}?name={list_name}",
    )
    run = load_dag("dialer_voipex_launch").test(logical_date=None)
    assert str(run.state) == "success", states(run)
    voipex = emu.state("voipex")["voipex"]
    campaigns = voipex["campaigns"]
    campaigns = list(campaigns.values()) if isinstance(campaigns, dict) else campaigns
    assert len(campaigns) == 1 and campaigns[0]["state"] == "running"
    campaign_id = campaigns[0]["id"]
    for task_id in ("campaign", "start"):
        assert xcoms(run, task_id)["_link_DialerCampaignLink"] == f"https://portal.example/campaigns/{campaign_id}"
    upload = xcoms(run, "upload")
    first_call_list = upload["return_value"]["ids"]["call_list_ids"][0]
    (first,) = [c for c in voipex["call_lists"] if c["id"] == first_call_list]
    assert re.fullmatch(r"calls \d{4}-\d{2}-\d{2}", first["name"])  # the first call list keeps the DAG's list_name
    list_name = first["name"].replace(" ", "%20")
    assert upload["_link_DialerListLink"] == f"https://portal.example/call-lists/{first_call_list}?name={list_name}"
    assert upload["_link_DialerCampaignLink"] == ""  # a Voipex call list belongs to no campaign yet
    numbers = emu.leads("voipex", keys=True)["voipex.call-lists"]["counts"]
    assert len(numbers) == 8 and set(numbers.values()) == {1}


def test_large_list_mapped_over_parts(emu, tmp_path):
    """Prepared once (whole-file de-dup, one reject report), sent as parts by mapped tasks: totals exact, no lead
    in two parts, what landed read through the emulator's admin API and computed apart from the operators."""
    from zoneinfo import ZoneInfo

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = load_dag("dialer_large_list_mapped").test(logical_date=None, run_conf={"parts_root": str(tmp_path)})
    assert str(run.state) == "success", states(run)
    entries = xcoms(run, "prepare")["return_value"]
    summary = xcoms(run, "prepare")["summary"]
    # 12 sample rows: bad phone, unknown zone, duplicate external id, duplicate phone rejected once, for the whole file
    assert summary["read"] == 12 and summary["prepared"] == 8 and summary["rejected"] == 4
    assert summary["rejected_by_reason"] == {
        "duplicate_external_id": 1,
        "duplicate_phone": 1,
        "invalid_phone": 1,
        "unknown_timezone": 1,
    }
    report = [line for line in (tmp_path / "dialer_large_list_mapped").glob("*/rejects.csv")]
    assert len(report) == 1 and len(report[0].read_text(encoding="utf-8").splitlines()) == 1 + 4
    parts = [[json.loads(line) for line in open(e["path"], encoding="utf-8").read().splitlines()[1:]] for e in entries]
    assert [len(p) for p in parts] == [5, 3]
    phones = [lead["phone"] for part in parts for lead in part]
    assert len(phones) == len(set(phones)) == 8  # no lead in two parts
    uploads = sorted((ti for ti in run.get_task_instances() if ti.task_id == "upload"), key=lambda ti: ti.map_index)
    assert [ti.map_index for ti in uploads] == [0, 1] and all(str(ti.state) == "success" for ti in uploads)
    with create_session() as session:
        sent = {
            row.map_index: row.value
            for row in session.scalars(
                select(XComModel).where(
                    XComModel.dag_id == run.dag_id,
                    XComModel.run_id == run.run_id,
                    XComModel.task_id == "upload",
                    XComModel.key == "return_value",
                )
            )
        }
    # the window at T0 (08:00-21:00 local), computed with zoneinfo: hold_back="reject" rejects the others when sent
    callable_now = {
        lead["phone"]
        for part in parts
        for lead in part
        if all(8 <= T0.astimezone(ZoneInfo(z)).hour < 21 for z in (lead["window_zones"] or [lead["timezone"]]))
    }
    for index, part in enumerate(parts):
        assert sent[index]["read"] == len(part)
        assert sent[index]["accepted"] == sum(1 for lead in part if lead["phone"] in callable_now)
        assert sent[index]["rejected"] == len(part) - sent[index]["accepted"]
    counts = emu.leads("ujet", keys=True)["ujet.import"]["counts"]
    assert set(counts.values()) == {1}
    assert {"+" + re.sub(r"\D", "", k) for k in counts} == callable_now and 0 < len(callable_now) < 8


@pytest.fixture
def leads_db(tmp_path, monkeypatch):
    """The day's leads in a SQLite table, as scripts/demo.py builds it for `make demo`."""
    import csv
    import pathlib
    import sqlite3

    sample = pathlib.Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "data" / "leads_sample.csv"
    rows = list(csv.DictReader(sample.open(encoding="utf-8")))
    columns = list(rows[0])
    path = tmp_path / "leads.db"
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE leads ({', '.join(columns)}, due_date TEXT)")
        db.executemany(
            f"INSERT INTO leads VALUES ({', '.join('?' * (len(columns) + 1))})",
            [[r[c] or None for c in columns] + ["2026-06-10"] for r in rows],
        )
        db.execute(
            "INSERT INTO leads (id_cliente, nome, tel, due_date) VALUES ('C-X', 'X', '+5511900000000', '2026-06-09')"
        )
    monkeypatch.setenv("AIRFLOW_CONN_DIALER_LEADS_DB", f"sqlite://{path}")
    return path


@pytest.mark.parametrize("logical_date", [T0, None], ids=["scheduled", "no-logical-date"])
def test_demo_launch_all_vendors(emu, leads_db, logical_date):
    # `airflow dags trigger` and REST (logical_date: null) make a run with no logical date and no
    # data interval; the DAG then picks the day of the run's run_after
    run = load_dag("dialer_launch_demo").test(logical_date=logical_date, run_after=T0)
    assert str(run.state) == "success", states(run)
    xcally = emu.leads("xcally", keys=True)["xcally.csv"]["counts"]
    assert len(xcally) == 8 and set(xcally.values()) == {1}
    assert "5511900000000" not in str(xcally)  # another day's lead stays out (data interval)
    campaigns = emu.state("xcally")["xcally"]["campaigns"]
    campaigns = list(campaigns.values()) if isinstance(campaigns, dict) else campaigns
    assert len(campaigns) == 1 and campaigns[0]["dialActive"] is True
    ujet = emu.leads("ujet", keys=True)["ujet.import"]["counts"]
    assert set(ujet.values()) == {1}
    fresh = emu.leads("ucontact", keys=True)["automation.freshLeads"]["counts"]
    assert len(fresh) == 8 and set(fresh.values()) == {1}


@pytest.mark.parametrize("logical_date", [T0, None], ids=["scheduled", "no-logical-date"])
def test_multi_timezone_schedules_each_lead_in_its_window(emu, logical_date):
    from zoneinfo import ZoneInfo

    run = load_dag("dialer_multi_timezone").test(logical_date=logical_date, run_after=T0)
    assert str(run.state) == "success", states(run)
    contacts = emu.state("xcally")["xcally"]["contacts"]
    contacts = list(contacts.values()) if isinstance(contacts, dict) else contacts
    assert len(contacts) == 6
    assert sum(1 for c in contacts if c.get("scheduledat")) == 1  # Lord Howe: 00:00 local at T0
    zones = {
        "91": "Asia/Kolkata",
        "1709": "America/St_Johns",
        "61": "Australia/Lord_Howe",
        "1212": "America/New_York",
        "55": "America/Sao_Paulo",
    }
    for contact in contacts:
        when = contact.get("scheduledat")
        if not when:
            continue  # callable at T0: sent without a time
        zone = next(
            z
            for prefix, z in sorted(zones.items(), key=lambda kv: -len(kv[0]))
            if contact["phone"].lstrip("+").startswith(prefix)
        )
        local = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
        assert dt.time(8) <= local.time() < dt.time(21) and local.weekday() != 6, (contact["phone"], local)


def test_daily_sync_day_two_sends_only_the_difference(emu, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("AIRFLOW_CONN_DIALER_SYNC_LEDGER", f"sqlite://{tmp_path}/ledger.db")
    dag = load_dag("dialer_daily_sync")
    run = dag.test(logical_date=None, run_conf={"outcome_dir": str(tmp_path)})
    assert str(run.state) == "success", states(run)
    report = json.loads(capfd.readouterr().out.split("DIALER-SYNC-REPORT ", 1)[1].splitlines()[0])
    assert report["day_1"]["sent"] == {"added": 8, "updated": 0, "removed": 0}
    # day 2: two new, two changed (a last name, a phone), two gone, four unchanged and not sent
    assert report["day_2"]["sent"] == {"added": 2, "updated": 2, "removed": 2} and report["day_2"]["unchanged"] == 4
    # the campaign holds exactly the day-2 export, each contact once (read through the admin API)
    contacts = emu.state("ujet")["ujet"]["campaigns"]["8"]["contacts"]
    held = {c["external_unique_id"]: (c["phone_number"], c["name"]) for c in contacts}
    assert len(held) == len(contacts) == 8
    assert set(held) == {"R-3001", "R-3002", "R-3003", "R-3005", "R-3006", "R-3008", "R-3009", "R-3010"}
    assert held["R-3002"][1] == "Henry Wilson-Park" and held["R-3003"][0] == "+16465550313"
    imported = emu.leads("ujet", keys=True)["ujet.import"]["scopes"]["campaign 8"]
    assert imported["total"] == 10  # 8 on day 1, only the 2 new ones on day 2
    assert len(list(tmp_path.glob("dialer_daily_sync_*_day_2.csv"))) == 1


def test_examples_do_not_share_a_campaign_hub_or_sample_phones():
    """Examples enabled together in one deployment must not load the same phones into one target."""
    folder = pathlib.Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    sources = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))}
    ujet = {}
    for name, text in sources.items():
        for match in re.finditer(r'"(?:ujet_)?campaign_id": (\d+)', text):
            if "ujet" in text:
                ujet.setdefault(match.group(1), set()).add(name)
    assert all(len(users) == 1 for users in ujet.values()), ujet
    hubs = {}
    for name, text in sources.items():
        for match in re.finditer(r'"(?:ucontact_)?hub": "(\w+)"', text):
            hubs.setdefault(match.group(1), set()).add(name)
    assert all(len(users) == 1 for users in hubs.values()), hubs
    files = {}
    for name, text in sources.items():
        for match in re.finditer(r'"([\w.]+\.csv)"', text):
            files.setdefault(match.group(1), set()).add(name)
    assert all(len(users) == 1 for users in files.values()), files
    # the phones of each example's sample files (one example may own several, e.g. two days of one export;
    # a file no example names is the demo's, loaded by scripts/demo.py)
    phones = {}
    for csv_file in folder.glob("data/*.csv"):
        owners = files.get(csv_file.name, {csv_file.name})
        for line in csv_file.read_text(encoding="utf-8").splitlines()[1:]:
            for value in re.findall(r"\+[\d ()-]{8,}", line):
                phones.setdefault(re.sub(r"\D", "", value), set()).update(owners)
    shared = {p: f for p, f in phones.items() if len(f) > 1}
    assert shared == {}, shared
