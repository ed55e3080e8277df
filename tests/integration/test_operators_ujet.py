"""Operators and sensors against the UJET emulator over real HTTP: import, wait, fresh adds, removal, faults."""

from __future__ import annotations

import datetime as dt

import pytest
from airflow.sdk.exceptions import TaskDeferred
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerJobFailedError, UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.campaign import CreateCampaignOperator
from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor
from airflow_provider_dialer.triggers.wait import ImportJobTrigger

from .conftest import first_event

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York, 09:00 in Los Angeles (both open); 01:00 in Tokyo (closed)
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


def leads(n: int, start: int = 0) -> list[dict]:
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}",
            "external_id": f"EXT-{i}",
            "timezone": "America/New_York",
        }
        for i in range(start, start + n)
    ]


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.05)
    return fresh_dialer_emulator


def upload(tmp_path, **kwargs) -> UploadListOperator:
    params = dict(
        task_id="upload",
        conn_id="ujet_default",
        list_name="l",
        settings={"campaign_id": 6},
        progress=str(tmp_path / "progress.json"),
        chunk_size=4,
    )
    params.update(kwargs)
    return UploadListOperator(**params)


def stored_phones(emu) -> dict[str, int]:
    return emu.leads("ujet", keys=True).get("ujet.import", {}).get("counts", {})


def wait_jobs(emu, summary, campaign_id=6):
    trigger = ImportJobTrigger("ujet_default", campaign_id, summary["wait"]["job_ids"], poll_interval=0.05, timeout=10)
    return first_event(trigger).payload


def test_upload_imports_every_lead_once_and_waits_on_jobs(emu, tmp_path):
    summary = upload(tmp_path, source=leads(10)).execute({})
    assert summary["accepted"] == 10 and summary["chunks"] == 3
    assert len(summary["ids"]["job_ids"]) == 3
    event = wait_jobs(emu, summary)
    assert event["status"] == "success"
    counts = stored_phones(emu)
    assert len(counts) == 10 and set(counts.values()) == {1}


def test_wait_for_completion_defers_on_the_import_trigger(emu, tmp_path, fake_ti):
    op = upload(tmp_path, source=leads(3), wait_for_completion=True)

    ti = fake_ti()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    trigger = deferred.value.trigger
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_dialer.triggers.wait.ImportJobTrigger"
    assert kwargs["campaign_id"] == 6 and len(kwargs["job_ids"]) == 1
    event = first_event(ImportJobTrigger(**{**kwargs, "poll_interval": 0.05}))
    result = op.execute_complete({"ti": ti}, event.payload)
    assert result["wait_result"]["status"] == "success" and result["accepted"] == 3


def test_failed_import_job_fails_the_sensor_with_the_vendor_error(emu, tmp_path):
    rows = leads(2) + [dict(leads(1)[0], external_id="EXT-dup", first_name="Dup")]  # same phone twice in one file
    first = upload(tmp_path, source=rows, chunk_size=10, max_reject_ratio=0.5).execute({})
    assert first["rejected_by_reason"] == {"duplicate_phone": 1}  # preparation drops the repeat in the file
    assert wait_jobs(emu, first)["status"] == "success"
    # a phone already in the campaign fails a whole import (DuplicateContactPhoneOnCampaign); the operator
    # skips such leads (see test_rerun_append.py), so the hook's own import verb makes the failing job here
    from airflow_provider_dialer.hooks.ujet import UjetHook

    job_id = UjetHook("ujet_default").import_contacts(6, [{"name": "Again", "phone_number": "+12125550000"}])
    event = wait_jobs(emu, {"wait": {"job_ids": [job_id]}})
    assert event["status"] == "failed"
    assert "DuplicateContactPhoneOnCampaign" in event["message"]
    sensor = ImportJobSensor(
        task_id="s",
        conn_id="ujet_default",
        campaign_id=6,
        job_ids=[job_id],
        deferrable=False,
        poke_interval=0.05,
        timeout=5,
    )
    with pytest.raises(
        DialerJobFailedError, match="Internal Error: NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"
    ):
        sensor.poke({})


def test_dropped_connection_after_import_is_resolved_not_resent(emu, tmp_path):
    emu.set_faults(
        "ujet", [{"kind": "drop_after", "path": "/contacts/import$", "method": "POST", "after": 1, "times": 1}]
    )
    summary = upload(tmp_path, source=leads(8)).execute({})
    assert summary["chunks_resolved_after_unknown_fate"] == 1  # resolved inside the attempt: it counts too
    wait_jobs(emu, summary)
    counts = stored_phones(emu)
    assert len(counts) == 8 and set(counts.values()) == {1}
    assert summary["accepted"] == 8 and summary["unknown"] == 0
    imports = [r for r in emu.requests("ujet", "/contacts/import")]
    assert len(imports) == 2  # the dropped chunk was not sent again


def test_dropped_connection_before_apply_sends_the_missing_leads_once(emu, tmp_path):
    emu.set_faults("ujet", [{"kind": "drop_before", "path": "/contacts/import$", "method": "POST", "times": 1}])
    summary = upload(tmp_path, source=leads(4)).execute({})
    wait_jobs(emu, summary)
    counts = stored_phones(emu)
    assert len(counts) == 4 and set(counts.values()) == {1}


def test_task_killed_mid_upload_then_retried_leaves_each_lead_once(emu, tmp_path, monkeypatch, task_dies):
    from airflow_provider_dialer.hooks.ujet import UjetHook

    real = UjetHook.push_list_chunk
    # the vendor gets chunk 2, but the task dies before recording it
    monkeypatch.setattr(UjetHook, "push_list_chunk", task_dies(real, "after_the_vendor_applied"))
    with pytest.raises(SystemExit):
        upload(tmp_path, source=leads(12), concurrency=1).execute({})
    monkeypatch.setattr(UjetHook, "push_list_chunk", real)
    summary = upload(tmp_path, source=leads(12), concurrency=1).execute({})  # the retry
    assert summary["chunks_already_delivered"] == 1 and summary["chunks_resolved_after_unknown_fate"] == 1
    wait_jobs(emu, summary)
    counts = stored_phones(emu)
    assert len(counts) == 12 and set(counts.values()) == {1}


def test_429_storm_is_absorbed(emu, tmp_path):
    emu.set_faults(
        "ujet", [{"kind": "status", "status": 429, "retry_after": 0.05, "times": 3, "path": "/contacts/import$"}]
    )
    summary = upload(tmp_path, source=leads(4)).execute({})
    wait_jobs(emu, summary)
    assert summary["accepted"] == 4 and len(stored_phones(emu)) == 4


def test_fresh_leads_outside_their_window_are_held_back(emu, tmp_path):
    tokyo = {"phones": ["+81312345678"], "first_name": "Yui", "timezone": "Asia/Tokyo"}
    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=leads(2) + [tokyo],
        progress=str(tmp_path / "p.json"),
    )
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    assert deferred.value.trigger.moment == dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    contacts = emu.leads("ujet", keys=True)["ujet.contacts"]["counts"]
    assert set(contacts) == {"+12125550000", "+12125550001"}


def test_invalid_contact_is_reported_as_refused(emu, tmp_path):
    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=leads(1),
        progress=str(tmp_path / "p.json"),
        max_reject_ratio=1,
    )
    op.execute({})
    again = PushFreshLeadsOperator(
        task_id="push2",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=leads(1),
        progress=str(tmp_path / "p2.json"),
        max_reject_ratio=1,
    )
    summary = again.execute({})  # the same phone again: UJET lists it under invalid_contacts
    assert summary["refused_by_vendor"] == {"invalid_contact": 1} and summary["accepted"] == 0


def test_remove_leads_by_external_id_and_phone(emu, tmp_path):
    PushFreshLeadsOperator(
        task_id="push",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=leads(3),
        progress=str(tmp_path / "p.json"),
    ).execute({})
    result = RemoveLeadsOperator(
        task_id="rm",
        conn_id="ujet_default",
        campaign_id=6,
        external_ids=["EXT-0"],
        phones=["+12125550001", "+19999999999"],
    ).execute({})
    assert result == {"removed": 2, "missing": 1}
    remaining = emu.state("ujet")["ujet"]
    assert "EXT-2" in str(remaining) and "EXT-0" not in str(remaining)
    # the document's request is "remove a contact by ID": the phone and the external id were resolved first
    assert [r["by"] for r in remaining["removals"]] == [["contact_id"], ["contact_id"]]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_remove_leads_by_any_selector_deletes_by_contact_id_only(emu, tmp_path_factory, data):
    """Whatever mix of ids, phones (any punctuation) and external ids is asked for, each DELETE names
    a contact id, exactly the contacts asked for are gone, and the rest stay (read through the admin API)."""
    emu.reset()
    tmp_path = tmp_path_factory.mktemp("rm")
    PushFreshLeadsOperator(
        task_id="push",
        conn_id="ujet_default",
        settings={"campaign_id": 6},
        source=leads(6),
        progress=str(tmp_path / "p.json"),
    ).execute({})
    before = {c["id"]: c for c in emu.state("ujet")["ujet"]["campaigns"]["6"]["contacts"]}
    chosen = data.draw(st.lists(st.sampled_from(sorted(before)), unique=True, max_size=4))
    selectors = {"contact_ids": [], "phones": [], "external_ids": []}
    for cid in chosen:
        how = data.draw(st.sampled_from(["contact_ids", "phones", "external_ids"]))
        c = before[cid]
        if how == "contact_ids":
            selectors[how].append(data.draw(st.sampled_from([cid, str(cid)])))
        elif how == "phones":
            digits = c["phone_number"].lstrip("+")
            selectors[how].append(
                data.draw(st.sampled_from([f"+{digits}", f"+{digits[:1]} {digits[1:4]}-{digits[4:]}"]))
            )
        else:
            selectors[how].append(c["external_unique_id"])
    absent = data.draw(st.booleans())
    if absent or not chosen:
        selectors["phones"].append("+19999999999")
    result = RemoveLeadsOperator(
        task_id="rm", conn_id="ujet_default", campaign_id=6, **{k: v for k, v in selectors.items() if v}
    ).execute({})
    after = emu.state("ujet")["ujet"]
    left = {c["id"] for c in after["campaigns"]["6"]["contacts"]}
    assert left == set(before) - set(chosen)
    assert result == {"removed": len(chosen), "missing": 1 if (absent or not chosen) else 0}
    assert all(r["by"] == ["contact_id"] for r in after["removals"])


def test_unsupported_capabilities_fail_before_any_request(emu):
    before = len(emu.requests("ujet"))
    with pytest.raises(UnsupportedCapabilityError, match="UJET does not support campaign creation"):
        CreateCampaignOperator(task_id="c", conn_id="ujet_default", name="x").execute({})
    assert len(emu.requests("ujet")) == before


def test_unknown_campaign_fails_before_any_lead_is_sent(emu, tmp_path):
    from airflow_provider_dialer.exceptions import DialerHTTPError

    with pytest.raises(DialerHTTPError, match="404"):
        upload(tmp_path, source=leads(2), settings={"campaign_id": 999}).execute({})
    assert emu.requests("ujet", "/contacts/import") == []
