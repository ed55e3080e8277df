"""The Voipex emulator over real HTTP with plain httpx (not the hook): the guide's own requests, validation, auth, state machine."""

from __future__ import annotations

import time

import httpx
import pytest

from airflow_provider_dialer.emulator.app import wait_until

pytestmark = pytest.mark.integration

VENDOR = "voipex"

#: the guide's step-1 and step-3 bodies, verbatim
SEED_CALL_LIST = {"name": "call-list-name", "numbers": [{"number": "123456789", "attributes": []}]}
SEED_CAMPAIGN = {
    "name": "campaign",
    "callerId": "123456789",
    "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 2, 3, 4, 5, 6, 7]},
    "callLists": [1],
    "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 15, "maxAttempts": 1}],
    "ivr": "TUxw53xCBf",
    "endpoint": {"type": "queue", "boostFactor": 1.1, "maxWaitingCalls": 2, "queue": "green"},
}


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url(VENDOR), timeout=10) as c:
        yield c


def token(emu, client, **form) -> httpx.Response:
    creds = emu.credentials
    body = {
        "grant_type": "password",
        "client_id": "api",
        "username": creds.voipex_user,
        "password": creds.voipex_password,
        **form,
    }
    return client.post("/token", data={k: v for k, v in body.items() if v is not None})


@pytest.fixture
def auth(emu, client) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(emu, client).json()['access_token']}"}


def state(emu) -> dict:
    return emu.state(VENDOR)["voipex"]


def assert_boom(response: httpx.Response, status: int, error: str, *fragments: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["statusCode"] == status and body["error"] == error
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


# --------------------------------------------------------------------------------------------
# The guide's walkthrough
# --------------------------------------------------------------------------------------------


def test_guide_walkthrough(emu, client, auth):
    r = client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers=auth)
    assert r.status_code == 200 and r.json() == {
        "id": 1,
        "message": "Call list successfully created",
        "numbersCount": 1,
    }
    ivrs = client.get("/ivr", headers=auth).json()
    assert ivrs[0]["id"] == "TUxw53xCBf" and ivrs[0]["name"] == "IVR-app-name"
    assert set(ivrs[0]) == {"id", "name", "description", "createdAt", "updatedAt", "createdBy", "updatedBy", "routing"}
    r = client.post("/dialer/campaigns", json=SEED_CAMPAIGN, headers=auth)
    assert r.status_code == 200 and r.json() == {"id": 1, "message": "Campaign successfully created"}
    r = client.put("/dialer/campaigns/1/control", json={"command": "start"}, headers=auth)
    assert r.status_code == 200 and r.json() == {"id": 1, "message": "Campaign started", "state": "running"}
    s = state(emu)
    assert s["call_lists"][0]["numbers"] == SEED_CALL_LIST["numbers"]
    assert s["campaigns"][0]["state"] == "running" and s["campaigns"][0]["endpoint"] == SEED_CAMPAIGN["endpoint"]
    assert emu.leads(VENDOR, keys=True)["voipex.call-lists"]["counts"] == {"123456789": 1}


def test_token_response_is_keycloak_shaped(emu, client):
    body = token(emu, client).json()
    assert set(body) == {
        "access_token",
        "expires_in",
        "refresh_expires_in",
        "refresh_token",
        "token_type",
        "not-before-policy",
        "session_state",
        "scope",
    }
    assert (body["expires_in"], body["refresh_expires_in"], body["token_type"]) == (3000, 7200, "Bearer")


def test_campaign_defaults_applied(emu, client, auth):
    client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers=auth)
    body = {k: v for k, v in SEED_CAMPAIGN.items() if k not in ("endpoint", "rescheduleRules")}
    assert client.post("/dialer/campaigns", json=body, headers=auth).status_code == 200
    got = client.get("/dialer/campaigns/1", headers=auth).json()
    assert got["endpoint"] == {"type": "phone", "boostFactor": 1.0, "maxWaitingCalls": 2}
    assert got["rescheduleRules"] == [] and got["state"] == "created"


# --------------------------------------------------------------------------------------------
# Validation (Boom 400 naming the field)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"numbers": [{"number": "123456789"}]}, '"name"'),
        ({"name": "x", "numbers": [{"number": "123456789"}, {"number": "12ab"}]}, '"numbers[1].number"'),
        ({"name": "x", "numbers": [{"attributes": []}]}, '"numbers[0].number"'),
        ({"name": "x", "numbers": [{"number": 123456789}]}, '"numbers[0].number"'),
        ({"name": "x", "numbers": [{"number": "123456789", "phone": "1"}]}, '"numbers[0].phone"'),
        (
            {"name": "x", "numbers": [{"number": "123456789", "attributes": [{"k": "v"}]}]},
            '"numbers[0].attributes[0].name"',
        ),
        ({"name": "x", "numbers": []}, '"numbers"'),
        ({"name": " ", "numbers": [{"number": "123456789"}]}, '"name"'),
    ],
)
def test_call_list_validation(client, auth, body, field):
    body = assert_boom(client.post("/dialer/call-lists", json=body, headers=auth), 400, "Bad Request", field)
    assert body["validation"]["source"] == "payload"


def test_call_list_bad_json_and_media_type(emu, client, auth):
    assert_boom(
        client.post("/dialer/call-lists", content=b"{nope", headers={**auth, "Content-Type": "application/json"}),
        400,
        "Bad Request",
    )
    assert_boom(
        client.post("/dialer/call-lists", content=b"", headers={**auth, "Content-Type": "application/json"}),
        400,
        "Bad Request",
        "Invalid request payload JSON format",
    )
    assert_boom(client.post("/dialer/call-lists", data={"name": "x"}, headers=auth), 415, "Unsupported Media Type")
    assert state(emu)["call_lists"] == []


@pytest.mark.parametrize(
    ("change", "status", "fragment"),
    [
        ({"callerId": None}, 400, '"callerId"'),
        ({"activePeriod": {"startTime": "09:00", "endTime": "17:00"}}, 400, '"activePeriod.weekDays"'),
        (
            {"activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 8]}},
            400,
            '"activePeriod.weekDays"',
        ),
        ({"activePeriod": {"startTime": "9am", "endTime": "17:00", "weekDays": [1]}}, 400, '"activePeriod.startTime"'),
        ({"activePeriod": {"startTime": "18:00", "endTime": "17:00", "weekDays": [1]}}, 400, '"activePeriod.endTime"'),
        ({"callLists": []}, 400, '"callLists"'),
        ({"rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 15}]}, 400, '"rescheduleRules[0].maxAttempts"'),
        ({"endpoint": {"type": "agent"}}, 400, '"endpoint.type"'),
        ({"endpoint": {"type": "queue"}}, 400, '"endpoint.queue"'),
        ({"colour": "red"}, 400, '"colour"'),
        ({"callLists": [1, 9]}, 404, "Call list 9 not found"),
        ({"ivr": "nope"}, 404, "IVR application 'nope' not found"),
    ],
)
def test_campaign_validation(emu, client, auth, change, status, fragment):
    client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers=auth)
    body = {**SEED_CAMPAIGN, **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert_boom(
        client.post("/dialer/campaigns", json=body, headers=auth),
        status,
        "Bad Request" if status == 400 else "Not Found",
        fragment,
    )
    assert state(emu)["campaigns"] == []


# --------------------------------------------------------------------------------------------
# Auth (OAuth2 token endpoint and Bearer tokens)
# --------------------------------------------------------------------------------------------


def test_api_needs_live_bearer(emu, client):
    assert_boom(client.get("/ivr"), 401, "Unauthorized", "Missing authentication")
    r = client.get("/ivr", headers={"Authorization": "Bearer not-a-token"})
    assert_boom(r, 401, "Unauthorized", "Invalid token")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_boom(
        client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers={"Authorization": "Basic eDp5"}),
        401,
        "Unauthorized",
    )
    assert state(emu)["call_lists"] == [] and state(emu)["tokens"]["refused_api_calls"] == 3


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"password": "wrong"}, 401, "invalid_grant"),
        ({"username": "someone@example.com"}, 401, "invalid_grant"),
        ({"client_id": "web"}, 401, "invalid_client"),
        ({"password": ""}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_refusals(emu, client, form, status, error):
    r = token(emu, client, **form)
    assert r.status_code == status and r.json()["error"] == error and r.json()["error_description"]


def test_token_endpoint_needs_form(client):
    r = client.post("/token", json={"grant_type": "password"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_access_and_refresh_tokens_expire(emu, client):
    emu.configure(voipex_token_lifetime=0.3, voipex_refresh_lifetime=0.8)
    first = token(emu, client).json()
    assert first["expires_in"] == 0.3
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    assert client.get("/ivr", headers=bearer).status_code == 200
    expired = wait_until(lambda: client.get("/ivr", headers=bearer).status_code == 401, timeout=3)
    assert expired
    assert_boom(client.get("/ivr", headers=bearer), 401, "Unauthorized", "Token expired")
    refreshed = client.post(
        "/token", data={"grant_type": "refresh_token", "client_id": "api", "refresh_token": first["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert (
        client.get("/ivr", headers={"Authorization": f"Bearer {refreshed.json()['access_token']}"}).status_code == 200
    )
    time.sleep(0.8)
    late = client.post(
        "/token", data={"grant_type": "refresh_token", "client_id": "api", "refresh_token": first["refresh_token"]}
    )
    assert late.status_code == 400 and late.json() == {
        "error": "invalid_grant",
        "error_description": "Token is not active",
    }
    assert state(emu)["tokens"]["grants"] == {"password": 1, "refresh_token": 1}


# --------------------------------------------------------------------------------------------
# Campaign state machine, reads, pagination
# --------------------------------------------------------------------------------------------


def test_campaign_state_machine(emu, client, auth):
    client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers=auth)
    client.post("/dialer/campaigns", json=SEED_CAMPAIGN, headers=auth)

    def command(cmd: str) -> httpx.Response:
        return client.put("/dialer/campaigns/1/control", json={"command": cmd}, headers=auth)

    assert_boom(command("stop"), 400, "Bad Request", '"command" must be one of [start, pause, unpause, reload, remove]')
    assert_boom(command("pause"), 409, "Conflict", "Cannot pause a campaign that is created")
    assert_boom(command("unpause"), 409, "Conflict")
    assert command("reload").json()["state"] == "created"
    assert command("start").json()["state"] == "running"
    assert_boom(command("start"), 409, "Conflict", "Cannot start a campaign that is running")
    assert command("pause").json()["state"] == "paused"
    assert_boom(command("pause"), 409, "Conflict")
    assert command("unpause").json()["state"] == "running"
    assert command("reload").json() == {"id": 1, "message": "Campaign reloaded", "state": "running"}
    assert command("remove").json()["state"] == "removed"
    assert_boom(command("start"), 404, "Not Found", "Campaign not found")
    assert_boom(client.get("/dialer/campaigns/1", headers=auth), 404, "Not Found")
    assert_boom(client.put("/dialer/campaigns/1", json=SEED_CAMPAIGN, headers=auth), 404, "Not Found")
    assert client.get("/dialer/campaigns", headers=auth).json()["items"] == []
    stored = state(emu)["campaigns"][0]
    assert stored["state"] == "removed" and stored["reloads"] == 2
    assert stored["commands"] == ["reload", "start", "pause", "unpause", "reload", "remove"]
    assert_boom(client.put("/dialer/campaigns/77/control", json={"command": "start"}, headers=auth), 404, "Not Found")


def test_update_campaign_keeps_state(emu, client, auth):
    client.post("/dialer/call-lists", json=SEED_CALL_LIST, headers=auth)
    client.post("/dialer/campaigns", json=SEED_CAMPAIGN, headers=auth)
    client.put("/dialer/campaigns/1/control", json={"command": "start"}, headers=auth)
    r = client.put("/dialer/campaigns/1", json={**SEED_CAMPAIGN, "name": "renamed"}, headers=auth)
    assert r.json() == {"id": 1, "message": "Campaign successfully updated"}
    got = client.get("/dialer/campaigns/1", headers=auth).json()
    assert (got["name"], got["state"]) == ("renamed", "running")
    assert_boom(client.put("/dialer/campaigns/1", json={**SEED_CAMPAIGN, "ivr": "x"}, headers=auth), 404, "Not Found")
    assert client.get("/dialer/campaigns/1", headers=auth).json()["ivr"] == "TUxw53xCBf"


def test_call_list_reads_and_pagination(emu, client, auth):
    for i in range(3):
        client.post(
            "/dialer/call-lists",
            json={"name": f"l{i}", "numbers": [{"number": f"12345678{i}"}] * (i + 1)},
            headers=auth,
        )
    page1 = client.get("/dialer/call-lists", params={"page": 1, "pageSize": 2}, headers=auth).json()
    assert [c["name"] for c in page1["items"]] == ["l0", "l1"]
    assert (page1["currentPage"], page1["totalPages"], page1["totalResults"]) == (1, 2, 3)
    assert {"rel": "next", "href": "/dialer/call-lists?page=2&pageSize=2", "method": "GET"} in page1["links"]
    page2 = client.get("/dialer/call-lists", params={"page": 2, "pageSize": 2}, headers=auth).json()
    assert [(c["id"], c["numbersCount"]) for c in page2["items"]] == [(3, 3)]
    assert client.get("/dialer/call-lists/2", headers=auth).json()["numbersCount"] == 2
    assert_boom(client.get("/dialer/call-lists/9", headers=auth), 404, "Not Found", "Call list not found")
    assert_boom(client.get("/dialer/call-lists", params={"pageSize": 9000}, headers=auth), 400, "Bad Request")
    leads = emu.leads(VENDOR, keys=True)["voipex.call-lists"]
    assert leads["total"] == 6 and leads["duplicates"] == {"123456781": 2, "123456782": 3}
