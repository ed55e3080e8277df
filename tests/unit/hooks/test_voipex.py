"""VoipexHook without a server: URL and https rules, OAuth2 token handling (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh), exact wire bodies, retries, redaction, mapping."""

from __future__ import annotations

import json
import warnings
from collections import defaultdict, deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
    DialerRateLimitError,
    UnsupportedCapabilityError,
)
from airflow_provider_dialer.hooks.voipex import CampaignCreate, VoipexHook, voipex_number
from airflow_provider_dialer.hooks.voipex import hook as hook_module
from airflow_provider_dialer.leads.model import PreparedLead

PASSWORD = "unit-voipex-Pa55word!"
LOGIN = "api-user@example.com"
ACCESS = "access-token-AAAA-1111"
REFRESH = "refresh-token-RRRR-2222"

#: the guide's step-3 request body, verbatim
SEED_CAMPAIGN = {
    "name": "campaign",
    "callerId": "123456789",
    "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 2, 3, 4, 5, 6, 7]},
    "callLists": [1],
    "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 15, "maxAttempts": 1}],
    "ivr": "TUxw53xCBf",
    "endpoint": {"type": "queue", "boostFactor": 1.1, "maxWaitingCalls": 2, "queue": "green"},
}


def token_body(
    access: str = ACCESS, refresh: str = REFRESH, expires: float = 3000, refresh_expires: float = 7200
) -> dict:
    return {
        "access_token": access,
        "expires_in": expires,
        "refresh_expires_in": refresh_expires,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": "5d9c",
        "scope": "profile email",
        "id_token_extra": "ignored",
    }


class FakeVoipex:
    """Scripted answers per (method, path); anything unscripted answers 200 with a default body."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.scripts: dict[tuple[str, str], deque[httpx.Response]] = defaultdict(deque)
        self.tokens = 0

    def script(self, method: str, path: str, *responses: httpx.Response) -> None:
        self.scripts[(method, path)].extend(responses)

    def of(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if self.scripts.get(key):
            return self.scripts[key].popleft()
        if request.method == "POST" and request.url.path.endswith("/token"):
            self.tokens += 1
            return httpx.Response(
                200, json=token_body(access=f"{ACCESS}-{self.tokens}", refresh=f"{REFRESH}-{self.tokens}")
            )
        if key == ("GET", "/ivr"):
            return httpx.Response(
                200, json=[{"id": "TUxw53xCBf", "name": "IVR-app-name", "description": "", "extra": 1}]
            )
        if key == ("POST", "/dialer/call-lists"):
            body = json.loads(request.content)
            return httpx.Response(
                200, json={"id": 7, "message": "Call list successfully created", "numbersCount": len(body["numbers"])}
            )
        return httpx.Response(200, json={"id": 1, "message": "ok"})

    async def ahandler(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self.handler(request)


@pytest.fixture
def fake() -> FakeVoipex:
    return FakeVoipex()


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "voipex_unit", **fields: Any) -> str:
    extra = {"retry_backoff_seconds": 0.001, **fields.pop("extra", {})}
    conn = {
        "conn_type": "voipex",
        "host": "ipbxapi.voipex.io",
        "login": LOGIN,
        "password": PASSWORD,
        "extra": extra,
        **fields,
    }
    conn = {k: v for k, v in conn.items() if v is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
    return conn_id


def make_hook(monkeypatch: pytest.MonkeyPatch, fake: FakeVoipex, **fields: Any) -> VoipexHook:
    return VoipexHook(
        set_conn(monkeypatch, **fields),
        transport=httpx.MockTransport(fake.handler),
        async_transport=httpx.MockTransport(fake.ahandler),
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("airflow_provider_dialer.hooks.base.time.sleep", waits.append)
    return waits


# --------------------------------------------------------------------------------------------
# URLs and the https rule
# --------------------------------------------------------------------------------------------


def test_default_host_when_host_empty(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake, host="")
    assert hook.base_url == "https://ipbxapi.voipex.io"


def test_host_name_used_as_is_with_port(monkeypatch, fake):
    # Voipex has no instance names to expand: a host is a host (e.g. the v2 API host)
    hook = make_hook(monkeypatch, fake, host="ipbxapiv2.voipex.io", port=8443)
    assert hook.base_url == "https://ipbxapiv2.voipex.io:8443"


def test_full_url_host(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake, host="https://pbx.example.com:9443/api/")
    assert hook.base_url == "https://pbx.example.com:9443/api"
    hook.list_ivrs()
    assert [str(r.url) for r in fake.requests][-1] == "https://pbx.example.com:9443/api/ivr"


def test_plain_http_to_remote_api_host_refused(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake, host="pbx.example.com", schema="http")
    with pytest.raises(DialerConfigError, match="refusing plain http"):
        hook.list_ivrs()
    assert fake.requests == []


def test_plain_http_to_remote_token_host_refused(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake, extra={"auth_url": "http://auth.example.com/token"})
    with pytest.raises(DialerConfigError, match="token host 'auth.example.com'"):
        hook.list_ivrs()
    assert fake.requests == []


def test_plain_http_allowed_to_loopback_and_when_allowed(monkeypatch, fake):
    hook = make_hook(
        monkeypatch, fake, host="127.0.0.1", port=8103, schema="http", extra={"auth_url": "http://127.0.0.1:8103/token"}
    )
    hook.list_ivrs()
    assert [str(r.url) for r in fake.requests] == ["http://127.0.0.1:8103/token", "http://127.0.0.1:8103/ivr"]
    hook2 = make_hook(
        monkeypatch,
        fake,
        host="pbx.lan",
        schema="http",
        extra={"auth_url": "http://auth.lan/token", "allow_insecure_http": True},
    )
    assert hook2.auth_url == "http://auth.lan/token"
    assert hook2.base_url == "http://pbx.lan"


# --------------------------------------------------------------------------------------------
# OAuth2 password grant, refresh, re-login (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh)
# --------------------------------------------------------------------------------------------


def test_password_grant_form_and_bearer_header(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    hook.list_ivrs()
    token_req, api_req = fake.requests
    assert str(token_req.url) == "https://auth.voipex.io/token"
    assert token_req.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in token_req.headers
    assert parse_qs(token_req.content.decode()) == {
        "grant_type": ["password"],
        "client_id": ["api"],
        "username": [LOGIN],
        "password": [PASSWORD],
    }
    assert api_req.headers["authorization"] == f"Bearer {ACCESS}-1"


def test_scope_and_client_id_extras(monkeypatch, fake):
    hook = make_hook(
        monkeypatch,
        fake,
        extra={
            "client_id": "dialer-app",
            "scope": "openid profile",
            "auth_url": "https://sso.example.com/realms/x/token",
        },
    )
    hook.list_ivrs()
    token_req = fake.requests[0]
    assert str(token_req.url) == "https://sso.example.com/realms/x/token"
    form = parse_qs(token_req.content.decode())
    assert form["client_id"] == ["dialer-app"] and form["scope"] == ["openid profile"]


def test_token_cached_until_skew_then_refreshed_then_relogin(monkeypatch, fake):
    clock = Clock()
    monkeypatch.setattr(hook_module, "time", clock)
    hook = make_hook(monkeypatch, fake)
    hook.list_ivrs()
    clock.now += 2969  # 3000 s lifetime, 30 s skew: still fresh
    hook.list_ivrs()
    assert len(fake.of("POST", "/token")) == 1
    clock.now += 2  # inside the skew: refreshed before expiry
    hook.list_ivrs()
    tokens = fake.of("POST", "/token")
    assert len(tokens) == 2
    assert parse_qs(tokens[1].content.decode()) == {
        "grant_type": ["refresh_token"],
        "client_id": ["api"],
        "refresh_token": [f"{REFRESH}-1"],
    }
    assert fake.of("GET", "/ivr")[-1].headers["authorization"] == f"Bearer {ACCESS}-2"
    clock.now += 7200  # both tokens of the refresh are expired: log in again
    hook.list_ivrs()
    tokens = fake.of("POST", "/token")
    assert len(tokens) == 3
    assert parse_qs(tokens[2].content.decode())["grant_type"] == ["password"]


def test_short_lifetime_uses_ten_percent_skew(monkeypatch, fake):
    clock = Clock()
    monkeypatch.setattr(hook_module, "time", clock)
    fake.script("POST", "/token", httpx.Response(200, json=token_body(expires=2, refresh_expires=10)))
    hook = make_hook(monkeypatch, fake)
    hook.list_ivrs()
    clock.now += 1.7
    hook.list_ivrs()
    assert len(fake.of("POST", "/token")) == 1
    clock.now += 0.2  # 1.9 s > 2 - 0.2
    hook.list_ivrs()
    assert len(fake.of("POST", "/token")) == 2


def test_401_refreshes_then_retries(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "GET",
        "/ivr",
        httpx.Response(401, json={"statusCode": 401, "error": "Unauthorized", "message": "Token expired"}),
    )
    assert [i.id for i in hook.list_ivrs()] == ["TUxw53xCBf"]
    tokens = fake.of("POST", "/token")
    assert [parse_qs(t.content.decode())["grant_type"] for t in tokens] == [["password"], ["refresh_token"]]
    assert [r.headers["authorization"] for r in fake.of("GET", "/ivr")] == [f"Bearer {ACCESS}-1", f"Bearer {ACCESS}-2"]


def test_refused_refresh_falls_back_to_login(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    hook.list_ivrs()
    fake.script("GET", "/ivr", httpx.Response(401, json={"statusCode": 401, "error": "Unauthorized", "message": "x"}))
    fake.script(
        "POST",
        "/token",
        httpx.Response(400, json={"error": "invalid_grant", "error_description": "Token is not active"}),
    )
    hook.list_ivrs()
    grants = [parse_qs(t.content.decode())["grant_type"][0] for t in fake.of("POST", "/token")]
    assert grants == ["password", "refresh_token", "password"]


def test_second_401_raises_auth_error(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    body = {"statusCode": 401, "error": "Unauthorized", "message": "Invalid token"}
    fake.script("GET", "/ivr", httpx.Response(401, json=body), httpx.Response(401, json=body))
    with pytest.raises(DialerAuthError) as info:
        hook.list_ivrs()
    assert info.value.status == 401 and "Invalid token" in str(info.value)


def test_login_refused_is_auth_error_without_secrets(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "POST",
        "/token",
        httpx.Response(
            401,
            json={"error": "invalid_grant", "error_description": f"Invalid user credentials for {LOGIN} / {PASSWORD}"},
        ),
    )
    with pytest.raises(DialerAuthError) as info:
        hook.list_ivrs()
    text = str(info.value)
    assert PASSWORD not in text
    assert "invalid_grant" in text and "POST /token -> HTTP 401" in text and "check the API access e-mail" in text
    assert fake.of("GET", "/ivr") == []


def test_token_answer_without_access_token(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script("POST", "/token", httpx.Response(200, json={"error": "weird"}))
    with pytest.raises(DialerAuthError, match="without an access_token"):
        hook.list_ivrs()


def test_error_text_redacts_tokens_and_password(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "POST",
        "/dialer/call-lists",
        httpx.Response(
            500,
            json={
                "statusCode": 500,
                "error": "Internal Server Error",
                "message": f"boom with Bearer {ACCESS}-1 and {PASSWORD} and {REFRESH}-1",
            },
        ),
    )
    with pytest.raises(DialerHTTPError) as info:
        hook.create_call_list("x", [{"number": "123456789"}])
    text = str(info.value)
    assert f"{ACCESS}-1" not in text and PASSWORD not in text and f"{REFRESH}-1" not in text
    assert "POST /dialer/call-lists -> HTTP 500" in text and "boom with Bearer ***" in text
    assert len(fake.of("POST", "/dialer/call-lists")) == 1  # 500 is not retried


# --------------------------------------------------------------------------------------------
# Exact wire bodies and parsing
# --------------------------------------------------------------------------------------------


def test_create_call_list_body(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    created = hook.create_call_list("call-list-name", [{"number": "123456789", "attributes": []}])
    req = fake.of("POST", "/dialer/call-lists")[0]
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {"name": "call-list-name", "numbers": [{"number": "123456789", "attributes": []}]}
    assert (created.id, created.numbers_count, created.message) == (7, 1, "Call list successfully created")


def test_call_list_number_rejects_unknown_key_before_sending(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    with pytest.raises(ValueError, match="phone"):
        hook.create_call_list("x", [{"number": "1", "phone": "2"}])
    assert fake.requests == []


def test_campaign_model_round_trips_the_guide_example(monkeypatch, fake):
    assert CampaignCreate.model_validate(SEED_CAMPAIGN).wire() == SEED_CAMPAIGN
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "POST",
        "/dialer/campaigns",
        httpx.Response(200, json={"id": 1, "message": "Campaign successfully created", "x": 2}),
    )
    created = hook.create_campaign(SEED_CAMPAIGN)
    assert json.loads(fake.of("POST", "/dialer/campaigns")[0].content) == SEED_CAMPAIGN
    assert (created.id, created.message) == (1, "Campaign successfully created")


def test_campaign_defaults_and_required_fields():
    minimal = {k: v for k, v in SEED_CAMPAIGN.items() if k not in ("rescheduleRules", "endpoint")}
    wire = CampaignCreate.model_validate(minimal).wire()
    assert wire["rescheduleRules"] == [] and "endpoint" not in wire
    endpoint = CampaignCreate.model_validate({**minimal, "endpoint": {}}).wire()["endpoint"]
    assert endpoint == {"type": "phone", "boostFactor": 1.0, "maxWaitingCalls": 2}
    for field in ("name", "callerId", "activePeriod", "callLists", "ivr"):
        with pytest.raises(ValueError, match=field):
            CampaignCreate.model_validate({k: v for k, v in minimal.items() if k != field})
    with pytest.raises(ValueError, match="weekDays"):
        CampaignCreate.model_validate(
            {**minimal, "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [0, 8]}}
        )
    with pytest.raises(ValueError, match="startTime"):
        CampaignCreate.model_validate(
            {**minimal, "activePeriod": {"startTime": "9", "endTime": "17:00", "weekDays": [1]}}
        )
    with pytest.raises(ValueError, match="type"):
        CampaignCreate.model_validate({**minimal, "endpoint": {"type": "agent"}})
    with pytest.raises(ValueError, match="typo"):
        CampaignCreate.model_validate({**minimal, "typo": 1})


def test_control_campaign_body_and_invalid_command(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "PUT",
        "/dialer/campaigns/5/control",
        httpx.Response(200, json={"id": 5, "message": "Campaign started", "state": "running"}),
    )
    result = hook.control_campaign(5, "start")
    assert json.loads(fake.of("PUT", "/dialer/campaigns/5/control")[0].content) == {"command": "start"}
    assert (result.id, result.state) == (5, "running")
    count = len(fake.requests)
    with pytest.raises(DialerConfigError, match="start, pause, unpause, reload, remove.*'stop'"):
        hook.control_campaign(5, "stop")
    assert len(fake.requests) == count


def test_the_control_verb_refuses_a_command_voipex_lacks_as_every_vendor_does(monkeypatch, fake):
    """The CampaignController verb checks the command as XCALLY's does: UnsupportedCapabilityError naming
    the accepted ones, before any request."""
    hook = make_hook(monkeypatch, fake)
    with pytest.raises(UnsupportedCapabilityError, match="campaign command 'stop'.*pause, reload, remove, start"):
        hook.control(5, "stop")
    assert fake.requests == []


def test_control_campaign_empty_answer(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script("PUT", "/dialer/campaigns/5/control", httpx.Response(200))
    assert hook.control_campaign(5, "pause").id == 5


def test_update_and_get_campaign(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    hook.update_campaign(3, SEED_CAMPAIGN)
    put = fake.of("PUT", "/dialer/campaigns/3")[0]
    assert json.loads(put.content) == SEED_CAMPAIGN
    fake.script(
        "GET", "/dialer/campaigns/3", httpx.Response(200, json={**SEED_CAMPAIGN, "id": 3, "state": "paused", "new": 1})
    )
    got = hook.get_campaign(3)
    assert got.id == 3 and got.campaign_state.value == "paused" and got.call_lists == [1]
    fake.script(
        "GET",
        "/dialer/campaigns/4",
        httpx.Response(404, json={"statusCode": 404, "error": "Not Found", "message": "Campaign not found"}),
    )
    assert hook.get_campaign(4) is None


def test_list_campaigns_follows_pages(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    page = lambda n, ids: httpx.Response(  # noqa: E731 - a one-line response builder
        200,
        json={
            "items": [{"id": i, "name": f"c{i}", "state": "created"} for i in ids],
            "links": [],
            "currentPage": n,
            "totalPages": 2,
            "totalResults": 3,
        },
    )
    fake.script("GET", "/dialer/campaigns", page(1, [1, 2]), page(2, [3]))
    assert [c.id for c in hook.list_campaigns()] == [1, 2, 3]
    assert [dict(r.url.params) for r in fake.of("GET", "/dialer/campaigns")] == [
        {"page": "1", "pageSize": "100"},
        {"page": "2", "pageSize": "100"},
    ]


def test_list_call_lists_accepts_bare_array_and_get_404(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    fake.script("GET", "/dialer/call-lists", httpx.Response(200, json=[{"id": 1, "name": "a", "numbersCount": 3}]))
    assert [(c.id, c.name, c.numbers_count) for c in hook.list_call_lists()] == [(1, "a", 3)]
    fake.script("GET", "/dialer/call-lists/9", httpx.Response(404, json={"statusCode": 404}))
    assert hook.get_call_list(9) is None


def test_find_ivr_by_id_or_name(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    assert hook.find_ivr("TUxw53xCBf").name == "IVR-app-name"
    assert hook.find_ivr("IVR-app-name").id == "TUxw53xCBf"
    assert hook.find_ivr("nope") is None


async def test_async_twin_same_result(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    numbers = [{"number": "420228881234", "attributes": [{"name": "external_id", "value": "c-1"}]}]
    sync_result = hook.create_call_list("l", numbers)
    async_result = await hook.acreate_call_list("l", numbers)
    assert sync_result == async_result
    bodies = [json.loads(r.content) for r in fake.of("POST", "/dialer/call-lists")]
    assert bodies[0] == bodies[1]
    assert len(fake.of("POST", "/token")) == 1  # the token is shared by the two paths
    await hook.aclose()


# --------------------------------------------------------------------------------------------
# Retry decisions
# --------------------------------------------------------------------------------------------


def test_429_retry_after_honoured(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script("POST", "/dialer/call-lists", httpx.Response(429, headers={"Retry-After": "2"}, json={}))
    assert hook.create_call_list("l", [{"number": "123"}]).id == 7
    assert len(fake.of("POST", "/dialer/call-lists")) == 2
    assert no_sleep == [2.0]


def test_429_beyond_budget_raises_rate_limit(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake, extra={"max_attempts": 2})
    fake.script("GET", "/ivr", *[httpx.Response(429, headers={"Retry-After": "0"}) for _ in range(2)])
    with pytest.raises(DialerRateLimitError):
        hook.list_ivrs()


def test_503_retried_on_write(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script("POST", "/dialer/campaigns", httpx.Response(503), httpx.Response(200, json={"id": 2, "message": "ok"}))
    assert hook.create_campaign(SEED_CAMPAIGN).id == 2
    assert len(fake.of("POST", "/dialer/campaigns")) == 2


def test_502_on_write_not_retried(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script("POST", "/dialer/call-lists", httpx.Response(502, text="bad gateway"))
    with pytest.raises(DialerHTTPError) as info:
        hook.create_call_list("l", [{"number": "123"}])
    assert info.value.status == 502
    assert len(fake.of("POST", "/dialer/call-lists")) == 1


def test_502_on_read_retried(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script("GET", "/ivr", httpx.Response(502), httpx.Response(502))
    assert len(hook.list_ivrs()) == 1
    assert len(fake.of("GET", "/ivr")) == 3


def test_500_not_retried_and_carries_body(monkeypatch, fake, no_sleep):
    hook = make_hook(monkeypatch, fake)
    fake.script(
        "GET",
        "/ivr",
        httpx.Response(500, json={"statusCode": 500, "error": "Internal Server Error", "message": "db down"}),
    )
    with pytest.raises(DialerHTTPError, match="GET /ivr -> HTTP 500.*db down"):
        hook.list_ivrs()
    assert len(fake.of("GET", "/ivr")) == 1


def test_dropped_answer_on_write_is_unknown_not_resent(monkeypatch, no_sleep):
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path == "/token":
            return httpx.Response(200, json=token_body())
        raise httpx.ReadError("connection reset", request=request)

    hook = VoipexHook(set_conn(monkeypatch), transport=httpx.MockTransport(handler))
    with pytest.raises(DialerDeliveryUnknownError):
        hook.create_call_list("l", [{"number": "123"}])
    assert calls == ["/token", "/dialer/call-lists"]


# --------------------------------------------------------------------------------------------
# PreparedLead -> call-list number
# --------------------------------------------------------------------------------------------


def lead(**kw: Any) -> PreparedLead:
    return PreparedLead(**{"row": 1, "phone": "+123456789", "timezone": "Europe/Prague", **kw})


def test_mapping_matches_the_guide_example():
    assert voipex_number(lead()) == {"number": "123456789", "attributes": []}


def test_mapping_options_and_attributes():
    full = lead(
        phone="+420228881234",
        alternatives=("+420228881235",),
        first_name="Jana",
        external_id="c-17",
        data={"plan": "gold", "balance": 12.5, "vip": True, "none": None, "tags": ["a", "b"]},
        call_at=datetime(2030, 1, 1, tzinfo=UTC),
    )
    assert voipex_number(full, phone_format="e164")["number"] == "+420228881234"
    assert voipex_number(full) == {
        "number": "420228881234",
        "attributes": [
            {"name": "external_id", "value": "c-17"},
            {"name": "plan", "value": "gold"},
            {"name": "balance", "value": "12.5"},
            {"name": "vip", "value": "true"},
            {"name": "tags", "value": '["a","b"]'},
        ],
    }
    assert voipex_number(full, with_attributes=False) == {"number": "420228881234", "attributes": []}
    with pytest.raises(ValueError):
        voipex_number(full, phone_format="national")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["phone_format", "number_format"])
def test_hook_phone_format_option(monkeypatch, fake, name):
    """``phone_format=`` (and its older name, with a DeprecationWarning) sets the default of every list."""
    with pytest.raises(DialerConfigError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        VoipexHook("x", **{name: "intl"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        hook = VoipexHook(set_conn(monkeypatch), **{name: "e164"}, transport=httpx.MockTransport(fake.handler))
    assert [w.category for w in caught if "number_format" in str(w.message)] == (
        [DeprecationWarning] if name == "number_format" else []
    )
    target = hook.open_list_target("daily", {})
    outcome = hook.push_list_chunk(target, "now#1", [lead(), lead(row=2, phone="+420228881234")])
    body = json.loads(fake.of("POST", "/dialer/call-lists")[0].content)
    assert body == {
        "name": "daily",
        "numbers": [{"number": "+123456789", "attributes": []}, {"number": "+420228881234", "attributes": []}],
    }
    assert outcome.accepted == 2 and outcome.ids == {"call_list_ids": [7]}


@pytest.mark.parametrize("fmt", ["digits", "e164"])
@pytest.mark.parametrize("spelling", [("phone_format",), ("number_format",), ("phone_format", "number_format")])
def test_list_phone_format_is_read_under_both_names(monkeypatch, fake, fmt, spelling):
    """``phone_format`` (the name XCALLY uses) and the older ``number_format`` set the same thing: the
    numbers on the wire are E.164 with "+" or digits alone, checked on the body the fake received."""
    hook = make_hook(monkeypatch, fake)
    target = hook.open_list_target("daily", dict.fromkeys(spelling, fmt))
    hook.push_list_chunk(target, "now#1", [lead(phone="+420228881234")])
    body = json.loads(fake.of("POST", "/dialer/call-lists")[-1].content)
    assert body["numbers"][0]["number"] == ("+420228881234" if fmt == "e164" else "420228881234")


def test_list_phone_format_under_two_names_must_agree(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    with pytest.raises(DialerConfigError, match="phone_format only"):
        hook.open_list_target("daily", {"phone_format": "e164", "number_format": "digits"})
    with pytest.raises(DialerConfigError, match="phone_format must be"):
        hook.open_list_target("daily", {"phone_format": "national"})
    assert not fake.of("POST", "/dialer/call-lists")


@pytest.mark.parametrize(("kept", "expected"), [({"number_format": "e164"}, "+420228881234"), ({}, "420228881234")])
def test_a_target_kept_in_progress_by_an_earlier_version_keeps_its_spelling(monkeypatch, fake, kept, expected):
    """A retry resumes with the target its first attempt opened; one opened before ``phone_format``
    holds ``number_format`` (or nothing, the hook's default then)."""
    hook = make_hook(monkeypatch, fake)
    hook.push_list_chunk({"list_name": "daily", "attributes": True, **kept}, "now#1", [lead(phone="+420228881234")])
    assert json.loads(fake.of("POST", "/dialer/call-lists")[-1].content)["numbers"][0]["number"] == expected


# --------------------------------------------------------------------------------------------
# Capabilities used by the operators
# --------------------------------------------------------------------------------------------


def test_list_target_settings_validated(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    with pytest.raises(DialerConfigError, match="hub"):
        hook.open_list_target("x", {"hub": "sales"})
    assert hook.open_list_target("x", {"attributes": False}) == {
        "list_name": "x",
        "phone_format": "digits",
        "attributes": False,
    }


def test_resolve_list_chunk_by_name(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    target = hook.open_list_target("daily", {})
    leads = [lead(row=4), lead(row=5)]
    fake.script(
        "GET",
        "/dialer/call-lists",
        httpx.Response(200, json={"items": [{"id": 11, "name": "daily now#2"}], "currentPage": 1, "totalPages": 1}),
    )
    found = hook.resolve_list_chunk(target, "now#2", leads)
    assert (found.accepted, found.ids, found.how) == (2, {"call_list_ids": [11]}, "resolved")
    fake.script("GET", "/dialer/call-lists", httpx.Response(200, json={"items": [], "currentPage": 1, "totalPages": 1}))
    missing = hook.resolve_list_chunk(target, "now#2", leads)
    assert (missing.accepted, missing.missing) == (0, [4, 5])
    fake.script("GET", "/dialer/call-lists", httpx.Response(404, json={"statusCode": 404}))
    assert hook.resolve_list_chunk(target, "now#2", leads) is None


def test_build_campaign_from_operator_arguments(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    wanted = hook.build_campaign(
        {"name": "daily", "calling_hours": "09:00-17:00", "weekdays": [1, 2, 3], "lists": ["7", 8], "agents": None},
        {
            "callerId": "420228881234",
            "ivr_name": "IVR-app-name",
            "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 900, "maxAttempts": 2}],
        },
    )
    assert wanted == {
        "name": "daily",
        "callerId": "420228881234",
        "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 2, 3]},
        "callLists": [7, 8],
        "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 900, "maxAttempts": 2}],
        "ivr": "TUxw53xCBf",
    }
    with pytest.raises(DialerConfigError, match="no IVR application named 'x'"):
        hook.build_campaign({"name": "d", "lists": [1]}, {"callerId": "1", "ivr_name": "x"})
    with pytest.raises(DialerConfigError, match="agents"):
        hook.build_campaign({"name": "d", "lists": [1], "agents": [3]}, {"callerId": "1", "ivr": "a"})
    with pytest.raises(DialerConfigError, match="callerId"):
        hook.build_campaign({"name": "d", "lists": [1]}, {"ivr": "a"})


def test_campaign_differences_fill_endpoint_defaults(monkeypatch, fake):
    hook = make_hook(monkeypatch, fake)
    existing = {
        **SEED_CAMPAIGN,
        "id": 1,
        "state": "running",
        "endpoint": {"type": "phone", "boostFactor": 1, "maxWaitingCalls": 2},
    }
    wanted = {**SEED_CAMPAIGN, "endpoint": {"type": "phone", "boostFactor": 1.0, "maxWaitingCalls": 2}}
    assert hook.campaign_differences(existing, wanted) == {}
    diff = hook.campaign_differences(existing, {**wanted, "callLists": [1, 2]})
    assert diff == {"callLists": {"existing": [1], "wanted": [1, 2]}}
