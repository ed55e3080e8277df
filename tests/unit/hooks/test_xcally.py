"""XCallyHook without a server: URL rule, auth shapes, exact wire bodies, parsing, retries, redaction, the lead mapping."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
)
from airflow_provider_dialer.hooks.xcally import XCallyHook, contacts_csv, csv_binding, xcally_contact
from airflow_provider_dialer.hooks.xcally import campaign as rules
from airflow_provider_dialer.hooks.xcally.wire import QueueCampaign
from airflow_provider_dialer.leads.model import PreparedLead

from .test_base import scripted

PASSWORD = "xc-Secret-Passw0rd-771"
API_KEY = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWRtaW4ifQ.unit-apikey-sig-991"
BASIC = "Basic " + base64.b64encode(f"admin:{PASSWORD}".encode()).decode()


def set_conn(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    conn = {
        "conn_type": "xcally",
        "host": "motion.example.com",
        "schema": "https",
        "login": "admin",
        "password": PASSWORD,
    }
    extra = {"retry_backoff_seconds": 0.001, **fields.pop("extra", {})}
    conn.update(fields)
    conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_DEFAULT", json.dumps(conn))


def hook_with(monkeypatch, responses, seen, **conn) -> XCallyHook:
    set_conn(monkeypatch, **conn)
    return XCallyHook(transport=scripted(responses, seen))


def lead(**kw: Any) -> PreparedLead:
    base = {"row": 1, "phone": "+5511912345678", "timezone": "America/Sao_Paulo"}
    return PreparedLead(**{**base, **kw})


# -- URL and auth ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "motion.example.com"}, "https://motion.example.com"),
        ({"host": "motion.example.com", "port": 8443}, "https://motion.example.com:8443"),
        ({"host": "https://pbx.example.org:9443/"}, "https://pbx.example.org:9443"),
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
    ],
)
def test_base_url(monkeypatch, fields, expected):
    set_conn(monkeypatch, **fields)
    assert XCallyHook().base_url == expected


def test_bare_host_is_not_expanded_and_http_off_loopback_refused(monkeypatch):
    set_conn(monkeypatch, host="motion", schema="http")
    with pytest.raises(DialerConfigError, match="refusing plain http://"):
        XCallyHook().base_url
    set_conn(monkeypatch, host="motion", schema="http", extra={"allow_insecure_http": True})
    assert XCallyHook().base_url == "http://motion"


def test_host_is_required(monkeypatch):
    set_conn(monkeypatch, host="")
    with pytest.raises(DialerConfigError, match="has no host"):
        XCallyHook().base_url


def test_basic_auth_header(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"count": 3, "rows": [{"id": 1}]})], seen)
    assert hook.count_contacts(7) == 3
    request = seen[0]
    assert request.headers["Authorization"] == BASIC
    assert request.url.path == "/api/cm/contacts"
    assert dict(request.url.params) == {"ListId": "7", "limit": "1", "fields": "id"}


def test_api_key_goes_in_the_query_and_no_basic_header(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch, [httpx.Response(200, json={"count": 0, "rows": []})], seen, extra={"api_key": API_KEY}
    )
    hook.count_contacts(7)
    assert "Authorization" not in seen[0].headers
    assert seen[0].url.params["apikey"] == API_KEY


def test_missing_login_is_a_config_error(monkeypatch):
    set_conn(monkeypatch, login=None, password=None)
    with pytest.raises(DialerConfigError, match="login and password, or the extra api_key"):
        XCallyHook(transport=scripted([], [])).count_contacts(1)


# -- exact bodies --------------------------------------------------------------------------------


def test_create_list_body_and_parsing(monkeypatch):
    seen: list[httpx.Request] = []
    answer = {
        "id": 12,
        "name": "list1",
        "description": "A brief description of my list",
        "updatedAt": "2017-07-13T15:42:06Z",
        "createdAt": "2017-07-13T15:42:06Z",
        "NewKey": 1,
    }
    hook = hook_with(monkeypatch, [httpx.Response(201, json=answer)], seen)
    created = hook.create_list("list1", "A brief description of my list")
    assert json.loads(seen[0].content) == {"name": "list1", "description": "A brief description of my list"}
    assert seen[0].method == "POST" and seen[0].url.path == "/api/cm/lists"
    assert created.id == 12 and created.created_at == datetime(2017, 7, 13, 15, 42, 6, tzinfo=UTC)


def test_bulk_add_body_is_the_documented_array(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(201, json=[{"id": 5}, {"id": 6}])], seen)
    contacts = [
        {"ListId": 32, "firstName": "test1", "lastName": "asdasd", "phone": "123456789", "cf_1": "qwertyuio"},
        {"ListId": 32, "firstName": "test2", "lastName": "qweqwe", "phone": "098765432", "cf_3": "asdfghjk"},
    ]
    result = hook.add_contacts(32, contacts)
    assert seen[0].url.path == "/api/cm/lists/32/contacts"
    assert json.loads(seen[0].content) == contacts
    assert result.sent == 2 and result.ids == [5, 6]


def test_bulk_add_refuses_unknown_fields_and_wrong_list(monkeypatch):
    hook = hook_with(monkeypatch, [], [])
    with pytest.raises(ValueError, match="unknown contact field 'listId'"):
        hook.add_contacts(32, [{"listId": 32, "ListId": 32, "firstName": "a"}])
    with pytest.raises(ValueError, match="sent to list 32"):
        hook.add_contacts(32, [{"ListId": 33, "firstName": "a"}])


def test_campaign_body_carries_every_documented_field(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(201, json={"id": 59, "name": "TestCampaign", "x": 1})], seen)
    campaign = hook.create_campaign({"name": "TestCampaign", "TrunkId": 12, "IntervalId": 11})
    body = json.loads(seen[0].content)
    seed = json.loads(
        '{"dialActive":true,"type":"outbound","dialCheckDuplicateType":"always","dialCutDigit":0,"autopause":"no",'
        '"ringinuse":"no","timeoutrestart":"no","setinterfacevar":"no","setqueuevar":"no","setqueueentryvar":"no",'
        '"dialOrderByScheduledAt":"ASC","dialGlobalInterval":"07:00-22:00,*,*,*","dialAMDInitialSilence":2500,'
        '"dialAMDGreeting":1500,"dialAMDAfterGreetingSilence":800,"dialAMDTotalAnalysisTime":5000,'
        '"dialAMDMinWordLength":100,"dialAMDBetweenWordsSilence":50,"dialAMDMaximumNumberOfWords":3,'
        '"dialAMDSilenceThreshold":256,"dialAMDMaximumWordLength":5000,"dialMethod":"progressive","dialPowerLevel":1,'
        '"dialPredictiveOptimization":"dropRate","dialPredictiveOptimizationPercentage":3,"dialPredictiveInterval":10,'
        '"dialLimitQueue":0,"dialRandomLastDigitCallerIdNumber":0,"dialOriginateTimeout":30,"dialQueueOptions":"tTxX",'
        '"dialQueueTimeout":3,"strategy":"rrmemory","timeout":3,"retry":3,"weight":1,"dialGlobalMaxRetry":4,'
        '"dialCongestionMaxRetry":3,"dialCongestionRetryFrequency":150,"dialBusyMaxRetry":3,'
        '"dialBusyRetryFrequency":150,"dialNoAnswerMaxRetry":3,"dialNoAnswerRetryFrequency":150,'
        '"name":"TestCampaign","TrunkId":12,"IntervalId":11}'
    )
    assert body == seed
    assert campaign.id == 59


@pytest.mark.parametrize(
    "bad",
    [
        {"dialMethod": "robocall"},
        {"dialCheckDuplicateType": "sometimes"},
        {"dialOrderByScheduledAt": "UP"},
        {"strategy": "roundrobin"},
        {"type": "inbound"},
        {"ringinuse": "maybe"},
        {"dialActiv": True},
    ],
)
def test_campaign_enums_and_typos_are_refused(bad):
    with pytest.raises(ValueError):
        QueueCampaign.model_validate({"name": "c", "TrunkId": 1, **bad})


def test_update_is_partial_and_activation_is_dial_active(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"id": 59, "name": "c", "dialActive": False})], seen)
    out = hook.set_campaign_active(59, False)
    assert seen[0].method == "PUT" and seen[0].url.path == "/api/voice/queues/59"
    assert json.loads(seen[0].content) == {"dialActive": False}
    assert out.dial_active is False


def test_attach_detach_and_agents_bodies(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(201, json=[]),
            httpx.Response(200, json=[]),
            httpx.Response(201, json=[]),
            httpx.Response(201, json=[]),
        ],
        seen,
    )
    hook.attach_lists(59, [32, 33])
    hook.detach_lists(59, [7, 8])
    hook.add_campaign_agents(59, [24, 26, 31])
    hook.add_list_agents(32, [24, 26, 31])
    assert json.loads(seen[0].content) == {"id": 59, "ids": [32, 33]}
    assert seen[1].method == "DELETE" and str(seen[1].url).endswith("/api/voice/queues/59/lists?ids=7&ids=8")
    assert json.loads(seen[2].content) == {"id": 59, "ids": [24, 26, 31], "penalty": "0"}
    assert seen[3].url.path == "/api/cm/lists/32/users" and json.loads(seen[3].content) == {
        "id": 32,
        "ids": [24, 26, 31],
    }


def test_csv_upload_is_multipart_with_flow_fields_then_binds(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(201, json={"file": {"name": "171-ab-x.csv", "size": 1}}),
            httpx.Response(200, json={"pid": 4242}),
        ],
        seen,
    )
    data = b"firstName,phone\r\nAna,5511\r\n"
    pid = hook.upload_csv(32, data, {"firstName": "firstName", "phone": "phone"}, filename="x.csv")
    assert pid == 4242
    step1, step2 = seen
    assert step1.url.path == "/api/cm/contacts/upload"
    assert step1.headers["content-type"].startswith("multipart/form-data; boundary=")
    raw = step1.content.decode()
    for name, value in {
        "flowChunkNumber": "1",
        "flowTotalChunks": "1",
        "flowTotalSize": str(len(data)),
        "flowCurrentChunkSize": str(len(data)),
        "flowChunkSize": str(len(data)),
        "flowFilename": "x.csv",
        "flowRelativePath": "x.csv",
    }.items():
        assert f'name="{name}"\r\n\r\n{value}\r\n' in raw
    assert 'name="flowIdentifier"' in raw
    assert 'name="file"; filename="x.csv"' in raw and "Ana,5511" in raw
    assert step2.url.path == "/api/cm/contacts/upload/171-ab-x.csv"
    assert json.loads(step2.content) == {
        "id": "171-ab-x.csv",
        "ListId": 32,
        "binding": {"firstName": "firstName", "phone": "phone"},
        "duplicates": ["phone"],
    }


def test_import_binding_must_map_first_name(monkeypatch):
    hook = hook_with(monkeypatch, [], [])
    with pytest.raises(ValueError, match="firstName"):
        hook.import_csv("f.csv", 1, {"phone": "phone"})


# -- responses ----------------------------------------------------------------------------------


def test_count_falls_back_to_content_range(monkeypatch):
    hook = hook_with(monkeypatch, [httpx.Response(200, json=[{"id": 1}], headers={"Content-Range": "0-1/20"})], [])
    assert hook.count_contacts(1) == 20


def test_get_list_404_is_none(monkeypatch):
    hook = hook_with(monkeypatch, [httpx.Response(404, json={"message": "List not found"})], [])
    assert hook.get_list(9) is None


def test_find_list_by_name_pages_and_matches_exactly(monkeypatch):
    seen: list[httpx.Request] = []
    page1 = {"count": 101, "rows": [{"id": i, "name": f"leads {i}"} for i in range(100)]}
    page2 = {"count": 101, "rows": [{"id": 500, "name": "leads", "extra": True}]}
    hook = hook_with(monkeypatch, [httpx.Response(200, json=page1), httpx.Response(200, json=page2)], seen)
    assert hook.find_list_by_name("leads").id == 500
    assert seen[0].url.params["filter"] == "leads" and seen[1].url.params["offset"] == "100"


# -- retries and errors ----------------------------------------------------------------------


def test_429_with_retry_after_is_honoured(monkeypatch):
    seen: list[httpx.Request] = []
    sleeps: list[float] = []
    monkeypatch.setattr("airflow_provider_dialer.hooks.base.time.sleep", sleeps.append)
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(429, headers={"Retry-After": "2"}, json={"message": "slow"}),
            httpx.Response(201, json={"id": 1, "name": "l"}),
        ],
        seen,
    )
    assert hook.create_list("l").id == 1
    assert len(seen) == 2 and sleeps == [2.0]


def test_503_is_retried_on_a_write(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(503), httpx.Response(201, json={"id": 1, "name": "l"})], seen)
    assert hook.create_list("l").id == 1 and len(seen) == 2


def test_502_on_a_write_is_not_retried_but_on_a_read_it_is(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(502, text="bad gateway")], seen)
    with pytest.raises(DialerHTTPError, match="HTTP 502"):
        hook.add_contacts(1, [{"ListId": 1, "firstName": "a"}])
    assert len(seen) == 1
    seen2: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(502), httpx.Response(200, json={"count": 4, "rows": []})], seen2)
    assert hook.count_contacts(1) == 4 and len(seen2) == 2


def test_500_is_not_retried_and_carries_the_body(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(500, json={"message": "SequelizeDatabaseError: boom"})], seen)
    with pytest.raises(DialerHTTPError) as info:
        hook.count_contacts(1)
    assert len(seen) == 1 and info.value.status == 500 and "SequelizeDatabaseError: boom" in str(info.value)


def test_dropped_write_is_unknown_not_resent(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.ReadError("connection reset")], seen)
    with pytest.raises(DialerDeliveryUnknownError):
        hook.add_contacts(1, [{"ListId": 1, "firstName": "a"}])
    assert len(seen) == 1


def test_errors_never_carry_the_password_or_api_key(monkeypatch):
    body = {"message": f"Unauthorized for admin:{PASSWORD} via {BASIC} apikey={API_KEY}"}
    hook = hook_with(monkeypatch, [httpx.Response(401, json=body)], [], extra={"api_key": API_KEY})
    with pytest.raises(DialerAuthError) as info:
        hook.count_contacts(1)
    text = str(info.value)
    assert PASSWORD not in text and API_KEY not in text and BASIC.split()[1] not in text
    assert "/api/cm/contacts" in text and "apikey=" not in info.value.path


def test_test_connection_reports_auth_failure_without_secret(monkeypatch):
    hook = hook_with(monkeypatch, [httpx.Response(401, json={"message": "Unauthorized"})], [])
    ok, message = hook.test_connection()
    assert ok is False and "Authentication failed" in message and PASSWORD not in message


def test_async_twin_gives_the_same_result(monkeypatch):
    answer = {
        "count": 2,
        "rows": [
            {"id": 24, "name": "agent24", "role": "agent"},
            {"id": 26, "name": "agent26", "role": "agent", "new": 1},
        ],
    }
    set_conn(monkeypatch)
    sync_seen: list[httpx.Request] = []
    sync = XCallyHook(transport=scripted([httpx.Response(200, json=answer)], sync_seen)).list_agents()
    async_seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        async_seen.append(request)
        return httpx.Response(200, json=answer)

    hook = XCallyHook(async_transport=httpx.MockTransport(handler))
    result = asyncio.run(hook.alist_agents())
    assert result == sync and [u.id for u in result.rows] == [24, 26]
    assert str(async_seen[0].url) == str(sync_seen[0].url)


# -- the lead mapping ----------------------------------------------------------------------------


def test_mapping_matches_the_documents_example():
    mapped = xcally_contact(
        lead(
            first_name="John",
            last_name="doe",
            phone="+1234567890",
            custom_fields={"1": "some text", "cf_3": "some other text"},
        ),
        list_id=12,
    )
    assert mapped == {
        "firstName": "John",
        "lastName": "doe",
        "phone": "1234567890",
        "ListId": 12,
        "cf_1": "some text",
        "cf_3": "some other text",
    }


def test_mapping_options_and_fallbacks():
    when = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    mapped = xcally_contact(
        lead(call_at=when, priority=3, email="a@b.c", alternatives=("+5511900000000",)), list_id=4, phone_format="e164"
    )
    assert mapped == {
        "ListId": 4,
        "firstName": "+5511912345678",
        "phone": "+5511912345678",
        "mobile": "+5511900000000",
        "email": "a@b.c",
        "priority": 3,
        "scheduledat": "2026-01-05T09:30:00Z",
    }
    assert xcally_contact(lead(), list_id=4, first_name_fallback="Cliente")["firstName"] == "Cliente"
    with pytest.raises(ValueError, match="priority must be > 0"):
        xcally_contact(lead(priority=0), list_id=4)
    with pytest.raises(ValueError, match="custom field"):
        xcally_contact(lead(custom_fields={"segment": "x"}), list_id=4)


def test_contacts_csv_quotes_and_binds():
    data = contacts_csv(
        [
            lead(first_name='Ana "A", Jr', last_name="Silva"),
            lead(row=2, phone="+5511900000001", custom_fields={"2": "line\nbreak"}),
        ]
    )
    assert data.decode().split("\r\n")[0] == "firstName,lastName,phone,cf_2"
    assert '"Ana ""A"", Jr",Silva,5511912345678,' in data.decode()
    assert '"line\nbreak"' in data.decode()
    assert csv_binding(data) == {"firstName": "firstName", "lastName": "lastName", "phone": "phone", "cf_2": "cf_2"}


# -- capabilities: campaign rules (pure) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("hours", "days", "expected"),
    [
        ("08:00-21:00", [1, 2, 3, 4, 5], "08:00-21:00,mon-fri,*,*"),
        ("9:00-17:30", [1, 3, 5], "09:00-17:30,mon&wed&fri,*,*"),
        ("22:00-06:00", [1, 2, 3, 6], "22:00-06:00,mon-wed&sat,*,*"),
        (None, [6, 7, 1], "07:00-22:00,mon&sat-sun,*,*"),
        ("08:00-20:00", None, "08:00-20:00,*,*,*"),
        ("08:00-20:00", [7, 6, 5, 4, 3, 2, 1], "08:00-20:00,*,*,*"),
        ("08:00-20:00", [3, 3], "08:00-20:00,wed,*,*"),
    ],
)
def test_dial_global_interval(hours, days, expected):
    assert rules.dial_global_interval(hours, days) == expected


@pytest.mark.parametrize(
    ("hours", "days"),
    [
        ("8-20", None),
        ("24:00-25:00", None),
        ("08:00-08:00", None),
        ("08:00-20:00", [0]),
        ("08:00-20:00", [True]),
        ("08:00-20:00", ["mon"]),
    ],
)
def test_dial_global_interval_refuses_bad_input(hours, days):
    with pytest.raises(DialerConfigError):
        rules.dial_global_interval(hours, days)


def test_build_campaign_validates_and_keeps_lists_agents_and_owned_fields():
    wanted = rules.build_campaign_wanted(
        {
            "name": "daily",
            "calling_hours": "08:00-21:00",
            "weekdays": [1, 2, 3, 4, 5],
            "lists": ["7"],
            "agents": "24,26",
        },
        {"dialMethod": "power", "trunk_id": "12"},
    )
    body = rules.campaign_body(wanted)
    assert (
        body
        == QueueCampaign(
            name="daily", TrunkId=12, dialMethod="power", dialGlobalInterval="08:00-21:00,mon-fri,*,*"
        ).wire()
    )
    assert wanted["_lists"] == [7] and wanted["_agents"] == [24, 26]
    assert wanted["_owned"] == ["TrunkId", "dialGlobalInterval", "dialMethod"]
    assert not any(k.startswith("_") for k in body)


@pytest.mark.parametrize(
    ("settings", "common", "message"),
    [
        ({"TrunkId": 12, "dialMethod": "robocall"}, {}, "'dialMethod': Input should be"),
        ({}, {}, "'TrunkId' is required"),
        ({"TrunkId": 12, "dial_power_level": 0}, {}, "'dialPowerLevel'"),
        ({"TrunkId": 12, "lists": [1]}, {}, "'lists' comes from the operator"),
        ({"TrunkId": 12, "dialGlobalInterval": "07:00-22:00,*,*,*"}, {"calling_hours": "08:00-20:00"}, "not both"),
        ({"TrunkId": 12}, {"agents": ["x"]}, "agents must be numeric ids"),
    ],
)
def test_build_campaign_names_the_bad_setting(settings, common, message):
    with pytest.raises(DialerConfigError, match=message):
        rules.build_campaign_wanted({"name": "daily", **common}, settings)


def test_campaign_differences_compare_only_owned_fields_and_missing_ids():
    wanted = rules.build_campaign_wanted(
        {"name": "d", "calling_hours": "08:00-20:00", "lists": [7, 8], "agents": [24]},
        {"TrunkId": 12, "dialMethod": "power"},
    )
    existing = {
        "id": 3,
        "name": "d",
        "TrunkId": "12",
        "dialMethod": "progressive",
        "dialActive": False,
        "dialPowerLevel": 9,
        "dialGlobalInterval": "08:00-20:00,*,*,*",
    }
    diff = rules.campaign_differences(existing, wanted, attached_lists=[7], attached_agents=[24, 31])
    assert diff == {"dialMethod": ("progressive", "power"), "lists": ([7], [7, 8])}  # TrunkId "12" == 12
    assert rules.missing_ids(diff, "lists") == [8] and rules.missing_ids(diff, "agents") == []


# -- capabilities: hook verbs without a server ----------------------------------------------------------


def test_xcally_has_exactly_its_verbs(monkeypatch):
    from airflow_provider_dialer import capabilities as caps

    set_conn(monkeypatch)
    hook = XCallyHook()
    for verb in (
        caps.ListUploader,
        caps.FreshLeadPusher,
        caps.CampaignCreator,
        caps.CampaignController,
        caps.ListStateWatcher,
    ):
        assert isinstance(hook, verb), verb
    for verb in (caps.DialerTaskAdder, caps.LeadRemover, caps.ImportJobWatcher):
        assert not isinstance(hook, verb), verb


def test_open_list_target_creates_adds_agents_attaches_and_counts(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(200, json={"count": 0, "rows": []}),  # find by name
            httpx.Response(201, json={"id": 7, "name": "leads"}),  # create
            httpx.Response(201, json=[]),  # agents
            httpx.Response(201, json=[]),  # attach to campaign 59
            httpx.Response(200, json={"count": 0, "rows": []}),  # baseline count
        ],
        seen,
        extra={"phone_format": "e164", "first_name_fallback": "Cliente"},
    )
    target = hook.open_list_target("leads", {"mode": "auto", "agents": "[24, 26]", "campaign_id": "59"})
    assert target == {
        "list_id": 7,
        "list_name": "leads",
        "mode": "auto",
        "baseline": 0,
        "duplicates": ["phone"],
        "phone_format": "e164",
        "first_name_fallback": "Cliente",
        "campaign_id": 59,
    }
    assert [(r.method, r.url.path) for r in seen[1:4]] == [
        ("POST", "/api/cm/lists"),
        ("POST", "/api/cm/lists/7/users"),
        ("POST", "/api/voice/queues/59/lists"),
    ]
    assert json.loads(seen[2].content) == {"id": 7, "ids": [24, 26]}
    assert hook.list_chunk_size_for(target) == 50_000 and hook.list_chunk_size_for({"mode": "batch"}) == 1000
    assert hook.list_chunk_size_for({"mode": "csv"}) == 50_000
    # auto: a wait only when some chunk went as a CSV import
    assert hook.list_wait(target, {"accepted": 5, "ids": {"list_id": 7}}) is None
    wait = {"kind": "list_loaded", "targets": [{"list_id": 7, "expected": 5}]}
    assert hook.list_wait(target, {"accepted": 5, "ids": {"list_id": 7, "pids": ["p1"]}}) == wait
    assert hook.list_wait({**target, "mode": "csv"}, {"accepted": 5}) == wait
    assert hook.list_wait({**target, "mode": "batch"}, {"accepted": 5}) is None


def test_auto_mode_picks_per_chunk_by_size():
    hook = XCallyHook.__new__(XCallyHook)
    small, large = [object()] * 1000, [object()] * 1001
    assert hook._chunk_mode({"mode": "auto"}, small) == "batch" and hook._chunk_mode({"mode": "auto"}, large) == "csv"
    assert hook._chunk_mode({"mode": "batch"}, large) == "batch" and hook._chunk_mode({"mode": "csv"}, small) == "csv"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mode": "bulk"}, "mode must be"),
        ({"hub": "x"}, "unknown settings"),
        ({"phone_format": "national"}, "phone_format"),
    ],
)
def test_open_list_target_refuses_bad_settings_before_any_request(monkeypatch, settings, message):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [], seen)
    with pytest.raises(DialerConfigError, match=message):
        hook.open_list_target("leads", settings)
    assert seen == []


def test_batch_chunk_sends_scheduledat_and_refuses_bad_leads_per_lead(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(201, json=[{"id": 1}])], seen)
    target = {"list_id": 7, "mode": "batch", "phone_format": "digits", "first_name_fallback": None}
    call_at = datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    outcome = hook.push_list_chunk(
        target, "now#1", [lead(row=1, call_at=call_at), lead(row=2, phone="+5511900000000", priority=0)]
    )
    assert outcome.accepted == 1 and [r["row"] for r in outcome.refused] == [2]
    assert json.loads(seen[0].content) == [
        {"ListId": 7, "firstName": "5511912345678", "phone": "5511912345678", "scheduledat": "2026-06-10T23:00:00Z"}
    ]


def test_resolve_reads_by_phone_and_reports_missing_rows(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(200, json={"count": 5000, "rows": [{"id": 1}]}),  # count: 5 pages > 2 phones -> by phone
            httpx.Response(200, json={"count": 0, "rows": []}),  # phones are read in sorted order
            httpx.Response(200, json={"count": 1, "rows": [{"id": 9, "phone": "5511912345678"}]}),
        ],
        seen,
    )
    target = {"list_id": 7, "mode": "batch", "phone_format": "digits"}
    outcome = hook.resolve_list_chunk(target, "now#1", [lead(row=1), lead(row=2, phone="+5511900000000")])
    assert (outcome.accepted, outcome.missing, outcome.how) == (1, [2], "resolved")
    assert [r.url.params.get("phone") for r in seen[1:]] == ["5511900000000", "5511912345678"]


def test_resolve_walks_the_list_when_it_has_fewer_pages_than_leads(monkeypatch):
    seen: list[httpx.Request] = []
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(200, json={"count": 1, "rows": [{"id": 1}]}),
            httpx.Response(200, json={"count": 1, "rows": [{"id": 9, "phone": "5511900000000"}]}),
        ],
        seen,
    )
    target = {"list_id": 7, "mode": "batch", "phone_format": "digits"}
    outcome = hook.resolve_fresh_chunk(target, "now#1", [lead(row=1), lead(row=2, phone="+5511900000000")])
    assert (outcome.accepted, outcome.missing) == (1, [1])
    assert seen[1].url.params["limit"] == "1000" and seen[1].url.params["fields"] == "id,phone"


def test_list_state_sync_and_async(monkeypatch):
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"count": 4, "rows": []})], [])
    state = hook.list_state({"list_id": 7, "expected": 5})
    assert (state.status, state.done, state.failed) == ("4/5 contacts", False, False)

    async def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["ListId"] == "7"
        return httpx.Response(200, headers={"Content-Range": "0-1/6"}, json={"rows": []})

    hook = XCallyHook(async_transport=httpx.MockTransport(handler))
    state = asyncio.run(hook.alist_state({"list_id": 7, "expected": 5}))
    assert (state.status, state.done) == ("6/5 contacts", True)


def test_open_fresh_target_needs_an_existing_list(monkeypatch):
    hook = hook_with(monkeypatch, [httpx.Response(404, json={"message": "List not found"})], [])
    with pytest.raises(DialerConfigError, match="no contact list with id 12"):
        hook.open_fresh_target({"list_id": 12})
    with pytest.raises(DialerConfigError, match="one of them"):
        hook.open_fresh_target({})


def test_control_sends_dial_active(monkeypatch):
    from airflow_provider_dialer.exceptions import UnsupportedCapabilityError

    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(200, json={"id": 3, "name": "d", "dialActive": False})], seen)
    assert hook.control("3", "deactivate") == {"id": 3, "name": "d", "dialActive": False}
    assert (seen[0].method, seen[0].url.path, json.loads(seen[0].content)) == (
        "PUT",
        "/api/voice/queues/3",
        {"dialActive": False},
    )
    with pytest.raises(UnsupportedCapabilityError):
        hook.control(3, "start")


def test_find_campaign_by_name_is_a_json_dict(monkeypatch):
    hook = hook_with(
        monkeypatch,
        [
            httpx.Response(
                200,
                json={
                    "count": 1,
                    "rows": [
                        {
                            "id": 3,
                            "name": "daily",
                            "TrunkId": 12,
                            "dialActive": True,
                            "createdAt": "2026-01-05T00:00:00Z",
                        }
                    ],
                },
            )
        ],
        [],
    )
    found = hook.find_campaign_by_name("daily")
    assert found["id"] == 3 and found["TrunkId"] == 12 and json.loads(json.dumps(found)) == found


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    priorities=st.lists(st.one_of(st.none(), st.integers(-2, 4)), min_size=1, max_size=12),
    phone_format=st.sampled_from(["digits", "e164"]),
)
def test_a_bulk_chunk_sends_each_acceptable_lead_once_and_refuses_the_rest(monkeypatch, priorities, phone_format):
    """Whatever leads of a batch chunk Motion would refuse (priority < 1), the bulk add carries exactly
    the others, mapped as ``xcally_contact`` maps them, and the refused are reported by row."""
    seen: list[httpx.Request] = []
    hook = hook_with(monkeypatch, [httpx.Response(201, json=[])], seen)
    leads = [lead(row=i + 1, phone=f"+55119123{i:05d}", priority=p) for i, p in enumerate(priorities)]
    target = {"list_id": 7, "mode": "batch", "phone_format": phone_format}
    outcome = hook.push_list_chunk(target, "now#1", leads)
    bad = {lead.row for lead in leads if lead.priority is not None and lead.priority < 1}
    good = [lead for lead in leads if lead.row not in bad]
    assert [entry["row"] for entry in outcome.refused] == sorted(bad)
    assert {entry["reason"] for entry in outcome.refused} <= {"invalid_contact"}
    assert outcome.accepted == len(good)
    if good:
        assert json.loads(seen[0].content) == [xcally_contact(x, list_id=7, phone_format=phone_format) for x in good]
    else:
        assert seen == []  # nothing to add: no request
