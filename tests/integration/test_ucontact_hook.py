"""UContactHook against the emulator over real HTTP: every method, test_connection, faults, delivery rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from airflow_provider_dialer.emulator.app import wait_until
from airflow_provider_dialer.exceptions import (
    DialerDeliveryUnknownError,
    DialerHTTPError,
    DialerRejectedError,
)
from airflow_provider_dialer.hooks.ucontact import UContactHook, automation_contact, dialer_task_call
from airflow_provider_dialer.leads.model import PreparedLead

pytestmark = pytest.mark.integration


@pytest.fixture
def emu(fresh_dialer_emulator: Any) -> Any:
    return fresh_dialer_emulator


def lead(row: int = 1, phone: str = "+59899123456", **kw: Any) -> PreparedLead:
    return PreparedLead(row=row, phone=phone, timezone=kw.pop("tz", "America/Montevideo"), **kw)


def other_conn(monkeypatch: pytest.MonkeyPatch, emu: Any, conn_id: str = "ucontact_other", **changes: Any) -> str:
    conn = emu.connection("ucontact")
    extra = {**conn["extra"], **changes.pop("extra", {})}
    conn.update(changes)
    conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def integra(emu: Any) -> dict[str, Any]:
    return emu.state("ucontact")["ucontact_integra"]


def automation(emu: Any) -> dict[str, Any]:
    return emu.state("ucontact")["ucontact_automation"]


# -- test_connection ------------------------------------------------------------------------------


def test_test_connection_checks_integra(emu):
    ok, message = UContactHook().test_connection()
    assert ok, message
    assert "Integra login of 'supervisor' accepted" in message and "Automation" not in message
    state = integra(emu)
    assert (state["logins"], state["sessions_ended"], state["open_sessions"]) == (1, 1, [])


def test_test_connection_checks_both_apis_with_a_probe_hub(emu, monkeypatch):
    conn_id = other_conn(monkeypatch, emu, extra={"probe_hub": "sales"})
    ok, message = UContactHook(conn_id).test_connection()
    assert ok, message
    assert "Automation API token accepted (hub 'sales', 0 list(s))" in message and "Integra" in message


def test_test_connection_wrong_password(emu, monkeypatch):
    conn_id = other_conn(monkeypatch, emu, password="not-the-password-123")
    ok, message = UContactHook(conn_id).test_connection()
    assert not ok
    assert message.startswith(
        "Authentication failed: uContact answered HTTP 200 to POST /Integra/resources/auth/getUserToken"
    )
    assert "not-the-password-123" not in message
    assert integra(emu)["failed_logins"] == 1


def test_test_connection_wrong_api_token(emu, monkeypatch):
    conn_id = other_conn(monkeypatch, emu, extra={"probe_hub": "sales", "api_token": "wrong-token-abc"})
    ok, message = UContactHook(conn_id).test_connection()
    assert not ok and "HTTP 401 to GET /api/dialer/id/sales/lists" in message
    assert "wrong-token-abc" not in message


def test_test_connection_unreachable_port(emu, monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free_port = sock.getsockname()[1]
    conn_id = other_conn(monkeypatch, emu, port=free_port, extra={"max_attempts": 1})
    ok, message = UContactHook(conn_id).test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach uContact at http://127.0.0.1:{free_port}: connection refused")


# -- Integra --------------------------------------------------------------------------------------


def test_dialer_task_stores_the_record_and_ends_the_session(emu):
    at = datetime(2025, 3, 10, 15, 0, tzinfo=UTC)
    special = lead(
        alternatives=("+59824001122",), agent="1001", call_at=at, data={"idcustomer": 7, "note": "a&b=c+d <- ñandú"}
    )
    with UContactHook() as hook:
        assert hook.dialer_task(dialer_task_call(special, campaign="POWER<-", instance_timezone="America/Montevideo"))
    state = integra(emu)
    (task,) = state["tasks"]
    assert {
        k: task[k]
        for k in ("calldate", "campaign", "destination", "alternatives", "agent", "data", "source", "bulk", "automatic")
    } == {
        "calldate": "2025-03-10 12:00:00",
        "campaign": "POWER<-",
        "destination": "59899123456",
        "alternatives": "59824001122",
        "agent": "1001",
        "data": "idcustomer=7:note=a&b%3Dc+d <- ñandú",
        "source": "airflow",
        "bulk": False,
        "automatic": True,
    }
    assert task["calldate_utc"] == "2025-03-10 15:00:00"  # the emulator reads calldate in the instance zone
    assert (state["sessions_ended"], state["open_sessions"]) == (1, [])
    assert emu.leads("ucontact", keys=True)["integra.dialertask"]["counts"] == {"59899123456": 1}


def test_dialer_task_unknown_campaign_is_rejected(emu):
    with UContactHook() as hook, pytest.raises(DialerRejectedError) as info:
        hook.dialer_task(dialer_task_call(lead(), campaign="NoSuchCampaign<-"))
    assert (info.value.status, info.value.body) == (200, "0")
    assert integra(emu)["rejected"][0]["reason"] == "unknown campaign 'NoSuchCampaign<-'"


def test_expired_session_is_renewed_once(emu):
    hook = UContactHook()
    hook.add_dialer_task_lead(lead(row=1), {"campaign": "Ventas->"})
    emu.admin("ucontact", "POST", "reset")  # the instance forgets every session
    hook.add_dialer_task_lead(lead(row=2, phone="+59899000002"), {"campaign": "Ventas->"})
    hook.close()
    state = integra(emu)
    assert [t["destination"] for t in state["tasks"]] == ["59899000002"]
    assert state["logins"] == 1 and state["sessions_ended"] == 1


def test_preissued_integra_token(emu, monkeypatch):
    token = UContactHook().run_flow(UContactHook()._login_flow("supervisor", emu.credentials.ucontact_password))
    conn_id = other_conn(monkeypatch, emu, login=None, password=None, extra={"integra_token": token})
    with UContactHook(conn_id) as hook:
        hook.dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    state = integra(emu)
    assert len(state["tasks"]) == 1 and state["sessions_ended"] == 0 and state["open_sessions"] == ["supervisor"]


def test_drop_after_on_dialer_task_is_unknown_and_applied_once(emu):
    emu.set_faults("ucontact", [{"kind": "drop_after", "path": "DialerTask$", "times": 1}])
    with UContactHook() as hook, pytest.raises(DialerDeliveryUnknownError):
        hook.dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    assert len(integra(emu)["tasks"]) == 1
    assert emu.leads("ucontact")["integra.dialertask"]["total"] == 1


# -- Automation API ---------------------------------------------------------------------------------


def test_upload_list_loads_asynchronously(emu):
    emu.configure(ucontact_list_load_seconds=0.5)
    hook = UContactHook()
    contacts = [automation_contact(lead(row=i, phone=f"+5989900000{i}", external_id=f"c{i}")) for i in range(3)]
    info = hook.upload_list("sales", "June sales clients", contacts)
    assert (info.filename, info.status, info.count) == ("June sales clients", "loading", 3)
    assert hook.get_list("sales", info.id).is_waiting
    assert "automation.lists" not in emu.leads("ucontact")  # not stored until loaded
    assert wait_until(lambda: hook.get_list("sales", info.id).is_loaded, timeout=5)
    assert [(i.id, i.status) for i in hook.list_lists("sales")] == [(info.id, "inactive")]
    (stored,) = automation(emu)["lists"]
    assert stored["contacts"] == contacts and stored["hub"] == "sales"
    assert emu.leads("ucontact")["automation.lists"]["total"] == 3


def test_get_list_unknown_is_404_with_the_body(emu):
    with pytest.raises(DialerHTTPError) as info:
        UContactHook().get_list("sales", 999)
    assert info.value.status == 404 and json.loads(info.value.body) == {"message": "List not found"}


def test_unknown_hub_is_404(emu):
    with pytest.raises(DialerHTTPError) as info:
        UContactHook().push_fresh_leads("nope", [{"clientIds": ["1"]}])
    assert info.value.status == 404 and "Hub not found" in info.value.body


def test_push_fresh_leads_email_hub(emu):
    at = datetime(2025, 11, 3, 14, 54, tzinfo=UTC)
    leads = [automation_contact(lead(email="john@x.io", call_at=at, subject="Hi"), channel="email", fresh=True)]
    assert UContactHook().push_fresh_leads("mail", leads).count == 1
    assert automation(emu)["fresh_leads"]["mail"] == [
        {
            "clientId": "john@x.io",
            "timezone": "America/Montevideo",
            "subject": "Hi",
            "scheduleDate": "2025-11-03 11:54:00",
        }
    ]
    assert emu.leads("ucontact", keys=True)["automation.freshLeads"]["counts"] == {"john@x.io": 1}


def test_429_storm_ends_in_success_stored_once(emu):
    emu.set_faults(
        "ucontact", [{"kind": "status", "status": 429, "retry_after": 0.05, "times": 3, "path": "/freshLeads$"}]
    )
    assert UContactHook().push_fresh_leads("sales", [automation_contact(lead())]).count == 1
    assert emu.leads("ucontact")["automation.freshLeads"]["total"] == 1
    statuses = [r["status"] for r in emu.requests("ucontact", path="/freshLeads")]
    assert statuses == [429, 429, 429, 200]


def test_500_raises_with_the_body(emu):
    emu.set_faults("ucontact", [{"kind": "status", "status": 500, "times": 1, "path": "/lists$"}])
    with pytest.raises(DialerHTTPError) as info:
        UContactHook().upload_list("sales", "a", [{"clientIds": ["1"]}])
    assert info.value.status == 500 and json.loads(info.value.body) == {"message": "injected fault: HTTP 500"}
    assert automation(emu)["lists"] == []


def test_drop_after_on_upload_is_unknown_applied_once_and_resolved_by_filename(emu):
    emu.configure(ucontact_list_load_seconds=0.0)
    emu.set_faults("ucontact", [{"kind": "drop_after", "method": "POST", "path": "/lists$", "times": 1}])
    hook = UContactHook()
    target = hook.open_list_target("june", {"hub": "sales"})
    leads = [lead(row=1), lead(row=2, phone="+59899000002")]
    with pytest.raises(DialerDeliveryUnknownError):
        hook.push_list_chunk(target, "now#1", leads)
    assert [entry["filename"] for entry in automation(emu)["lists"]] == ["june"]
    resolved = hook.resolve_list_chunk(target, "now#1", leads)
    assert (resolved.accepted, resolved.missing, resolved.how) == (2, [], "resolved")
    assert resolved.ids == {"list_ids": [automation(emu)["lists"][0]["id"]]}
    missing = hook.resolve_list_chunk(target, "now#2", leads)
    assert (missing.accepted, missing.missing) == (0, [1, 2])
    assert emu.leads("ucontact")["automation.lists"]["total"] == 2


# -- capabilities end to end ----------------------------------------------------------------------------


def test_list_upload_capability_and_wait(emu):
    emu.configure(ucontact_list_load_seconds=0.5)
    hook = UContactHook()
    target = hook.open_list_target("week 12", {"hub": "mail", "channel": "email"})
    leads = [lead(row=1, email="a@x.io"), lead(row=2)]  # row 2 has no email
    outcome = hook.push_list_chunk(target, "now#1", leads)
    assert outcome.accepted == 1 and outcome.refused[0]["row"] == 2 and outcome.refused[0]["reason"] == "missing_email"
    wait = hook.list_wait(target, {"ids": outcome.ids})
    assert wait == {"kind": "list_loaded", "targets": [{"hub": "mail", "list_id": outcome.ids["list_ids"][0]}]}
    first = hook.list_state(wait["targets"][0])
    assert (first.status, first.done, first.failed) == ("loading", False, False)
    assert wait_until(lambda: hook.list_state(wait["targets"][0]).done, timeout=5)


def test_fresh_and_dialer_task_capabilities(emu):
    hook = UContactHook()
    target = hook.open_fresh_target({"hub": "wa", "channel": "whatsapp"})
    outcome = hook.push_fresh_chunk(target, "now#1", [lead(row=1, content="Hola"), lead(row=2, phone="+59899000002")])
    assert outcome.accepted == 2 and hook.resolve_fresh_chunk(target, "now#1", []) is None
    assert automation(emu)["fresh_leads"]["wa"][0] == {
        "clientId": "+59899123456",
        "timezone": "America/Montevideo",
        "content": "Hola",
    }
    hook.add_dialer_task_lead(lead(), {"campaign": "AutomationDialerPD<-"})
    hook.close()
    assert integra(emu)["tasks"][0]["campaign"] == "AutomationDialerPD<-"


async def test_async_methods(emu):
    emu.configure(ucontact_list_load_seconds=0.05)
    hook = UContactHook()
    await hook.aload_connection()
    info = await hook.aupload_list("preview_sales", "async", [automation_contact(lead(agent="my_best_agent"))])
    assert info.status == "loading"
    import asyncio

    for _ in range(100):
        if (await hook.alist_state({"hub": "preview_sales", "list_id": info.id})).done:
            break
        await asyncio.sleep(0.02)
    assert [i.status for i in await hook.alist_lists("preview_sales")] == ["inactive"]
    assert (await hook.apush_fresh_leads("sales", [{"clientIds": ["+59899000009"]}])).count == 1
    assert await hook.adialer_task(dialer_task_call(lead(), campaign="POWER<-")) is True
    await hook.aclose()
    state = integra(emu)
    assert state["sessions_ended"] == 1 and len(state["tasks"]) == 1
