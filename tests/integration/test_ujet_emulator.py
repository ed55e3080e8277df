"""The UJET emulator over real HTTP with plain httpx (no hook): the seed's own examples, validation, auth, rate limit, jobs."""

from __future__ import annotations

import json

import httpx
import pytest

from airflow_provider_dialer.emulator.app import wait_until

pytestmark = pytest.mark.integration

APPS = "/apps/api/v1/outbound_dialer/campaigns"
MANAGER = "/manager/api/v1/outbound_dialer/campaigns"
# the seed's request body, verbatim
DOC_CONTACT = {
    "name": "string",
    "email": "customer@somedomain.com",
    "phone_number": "+1 111-111-1111",
    "outbound_number": "+1 760-867-5309",
    "external_unique_id": "UID_123456",
}
SEED_CONTACT_KEYS = {
    "id",
    "name",
    "campaign_id",
    "assigned_call_id",
    "assigned_participant_id",
    "outbound_number",
    "priority",
    "created_at",
    "updated_at",
    "status",
    "user_custom_metadata",
}


@pytest.fixture
def emu(fresh_dialer_emulator):
    fresh_dialer_emulator.configure(ujet_job_seconds=0.05, ujet_rate_limit=0)
    return fresh_dialer_emulator


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url("ujet"), auth=("any-user", emu.credentials.ujet_token), timeout=10) as c:
        yield c


def upload(client: httpx.Client, campaign_id: int, payload: bytes | str, name: str = "file") -> httpx.Response:
    return client.post(
        f"{APPS}/{campaign_id}/contacts/import", files={name: ("contacts.json", payload, "application/json")}
    )


def stored(emu, campaign_id: int) -> list[dict]:
    return emu.state("ujet")["ujet"]["campaigns"][str(campaign_id)]["contacts"]


# -- the seed's own examples ---------------------------------------------------------------------


def test_single_add_example_answers_as_documented(emu, client):
    response = client.post(f"{APPS}/6/contacts", json=DOC_CONTACT)
    assert response.status_code == 200
    assert response.json() == {"valid_contacts": [DOC_CONTACT], "invalid_contacts": []}
    (contact,) = stored(emu, 6)
    assert {k: contact[k] for k in DOC_CONTACT} == DOC_CONTACT
    assert (contact["id"], contact["status"], contact["campaign_id"]) == (1, "Upcoming", 6)
    assert emu.leads("ujet", keys=True)["ujet.contacts"]["counts"] == {"+1 111-111-1111": 1}


def test_get_contacts_example_is_an_array(emu, client):
    client.post(f"{APPS}/6/contacts", json=DOC_CONTACT)
    listed = client.get(f"{APPS}/6/contacts").json()
    assert isinstance(listed, list) and len(listed) == 1
    assert {k: listed[0][k] for k in DOC_CONTACT} == DOC_CONTACT
    assert listed[0]["status"] == "Upcoming" and listed[0]["id"] == 1


def test_import_example_202_empty_body_location_link_then_job_completes(emu, client):
    emu.configure(ujet_job_seconds=0.3)
    response = upload(client, 1, json.dumps([DOC_CONTACT]))
    assert response.status_code == 202 and response.content == b""
    assert response.headers["location"] == f"{APPS}/1/contacts/jobs/500"
    assert response.headers["link"] == f'<{APPS}/1/contacts/jobs/500>; rel="status"'
    assert client.get(response.headers["location"]).json() == {
        "id": 500,
        "status": "in_progress",
        "type": "Jobs::Bulk::Campaign::ParentJob",
        "invalid_count": 0,
    }
    assert stored(emu, 1) == []  # nothing visible while the job runs
    done = wait_until(lambda: client.get(response.headers["location"]).json()["status"] == "completed", timeout=5)
    assert done
    assert [c["phone_number"] for c in stored(emu, 1)] == ["+1 111-111-1111"]
    assert emu.leads("ujet", keys=True)["ujet.import"]["counts"] == {"+1 111-111-1111": 1}


def test_link_header_can_be_turned_off(emu, client):
    emu.configure(ujet_link_header=False)
    response = upload(client, 1, json.dumps([DOC_CONTACT]))
    assert response.status_code == 202 and "link" not in response.headers and "location" in response.headers


def test_patch_example_answers_the_seed_contact_object(emu, client):
    client.post(f"{APPS}/6/contacts", json=DOC_CONTACT)
    body = {
        "contact_id": 1,
        "name": "Bob Smith",
        "email": "customer@somedomain.com",
        "phone_number": "+1 111-111-1111",
        "external_unique_id": "UID_123456",
    }
    response = client.patch(f"{APPS}/6/contact", json=body)
    assert response.status_code == 200
    contact = response.json()
    assert set(contact) == SEED_CONTACT_KEYS
    assert (contact["id"], contact["name"], contact["campaign_id"], contact["status"]) == (
        1,
        "Bob Smith",
        6,
        "Upcoming",
    )
    assert contact["user_custom_metadata"] == {
        "NAME (REQUIRED)": "Bob Smith",
        "PHONE (REQUIRED)": "+1 111-111-1111",
        "EMAIL (REQUIRED)": "customer@somedomain.com",
    }
    assert contact["created_at"].endswith("Z") and len(contact["created_at"]) == 24
    assert stored(emu, 6)[0]["name"] == "Bob Smith"


def test_delete_example_by_contact_id_seven(emu, client):
    for i in range(7):
        assert (
            client.post(
                f"{APPS}/6/contacts", json={"phone_number": f"+1 202-555-01{i:02d}", "name": f"N{i}"}
            ).status_code
            == 200
        )
    response = client.request("DELETE", f"{APPS}/6/contact", json={"contact_id": 7})
    assert response.status_code == 200
    assert set(response.json()) == SEED_CONTACT_KEYS and response.json()["id"] == 7
    assert [c["id"] for c in stored(emu, 6)] == [1, 2, 3, 4, 5, 6]


def test_manager_campaigns_with_contact_stats(emu, client):
    client.post(f"{APPS}/6/contacts", json=DOC_CONTACT)
    campaigns = client.get(MANAGER).json()
    assert [(c["id"], c["mode"], c["status"]) for c in campaigns] == [
        (1, "predictive", "created"),
        (6, "preview", "dialing"),
        (7, "progressive", "dialing"),
        (8, "preview", "dialing"),
        (9, "progressive", "dialing"),  # one per example DAG
    ]
    six = client.get(f"{MANAGER}/6").json()
    assert six["contact_stats"]["Contacts"] == 1 and six["contact_stats"]["Upcoming"] == 1
    assert six["contact_stats"]["Finished"] == 0 and len(six["contact_stats"]) == 29


# -- validation failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x"}, "phone_number: Field required"),
        ({**DOC_CONTACT, "phone": "+1"}, "phone: Unexpected keyword"),
        ({"phone_number": 5551234}, "phone_number: Input should be a valid string"),
    ],
)
def test_single_add_validation_is_422(client, body, fragment):
    response = client.post(f"{APPS}/6/contacts", json=body)
    assert response.status_code == 422
    assert response.json()["message"] == "Invalid contact parameters"
    assert any(fragment in e for e in response.json()["errors"])


def test_single_add_empty_body_is_422(client):
    response = client.post(f"{APPS}/6/contacts", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json() == {"message": "Request body is empty"}


@pytest.mark.parametrize(
    "phone", ["555-1234", "1 111 111 1111", "+1 (202) 555", "+12025550100123456", "+1 202 ABC 0100"]
)
def test_single_add_implausible_phone_goes_to_invalid_contacts(emu, client, phone):
    response = client.post(f"{APPS}/6/contacts", json={"phone_number": phone, "name": "X"})
    assert response.status_code == 200
    assert response.json() == {
        "valid_contacts": [],
        "invalid_contacts": [
            {"name": "X", "phone_number": phone, "errors": ["phone_number is not a valid international phone number"]}
        ],
    }
    assert stored(emu, 6) == []


def test_single_add_same_number_twice_is_invalid_the_second_time(emu, client):
    client.post(f"{APPS}/6/contacts", json={"phone_number": "+1 (202) 555-0100"})
    again = client.post(f"{APPS}/6/contacts", json={"phone_number": "+12025550100"}).json()
    assert again["valid_contacts"] == [] and "already been taken" in again["invalid_contacts"][0]["errors"][0]
    assert len(stored(emu, 6)) == 1


def test_import_must_be_multipart(client):
    response = client.post(f"{APPS}/1/contacts/import", json=[DOC_CONTACT])
    assert response.status_code == 415
    assert response.json() == {"message": "Content-Type must be multipart/form-data with a 'file' part"}


def test_import_needs_the_file_part(client):
    response = upload(client, 1, json.dumps([DOC_CONTACT]), name="contacts")
    assert response.status_code == 400 and response.json() == {
        "message": "param is missing or the value is empty: file"
    }


@pytest.mark.parametrize("payload", [json.dumps(DOC_CONTACT), "not json", '"a string"'])
def test_import_file_must_be_a_json_array(client, payload):
    response = upload(client, 1, payload)
    assert response.status_code == 422
    assert response.json()["message"] == "The file must hold a JSON array of contact objects"


def test_import_elements_are_validated(client):
    response = upload(client, 1, json.dumps([DOC_CONTACT, {"phone_number": "+12025550100", "priority": 1}, "x"]))
    assert response.status_code == 422
    body = response.json()
    assert body["message"] == "Invalid contacts in the file"
    assert body["errors"][0].startswith("1.priority: Unexpected keyword argument")


def test_import_skips_and_counts_invalid_phones(emu, client):
    response = upload(
        client, 1, json.dumps([{"phone_number": "+12025550100"}, {"phone_number": "123"}, {"phone_number": "+1"}])
    )
    location = response.headers["location"]
    job = wait_until(lambda: (j := client.get(location).json())["status"] != "in_progress" and j, timeout=5)
    assert job == {"id": 500, "status": "completed", "type": "Jobs::Bulk::Campaign::ParentJob", "invalid_count": 2}
    assert [c["phone_number"] for c in stored(emu, 1)] == ["+12025550100"]


@pytest.mark.parametrize("existing", [False, True])
def test_duplicate_phone_fails_the_whole_import(emu, client, existing):
    if existing:
        client.post(f"{APPS}/1/contacts", json={"phone_number": "+1 202 555 0100"})
        rows = [{"phone_number": "+1 (202) 555-0100"}, {"phone_number": "+12025550101"}]
    else:
        rows = [{"phone_number": "+12025550100"}, {"phone_number": "+12025550101"}, {"phone_number": "+1 202-555-0100"}]
    location = upload(client, 1, json.dumps(rows)).headers["location"]
    job = wait_until(lambda: (j := client.get(location).json())["status"] != "in_progress" and j, timeout=5)
    assert job == {
        "id": 500,
        "status": "failed",
        "type": "Jobs::Bulk::Campaign::StartImport",
        "error_message": "Internal Error",
        "error_details": "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign",
        "invalid_count": 0,
    }
    assert len(stored(emu, 1)) == (1 if existing else 0)
    assert "ujet.import" not in emu.leads("ujet")


def test_patch_and_delete_failures(emu, client):
    client.post(f"{APPS}/6/contacts", json={"phone_number": "+12025550100", "external_unique_id": "A"})
    client.post(f"{APPS}/6/contacts", json={"phone_number": "+12025550101", "external_unique_id": "B"})
    cases = [
        ("PATCH", {"contact_id": 99, "name": "x"}, 404, "Contact not found"),
        ("PATCH", {"contact_id": 1, "phone_number": "12"}, 422, "Invalid contact parameters"),
        ("PATCH", {"contact_id": 1, "phone_number": "+1 202 555 0101"}, 422, "Invalid contact parameters"),
        ("PATCH", {"contact_id": 1, "outbound_number": "+12025550199"}, 422, "Invalid contact parameters"),
        ("PATCH", {"name": "no id"}, 422, "Invalid contact parameters"),
        ("DELETE", {}, 422, "One of contact_id, phone_number or external_unique_id is required"),
        ("DELETE", {"contact_id": 99}, 404, "Contact not found"),
        ("DELETE", {"external_unique_id": "Z"}, 404, "Contact not found"),
        ("DELETE", {"contact_id": 1, "external_unique_id": "B"}, 404, "Contact not found"),
    ]
    for method, body, status, message in cases:
        response = client.request(method, f"{APPS}/6/contact", json=body)
        assert (response.status_code, response.json()["message"]) == (status, message), body
    assert [c["id"] for c in stored(emu, 6)] == [1, 2]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{APPS}/2/contacts"),
        ("POST", f"{APPS}/abc/contacts"),
        ("GET", f"{APPS}/1/contacts/jobs/999"),
        ("GET", f"{MANAGER}/3"),
        ("PATCH", f"{APPS}/9/contact"),
    ],
)
def test_unknown_campaign_or_job_is_404(client, method, path):
    response = client.request(
        method, path, json={"phone_number": "+12025550100", "contact_id": 1} if method != "GET" else None
    )
    assert response.status_code == 404 and response.json()["message"].endswith("not found")


def test_job_of_another_campaign_is_404(client):
    location = upload(client, 1, json.dumps([DOC_CONTACT])).headers["location"]
    assert client.get(location.replace("/campaigns/1/", "/campaigns/6/")).status_code == 404


# -- auth and rate limit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [None, ("emulator", "wrong-token"), ("", "TOKEN"), "Bearer TOKEN", "Basic !!notbase64!!"],
)
def test_auth_failures_are_401(emu, auth):
    token = emu.credentials.ujet_token
    headers = {}
    kwargs: dict = {}
    if isinstance(auth, tuple):
        kwargs["auth"] = (auth[0], auth[1].replace("TOKEN", token))
    elif isinstance(auth, str):
        headers["Authorization"] = auth.replace("TOKEN", token)
    response = httpx.get(f"{emu.base_url('ujet')}{MANAGER}", headers=headers, **kwargs)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_any_username_with_the_token_is_accepted(emu):
    response = httpx.get(f"{emu.base_url('ujet')}{MANAGER}", auth=("Campaign", emu.credentials.ujet_token))
    assert response.status_code == 200


def test_rate_limit_answers_429_with_retry_after(emu, client):
    emu.configure(ujet_rate_limit=5)
    statuses = [client.get(MANAGER) for _ in range(12)]
    limited = [r for r in statuses if r.status_code == 429]
    assert 5 <= 12 - len(limited) <= 7 and limited
    assert limited[0].headers["retry-after"] == "1"
    assert limited[0].json()["message"].startswith("Rate limit exceeded")


def test_admin_state_lists_campaigns_and_jobs(emu, client):
    client.post(f"{APPS}/6/contacts", json=DOC_CONTACT)
    upload(client, 1, json.dumps([{"phone_number": "+12025550100"}]))
    state = emu.state("ujet")["ujet"]
    assert state["campaigns"]["6"]["contact_count"] == 1 and state["campaigns"]["6"]["contacts_truncated"] is False
    assert state["jobs"]["500"]["campaign_id"] == 1
