"""UjetHook against the emulator over real HTTP: every endpoint, test_connection, retries, faults, delivery rule."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_provider_dialer.emulator.app import wait_until
from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.hooks.ujet import JobStatus, UjetHook, UjetNewContact, ujet_contact
from airflow_provider_dialer.leads.model import PreparedLead

pytestmark = pytest.mark.integration


@pytest.fixture
def emu(fresh_dialer_emulator):
    fresh_dialer_emulator.configure(ujet_job_seconds=0.05, ujet_rate_limit=0)
    return fresh_dialer_emulator


@pytest.fixture
def hook(emu):
    with UjetHook("ujet_default") as h:
        yield h


def contacts_of(emu, campaign_id: int) -> list[dict]:
    return emu.state("ujet")["ujet"]["campaigns"][str(campaign_id)]["contacts"]


def lead(row: int, phone: str, **fields) -> PreparedLead:
    return PreparedLead(row=row, phone=phone, timezone="America/Montevideo", **fields)


# -- test_connection -------------------------------------------------------------------------------


def test_test_connection_succeeds(hook):
    ok, message = hook.test_connection()
    assert ok is True
    assert message.endswith(": 5 outbound campaign(s) visible")


def test_test_connection_wrong_token(emu, monkeypatch):
    conn = emu.connection("ujet") | {"password": "wrong-token-123456"}
    monkeypatch.setenv("AIRFLOW_CONN_UJET_BADPASS", json.dumps(conn))
    ok, message = UjetHook("ujet_badpass").test_connection()
    assert ok is False
    assert message == (
        "Authentication failed: UJET answered HTTP 401 to GET /manager/api/v1/outbound_dialer/campaigns. "
        "Check the login and password (or token) of connection 'ujet_badpass'."
    )
    assert "wrong-token-123456" not in message


def test_test_connection_unreachable_port(emu, monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    conn = emu.connection("ujet") | {"port": closed_port}
    monkeypatch.setenv("AIRFLOW_CONN_UJET_CLOSED", json.dumps(conn | {"extra": {"max_attempts": 1}}))
    ok, message = UjetHook("ujet_closed").test_connection()
    assert ok is False
    assert message.startswith(f"Cannot reach UJET at http://127.0.0.1:{closed_port}: connection refused")


# -- every endpoint ---------------------------------------------------------------------------------


def test_add_contact_stores_one_contact(emu, hook):
    wire = ujet_contact(
        lead(1, "+59899123456", first_name="Ana", last_name="Pérez", external_id="L-1", outbound_number="+59829001234")
    )
    result = hook.add_contact(6, wire)
    assert [c.phone_number for c in result.valid_contacts] == ["+59899123456"]
    assert result.invalid_contacts == []
    stored = contacts_of(emu, 6)
    assert [
        (c["name"], c["phone_number"], c["external_unique_id"], c["outbound_number"], c["status"]) for c in stored
    ] == [("Ana Pérez", "+59899123456", "L-1", "+59829001234", "Upcoming")]
    assert emu.leads("ujet")["ujet.contacts"] == {"total": 1, "distinct": 1, "duplicates": {}}


def test_add_contact_with_an_implausible_phone_comes_back_invalid(emu, hook):
    result = hook.add_contact(6, {"phone_number": "555-1234", "name": "Short"})
    assert result.valid_contacts == []
    assert result.invalid_contacts[0].phone_number == "555-1234"
    assert "not a valid international phone number" in result.invalid_contacts[0].reason
    assert contacts_of(emu, 6) == []


def test_list_and_find_contacts(emu, hook):
    hook.add_contact(6, {"phone_number": "+1 111-111-1111", "external_unique_id": "UID_1", "name": "Bob"})
    hook.add_contact(6, {"phone_number": "+59899123456", "external_unique_id": "UID_2", "name": "Ana"})
    listed = hook.list_contacts(6)
    assert [(c.id, c.name, c.status) for c in listed] == [(1, "Bob", "Upcoming"), (2, "Ana", "Upcoming")]
    found = hook.find_contacts(6, external_ids=["UID_2", "UID_9"], phones=["+11111111111"])
    assert {k: v.id for k, v in found.items()} == {"UID_2": 2, "+11111111111": 1}


def test_import_runs_to_completion(emu, hook):
    leads = [ujet_contact(lead(i, f"+5989912345{i}", first_name=f"N{i}", external_id=f"E{i}")) for i in range(3)]
    job_id = hook.import_contacts(1, [*leads, {"phone_number": "12345"}])
    assert job_id == 500
    first = hook.get_job(1, job_id)
    assert first.status in (JobStatus.IN_PROGRESS, JobStatus.COMPLETED)
    job = wait_until(lambda: (j := hook.get_job(1, job_id)).is_terminal and j, timeout=5)
    assert job.status is JobStatus.COMPLETED and job.type == "Jobs::Bulk::Campaign::ParentJob"
    assert [c["external_unique_id"] for c in contacts_of(emu, 1)] == ["E0", "E1", "E2"]
    assert emu.state("ujet")["ujet"]["jobs"]["500"]["invalid_count"] == 1
    assert emu.leads("ujet", keys=True)["ujet.import"]["counts"] == {f"+5989912345{i}": 1 for i in range(3)}


def test_import_with_a_duplicate_phone_fails_and_stores_nothing(emu, hook):
    hook.add_contact(1, {"phone_number": "+59899123450"})
    job_id = hook.import_contacts(
        1, [UjetNewContact(phone_number="+598 99 123 450"), UjetNewContact(phone_number="+59899123451")]
    )
    job = wait_until(lambda: (j := hook.get_job(1, job_id)).is_terminal and j, timeout=5)
    assert job.failed and job.type == "Jobs::Bulk::Campaign::StartImport"
    assert job.detail == "Internal Error: NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"
    assert [c["phone_number"] for c in contacts_of(emu, 1)] == ["+59899123450"]


async def test_async_job_read_matches_sync(emu, hook):
    job_id = hook.import_contacts(1, [{"phone_number": "+59899123456"}])
    wait_until(lambda: hook.get_job(1, job_id).is_terminal, timeout=5)
    async_job = await hook.aget_job(1, job_id)
    await hook.aclose()
    assert async_job == hook.get_job(1, job_id)
    assert async_job.status is JobStatus.COMPLETED


def test_update_contact(emu, hook):
    hook.add_contact(6, {"phone_number": "+1 111-111-1111", "name": "Bob", "email": "b@example.com"})
    updated = hook.update_contact(6, 1, name="Bob Smith", phone_number="+1 222-222-2222")
    assert (updated.id, updated.name, updated.campaign_id, updated.phone) == (1, "Bob Smith", 6, "+1 222-222-2222")
    (stored,) = contacts_of(emu, 6)
    assert (stored["name"], stored["phone_number"], stored["email"]) == (
        "Bob Smith",
        "+1 222-222-2222",
        "b@example.com",
    )


@pytest.mark.parametrize("how", [{"contact_id": 2}, {"phone_number": "+59899123456"}, {"external_unique_id": "UID_2"}])
def test_delete_contact_by_each_identifier(emu, hook, how):
    hook.add_contact(6, {"phone_number": "+1 111-111-1111", "external_unique_id": "UID_1"})
    hook.add_contact(6, {"phone_number": "+598 99 123 456", "external_unique_id": "UID_2", "name": "Ana"})
    removed = hook.delete_contact(6, **how)
    assert (removed.id, removed.name) == (2, "Ana")
    assert [c["id"] for c in contacts_of(emu, 6)] == [1]
    with pytest.raises(DialerHTTPError) as info:
        hook.delete_contact(6, **how)
    assert info.value.status == 404 and "Contact not found" in info.value.body


def test_campaigns_from_the_manager_api(emu, hook):
    hook.add_contact(6, {"phone_number": "+59899123456"})
    campaigns = hook.list_campaigns()
    assert [(c.id, c.mode) for c in campaigns][:2] == [(1, "predictive"), (6, "preview")]
    six = hook.get_campaign(6)
    assert six.contact_stats["Contacts"] == 1 and six.contact_stats["Upcoming"] == 1
    with pytest.raises(DialerHTTPError) as info:
        hook.get_campaign(404)
    assert info.value.status == 404 and "Campaign not found" in str(info.value)


# -- rate limit, faults, delivery rule ---------------------------------------------------------


def test_default_rate_limits_meet_and_every_lead_lands_once(emu, hook):
    emu.configure(
        ujet_rate_limit=10
    )  # the vendor's 10/s against the hook's default 10/s (docs/vendors/ujet.md#decision-rate-limit-10-per-second)
    for i in range(15):
        hook.add_contact(6, {"phone_number": f"+5989900{i:04d}"})
    assert emu.leads("ujet")["ujet.contacts"] == {"total": 15, "distinct": 15, "duplicates": {}}
    answered = [r["status"] for r in emu.requests("ujet", path="/campaigns/6/contacts")]
    # network jitter may cost an occasional 429 (then Retry-After is honoured); never a lost or doubled lead
    assert answered.count(200) == 15 and set(answered) <= {200, 429}


def test_429_storm_ends_in_one_stored_lead(emu, hook):
    emu.set_faults(
        "ujet",
        [
            {
                "kind": "status",
                "status": 429,
                "retry_after": 0.05,
                "times": 3,
                "path": "/campaigns/6/contacts$",
                "method": "POST",
            }
        ],
    )
    result = hook.add_contact(6, {"phone_number": "+59899123456"})
    assert len(result.valid_contacts) == 1
    assert emu.leads("ujet")["ujet.contacts"] == {"total": 1, "distinct": 1, "duplicates": {}}
    assert [r["status"] for r in emu.requests("ujet", path="/campaigns/6/contacts")] == [429, 429, 429, 200]


def test_server_error_raises_with_the_body(emu, hook):
    emu.set_faults("ujet", [{"kind": "status", "status": 500, "path": "/contacts/jobs/", "body": {"message": "kaput"}}])
    with pytest.raises(DialerHTTPError) as info:
        hook.get_job(1, 500)
    assert info.value.status == 500 and info.value.body == '{"message": "kaput"}'
    assert len(emu.requests("ujet", path="/contacts/jobs/")) == 1


def test_dropped_answer_on_add_is_unknown_and_applied_once(emu, hook):
    emu.set_faults("ujet", [{"kind": "drop_after", "path": "/campaigns/6/contacts$", "method": "POST", "times": 1}])
    with pytest.raises(DialerDeliveryUnknownError):
        hook.add_contact(6, {"phone_number": "+59899123456", "external_unique_id": "L-9"})
    assert emu.leads("ujet")["ujet.contacts"] == {"total": 1, "distinct": 1, "duplicates": {}}
    assert len(contacts_of(emu, 6)) == 1
    # the fate is resolved by reading the vendor's state, not by resending
    assert list(hook.find_contacts(6, external_ids=["L-9"])) == ["L-9"]


def test_dropped_answer_on_import_is_unknown_and_one_job_exists(emu, hook):
    emu.set_faults("ujet", [{"kind": "drop_after", "path": "/contacts/import$", "times": 1}])
    with pytest.raises(DialerDeliveryUnknownError, match="not resent"):
        hook.import_contacts(1, [{"phone_number": "+59899123456"}])
    state = emu.state("ujet")["ujet"]
    assert list(state["jobs"]) == ["500"]
    assert len(emu.requests("ujet", path="/contacts/import")) == 1
