"""XCallyHook against the emulator over real HTTP: every method, test_connection, faults, delivery."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_dialer.emulator.app import wait_until
from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.hooks.xcally import XCallyHook, contacts_csv, csv_binding, xcally_contact
from airflow_provider_dialer.leads.model import PreparedLead

pytestmark = pytest.mark.integration


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


@pytest.fixture
def hook(emu, monkeypatch):
    conn = emu.connection("xcally")
    conn["extra"] = {"retry_backoff_seconds": 0.01}
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_DEFAULT", json.dumps(conn))
    return XCallyHook("xcally_default")


def lead(row: int, phone: str, **kw) -> PreparedLead:
    return PreparedLead(row=row, phone=phone, timezone="America/Sao_Paulo", **kw)


def test_lists_contacts_and_counts(emu, hook):
    created = hook.create_list("leads-a", "day leads")
    assert hook.get_list(created.id).name == "leads-a"
    assert hook.get_list(999) is None
    assert hook.find_list_by_name("leads-a").id == created.id
    assert hook.find_list_by_name("leads") is None
    assert [f.key for f in hook.list_fields(created.id)] == ["cf_1", "cf_2", "cf_3"]
    one = hook.create_contact(
        xcally_contact(lead(1, "+5511900000001", first_name="Ana", custom_fields={"1": "C-1"}), list_id=created.id)
    )
    assert one.first_name == "Ana" and one.phone == "5511900000001"
    batch = [xcally_contact(lead(i, f"+55119000000{i:02d}"), list_id=created.id) for i in range(2, 6)]
    result = hook.add_contacts(created.id, batch)
    assert result.sent == 4 and len(result.ids) == 4
    assert hook.count_contacts(created.id) == 5
    found = hook.find_contacts_by_phone(created.id, ["5511900000003", "5511999999999"])
    assert [c.first_name for c in found["5511900000003"]] == ["5511900000003"] and found["5511999999999"] == []
    hook.add_list_agents(created.id, [24, 26])
    state = emu.state("xcally")["xcally"]
    assert state["lists"][0]["agents"] == [24, 26] and state["lists"][0]["contacts"] == 5
    assert state["contacts"][0]["cf_1"] == "C-1"
    leads = emu.leads("xcally", keys=True)["xcally.contacts"]
    assert leads["total"] == 5 and leads["duplicates"] == {}


def test_campaign_lifecycle_and_hopper(emu, hook):
    lst = hook.create_list("camp-list")
    hook.add_contacts(
        lst.id,
        [
            {"ListId": lst.id, "firstName": "a", "phone": "111"},
            {"ListId": lst.id, "firstName": "b", "phone": "111"},
            {"ListId": lst.id, "firstName": "c", "phone": "222", "scheduledat": "2026-01-05T12:00:00Z"},
        ],
    )
    camp = hook.create_campaign({"name": "daily", "TrunkId": 12, "dialMethod": "power"})
    assert camp.dial_active is True and camp.dial_method == "power"
    assert hook.get_campaign(camp.id).name == "daily" and hook.get_campaign(404) is None
    assert hook.find_queue_campaign("daily").id == camp.id and hook.find_queue_campaign("dail") is None
    assert hook.find_campaign_by_name("daily")["id"] == camp.id
    hook.attach_lists(camp.id, [lst.id])
    assert [x.id for x in hook.campaign_lists(camp.id)] == [lst.id]
    hook.add_campaign_agents(camp.id, [24, 26, 31])
    assert hook.set_campaign_active(camp.id, False).dial_active is False
    assert hook.list_campaigns(active=False).count == 1 and hook.list_campaigns(active=True).count == 0
    assert hook.update_campaign(camp.id, {"dialCheckDuplicateType": "never"}).dial_check_duplicate_type == "never"
    assert hook.hopper_histories(camp.id).count == 0
    state = emu.state("xcally")["xcally"]["campaigns"][0]
    assert state["dialActive"] is False and state["agents"] == {"24": "0", "26": "0", "31": "0"}
    # always: the second 111 is a duplicate in the hopper
    assert [h["phone"] for h in state["hopper"]] == ["111", "222"] and state["hopper_duplicates_skipped"] == 1
    assert state["hopper"][1]["scheduledat"] == "2026-01-05T12:00:00Z"
    hook.detach_lists(camp.id, [lst.id])
    assert hook.campaign_lists(camp.id) == []
    assert emu.state("xcally")["xcally"]["campaigns"][0]["hopper_count"] == 0


def test_agents_reads(hook):
    assert [u.id for u in hook.list_agents().rows] == [24, 26, 31]
    agents = hook.realtime_agents()
    assert agents.count == 3 and {a.voice_status for a in agents.rows} == {"unavailable"}


def test_csv_upload_runs_to_completion(emu, hook):
    emu.configure(xcally_import_rate=50)
    lst = hook.create_list("csv-list")
    hook.add_contacts(lst.id, [{"ListId": lst.id, "firstName": "old", "phone": "5511900000001"}])
    leads = [lead(i, f"+55119000000{i:02d}", first_name=f"N{i}") for i in range(1, 11)]
    data = contacts_csv(leads)
    pid = hook.upload_csv(lst.id, data, csv_binding(data))
    assert isinstance(pid, int)
    first = hook.count_contacts(lst.id)
    assert first < 10  # progressive at 50 contacts/s
    assert hook.wait_for_import(lst.id, expected=10, timeout=5, poll_interval=0.02) == 10
    job = emu.state("xcally")["xcally"]["imports"][0]
    assert job["stored"] == 9 and job["skipped_duplicates"] == 1 and job["status"] == "done"
    assert emu.leads("xcally")["xcally.csv"]["total"] == 9
    progress = hook.import_progress(lst.id, 10)
    assert progress.done and progress.count == 10


def test_async_twin_over_http(emu, hook):
    import asyncio

    lst = hook.create_list("async")
    assert asyncio.run(hook.acount_contacts(lst.id)) == hook.count_contacts(lst.id) == 0


def test_test_connection_ok_wrong_password_and_unreachable(emu, hook, monkeypatch):
    ok, message = hook.test_connection()
    assert ok and "contact lists readable" in message
    bad = emu.connection("xcally")
    bad["password"] = "wrong-password-123"
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_BAD", json.dumps(bad))
    ok, message = XCallyHook("xcally_bad").test_connection()
    assert not ok and "Authentication failed" in message and "HTTP 401" in message
    assert "wrong-password-123" not in message
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free_port = s.getsockname()[1]
    gone = {**emu.connection("xcally"), "port": free_port, "extra": {"max_attempts": 1}}
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_GONE", json.dumps(gone))
    ok, message = XCallyHook("xcally_gone").test_connection()
    assert not ok and "Cannot reach XCALLY" in message and "connection refused" in message


def test_api_key_auth(emu, monkeypatch):
    conn = {
        **emu.connection("xcally"),
        "login": None,
        "password": None,
        "extra": {"api_key": emu.credentials.xcally_api_key},
    }
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_KEY", json.dumps(conn))
    assert XCallyHook("xcally_key").create_list("by-key").name == "by-key"


def test_429_storm_ends_in_one_stored_lead(emu, hook):
    lst = hook.create_list("storm")
    emu.set_faults(
        "xcally",
        [
            {
                "kind": "status",
                "status": 429,
                "retry_after": 0.05,
                "times": 3,
                "path": f"/api/cm/lists/{lst.id}/contacts",
            }
        ],
    )
    hook.add_contacts(lst.id, [{"ListId": lst.id, "firstName": "a", "phone": "5511977777777"}])
    assert emu.leads("xcally", keys=True)["xcally.contacts"]["counts"] == {"5511977777777": 1}
    assert [r["status"] for r in emu.requests("xcally", path="/contacts")] == [429, 429, 429, 201]


def test_500_raises_with_the_body(emu, hook):
    emu.set_faults(
        "xcally",
        [
            {
                "kind": "status",
                "status": 500,
                "times": 1,
                "path": "/api/cm/lists",
                "body": {"message": "SequelizeConnectionError: db down"},
            }
        ],
    )
    with pytest.raises(DialerHTTPError) as info:
        hook.create_list("x")
    assert info.value.status == 500 and "db down" in str(info.value)


def test_dropped_answer_on_a_write_is_unknown_and_applied_once(emu, hook):
    lst = hook.create_list("drop")
    emu.set_faults(
        "xcally", [{"kind": "drop_after", "times": 1, "method": "POST", "path": f"/api/cm/lists/{lst.id}/contacts"}]
    )
    with pytest.raises(DialerDeliveryUnknownError):
        hook.add_contacts(lst.id, [{"ListId": lst.id, "firstName": "a", "phone": "5511966666666"}])
    assert emu.leads("xcally", keys=True)["xcally.contacts"]["counts"] == {"5511966666666": 1}
    # the fate is resolved by reading the list back
    assert len(hook.find_contacts_by_phone(lst.id, ["5511966666666"])["5511966666666"]) == 1
    assert wait_until(lambda: hook.count_contacts(lst.id) == 1)
