"""UjetHook without a server: URL rule, Basic auth, exact wire bodies, job-id discovery and statuses (docs/vendors/ujet.md#wire-reference), retries, redaction, mapping."""

from __future__ import annotations

import base64
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerError,
    DialerHTTPError,
)
from airflow_provider_dialer.hooks.ujet import (
    ContactStatus,
    JobStatus,
    UjetHook,
    UjetNewContact,
    discover_job_id,
    ujet_contact,
)
from airflow_provider_dialer.leads.model import PreparedLead

from .test_base import scripted

TOKEN = "ujet-T0ken-5ecret-abc123"
BASIC = base64.b64encode(f"bob:{TOKEN}".encode()).decode()
CONN_ID = "ujet_unit"
APPS = "https://acme.uc1.ccaiplatform.com/apps/api/v1/outbound_dialer/campaigns"
DOC_CONTACT = {
    "name": "string",
    "email": "customer@somedomain.com",
    "phone_number": "+1 111-111-1111",
    "outbound_number": "+1 760-867-5309",
    "external_unique_id": "UID_123456",
}
# the seed's PATCH/DELETE answer, plus a key the vendor may add one day
DOC_CONTACT_OBJECT = {
    "id": 7,
    "name": "Bob Smith",
    "campaign_id": 6,
    "assigned_call_id": None,
    "assigned_participant_id": None,
    "outbound_number": "+1-(201)-471-6992",
    "priority": None,
    "created_at": "2024-08-05T14:51:49.000Z",
    "updated_at": "2024-08-05T21:01:16.000Z",
    "status": "Upcoming",
    "user_custom_metadata": {
        "NAME (REQUIRED)": "Bob Smith",
        "PHONE (REQUIRED)": "+1 111-111-1111",
        "EMAIL (REQUIRED)": "customer@somedomain.com",
    },
    "brand_new_key": {"ignored": True},
}


def set_conn(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    conn = {"conn_type": "ujet", "host": "acme", "login": "bob", "password": TOKEN}
    extra = {"retry_backoff_seconds": 0.001, "rate_limit_per_second": 0}
    extra.update(fields.pop("extra", {}))
    conn.update(fields)
    conn["extra"] = extra
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def hook_with(
    monkeypatch: pytest.MonkeyPatch, responses: list[Any], seen: list[httpx.Request], **conn: Any
) -> UjetHook:
    set_conn(monkeypatch, **conn)
    return UjetHook(CONN_ID, transport=scripted(responses, seen))


def multipart_parts(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """{form name: (filename, content type, bytes)} of a multipart request."""
    raw = b"Content-Type: " + request.headers["content-type"].encode() + b"\r\n\r\n" + request.content
    message = BytesParser(policy=HTTP).parsebytes(raw)
    parts = {}
    for part in message.iter_parts():
        parts[part.get_param("name", header="content-disposition")] = (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
    return parts


# -- base URL ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "acme"}, "https://acme.uc1.ccaiplatform.com"),
        ({"host": "acme", "extra": {"domain": "uc2.ccaiplatform.com"}}, "https://acme.uc2.ccaiplatform.com"),
        ({"host": "acme", "port": 8443}, "https://acme.uc1.ccaiplatform.com:8443"),
        ({"host": "acme.ujet.co"}, "https://acme.ujet.co"),
        ({"host": "https://acme.uc1.ccaiplatform.com/apps/api/v1/"}, "https://acme.uc1.ccaiplatform.com"),
        ({"host": "https://acme.uc1.ccaiplatform.com/manager/api/v1"}, "https://acme.uc1.ccaiplatform.com"),
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
        ({"host": "localhost", "port": 8080, "schema": "http"}, "http://localhost:8080"),
    ],
)
def test_base_url_rule(monkeypatch, fields, expected):
    set_conn(monkeypatch, **fields)
    assert UjetHook(CONN_ID).base_url == expected


def test_plain_http_to_a_real_host_is_refused(monkeypatch):
    set_conn(monkeypatch, host="acme", schema="http")
    with pytest.raises(DialerConfigError, match="refusing plain http://"):
        UjetHook(CONN_ID).base_url


def test_plain_http_allowed_when_asked(monkeypatch):
    set_conn(monkeypatch, host="acme", schema="http", extra={"allow_insecure_http": True})
    assert UjetHook(CONN_ID).base_url == "http://acme.uc1.ccaiplatform.com"


def test_hook_class_attributes_and_conn_keyword(monkeypatch):
    set_conn(monkeypatch)
    hook = UjetHook(ujet_conn_id=CONN_ID)
    assert (hook.conn_id, hook.conn_type, hook.hook_name, hook.default_conn_name) == (
        CONN_ID,
        "ujet",
        "UJET / CCAI Platform",
        "ujet_default",
    )
    assert hook.list_per_lead_schedule is False
    assert UjetHook.default_rate_limit == 10.0


def test_rate_limit_defaults_to_ten_per_second(monkeypatch):
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps({"conn_type": "ujet", "host": "acme", "login": "bob", "password": TOKEN}),
    )
    assert UjetHook(CONN_ID).settings.rate_limit_per_second == 10.0


# -- auth ----------------------------------------------------------------------------------------


def test_basic_auth_is_login_and_token(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json=[])], seen)
    hook.list_contacts(6)
    assert seen[0].headers["authorization"] == f"Basic {BASIC}"
    assert str(seen[0].url) == f"{APPS}/6/contacts"


def test_without_login_the_subdomain_is_the_username(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json=[])], seen, login=None)
    hook.list_campaigns()
    assert seen[0].headers["authorization"] == "Basic " + base64.b64encode(f"acme:{TOKEN}".encode()).decode()


def test_missing_token_is_a_config_error_before_any_request(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen, password=None)
    with pytest.raises(DialerConfigError, match="no API token"):
        hook.list_campaigns()
    assert seen == []


# -- exact wire bodies ---------------------------------------------------------------------------


def test_add_contact_body_is_the_documented_json(monkeypatch):
    seen: list[httpx.Request] = []
    answer = {"valid_contacts": [DOC_CONTACT], "invalid_contacts": [], "request_id": "x"}
    hook = hook_with(monkeypatch, [httpx.Response(200, json=answer)], seen)
    result = hook.add_contact(6, DOC_CONTACT)
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", f"{APPS}/6/contacts")
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == DOC_CONTACT
    assert result.valid_contacts[0].phone_number == "+1 111-111-1111"
    assert result.invalid_contacts == []


def test_add_contact_omits_absent_keys_and_refuses_unknown_ones(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"valid_contacts": [], "invalid_contacts": []})], seen)
    hook.add_contact(1, UjetNewContact(phone_number="+59899123456", name="Ana"))
    assert json.loads(seen[0].content) == {"phone_number": "+59899123456", "name": "Ana"}
    with pytest.raises(DialerConfigError, match="phone"):
        hook.add_contact(1, {"phone": "+59899123456"})
    assert len(seen) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    digits=st.from_regex(r"[1-9][0-9]{7,13}", fullmatch=True),
    shape=st.sampled_from(["number", "unknown key", "list name", "nested"]),
)
def test_a_contact_that_is_not_one_is_refused_by_field_never_quoting_the_phone(monkeypatch, digits, shape):
    """pydantic's own message quotes the input; a contact's input is a phone number, and the error
    reaches task logs. The refusal names the field and the rule only."""
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen)
    contact, field = {
        "number": ({"phone_number": int(digits)}, "phone_number"),
        "unknown key": ({"phone_number": f"+{digits}", "mobile": f"+{digits}"}, "mobile"),
        "list name": ({"phone_number": f"+{digits}", "name": [f"+{digits}"]}, "name"),
        "nested": ({"phone_number": {"e164": f"+{digits}"}}, "phone_number"),
    }[shape]
    with pytest.raises(DialerConfigError) as refused:
        hook.add_contact(1, contact)
    text = str(refused.value)
    assert field in text and "not a UJET contact" in text
    assert digits not in text and digits[-6:] not in text
    assert seen == []


def test_invalid_contacts_carry_their_reason(monkeypatch):
    seen: list[httpx.Request] = []
    answer = {"valid_contacts": [], "invalid_contacts": [{"phone_number": "12", "errors": ["phone_number is invalid"]}]}
    hook = hook_with(monkeypatch, [httpx.Response(200, json=answer)], seen)
    result = hook.add_contact(1, {"phone_number": "12"})
    assert result.invalid_contacts[0].reason == "phone_number is invalid"
    assert result.invalid_contacts[0].phone_number == "12"


def test_import_is_multipart_with_a_json_file_field(monkeypatch):
    seen: list[httpx.Request] = []
    location = "/apps/api/v1/outbound_dialer/campaigns/6/contacts/jobs/530"
    hook = hook_with(monkeypatch, [httpx.Response(202, headers={"Location": location})], seen)
    job_id = hook.import_contacts(6, [DOC_CONTACT, UjetNewContact(phone_number="+59899123456")])
    assert job_id == 530
    request = seen[0]
    assert (request.method, str(request.url)) == ("POST", f"{APPS}/6/contacts/import")
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    parts = multipart_parts(request)
    assert list(parts) == ["file"]
    filename, content_type, payload = parts["file"]
    assert (filename, content_type) == ("contacts.json", "application/json")
    assert json.loads(payload) == [DOC_CONTACT, {"phone_number": "+59899123456"}]


def test_import_of_nothing_is_refused_before_sending(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen)
    with pytest.raises(DialerConfigError, match="at least one contact"):
        hook.import_contacts(6, [])
    assert seen == []


def test_import_without_any_job_id_fails_clearly(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(202)], seen)
    with pytest.raises(
        DialerError, match=r"neither the body \(job_id/id\) nor the Location or Link header gave a job id"
    ):
        hook.import_contacts(6, [DOC_CONTACT])


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"json": {"job_id": 41, "id": 99}, "headers": {"Location": "/x/jobs/7"}}, 41),
        ({"json": {"id": "99"}}, 99),
        (
            {"headers": {"Location": "https://acme.example/apps/api/v1/outbound_dialer/campaigns/6/contacts/jobs/530"}},
            530,
        ),
        (
            {
                "headers": {
                    "Location": "/elsewhere",
                    "Link": '<https://a.example/other>; rel="x", </c/6/contacts/jobs/77>; rel="status"',
                }
            },
            77,
        ),
        ({"headers": {"Link": "</c/6/contacts/jobs/ab-12>; rel=self"}}, "ab-12"),
        ({"text": "Accepted", "headers": {"Location": "/c/6/contacts/jobs/8?x=1"}}, 8),
        ({"headers": {"Location": "/c/6/contacts"}}, None),
        ({}, None),
    ],
)
def test_job_id_discovery_order_d4(kwargs, expected):
    assert discover_job_id(httpx.Response(202, **kwargs)) == expected


def test_get_job_parses_the_documented_failure(monkeypatch):
    seen: list[httpx.Request] = []
    failed = {
        "error_details": "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign",
        "error_message": "Internal Error",
        "id": 523,
        "status": "failed",
        "type": "Jobs::Bulk::Campaign::StartImport",
        "extra_key": 1,
    }
    hook = hook_with(monkeypatch, [httpx.Response(200, json=failed)], seen)
    job = hook.get_job(1, 523)
    assert str(seen[0].url) == f"{APPS}/1/contacts/jobs/523"
    assert (job.id, job.status, job.is_terminal, job.failed) == (523, JobStatus.FAILED, True, True)
    assert job.error_message == "Internal Error"
    assert job.detail == "Internal Error: NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"


@pytest.mark.parametrize(("status", "terminal"), [("in_progress", False), ("created", False), ("completed", True)])
def test_job_statuses(monkeypatch, status, terminal):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"id": 530, "status": status})], seen)
    assert hook.get_job(1, 530).is_terminal is terminal


def test_unknown_job_status_is_an_error_naming_it(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"id": 530, "status": "paused_by_admin"})], seen)
    with pytest.raises(DialerError, match="'paused_by_admin' is not one the documents list"):
        hook.get_job(1, 530)


def test_update_contact_patches_the_singular_path(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json=DOC_CONTACT_OBJECT)], seen)
    contact = hook.update_contact(
        6,
        7,
        name="Bob Smith",
        email="customer@somedomain.com",
        phone_number="+1 111-111-1111",
        external_unique_id="UID_123456",
    )
    request = seen[0]
    assert (request.method, str(request.url)) == ("PATCH", f"{APPS}/6/contact")
    assert json.loads(request.content) == {
        "contact_id": 7,
        "name": "Bob Smith",
        "email": "customer@somedomain.com",
        "phone_number": "+1 111-111-1111",
        "external_unique_id": "UID_123456",
    }
    assert (contact.id, contact.campaign_id, contact.status) == (7, 6, "Upcoming")
    assert contact.phone == "+1 111-111-1111"  # from user_custom_metadata: no top-level phone in this object
    assert contact.contact_status is ContactStatus.UPCOMING


def test_update_contact_needs_a_field(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen)
    with pytest.raises(DialerConfigError, match="at least one field"):
        hook.update_contact(6, 7)
    assert seen == []


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        ({"contact_id": 7}, {"contact_id": 7}),
        ({"phone_number": "+11111111111"}, {"phone_number": "+11111111111"}),
        ({"external_unique_id": "UID_1"}, {"external_unique_id": "UID_1"}),
    ],
)
def test_delete_contact_sends_a_json_body(monkeypatch, kwargs, body):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json=DOC_CONTACT_OBJECT)], seen)
    assert hook.delete_contact(6, **kwargs).id == 7
    request = seen[0]
    assert (request.method, str(request.url)) == ("DELETE", f"{APPS}/6/contact")
    assert json.loads(request.content) == body


@pytest.mark.parametrize("kwargs", [{}, {"contact_id": 7, "phone_number": "+11111111111"}])
def test_delete_contact_needs_exactly_one_identifier(monkeypatch, kwargs):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen)
    with pytest.raises(DialerConfigError, match="exactly one of contact_id, phone_number or external_unique_id"):
        hook.delete_contact(6, **kwargs)
    assert seen == []


def test_manager_campaigns(monkeypatch):
    seen: list[httpx.Request] = []
    campaign = {
        "id": 6,
        "name": "Renewals",
        "mode": "preview",
        "status": "dialing",
        "new": "ignored",
        "queue": {"id": 10, "name": "Outbound", "menu_type": "ivr_menu"},
        "contact_stats": {"Contacts": 3, "Upcoming": 2, "Average Redials per Number": 0.5},
    }
    hook = hook_with(monkeypatch, [httpx.Response(200, json=[campaign]), httpx.Response(200, json=campaign)], seen)
    campaigns = hook.list_campaigns()
    one = hook.get_campaign(6)
    assert [str(r.url) for r in seen] == [
        "https://acme.uc1.ccaiplatform.com/manager/api/v1/outbound_dialer/campaigns",
        "https://acme.uc1.ccaiplatform.com/manager/api/v1/outbound_dialer/campaigns/6",
    ]
    assert campaigns[0].id == 6 and one.mode == "preview" and one.queue and one.queue.name == "Outbound"
    assert one.contact_stats == {"Contacts": 3, "Upcoming": 2, "Average Redials per Number": 0.5}


def test_find_contacts_matches_external_ids_and_phone_digits(monkeypatch):
    seen: list[httpx.Request] = []
    listed = [
        {"id": 1, "phone_number": "+1 111-111-1111", "external_unique_id": "A"},
        {"id": 2, "phone_number": "+59899123456", "external_unique_id": "B"},
        {"id": 3, "phone_number": "+4915112345678"},
    ]
    hook = hook_with(monkeypatch, [httpx.Response(200, json=listed)], seen)
    found = hook.find_contacts(6, external_ids=["B", "Z"], phones=["+11111111111", "+33612345678"])
    assert {k: v.id for k, v in found.items()} == {"B": 2, "+11111111111": 1}
    assert hook.find_contacts(6) == {}
    assert len(seen) == 1


# -- retries and errors -------------------------------------------------------------------------


def test_429_retry_after_is_honoured(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(429, headers={"Retry-After": "0.2"}, json={"message": "slow down"}),
            httpx.Response(200, json={"valid_contacts": [DOC_CONTACT], "invalid_contacts": []}),
        ],
        seen,
    )
    started = time.monotonic()
    assert len(hook.add_contact(6, DOC_CONTACT).valid_contacts) == 1
    assert time.monotonic() - started >= 0.2
    assert len(seen) == 2 and seen[0].content == seen[1].content


def test_503_is_retried_even_for_the_import(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(503), httpx.Response(202, headers={"Location": "/x/jobs/9"})], seen)
    assert hook.import_contacts(6, [DOC_CONTACT]) == 9
    assert len(seen) == 2


def test_502_on_a_write_is_not_resent(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(502, text="bad gateway")], seen)
    with pytest.raises(DialerHTTPError) as info:
        hook.add_contact(6, DOC_CONTACT)
    assert info.value.status == 502 and len(seen) == 1


def test_502_on_a_read_is_retried(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch, [httpx.Response(502), httpx.Response(200, json={"id": 530, "status": "completed"})], seen
    )
    assert hook.get_job(6, 530).status is JobStatus.COMPLETED
    assert len(seen) == 2


def test_500_is_not_retried_and_keeps_the_body(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(500, json={"message": "boom"})], seen)
    with pytest.raises(DialerHTTPError) as info:
        hook.list_contacts(6)
    assert info.value.status == 500 and '"boom"' in info.value.body
    assert str(info.value).startswith("UJET GET /apps/api/v1/outbound_dialer/campaigns/6/contacts -> HTTP 500")
    assert len(seen) == 1


def test_dropped_import_is_delivery_unknown_not_resent(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.ReadError("connection reset")], seen)
    with pytest.raises(DialerDeliveryUnknownError, match="not resent"):
        hook.import_contacts(6, [DOC_CONTACT])
    assert len(seen) == 1


def test_no_secret_in_error_texts(monkeypatch):
    seen: list[httpx.Request] = []
    echo = {"message": f"bad credentials {TOKEN}", "header": f"Basic {BASIC}"}
    hook = hook_with(
        monkeypatch, [httpx.Response(401, json=echo), httpx.Response(500, text=f"trace: token={TOKEN} {BASIC}")], seen
    )
    with pytest.raises(DialerAuthError) as auth:
        hook.list_campaigns()
    with pytest.raises(DialerHTTPError) as server:
        hook.get_campaign(6)
    for exc in (auth.value, server.value):
        assert TOKEN not in str(exc) and BASIC not in str(exc) and TOKEN not in exc.body
        assert "***" in str(exc)


def test_test_connection_reports_auth_failure_without_the_token(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(401, json={"message": "Unauthorized"})], seen)
    ok, message = hook.test_connection()
    assert ok is False
    assert message.startswith(
        "Authentication failed: UJET answered HTTP 401 to GET /manager/api/v1/outbound_dialer/campaigns"
    )
    assert TOKEN not in message


# -- async twin ---------------------------------------------------------------------------------


async def test_async_twin_matches_sync(monkeypatch):
    listed = [{"id": 1, "name": "Ana", "phone_number": "+59899123456", "status": "Upcoming", "surprise": 1}]
    seen: list[httpx.Request] = []
    set_conn(monkeypatch)

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=listed)

    hook = UjetHook(
        CONN_ID,
        transport=scripted([httpx.Response(200, json=listed)], seen),
        async_transport=httpx.MockTransport(handler),
    )
    sync_result = hook.list_contacts(6)
    async_result = await hook.alist_contacts(6)
    await hook.aclose()
    assert async_result == sync_result and async_result[0].name == "Ana"
    assert [(r.method, str(r.url), r.headers["authorization"]) for r in seen] == [
        ("GET", f"{APPS}/6/contacts", f"Basic {BASIC}")
    ] * 2


# -- lead mapping ------------------------------------------------------------------------------


def lead(**fields: Any) -> PreparedLead:
    base = {"row": 1, "phone": "+11111111111", "timezone": "America/New_York"}
    base.update(fields)
    return PreparedLead(**base)


def test_mapping_matches_the_documented_contact():
    wire = ujet_contact(
        lead(
            first_name="Bob",
            last_name="Smith",
            email="customer@somedomain.com",
            outbound_number="+17608675309",
            external_id="UID_123456",
            priority=3,
            agent="a1",
            data={"x": 1},
        )
    )
    assert wire == {
        "name": "Bob Smith",
        "email": "customer@somedomain.com",
        "phone_number": "+11111111111",
        "outbound_number": "+17608675309",
        "external_unique_id": "UID_123456",
    }
    assert list(wire) == ["name", "email", "phone_number", "outbound_number", "external_unique_id"]
    UjetNewContact.model_validate(wire)  # the hook's own request model accepts it


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"external_id": "UID_9"}, {"name": "UID_9", "phone_number": "+11111111111", "external_unique_id": "UID_9"}),
        ({}, {"name": "+11111111111", "phone_number": "+11111111111"}),
        ({"last_name": "Smith", "email": ""}, {"name": "Smith", "phone_number": "+11111111111"}),
    ],
)
def test_mapping_fallbacks_and_omitted_keys(fields, expected):
    assert ujet_contact(lead(**fields)) == expected


def test_contact_status_enum():
    assert ContactStatus.parse("transferred and finished") is ContactStatus.TRANSFERRED_AND_FINISHED
    assert [s.value for s in ContactStatus][:3] == ["Upcoming", "Dialing", "Queued"]
    with pytest.raises(DialerError, match="'Teleported'"):
        ContactStatus.parse("Teleported")
    assert {s for s in JobStatus if s.is_terminal} == {JobStatus.COMPLETED, JobStatus.FAILED}
