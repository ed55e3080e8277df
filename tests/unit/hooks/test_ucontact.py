"""UContactHook without a server: URL rule, both auth schemes, exact wire bodies, parsing, retries, redaction, async twin."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerHTTPError,
    DialerRejectedError,
)
from airflow_provider_dialer.hooks.ucontact import (
    ListInfo,
    ListState,
    UContactHook,
    automation_contact,
    dialer_task_call,
    render_integra_data,
)
from airflow_provider_dialer.leads.model import PreparedLead

PASSWORD = "uc-Pass-w0rd-9f3e"
API_TOKEN = "uc-api-token-77aa1c"
ISSUED = "c3VwZXJ2aXNvcjpmMTFiYzI3YS1lbXU="  # base64("supervisor:f11bc27a-emu")
LOGIN_ANSWER = json.dumps(["Supervisor", "supervisor", ISSUED])


def set_conn(monkeypatch: pytest.MonkeyPatch, conn_id: str = "ucontact_default", **fields: Any) -> None:
    conn: dict[str, Any] = {
        "conn_type": "ucontact",
        "host": "127.0.0.1",
        "port": 9,
        "schema": "http",
        "login": "supervisor",
        "password": PASSWORD,
    }
    extra = {"api_token": API_TOKEN, "retry_backoff_seconds": 0.001}
    extra.update(fields.pop("extra", {}))
    conn.update(fields)
    conn["extra"] = {k: v for k, v in extra.items() if v is not None}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


class Script:
    """A MockTransport handler that answers from a list and records what it saw."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.seen.append(request)
        item = self.answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def hook(self, **kwargs: Any) -> UContactHook:
        return UContactHook(transport=httpx.MockTransport(self), **kwargs)

    def form(self, i: int) -> dict[str, list[str]]:
        return parse_qs(self.seen[i].content.decode("ascii"), keep_blank_values=True)


def text(body: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, text=body, headers={"Content-Type": "text/plain"})


def lead(**overrides: Any) -> PreparedLead:
    base: dict[str, Any] = {"row": 1, "phone": "+59899123456", "timezone": "America/Montevideo"}
    base.update(overrides)
    return PreparedLead(**base)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr("airflow_provider_dialer.hooks.base.time.sleep", waits.append)
    return waits


# -- base URL -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "acme", "port": None, "schema": ""}, "https://acme.ucontactcloud.com"),
        ({"host": "acme", "port": 8443, "schema": "https"}, "https://acme.ucontactcloud.com:8443"),
        ({"host": "uc.example.net", "port": None, "schema": ""}, "https://uc.example.net"),
        ({"host": "https://acme.ucontactcloud.com/", "port": None, "schema": ""}, "https://acme.ucontactcloud.com"),
        ({"host": "localhost", "port": 8080, "schema": "http"}, "http://localhost:8080"),
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
    ],
)
def test_base_url(monkeypatch, fields, expected):
    set_conn(monkeypatch, **fields)
    assert UContactHook().base_url == expected


def test_plain_http_to_an_instance_is_refused_unless_allowed(monkeypatch):
    set_conn(monkeypatch, host="acme", port=None, schema="http")
    with pytest.raises(DialerConfigError, match="refusing plain http://"):
        UContactHook().base_url
    set_conn(monkeypatch, host="acme", port=None, schema="http", extra={"allow_insecure_http": True})
    assert UContactHook().base_url == "http://acme.ucontactcloud.com"


def test_hook_identity():
    assert (UContactHook.conn_type, UContactHook.conn_name_attr, UContactHook.default_conn_name) == (
        "ucontact",
        "ucontact_conn_id",
        "ucontact_default",
    )
    # DialerTask and fresh leads carry each lead's time; hub list contacts do not
    assert (UContactHook.list_per_lead_schedule, UContactHook.fresh_per_lead_schedule) == (False, True)
    assert UContactHook(ucontact_conn_id="other").conn_id == "other"


@pytest.mark.parametrize(
    ("zone_aware", "at_once"),
    [(None, False), (False, False), ("false", False), (True, True), ("true", True)],
)
def test_a_hub_list_holds_leads_back_unless_zone_aware(zone_aware, at_once):
    """The list upload reads one name, the target's ``per_lead_schedule``: set from ``zone_aware``."""
    from airflow_provider_dialer.operators.lists import UploadListOperator

    settings: dict[str, Any] = {"hub": "sales"} if zone_aware is None else {"hub": "sales", "zone_aware": zone_aware}
    hook = UContactHook("any")
    target = hook.open_list_target("l", settings)
    op = UploadListOperator(task_id="u", conn_id="any", source=[], list_name="l", settings=settings)
    assert op.per_lead_schedule(hook, target) is at_once


# -- Integra: login, DialerTask wire (docs/vendors/ucontact.md#decision-dialertask-success-is-the-text-1) --

SPECIAL = lead(
    phone="+59899123456",
    alternatives=("+59824001122", "+59899000111"),
    agent="1001",
    data={"idcustomer": 7, "note": "a&b=c+d <- ñandú", "url": "http://x:1/?q=1"},
)


def test_dialer_task_logs_in_then_sends_the_form_exactly(monkeypatch):
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, text=LOGIN_ANSWER), text("1"))
    hook = script.hook()
    call = dialer_task_call(SPECIAL, campaign="POWER<-", instance_timezone="America/Montevideo")
    assert hook.dialer_task(call) is True

    login, task = script.seen
    assert (login.method, login.url.path) == ("POST", "/Integra/resources/auth/getUserToken")
    assert "authorization" not in login.headers
    assert script.form(0) == {"user": ["supervisor"], "password": [PASSWORD]}

    assert (task.method, task.url.path) == ("POST", "/Integra/resources/Dialers/DialerTask")
    assert task.headers["authorization"] == f"Basic {ISSUED}"  # sent unchanged, not re-encoded
    assert task.headers["content-type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    raw = task.content.decode("ascii")
    assert raw.startswith("call=%7B%22calldate%22%3Anull%2C%22campaign%22%3A%22POWER%3C-%22")
    assert "&" not in raw  # one field: & inside values is escaped
    sent = json.loads(script.form(1)["call"][0])
    assert sent == {
        "calldate": None,
        "campaign": "POWER<-",
        "destination": "59899123456",
        "alternatives": "59824001122:59899000111",
        "agent": "1001",
        "data": "idcustomer=7:note=a&b%3Dc+d <- ñandú:url=http%3A//x%3A1/?q%3D1",
        "source": "airflow",
        "bulk": False,
        "automatic": True,
    }
    assert list(sent) == [
        "calldate",
        "campaign",
        "destination",
        "alternatives",
        "agent",
        "data",
        "source",
        "bulk",
        "automatic",
    ]


def test_getusertoken_zero_is_an_auth_error_without_the_password(monkeypatch):
    set_conn(monkeypatch)
    script = Script(text("0"))
    with pytest.raises(DialerAuthError) as info:
        script.hook().dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    assert "getUserToken refused user 'supervisor'" in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value.args)
    assert len(script.seen) == 1


@pytest.mark.parametrize(
    ("answer", "status"),
    [(text("0"), 200), (text("ERROR: campaign"), 200), (text(""), 200), (text("0", 400), 400)],
)
def test_dialer_task_anything_but_1_is_rejected_with_the_body(monkeypatch, answer, status):
    set_conn(monkeypatch, extra={"integra_token": ISSUED})
    script = Script(answer)
    with pytest.raises(DialerRejectedError) as info:
        script.hook().dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    assert info.value.status == status
    assert info.value.body == answer.text.strip()
    assert len(script.seen) == 1


def test_dialer_task_500_is_an_http_error_not_retried(monkeypatch):
    set_conn(monkeypatch, extra={"integra_token": ISSUED})
    script = Script(text("boom", 500))
    with pytest.raises(DialerHTTPError) as info:
        script.hook().dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    assert not isinstance(info.value, DialerRejectedError)
    assert (info.value.status, info.value.body) == (500, "boom")
    assert len(script.seen) == 1


def test_preissued_integra_token_is_used_as_is_and_a_401_is_not_relogged(monkeypatch):
    set_conn(monkeypatch, extra={"integra_token": "preissued-token-123"})
    script = Script(httpx.Response(401))
    hook = script.hook()
    with pytest.raises(DialerAuthError) as info:
        hook.dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    assert script.seen[0].headers["authorization"] == "Basic preissued-token-123"
    assert "preissued-token-123" not in str(info.value)
    hook.close()
    assert len(script.seen) == 1  # no login, no EndSession for a token the hook did not open


def test_401_after_own_login_logs_in_again_once(monkeypatch):
    set_conn(monkeypatch)
    second = json.dumps(["Supervisor", "supervisor", "c2Vjb25kLXRva2Vu"])
    script = Script(
        httpx.Response(200, text=LOGIN_ANSWER), httpx.Response(401), httpx.Response(200, text=second), text("1")
    )
    hook = script.hook()
    assert hook.dialer_task(dialer_task_call(lead(), campaign="POWER<-")) is True
    paths = [r.url.path.rsplit("/", 1)[-1] for r in script.seen]
    assert paths == ["getUserToken", "DialerTask", "getUserToken", "DialerTask"]
    assert script.seen[3].headers["authorization"] == "Basic c2Vjb25kLXRva2Vu"


def test_close_ends_the_session_the_hook_opened(monkeypatch):
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, text=LOGIN_ANSWER), text("1"), text("1"))
    hook = script.hook()
    hook.dialer_task(dialer_task_call(lead(), campaign="POWER<-"))
    hook.close()
    end = script.seen[2]
    assert end.url.path == "/Integra/resources/auth/EndSession"
    assert script.form(2) == {"user": ["supervisor"], "token": [ISSUED]}
    assert end.headers["authorization"] == f"Basic {ISSUED}"
    hook.close()
    assert len(script.seen) == 3  # ended once
    assert hook.end_session() is False


# -- Automation API ------------------------------------------------------------------------------------


def test_upload_list_body_auth_and_answer(monkeypatch):
    set_conn(monkeypatch)
    script = Script(httpx.Response(202, json={"id": 41, "filename": "June", "status": "loading", "count": 2, "new": 1}))
    hook = script.hook()
    contacts = [automation_contact(lead(external_id="c-1")), {"clientIds": ["1987789"]}]
    info = hook.upload_list("sales team", "June", contacts)
    assert info == ListInfo(id=41, filename="June", status="loading", count=2)
    request = script.seen[0]
    assert (request.method, request.url.raw_path) == ("POST", b"/api/dialer/id/sales%20team/lists")
    assert request.headers["authorization"] == f"Bearer {API_TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert request.content == (
        b'{"filename":"June","list":[{"clientIds":["+59899123456"],"timezone":"America/Montevideo",'
        b'"contactId":"c-1"},{"clientIds":["1987789"]}]}'
    )


def test_upload_list_without_a_body_keeps_the_filename(monkeypatch):
    set_conn(monkeypatch)
    script = Script(httpx.Response(202))
    info = script.hook().upload_list("sales", "June", [{"clientIds": ["1"]}])
    assert info == ListInfo(filename="June")
    assert info.is_failed  # no status: the list-loading sensor cannot wait on it


def test_push_fresh_leads_body(monkeypatch):
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, json={"count": 1}))
    at = datetime(2025, 11, 3, 14, 54, tzinfo=UTC)
    result = script.hook().push_fresh_leads(
        "mail", [automation_contact(lead(email="j@x.io", call_at=at), channel="email", fresh=True)]
    )
    assert result.count == 1
    assert json.loads(script.seen[0].content) == {
        "leads": [{"clientId": "j@x.io", "timezone": "America/Montevideo", "scheduleDate": "2025-11-03 11:54:00"}]
    }
    assert script.seen[0].url.path == "/api/dialer/id/mail/freshLeads"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "+59899123456"),
        ({"phone_format": "e164"}, "+59899123456"),
        ({"phone_format": "DIGITS"}, "59899123456"),
        ({"number_plus": False}, "59899123456"),
        ({"number_plus": "true"}, "+59899123456"),
        ({"phone_format": "digits", "number_plus": False}, "59899123456"),
    ],
)
def test_fresh_numbers_follow_phone_format_or_its_older_name(monkeypatch, settings, expected):
    """``phone_format`` (the name every vendor's settings use) and uContact's older ``number_plus`` set
    one thing: the numbers the freshLeads body carries, read from what the transport received."""
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, json={"count": 1}))
    hook = script.hook()
    target = hook.open_fresh_target({"hub": "sales", **settings})
    hook.push_fresh_chunk(target, "now#1", [lead(alternatives=("+59824001122",))])
    plus = "+" if expected.startswith("+") else ""
    assert json.loads(script.seen[0].content)["leads"][0]["clientIds"] == [expected, f"{plus}59824001122"]


def test_phone_format_and_number_plus_must_agree(monkeypatch):
    set_conn(monkeypatch)
    with pytest.raises(DialerConfigError, match="phone_format only"):
        UContactHook().open_list_target("june", {"hub": "sales", "phone_format": "e164", "number_plus": False})
    with pytest.raises(DialerConfigError, match="phone_format must be"):
        UContactHook().open_fresh_target({"hub": "sales", "phone_format": "national"})


@pytest.mark.parametrize(("kept", "expected"), [({"number_plus": False}, "59899123456"), ({}, "+59899123456")])
def test_a_target_kept_in_progress_by_an_earlier_version_keeps_its_spelling(monkeypatch, kept, expected):
    """A retry resumes with the target its first attempt opened; one opened before ``phone_format``
    holds ``number_plus`` (or nothing, the default then): the resend spells numbers the same way."""
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, json={"count": 1}))
    script.hook().push_fresh_chunk({"hub": "sales", "channel": "telephony", **kept}, "now#1", [lead()])
    assert json.loads(script.seen[0].content)["leads"][0]["clientIds"] == [expected]


def test_missing_api_token_is_a_config_error(monkeypatch):
    set_conn(monkeypatch, extra={"api_token": None})
    with pytest.raises(DialerConfigError, match="no api_token extra"):
        Script().hook().list_lists("sales")


def test_get_list_path_is_configurable(monkeypatch):
    set_conn(monkeypatch, extra={"list_state_path": "/api/v2/hubs/{hub}/list-state/{list_id}"})
    script = Script(httpx.Response(200, json={"id": 3, "status": "inactive"}))
    info = script.hook().get_list("sales", 3)
    assert script.seen[0].url.path == "/api/v2/hubs/sales/list-state/3"
    assert info.is_loaded and not info.is_failed
    set_conn(monkeypatch, extra={"list_state_path": "/x/{nope}"})
    with pytest.raises(DialerConfigError, match="list_state_path"):
        Script().hook().get_list("sales", 3)


@pytest.mark.parametrize(
    "payload",
    [
        [{"id": 1, "filename": "a", "status": "loading", "count": 3, "x": 1}],
        {"lists": [{"id": 1, "filename": "a", "status": "loading", "count": 3}]},
    ],
)
def test_list_lists_parses_array_or_envelope(monkeypatch, payload):
    set_conn(monkeypatch)
    script = Script(httpx.Response(200, json=payload))
    assert script.hook().list_lists("sales") == [ListInfo(id=1, filename="a", status="loading", count=3)]
    assert script.seen[0].url.path == "/api/dialer/id/sales/lists"


@pytest.mark.parametrize(
    ("status", "waiting", "loaded", "failed"),
    [
        ("loading", True, False, False),
        ("inactive", False, True, False),
        ("ACTIVE", False, True, False),
        ("finished", False, False, True),
        ("error", False, False, True),
        (None, False, False, True),
    ],
)
def test_list_state_semantics_d3(status, waiting, loaded, failed):
    assert (ListState.is_waiting(status), ListState.is_loaded(status), ListState.is_failed(status)) == (
        waiting,
        loaded,
        failed,
    )


# -- retries -------------------------------------------------------------------------------------------


def test_429_retry_after_is_honoured_on_a_write(monkeypatch, no_sleep):
    set_conn(monkeypatch)
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={"count": 1}))
    assert script.hook().push_fresh_leads("sales", [{"clientIds": ["1"]}]).count == 1
    assert no_sleep == [7.0]
    assert len(script.seen) == 2


def test_503_is_retried_on_a_write(monkeypatch, no_sleep):
    set_conn(monkeypatch)
    script = Script(httpx.Response(503), httpx.Response(202, json={"id": 1, "status": "loading"}))
    assert script.hook().upload_list("sales", "a", [{"clientIds": ["1"]}]).id == 1
    assert len(script.seen) == 2


def test_502_on_a_write_is_not_retried(monkeypatch, no_sleep):
    set_conn(monkeypatch)
    script = Script(httpx.Response(502, text="bad gateway"), httpx.Response(202, json={"id": 1}))
    with pytest.raises(DialerHTTPError) as info:
        script.hook().upload_list("sales", "a", [{"clientIds": ["1"]}])
    assert info.value.status == 502 and len(script.seen) == 1


def test_502_on_a_read_is_retried(monkeypatch, no_sleep):
    set_conn(monkeypatch)
    script = Script(httpx.Response(502), httpx.Response(200, json={"id": 5, "status": "loading"}))
    assert script.hook().get_list("sales", 5).status == "loading"
    assert len(script.seen) == 2


def test_500_is_not_retried_and_carries_the_body_without_the_token(monkeypatch, no_sleep):
    set_conn(monkeypatch)
    script = Script(httpx.Response(500, json={"message": f"token {API_TOKEN} exploded"}))
    with pytest.raises(DialerHTTPError) as info:
        script.hook().get_list("sales", 5)
    assert info.value.status == 500 and len(script.seen) == 1
    assert "exploded" in str(info.value) and API_TOKEN not in str(info.value)
    assert "/api/dialer/id/sales/lists/5" in str(info.value)


# -- async twin ----------------------------------------------------------------------------------------


async def test_async_twin_matches_sync(monkeypatch):
    set_conn(monkeypatch)
    answer = {"id": 9, "filename": "f", "status": "inactive", "count": 4}
    sync_hook = Script(httpx.Response(200, json=answer)).hook()
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("getUserToken"):
            return httpx.Response(200, text=LOGIN_ANSWER)
        if request.url.path.endswith("DialerTask"):
            return text("1")
        return httpx.Response(200, json=answer)

    hook = UContactHook(async_transport=httpx.MockTransport(handler))
    assert await hook.aget_list("sales", 9) == sync_hook.get_list("sales", 9)
    assert await hook.adialer_task(dialer_task_call(lead(), campaign="Ventas->")) is True
    assert seen[2].headers["authorization"] == f"Basic {ISSUED}"
    assert (await hook.alist_state({"hub": "sales", "list_id": 9})).done


# -- mappings -------------------------------------------------------------------------------------------


def test_dialer_task_call_matches_the_document_example():
    call = dialer_task_call(lead(phone="+0123456789", data={"idcustomer": 7}), campaign="POWER<-", source="source")
    assert call.model_dump(by_alias=True) == {
        "calldate": None,
        "campaign": "POWER<-",
        "destination": "0123456789",
        "alternatives": "",
        "agent": "",
        "data": "idcustomer=7",
        "source": "source",
        "bulk": False,
        "automatic": True,
    }


def test_dialer_task_calldate_is_in_the_instance_zone_and_plus_is_optional():
    at = datetime(2025, 1, 15, 12, 30, 5, tzinfo=UTC)
    call = dialer_task_call(
        lead(call_at=at, alternatives=("+59824001122",)),
        campaign="Ventas->",
        instance_timezone="America/Montevideo",
        destination_plus=True,
    )
    assert call.calldate == "2025-01-15 09:30:05"
    assert (call.destination, call.alternatives) == ("+59899123456", "+59824001122")


def test_integra_data_escaping_is_reversible():
    rendered = render_integra_data({"a:b": "x=y", "pct": "100%", "flag": True, "none": None, "obj": {"k": 1}})
    assert rendered == 'a%3Ab=x%3Dy:pct=100%25:flag=true:none=:obj={"k"%3A1}'
    from urllib.parse import unquote

    pairs = [p.split("=") for p in rendered.split(":")]
    assert all(len(p) == 2 for p in pairs)
    assert unquote(pairs[0][0]) == "a:b" and unquote(pairs[1][1]) == "100%"


def test_automation_contact_per_channel():
    full = lead(
        alternatives=("+59824001122",),
        priority=2,
        external_id="1365",
        agent="my_best_agent",
        data={"name": "John Smith"},
        email="john@x.io",
        content="Hola",
        template="t1",
        subject="S",
    )
    assert automation_contact(full) == {
        "clientIds": ["+59899123456", "+59824001122"],
        "timezone": "America/Montevideo",
        "data": {"name": "John Smith"},
        "priority": 2,
        "contactId": "1365",
        "agent": "my_best_agent",
    }
    assert automation_contact(full, channel="email") == {
        "clientId": "john@x.io",
        "timezone": "America/Montevideo",
        "data": {"name": "John Smith"},
        "priority": 2,
        "contactId": "1365",
        "content": "Hola",
        "template": "t1",
        "subject": "S",
    }
    # "agent" is listed only under the preview (telephony) properties: never sent to a text hub
    for channel in ("sms", "whatsapp", "email"):
        assert "agent" not in automation_contact(full, channel=channel)
    assert automation_contact(lead(), channel="whatsapp") == {
        "clientId": "+59899123456",
        "timezone": "America/Montevideo",
    }
    assert automation_contact(lead(), channel="sms", phone_format="digits")["clientId"] == "59899123456"
    with pytest.raises(ValueError, match="email hub needs"):
        automation_contact(lead(), channel="email")
    with pytest.raises(ValueError, match="unknown uContact hub channel"):
        automation_contact(lead(), channel="fax")


def test_schedule_date_only_for_fresh_leads_in_the_lead_zone():
    at = datetime(2025, 12, 25, 3, 0, tzinfo=UTC)
    scheduled = lead(call_at=at)
    assert "scheduleDate" not in automation_contact(scheduled)
    assert automation_contact(scheduled, fresh=True) == {
        "clientIds": ["+59899123456"],
        "timezone": "America/Montevideo",
        "scheduleDate": "2025-12-25 00:00:00",
    }


# -- capabilities ------------------------------------------------------------------------------------------


def test_open_targets_validate_settings(monkeypatch):
    set_conn(monkeypatch)
    hook = UContactHook()
    with pytest.raises(DialerConfigError, match="needs settings"):
        hook.open_list_target("june", {})
    with pytest.raises(DialerConfigError, match="unknown settings \\['hubb'\\]"):
        hook.open_fresh_target({"hub": "x", "hubb": "y"})
    with pytest.raises(DialerConfigError, match="channel 'fax'"):
        hook.open_fresh_target({"hub": "x", "channel": "fax"})
    target = hook.open_list_target("june", {"hub": "sales"})
    assert target["channel"] == "telephony" and hook.list_chunk_size_for(target) == 20_000
    assert hook.chunk_filename("june", "now#1") == "june"
    assert hook.chunk_filename("june", "now#2") == "june (now#2)"


def test_add_dialer_task_lead_uses_the_instance_timezone(monkeypatch):
    set_conn(monkeypatch, extra={"integra_token": ISSUED, "instance_timezone": "Europe/Madrid"})
    script = Script(text("1"))
    at = datetime(2025, 7, 1, 8, 0, tzinfo=UTC)
    script.hook().add_dialer_task_lead(lead(call_at=at), {"campaign": "POWER<-", "source": "crm", "bulk": True})
    sent = json.loads(script.form(0)["call"][0])
    assert (sent["calldate"], sent["source"], sent["bulk"], sent["automatic"]) == (
        "2025-07-01 10:00:00",
        "crm",
        True,
        True,
    )


def test_bad_instance_timezone_is_a_config_error(monkeypatch):
    set_conn(monkeypatch, extra={"instance_timezone": "Mars/Olympus"})
    with pytest.raises(DialerConfigError, match="not an IANA time zone"):
        UContactHook().instance_timezone
