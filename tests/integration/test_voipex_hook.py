"""VoipexHook over real HTTP against the emulator: every method, test_connection, tokens (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh), faults, delivery."""

from __future__ import annotations

import json
import socket
import time

import pytest

from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.hooks.voipex import CampaignCreate, VoipexHook
from airflow_provider_dialer.leads.model import PreparedLead

pytestmark = pytest.mark.integration

VENDOR = "voipex"


def campaign_body(call_lists: list[int], **changes) -> dict:
    body = {
        "name": "campaign",
        "callerId": "123456789",
        "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 2, 3, 4, 5, 6, 7]},
        "callLists": call_lists,
        "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 15, "maxAttempts": 1}],
        "ivr": "TUxw53xCBf",
        "endpoint": {"type": "queue", "boostFactor": 1.1, "maxWaitingCalls": 2, "queue": "green"},
    }
    body.update(changes)
    return body


def voipex_state(emu) -> dict:
    return emu.state(VENDOR)["voipex"]


def conn_env(emu, monkeypatch, conn_id: str, **changes) -> str:
    conn = emu.connection(VENDOR)
    extra = {**conn["extra"], "retry_backoff_seconds": 0.01, **changes.pop("extra", {})}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({**conn, **changes, "extra": extra}))
    return conn_id


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


@pytest.fixture
def hook(emu):
    with VoipexHook() as h:
        yield h


def test_every_method_against_the_emulator(emu, hook):
    created = hook.create_call_list(
        "call-list-name",
        [
            {"number": "420228881234", "attributes": []},
            {"number": "420228881235", "attributes": [{"name": "external_id", "value": "c-2"}]},
        ],
    )
    assert (created.id, created.numbers_count, created.message) == (1, 2, "Call list successfully created")
    assert [(c.id, c.name, c.numbers_count) for c in hook.list_call_lists()] == [(1, "call-list-name", 2)]
    assert hook.get_call_list(1).numbers_count == 2
    assert hook.get_call_list(99) is None

    ivrs = hook.list_ivrs()
    assert [i.id for i in ivrs] == ["TUxw53xCBf", "Qm8vK2pLxa"]
    assert hook.find_ivr("IVR-app-name").id == "TUxw53xCBf"

    campaign = hook.create_campaign(CampaignCreate.model_validate(campaign_body([1])))
    assert (campaign.id, campaign.message) == (1, "Campaign successfully created")
    listed = hook.list_campaigns()
    assert [(c.id, c.name, c.state) for c in listed] == [(1, "campaign", "created")]
    got = hook.get_campaign(1)
    assert got.call_lists == [1] and got.endpoint == {
        "type": "queue",
        "boostFactor": 1.1,
        "maxWaitingCalls": 2,
        "queue": "green",
    }
    assert hook.get_campaign(42) is None

    hook.update_campaign(1, campaign_body([1], callerId="420228881234"))
    assert hook.get_campaign(1).caller_id == "420228881234"

    states = [hook.control_campaign(1, c).state for c in ("start", "pause", "unpause", "reload", "remove")]
    assert states == ["running", "paused", "running", "running", "removed"]

    state = voipex_state(emu)
    assert state["call_lists"][0]["numbers"] == [
        {"number": "420228881234", "attributes": []},
        {"number": "420228881235", "attributes": [{"name": "external_id", "value": "c-2"}]},
    ]
    stored = state["campaigns"][0]
    assert stored["state"] == "removed" and stored["callerId"] == "420228881234" and stored["reloads"] == 1
    assert stored["commands"] == ["start", "pause", "unpause", "reload", "remove"]
    assert state["tokens"]["grants"] == {"password": 1, "refresh_token": 0}
    assert emu.leads(VENDOR)["voipex.call-lists"]["total"] == 2


def test_control_conflict_and_removed_campaign(emu, hook):
    hook.create_call_list("l", [{"number": "123456789"}])
    cid = hook.create_campaign(campaign_body([1])).id
    with pytest.raises(DialerHTTPError) as info:
        hook.control_campaign(cid, "pause")
    assert info.value.status == 409 and "Cannot pause a campaign that is created" in info.value.body
    hook.control_campaign(cid, "remove")
    with pytest.raises(DialerHTTPError) as info:
        hook.control_campaign(cid, "start")
    assert info.value.status == 404


async def test_async_twin_against_emulator(emu, hook):
    created = await hook.acreate_call_list("async", [{"number": "123456789"}])
    assert created.numbers_count == 1
    assert [c.name for c in await hook.alist_call_lists()] == ["async"]
    await hook.aclose()


def test_test_connection_ok(emu):
    ok, message = VoipexHook().test_connection()
    assert ok, message
    assert "2 IVR application(s) visible" in message


def test_test_connection_wrong_password(emu, monkeypatch):
    bad = "wrong-voipex-password-123"
    conn_id = conn_env(emu, monkeypatch, "voipex_bad", password=bad)
    ok, message = VoipexHook(conn_id).test_connection()
    assert not ok
    assert message.startswith("Authentication failed: Voipex answered HTTP 401 to POST /token")
    assert bad not in message
    assert voipex_state(emu)["tokens"]["refused_grants"] == 1


def test_test_connection_unreachable_port(emu, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn_id = conn_env(
        emu,
        monkeypatch,
        "voipex_closed",
        port=port,
        extra={"auth_url": f"http://127.0.0.1:{port}/token", "max_attempts": 2},
    )
    ok, message = VoipexHook(conn_id).test_connection()
    assert not ok
    assert message.startswith(f"Cannot reach Voipex at http://127.0.0.1:{port}: connection refused")


def test_token_refreshed_before_expiry_then_relogin(emu):
    # lifetimes of seconds, not fractions: a loaded machine must not let a request outlast its token
    emu.configure(voipex_token_lifetime=2.0, voipex_refresh_lifetime=4.0)
    hook = VoipexHook()
    hook.list_ivrs()
    time.sleep(2.0)  # past 2.0 - 10% skew: refreshed before the server refuses it
    hook.list_ivrs()
    # a slow machine may take longer than the 1.8 s a token is used for, and refresh once more: the
    # counts below are bounds, the refusals exact
    grants = voipex_state(emu)["tokens"]["grants"]
    assert grants["password"] == 1 and grants["refresh_token"] >= 1
    time.sleep(4.0)  # every refresh token issued so far is past its lifetime: log in again
    hook.list_ivrs()
    tokens = voipex_state(emu)["tokens"]
    assert tokens["grants"]["password"] == 2
    assert tokens["refused_api_calls"] == 0  # never sent an expired token
    assert tokens["refused_grants"] == 0  # never sent an expired refresh token


def test_revoked_token_401_then_relogin(emu, hook):
    hook.list_ivrs()
    emu.reset()  # the server forgets every token: 401, refresh refused (400), login again
    assert len(hook.list_ivrs()) == 2
    tokens = voipex_state(emu)["tokens"]
    assert tokens["grants"] == {"password": 1, "refresh_token": 0}
    assert tokens["refused_api_calls"] == 1 and tokens["refused_grants"] == 1


def test_429_storm_then_stored_once(emu, hook):
    emu.set_faults(
        VENDOR,
        [
            {
                "kind": "status",
                "status": 429,
                "retry_after": 0.05,
                "times": 3,
                "path": "^/dialer/call-lists$",
                "method": "POST",
            }
        ],
    )
    created = hook.create_call_list("storm", [{"number": "420228881234"}, {"number": "420228881235"}])
    assert created.numbers_count == 2
    assert len(voipex_state(emu)["call_lists"]) == 1
    leads = emu.leads(VENDOR)["voipex.call-lists"]
    assert (leads["total"], leads["distinct"], leads["duplicates"]) == (2, 2, {})
    assert [r["status"] for r in emu.requests(VENDOR, "/dialer/call-lists")] == [429, 429, 429, 200]


def test_500_raises_with_body(emu, hook):
    emu.set_faults(
        VENDOR,
        [
            {
                "kind": "status",
                "status": 500,
                "path": "^/ivr$",
                "body": {
                    "statusCode": 500,
                    "error": "Internal Server Error",
                    "message": "An internal server error occurred",
                },
            }
        ],
    )
    with pytest.raises(DialerHTTPError) as info:
        hook.list_ivrs()
    assert info.value.status == 500
    assert "An internal server error occurred" in str(info.value)
    assert len(emu.requests(VENDOR, "/ivr")) == 1


def test_drop_after_write_is_unknown_and_applied_once(emu, hook):
    emu.set_faults(VENDOR, [{"kind": "drop_after", "path": "^/dialer/call-lists$", "method": "POST", "times": 1}])
    target = hook.open_list_target("daily", {})
    leads = [PreparedLead(row=i, phone=f"+42022888123{i}", timezone="Europe/Prague") for i in range(3)]
    with pytest.raises(DialerDeliveryUnknownError):
        hook.push_list_chunk(target, "now#1", leads)
    state = voipex_state(emu)
    assert [(c["name"], c["numbersCount"]) for c in state["call_lists"]] == [
        ("daily", 3)
    ]  # the first list keeps the name given
    assert emu.leads(VENDOR)["voipex.call-lists"]["duplicates"] == {}
    # the operators resolve the unknown fate by name instead of resending
    resolved = hook.resolve_list_chunk(target, "now#1", leads)
    assert (resolved.accepted, resolved.ids, resolved.how) == (3, {"call_list_ids": [1]}, "resolved")
    assert hook.resolve_list_chunk(target, "now#2", leads).missing == [0, 1, 2]


def test_campaign_capabilities_create_then_update_by_name(emu, hook):
    list_id = hook.push_list_chunk(
        hook.open_list_target("d", {}), "now#1", [PreparedLead(row=0, phone="+420228881234", timezone="Europe/Prague")]
    ).ids["call_list_ids"][0]
    common = {"name": "daily", "calling_hours": "09:00-17:00", "weekdays": [1, 2, 3, 4, 5], "lists": [list_id]}
    wanted = hook.build_campaign(common, {"callerId": "420228881234", "ivr_name": "IVR-app-name"})
    assert hook.find_campaign_by_name("daily") is None
    cid = hook.create_campaign_from(wanted)
    existing = hook.find_campaign_by_name("daily")
    assert existing["id"] == cid and hook.campaign_differences(existing, wanted) == {}
    changed = hook.build_campaign(
        {**common, "calling_hours": "10:00-16:00"}, {"callerId": "420228881234", "ivr": "Qm8vK2pLxa"}
    )
    assert set(hook.campaign_differences(existing, changed)) == {"activePeriod", "ivr"}
    hook.update_campaign_from(cid, changed)
    assert hook.control(cid, "start") == {"id": cid, "message": "Campaign started", "state": "running"}
    stored = voipex_state(emu)["campaigns"][0]
    assert stored["activePeriod"]["startTime"] == "10:00" and stored["ivr"] == "Qm8vK2pLxa" and stored["updates"] == 1


def test_token_lifetime_counts_from_the_request_not_from_a_slow_answer(emu):
    # the token is issued, then its answer trickles for about 0.6 s (longer on a loaded machine): a lifetime
    # counted from the answer's arrival outlasts the server's by that much, and a call in that gap carries
    # an expired token. The 3 s lifetime leaves the first call room however slow the answer gets.
    emu.configure(voipex_token_lifetime=3.0, voipex_refresh_lifetime=30)
    emu.set_faults(
        VENDOR,
        [{"kind": "trickle", "path": "^/token$", "method": "POST", "chunk_bytes": 16, "delay": 0.035, "times": 1}],
    )
    hook = VoipexHook()
    hook.list_ivrs()
    # now at least 0.6 + 2.55 s after the token was issued: past the server's 3 s, within 2.7 s of the answer
    time.sleep(2.55)
    hook.list_ivrs()
    tokens = voipex_state(emu)["tokens"]
    assert tokens["refused_api_calls"] == 0  # refreshed before use instead of sending the expired token
    assert tokens["grants"] == {"password": 1, "refresh_token": 1}
