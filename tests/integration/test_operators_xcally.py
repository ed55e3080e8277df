"""Operators and triggers against the XCALLY emulator over real HTTP: lists (batch and CSV), fresh leads,
campaigns created idempotently by name, activation, faults, and the verbs XCALLY lacks."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_dialer.exceptions import DialerConfigError, UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.triggers.wait import ListLoadedTrigger

from .conftest import first_event
from .conftest import new_york_leads as leads

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York (open); 01:00 in Tokyo (closed until 08:00 local = 23:00 UTC)
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
TOKYO = {"phones": ["+81312345678"], "first_name": "Yui", "timezone": "Asia/Tokyo"}
BULK = r"^/api/cm/lists/\d+/contacts$"


def phones(n: int, start: int = 0) -> set[str]:
    return {f"1212555{i:04d}" for i in range(start, start + n)}  # the connection's default phone_format: digits


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    return fresh_dialer_emulator


def upload(tmp_path, name="progress.json", **kwargs) -> UploadListOperator:
    params = dict(
        task_id="upload", conn_id="xcally_default", list_name="leads", progress=str(tmp_path / name), chunk_size=4
    )
    params.update(kwargs)
    return UploadListOperator(**params)


def state(emu) -> dict:
    dump = emu.state("xcally")
    return dump.get("xcally", dump)


def stored(emu, endpoint="xcally.contacts") -> dict[str, int]:
    return emu.leads("xcally", keys=True).get(endpoint, {}).get("counts", {})


def contacts_of(emu, list_id: int) -> list[dict]:
    return [c for c in state(emu)["contacts"] if c["ListId"] == list_id]


def posts(emu, pattern: str) -> list[dict]:
    import re

    return [r for r in emu.requests("xcally") if r["method"] == "POST" and re.search(pattern, r["path"])]


# -- UploadListOperator -----------------------------------------------------------------------------


def test_batch_upload_stores_each_lead_once_with_agents_and_schedule_and_reuses_the_list(emu, tmp_path):
    summary = upload(tmp_path, source=leads(9) + [TOKYO], settings={"agents": [24, 26]}).execute({})
    list_id = summary["ids"]["list_id"]
    assert summary["accepted"] == 10 and summary["chunks"] == 3 and summary["unknown"] == 0
    assert summary["wait"] is None  # a bulk add is usable at once
    counts = stored(emu)
    assert set(counts) == phones(9) | {"81312345678"} and set(counts.values()) == {1}
    (lst,) = state(emu)["lists"]
    assert lst["name"] == "leads" and lst["id"] == list_id and lst["agents"] == [24, 26] and lst["contacts"] == 10
    by_phone = {c["phone"]: c for c in contacts_of(emu, list_id)}
    assert by_phone["81312345678"]["scheduledat"] == "2026-06-10T23:00:00Z"  # carried per lead, not held back
    assert by_phone["12125550000"]["scheduledat"] is None and by_phone["12125550000"]["firstName"] == "Lead0"
    assert summary["held_back"] == 0

    again = upload(tmp_path, name="day2.json", source=leads(3, start=100)).execute({})
    assert again["ids"]["list_id"] == list_id  # reused by name
    assert [lst["contacts"] for lst in state(emu)["lists"]] == [13]
    assert len(posts(emu, r"^/api/cm/lists$")) == 1  # created once


def test_csv_upload_defers_until_the_list_holds_every_contact(emu, tmp_path, fake_ti):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    # 8 contacts/s: the list fills over ~4 s while the trigger polls, so it is still loading when the task
    # defers even on a loaded machine (at 100/s a slow execute could see the import finish first)
    emu.configure(xcally_import_rate=8)
    hook = XCallyHook("xcally_default")
    existing = hook.create_list("leads")
    hook.add_contacts(existing.id, [{"ListId": existing.id, "firstName": "Old", "phone": "5511999990000"}])
    op = upload(
        tmp_path,
        source=leads(30),
        settings={"mode": "csv"},
        chunk_size=None,
        wait_for_completion=True,
        poll_interval=0.05,
    )
    ti = fake_ti()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow_provider_dialer.triggers.wait.ListLoadedTrigger"
    assert kwargs["targets"] == [{"list_id": existing.id, "expected": 31}]  # baseline 1 + 30 accepted
    assert len(posts(emu, r"^/api/cm/contacts/upload/.+")) == 1  # one CSV import (chunks of 50,000)
    assert len(contacts_of(emu, existing.id)) < 31  # still loading when the task deferred
    event = first_event(ListLoadedTrigger(**kwargs))
    assert event.payload["status"] == "success"
    result = op.execute_complete({"ti": ti}, event.payload)
    assert result["wait_result"]["status"] == "success" and result["accepted"] == 30
    assert result["ids"]["pids"] and result["ids"]["list_id"] == existing.id
    counts = stored(emu, "xcally.csv")
    assert set(counts) == phones(30) and set(counts.values()) == {1}


def test_auto_mode_bulk_adds_small_chunks_and_imports_large_ones(emu, tmp_path):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    small = upload(tmp_path, name="small.json", source=leads(30), settings={"mode": "auto"}, chunk_size=None).execute(
        {}
    )
    assert small["wait"] is None and "pids" not in small["ids"]  # stored at once: nothing to wait for
    assert len(posts(emu, BULK)) == 1 and not posts(emu, r"^/api/cm/contacts/upload/.+")

    assert XCallyHook.batch_chunk_size == 1000  # the threshold: larger chunks go as CSV imports
    big = upload(
        tmp_path,
        name="big.json",
        list_name="big",
        source=leads(1500, start=1000),
        settings={"mode": "auto"},
        chunk_size=1200,
    ).execute({})
    assert big["accepted"] == 1500 and big["chunks"] == 2
    assert len(big["ids"]["pids"]) == 1 and len(posts(emu, BULK)) == 2  # 1,200 as CSV, the last 300 as a bulk add
    assert big["wait"] == {"kind": "list_loaded", "targets": [{"list_id": big["ids"]["list_id"], "expected": 1500}]}
    assert (
        XCallyHook("xcally_default").wait_for_import(big["ids"]["list_id"], 1500, timeout=30, poll_interval=0.05)
        == 1500
    )
    assert set(stored(emu)) == phones(30) | phones(300, start=2200)
    counts = stored(emu, "xcally.csv")
    assert set(counts) == phones(1200, start=1000) and set(counts.values()) == {1}


def test_dropped_answer_after_a_bulk_add_is_resolved_not_resent(emu, tmp_path):
    emu.set_faults("xcally", [{"kind": "drop_after", "path": BULK, "method": "POST", "after": 1, "times": 1}])
    summary = upload(tmp_path, source=leads(10)).execute({})
    assert summary["accepted"] == 10 and summary["unknown"] == 0
    counts = stored(emu)
    assert set(counts) == phones(10) and set(counts.values()) == {1}
    assert len(posts(emu, BULK)) == 3  # the chunk whose answer was lost was read back, not sent again


def test_dropped_connection_before_a_bulk_add_sends_the_missing_leads_once(emu, tmp_path):
    emu.set_faults("xcally", [{"kind": "drop_before", "path": BULK, "method": "POST", "times": 1}])
    summary = upload(tmp_path, source=leads(6)).execute({})
    assert summary["accepted"] == 6 and summary["unknown"] == 0
    counts = stored(emu)
    assert set(counts) == phones(6) and set(counts.values()) == {1}
    assert len(posts(emu, BULK)) == 3  # two chunks + the resend of the dropped one


def test_dropped_csv_import_answer_waits_for_the_import_then_resolves(emu, tmp_path, monkeypatch):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    monkeypatch.setattr(XCallyHook, "resolve_settle_seconds", 0.3)
    emu.configure(xcally_import_rate=40)  # the import is still storing when the answer is lost
    emu.set_faults(
        "xcally", [{"kind": "drop_after", "path": r"^/api/cm/contacts/upload/.+", "method": "POST", "times": 1}]
    )
    summary = upload(tmp_path, source=leads(12), settings={"mode": "csv"}, chunk_size=None).execute({})
    assert summary["accepted"] == 12 and summary["unknown"] == 0
    assert len(posts(emu, r"^/api/cm/contacts/upload/.+")) == 1  # not imported twice
    counts = stored(emu, "xcally.csv")
    assert set(counts) == phones(12) and set(counts.values()) == {1}


def test_task_killed_mid_upload_then_retried_leaves_each_lead_once(emu, tmp_path, monkeypatch, task_dies):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    real = XCallyHook.push_list_chunk
    # the vendor gets chunk 2, but the task dies before recording it
    monkeypatch.setattr(XCallyHook, "push_list_chunk", task_dies(real, "after_the_vendor_applied"))
    with pytest.raises(SystemExit):
        upload(tmp_path, source=leads(12), concurrency=1).execute({})
    monkeypatch.setattr(XCallyHook, "push_list_chunk", real)
    summary = upload(tmp_path, source=leads(12), concurrency=1).execute({})  # the retry
    assert summary["chunks_already_delivered"] == 1 and summary["chunks_resolved_after_unknown_fate"] == 1
    assert summary["accepted"] == 12
    counts = stored(emu)
    assert set(counts) == phones(12) and set(counts.values()) == {1}
    assert len(state(emu)["lists"]) == 1  # the retry kept the first attempt's list


def test_unknown_list_setting_fails_before_any_request(emu, tmp_path):
    with pytest.raises(DialerConfigError, match="unknown settings \\['hub'\\]"):
        upload(tmp_path, source=leads(2), settings={"hub": "sales"}).execute({})
    assert emu.requests("xcally") == []


# -- PushFreshLeadsOperator -------------------------------------------------------------------------


def test_fresh_leads_go_into_an_existing_list_with_their_schedule(emu, tmp_path):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    lst = XCallyHook("xcally_default").create_list("fresh")
    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id="xcally_default",
        settings={"list_name": "fresh"},
        source=leads(3) + [TOKYO],
        progress=str(tmp_path / "p.json"),
    )
    summary = op.execute({})  # no deferral: the Tokyo lead goes now with its scheduledat
    assert summary["accepted"] == 4 and summary["held_back"] == 0 and summary["ids"]["list_id"] == lst.id
    by_phone = {c["phone"]: c for c in contacts_of(emu, lst.id)}
    assert set(by_phone) == phones(3) | {"81312345678"}
    assert by_phone["81312345678"]["scheduledat"] == "2026-06-10T23:00:00Z"
    assert len(posts(emu, BULK)) == 1  # one bulk add (fresh chunks of 100)


def test_fresh_leads_into_an_unknown_list_fail_clearly_before_any_lead_is_sent(emu, tmp_path):
    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id="xcally_default",
        settings={"list_name": "nope"},
        source=leads(2),
        progress=str(tmp_path / "p.json"),
    )
    with pytest.raises(DialerConfigError, match="no contact list named 'nope'"):
        op.execute({})
    assert posts(emu, r".") == []  # nothing created, nothing sent


# -- CreateCampaignOperator / ControlCampaignOperator ---------------------------------------------------


def campaign_op(**kwargs) -> CreateCampaignOperator:
    params = dict(
        task_id="campaign",
        conn_id="xcally_default",
        name="daily",
        calling_hours="08:00-21:00",
        weekdays=[1, 2, 3, 4, 5],
        agents=[24, 26],
        settings={"dialMethod": "progressive", "TrunkId": 12},
    )
    params.update(kwargs)
    return CreateCampaignOperator(**params)


def test_create_campaign_is_idempotent_by_name_and_attaches_lists_and_agents(emu, tmp_path):
    list_id = upload(tmp_path, source=leads(3)).execute({})["ids"]["list_id"]
    campaign_id = campaign_op(lists=str(list_id)).execute({})
    (camp,) = state(emu)["campaigns"]
    assert camp["id"] == campaign_id and camp["name"] == "daily" and camp["TrunkId"] == 12
    assert camp["dialGlobalInterval"] == "08:00-21:00,mon-fri,*,*" and camp["dialMethod"] == "progressive"
    assert camp["lists"] == [list_id] and set(camp["agents"]) == {"24", "26"}
    assert camp["hopper_count"] == 3  # the list's contacts feed the campaign

    writes = len(posts(emu, r"^/api/voice/queues"))
    assert campaign_op(lists=[list_id]).execute({}) == campaign_id  # a re-run changes nothing
    assert len(posts(emu, r"^/api/voice/queues")) == writes
    assert [r for r in emu.requests("xcally") if r["method"] == "PUT"] == []
    assert len(state(emu)["campaigns"]) == 1


def test_changed_campaign_settings_are_updated_or_fail(emu, tmp_path):
    campaign_id = campaign_op(agents=[24]).execute({})
    changed = dict(
        calling_hours="09:00-18:00",
        weekdays=[1, 3, 5],
        agents=[24, 31],
        settings={"dialMethod": "power", "TrunkId": 12},
    )
    with pytest.raises(DialerConfigError, match="exists with different settings") as failed:
        campaign_op(on_difference="fail", **changed).execute({})
    assert "dialMethod" in str(failed.value) and "agents" in str(failed.value)
    assert state(emu)["campaigns"][0]["dialMethod"] == "progressive"  # untouched

    assert campaign_op(**changed).execute({}) == campaign_id
    (camp,) = state(emu)["campaigns"]
    assert camp["dialMethod"] == "power" and camp["dialGlobalInterval"] == "09:00-18:00,mon&wed&fri,*,*"
    assert set(camp["agents"]) == {"24", "31"}
    (put,) = [r for r in emu.requests("xcally") if r["method"] == "PUT"]
    assert put["path"] == f"/api/voice/queues/{campaign_id}"


@pytest.mark.parametrize("missing", [405, 404])
def test_campaign_rerun_against_a_server_without_the_agents_read_resends_them(emu, tmp_path, capfd, missing):
    """The document gives POST .../users, not its GET: a server without the read must not fail a re-run."""
    list_id = upload(tmp_path, source=leads(2)).execute({})["ids"]["list_id"]
    campaign_id = campaign_op(lists=[list_id]).execute({})
    emu.set_faults(
        "xcally",
        [{"kind": "status", "status": missing, "method": "GET", "path": r"^/api/voice/queues/\d+/(users|lists)$"}],
    )
    agent_posts = len(posts(emu, r"/users$"))
    assert campaign_op(lists=[list_id], agents=[24, 26, 31]).execute({}) == campaign_id
    assert f"does not serve GET /api/voice/queues/{campaign_id}/users" in "".join(capfd.readouterr())
    (camp,) = state(emu)["campaigns"]
    assert set(camp["agents"]) == {"24", "26", "31"} and camp["lists"] == [list_id]
    assert camp["hopper_count"] == 2  # the list attached again is not loaded twice
    assert len(posts(emu, r"/users$")) == agent_posts + 1
    with pytest.raises(DialerConfigError, match=r"'agents': \(None, \[24, 26, 31\]\)"):
        campaign_op(lists=[list_id], agents=[24, 26, 31], on_difference="fail").execute({})


def test_bad_campaign_setting_is_named_before_any_request(emu):
    with pytest.raises(DialerConfigError, match="'dialMethod'"):
        campaign_op(settings={"dialMethod": "robocall", "TrunkId": 12}).execute({})
    with pytest.raises(DialerConfigError, match="'TrunkId' is required"):
        campaign_op(settings={}).execute({})
    with pytest.raises(DialerConfigError, match="'dialMethd' is not a queue campaign field"):
        campaign_op(settings={"dialMethd": "power", "TrunkId": 12}).execute({})
    assert emu.requests("xcally") == []


def test_control_campaign_activates_and_deactivates(emu):
    campaign_id = campaign_op(settings={"TrunkId": 12, "dialActive": False}).execute({})
    assert state(emu)["campaigns"][0]["dialActive"] is False
    result = ControlCampaignOperator(
        task_id="on", conn_id="xcally_default", campaign_id=str(campaign_id), command="activate"
    ).execute({})
    assert result == {"id": campaign_id, "name": "daily", "dialActive": True}
    assert state(emu)["campaigns"][0]["dialActive"] is True
    ControlCampaignOperator(
        task_id="off", conn_id="xcally_default", campaign_id=campaign_id, command="deactivate"
    ).execute({})
    assert state(emu)["campaigns"][0]["dialActive"] is False
    before = len(emu.requests("xcally"))
    with pytest.raises(UnsupportedCapabilityError, match="XCALLY accepts activate, deactivate"):
        ControlCampaignOperator(
            task_id="s", conn_id="xcally_default", campaign_id=campaign_id, command="start"
        ).execute({})
    assert len(emu.requests("xcally")) == before


# -- what XCALLY does not have -------------------------------------------------------------------------


def test_verbs_xcally_lacks_fail_before_any_request(emu, tmp_path):
    with pytest.raises(UnsupportedCapabilityError, match="XCALLY"):
        AddToDialerTaskOperator(
            task_id="d", conn_id="xcally_default", campaign="c", source=leads(1), progress=str(tmp_path / "d.json")
        ).execute({})
    with pytest.raises(UnsupportedCapabilityError, match="XCALLY"):
        RemoveLeadsOperator(task_id="r", conn_id="xcally_default", campaign_id=1, phones=["+12125550000"]).execute({})
    assert emu.requests("xcally") == []
