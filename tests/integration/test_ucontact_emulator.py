"""The uContact emulator over plain httpx (not the hook): the documents' own examples, validation, auth, async loading."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from airflow_provider_dialer.emulator.app import wait_until

pytestmark = pytest.mark.integration

# the Java example of the Integra document, verbatim
DOC_CALL = (
    '{"calldate" : null,"campaign" : "POWER<-","destination": "0123456789","alternatives": "",'
    '"agent" : "","data": "idcustomer=7","source": "source","bulk": false,"automatic": true }'
)


@pytest.fixture
def emu(fresh_dialer_emulator: Any) -> Any:
    return fresh_dialer_emulator


@pytest.fixture
def client(emu: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url("ucontact"), timeout=10) as c:
        yield c


@pytest.fixture
def token(emu: Any, client: httpx.Client) -> str:
    creds = emu.credentials
    answer = client.post(
        "/Integra/resources/auth/getUserToken", data={"user": creds.ucontact_user, "password": creds.ucontact_password}
    )
    return answer.json()[-1]


@pytest.fixture
def bearer(emu: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {emu.credentials.ucontact_api_token}"}


def integra(emu: Any) -> dict[str, Any]:
    return emu.state("ucontact")["ucontact_integra"]


def automation(emu: Any) -> dict[str, Any]:
    return emu.state("ucontact")["ucontact_automation"]


# -- Integra --------------------------------------------------------------------------------------


def test_get_user_token_answers_an_array_ending_with_the_token(emu, client):
    creds = emu.credentials
    answer = client.post(
        "/Integra/resources/auth/getUserToken", data={"user": creds.ucontact_user, "password": creds.ucontact_password}
    )
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body[:2] == ["Supervisor", "supervisor"]
    import base64

    user, _, uid = base64.b64decode(body[-1]).decode().partition(":")
    assert user == "supervisor" and len(uid) == 36


def test_get_user_token_bad_credentials_answer_0(client):
    answer = client.post("/Integra/resources/auth/getUserToken", data={"user": "supervisor", "password": "nope"})
    assert (answer.status_code, answer.text) == (200, "0")
    assert answer.headers["content-type"].startswith("text/plain")


def test_document_example_dialer_task(emu, client, token):
    answer = client.post(
        "/Integra/resources/Dialers/DialerTask",
        content=f"call={DOC_CALL}".encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (answer.status_code, answer.text) == (200, "1")
    (task,) = integra(emu)["tasks"]
    assert (task["campaign"], task["destination"], task["data"], task["calldate"]) == (
        "POWER<-",
        "0123456789",
        "idcustomer=7",
        None,
    )
    assert emu.leads("ucontact", keys=True)["integra.dialertask"]["counts"] == {"0123456789": 1}


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (DOC_CALL.replace('"agent" : "",', ""), "missing keys ['agent']"),
        (DOC_CALL.replace("false", '"false"'), "bulk: Input should be a valid boolean"),
        (DOC_CALL.replace('"data": "idcustomer=7"', '"data": 7'), "data: Input should be a valid string"),
        (DOC_CALL.replace("null", "'2025-01-01 10:00'"), "call is not JSON"),
        (DOC_CALL.replace("null", '"2025-01-01 10:00"'), "calldate is not 'YYYY-MM-DD HH:MM:SS'"),
        (DOC_CALL.replace("POWER<-", "POWER->"), "unknown campaign 'POWER->'"),
        (
            DOC_CALL.replace('"source": "source",', '"source": "source","extra": 1,'),
            "extra: Extra inputs are not permitted",
        ),
        ("[1, 2]", "call is not a JSON object"),
    ],
)
def test_dialer_task_invalid_records_answer_0(emu, client, token, call, reason):
    answer = client.post(
        "/Integra/resources/Dialers/DialerTask", data={"call": call}, headers={"Authorization": f"Basic {token}"}
    )
    assert (answer.status_code, answer.text) == (200, "0")
    state = integra(emu)
    assert state["tasks"] == [] and state["rejected"][0]["reason"] == reason


def test_dialer_task_without_call_field_answers_0(emu, client, token):
    answer = client.post(
        "/Integra/resources/Dialers/DialerTask", data={"cal": DOC_CALL}, headers={"Authorization": f"Basic {token}"}
    )
    assert answer.text == "0" and integra(emu)["rejected"][0]["reason"] == "missing form field 'call'"


@pytest.mark.parametrize("header", [None, "Basic not-a-session", "Bearer {token}"])
def test_dialer_task_without_a_session_is_401_empty(client, token, header):
    headers = {"Authorization": header.format(token=token)} if header else {}
    answer = client.post("/Integra/resources/Dialers/DialerTask", data={"call": DOC_CALL}, headers=headers)
    assert (answer.status_code, answer.content) == (401, b"")


def test_end_session_invalidates_the_token(emu, client, token):
    assert client.post("/Integra/resources/auth/EndSession", data={"user": "supervisor", "token": token}).text == "1"
    answer = client.post(
        "/Integra/resources/Dialers/DialerTask", data={"call": DOC_CALL}, headers={"Authorization": f"Basic {token}"}
    )
    assert answer.status_code == 401
    assert client.post("/Integra/resources/auth/EndSession", data={"user": "supervisor", "token": token}).text == "0"
    assert integra(emu)["sessions_ended"] == 1


# -- Automation API: the document's examples -------------------------------------------------------


@pytest.mark.parametrize(
    ("hub", "path", "body", "status", "answer"),
    [
        (
            "sales",
            "lists",
            {
                "filename": "June sales clients",
                "list": [{"clientIds": ["1567890", "1234567"]}, {"clientIds": ["1987789"]}],
            },
            202,
            {"id": 1, "filename": "June sales clients", "status": "loading", "count": 2},
        ),
        (
            "mail",
            "lists",
            {
                "filename": "June sales clients",
                "list": [{"clientId": "johnsmith@mail.com"}, {"clientId": "janesmith@mail.com"}],
            },
            202,
            {"id": 1, "filename": "June sales clients", "status": "loading", "count": 2},
        ),
        (
            "sales",
            "freshLeads",
            {
                "leads": [
                    {
                        "clientIds": ["1567890", "1234567"],
                        "timezone": "America/Montevideo",
                        "scheduleDate": "2025-11-03 11:54:00",
                    },
                    {"clientIds": ["1987789"]},
                ]
            },
            200,
            {"count": 2},
        ),
        (
            "mail",
            "freshLeads",
            {
                "leads": [
                    {
                        "clientId": "johnsmith@mail.com",
                        "timezone": "America/Montevideo",
                        "scheduleDate": "2025-11-03 11:54:00",
                    },
                    {"clientId": "janesmith@mail.com"},
                ]
            },
            200,
            {"count": 2},
        ),
    ],
)
def test_document_examples(emu, client, bearer, hub, path, body, status, answer):
    response = client.post(f"/api/dialer/id/{hub}/{path}", json=body, headers=bearer)
    assert (response.status_code, response.json()) == (status, answer)


def test_every_documented_property_is_accepted(emu, client, bearer):
    general = {
        "timezone": "America/Montevideo",
        "data": {"name": "John Smith", "birthday": "2003-06-08"},
        "priority": 67,
        "contactId": "1365",
    }
    cases = [
        (
            "preview_sales",
            {"clientIds": ["+1 (425) 671-5523", "+1 (312) 548-7701"], "agent": "my_best_agent", **general},
        ),
        ("sales", {"clientIds": [1567890], **general}),  # Array[Integer] as the table types it
        (
            "mail",
            {
                "clientId": "john.smith@mycompany.net",
                "subject": "Very important matter",
                "content": "Hola",
                "template": "sales_awesome_template",
                "attachments": ["20251103/06ee53cc-0a90-4f18-8d07-09cc73910293-my_image.png"],
                **general,
            },
        ),
        ("sms", {"clientId": "+1 (312) 548-7701", "content": "Hola", **general}),
        ("wa", {"clientId": "+1 (312) 548-7701", "template": "sales_awesome_template", **general}),
    ]
    for hub, contact in cases:
        response = client.post(f"/api/dialer/id/{hub}/lists", json={"filename": hub, "list": [contact]}, headers=bearer)
        assert response.status_code == 202, (hub, response.text)


# -- Automation API: auth, hubs, validation --------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic x"])
def test_automation_auth_401(client, header):
    headers = {"Authorization": header} if header else {}
    response = client.post("/api/dialer/id/sales/freshLeads", json={"leads": [{"clientIds": ["1"]}]}, headers=headers)
    assert response.status_code == 401 and response.json() == {"message": "Unauthorized: missing or invalid API token"}


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "lists"), ("GET", "lists"), ("GET", "lists/1"), ("POST", "freshLeads")]
)
def test_unknown_hub_404(client, bearer, method, path):
    response = client.request(method, f"/api/dialer/id/nohub/{path}", json={}, headers=bearer)
    assert response.status_code == 404 and response.json() == {"message": "Hub not found"}


@pytest.mark.parametrize(
    ("hub", "path", "body", "message"),
    [
        ("sales", "lists", {"list": [{"clientIds": ["1"]}]}, "filename: Field required"),
        (
            "sales",
            "lists",
            {"filename": "", "list": [{"clientIds": ["1"]}]},
            "filename: String should have at least 1 character",
        ),
        ("sales", "lists", {"filename": "x"}, "list: Field required"),
        (
            "sales",
            "lists",
            {"filename": "x", "list": []},
            "list: List should have at least 1 item after validation, not 0",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"]}, {"clientId": "2"}]},
            "list[1].clientIds: Field required",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": []}]},
            "list[0].clientIds: List should have at least 1 item after validation, not 0",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "clientid": "1"}]},
            "list[0].clientid: unknown property",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "scheduleDate": "2025-11-03 11:54:00"}]},
            "list[0].scheduleDate: unknown property",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "content": "Hola"}]},
            "list[0].content: unknown property",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "priority": "1"}]},
            "list[0].priority: Input should be a valid integer",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "data": "a=b"}]},
            "list[0].data: Input should be an object",
        ),
        (
            "sales",
            "lists",
            {"filename": "x", "list": [{"clientIds": ["1"], "timezone": "GMT-3"}]},
            "list[0].timezone: 'GMT-3' is not an IANA time zone",
        ),
        ("mail", "lists", {"filename": "x", "list": [{"clientIds": ["a@b.c"]}]}, "list[0].clientId: Field required"),
        (
            "sms",
            "lists",
            {"filename": "x", "list": [{"clientId": "1", "subject": "s"}]},
            "list[0].subject: unknown property",
        ),
        (
            "sales",
            "freshLeads",
            {"leads": [{"clientIds": ["1"]}, {"clientIds": ["2"], "timezone": "Mars/Base"}]},
            "leads[1].timezone: 'Mars/Base' is not an IANA time zone",
        ),
        (
            "sales",
            "freshLeads",
            {"leads": [{"clientIds": ["1"], "scheduleDate": "2025-11-03T11:54:00"}]},
            "leads[0].scheduleDate: '2025-11-03T11:54:00' does not match yyyy-MM-dd HH:mm:ss",
        ),
        (
            "sales",
            "freshLeads",
            {"leads": [{"clientIds": ["1"], "scheduleDate": "2025-02-30 10:00:00"}]},
            "leads[0].scheduleDate: '2025-02-30 10:00:00' does not match yyyy-MM-dd HH:mm:ss",
        ),
        ("wa", "freshLeads", {"leads": [{"clientIds": ["1"]}]}, "leads[0].clientId: Field required"),
        ("sales", "freshLeads", {"lead": [{"clientIds": ["1"]}]}, "leads: Field required"),
    ],
)
def test_validation_failures_are_400_naming_index_and_field(emu, client, bearer, hub, path, body, message):
    response = client.post(f"/api/dialer/id/{hub}/{path}", json=body, headers=bearer)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == f"Invalid request: {message}"
    state = automation(emu)
    assert state["lists"] == [] and all(v == [] for v in state["fresh_leads"].values())
    assert emu.leads("ucontact") == {}


def test_invalid_json_is_400(client, bearer):
    response = client.post("/api/dialer/id/sales/lists", content=b"{not json", headers=bearer)
    assert response.status_code == 400 and response.json()["message"].startswith("Invalid request: body: Invalid JSON")


# -- Automation API: asynchronous loading and the assumed reads -----------------------------------------


def test_list_turns_inactive_after_the_configured_delay(emu, client, bearer):
    emu.configure(ucontact_list_load_seconds=0.5)
    response = client.post(
        "/api/dialer/id/sales/lists",
        json={"filename": "a", "list": [{"clientIds": ["1"]}, {"clientIds": ["2"]}]},
        headers=bearer,
    )
    list_id = response.json()["id"]
    assert client.get(f"/api/dialer/id/sales/lists/{list_id}", headers=bearer).json()["status"] == "loading"
    assert "automation.lists" not in emu.leads("ucontact")
    assert wait_until(
        lambda: client.get(f"/api/dialer/id/sales/lists/{list_id}", headers=bearer).json()["status"] == "inactive",
        timeout=5,
    )
    assert emu.leads("ucontact", keys=True)["automation.lists"]["counts"] == {"1": 1, "2": 1}
    assert client.get("/api/dialer/id/sales/lists", headers=bearer).json() == [
        {"id": list_id, "filename": "a", "status": "inactive", "count": 2}
    ]
    assert client.get("/api/dialer/id/mail/lists", headers=bearer).json() == []
    assert client.get(f"/api/dialer/id/mail/lists/{list_id}", headers=bearer).status_code == 404  # other hub's list


def test_list_stays_loading_while_the_delay_runs(emu, client, bearer):
    emu.configure(ucontact_list_load_seconds=30)
    client.post("/api/dialer/id/sales/lists", json={"filename": "slow", "list": [{"clientIds": ["1"]}]}, headers=bearer)
    (entry,) = automation(emu)["lists"]
    assert entry["status"] == "loading" and entry["contacts"] == [{"clientIds": ["1"]}]
    assert "automation.lists" not in emu.leads("ucontact")


def test_admin_state_shows_what_was_stored(emu, client, bearer):
    emu.configure(ucontact_list_load_seconds=0)
    client.post(
        "/api/dialer/id/sales/freshLeads", json={"leads": [{"clientIds": ["+59899"], "priority": 1}]}, headers=bearer
    )
    client.post("/api/dialer/id/wa/lists", json={"filename": "w", "list": [{"clientId": "+59898"}]}, headers=bearer)
    state = automation(emu)
    assert state["fresh_leads"]["sales"] == [{"clientIds": ["+59899"], "priority": 1}]
    assert state["hubs"]["wa"] == {"channel": "whatsapp", "preview": False}
    assert wait_until(lambda: automation(emu)["lists"][0]["status"] == "inactive", timeout=5)
    assert automation(emu)["lists"][0]["contacts"] == [{"clientId": "+59898"}]
