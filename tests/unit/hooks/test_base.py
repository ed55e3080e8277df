"""DialerHook's shared behaviour: URL rule, retries, Retry-After, delivery rule, redaction, rate limit, sync/async twins."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import httpx
import pytest

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
    DialerRateLimitError,
    DialerTransportError,
)
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.transport.ratelimit import RateLimiter
from airflow_provider_dialer.transport.requests import Flow, Request, api_call
from airflow_provider_dialer.transport.retry import RetryPolicy, parse_retry_after
from airflow_provider_dialer.transport.settings import is_loopback

SECRET = "s3cr3t-Passw0rd-xyz"


class DemoHook(DialerHook):
    conn_name_attr = "demo_conn_id"
    default_conn_name = "demo_default"
    conn_type = "demo"
    hook_name = "Demo"
    vendor = "Demo"

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        return {"Authorization": f"Bearer {self.connection.password}"}
        yield

    @api_call
    def get_thing(self, thing_id: int) -> Flow[dict[str, Any]]:
        response = yield Request("GET", f"/things/{thing_id}")
        return response.json()

    @api_call
    def create_thing(self, name: str) -> Flow[dict[str, Any]]:
        response = yield Request("POST", "/things", json={"name": name})
        return response.json()

    @api_call
    def maybe_thing(self, thing_id: int) -> Flow[dict[str, Any] | None]:
        try:
            response = yield Request("GET", f"/things/{thing_id}")
        except DialerHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        return response.json()

    def probe(self) -> Flow[str]:
        yield Request("GET", "/things/1")
        return "things readable"


def set_conn(monkeypatch: pytest.MonkeyPatch, **fields: Any) -> None:
    conn = {"conn_type": "demo", "host": "127.0.0.1", "port": 9, "schema": "http", "login": "bob", "password": SECRET}
    extra = fields.pop("extra", {"retry_backoff_seconds": 0.001})
    conn.update(fields)
    conn["extra"] = extra
    monkeypatch.setenv("AIRFLOW_CONN_DEMO_DEFAULT", json.dumps(conn))


def scripted(responses: list[Any], seen: list[httpx.Request]) -> httpx.MockTransport:
    """A transport answering from a script: httpx.Response objects or exceptions to raise."""
    script = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler)


# -- base URL and the https rule -------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"host": "127.0.0.1", "port": 8080, "schema": "http"}, "http://127.0.0.1:8080"),
        ({"host": "api.example.com", "port": None, "schema": ""}, "https://api.example.com"),
        (
            {"host": "https://api.example.com:8443/motion/", "port": None, "schema": ""},
            "https://api.example.com:8443/motion",
        ),
        ({"host": "localhost", "port": 5000, "schema": "http"}, "http://localhost:5000"),
        ({"host": "::1", "port": 5000, "schema": "http"}, "http://[::1]:5000"),
    ],
)
def test_base_url_is_built_from_the_connection(monkeypatch, fields, expected):
    set_conn(monkeypatch, **fields)
    assert DemoHook().base_url == expected


@pytest.mark.parametrize(
    "extra, expected",
    [
        ({}, 60.0),  # the client's read timeout: the server is assumed to give up no later than the client
        ({"read_timeout": "15"}, 15.0),
        ({"read_timeout": 15, "late_write_seconds": "90"}, 90.0),
        ({"late_write_seconds": 0}, 0.0),  # settling off, on purpose
        ({"late_write_seconds": -3}, 0.0),
    ],
)
def test_late_write_seconds_defaults_to_the_read_timeout(monkeypatch, extra, expected):
    set_conn(monkeypatch, extra=extra)
    assert DemoHook().settings.late_write_seconds == expected


def test_late_write_seconds_must_be_a_number(monkeypatch):
    set_conn(monkeypatch, extra={"late_write_seconds": "soon"})
    with pytest.raises(DialerConfigError, match="late_write_seconds"):
        DemoHook().settings


def test_plain_http_off_loopback_is_refused(monkeypatch):
    set_conn(monkeypatch, host="dialer.example.com", schema="http")
    with pytest.raises(DialerConfigError, match="refusing plain http://"):
        DemoHook().base_url


def test_plain_http_off_loopback_allowed_when_asked(monkeypatch):
    set_conn(monkeypatch, host="dialer.internal", schema="http", extra={"allow_insecure_http": "true"})
    assert DemoHook().base_url == "http://dialer.internal:9"


def test_missing_host_is_a_config_error(monkeypatch):
    set_conn(monkeypatch, host="")
    with pytest.raises(DialerConfigError, match="has no host"):
        DemoHook().base_url


def test_conn_id_accepted_under_vendor_keyword(monkeypatch):
    set_conn(monkeypatch)
    assert DemoHook(demo_conn_id="demo_default").conn_id == "demo_default"


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loop):
    assert is_loopback(host) is loop


# -- retries ---------------------------------------------------------------------------------


def test_429_is_retried_honouring_retry_after(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    transport = scripted(
        [httpx.Response(429, headers={"Retry-After": "0.2"}), httpx.Response(200, json={"id": 1})], seen
    )
    hook = DemoHook(transport=transport)
    started = time.monotonic()
    assert hook.create_thing("x") == {"id": 1}
    assert time.monotonic() - started >= 0.2
    assert len(seen) == 2
    assert json.loads(seen[1].content) == {"name": "x"}


def test_503_is_retried_for_writes(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(503), httpx.Response(201, json={"id": 2})], seen))
    assert hook.create_thing("x") == {"id": 2}
    assert len(seen) == 2


def test_502_on_a_write_is_not_resent(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(502, text="bad gateway")], seen))
    with pytest.raises(DialerHTTPError) as info:
        hook.create_thing("x")
    assert info.value.status == 502
    assert len(seen) == 1


def test_502_on_a_read_is_retried(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(502), httpx.Response(200, json={"id": 3})], seen))
    assert hook.get_thing(3) == {"id": 3}
    assert len(seen) == 2


def test_500_is_not_retried(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(500, json={"message": "boom"})], seen))
    with pytest.raises(DialerHTTPError, match="HTTP 500") as info:
        hook.get_thing(1)
    assert "boom" in info.value.body
    assert len(seen) == 1


def test_429_storm_beyond_attempts_raises_rate_limit_error(monkeypatch):
    set_conn(monkeypatch, extra={"max_attempts": 3, "retry_backoff_seconds": 0.001})
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(429, headers={"Retry-After": "0"})] * 3, seen))
    with pytest.raises(DialerRateLimitError):
        hook.get_thing(1)
    assert len(seen) == 3


def test_retry_after_beyond_budget_stops_early(monkeypatch):
    set_conn(monkeypatch, extra={"retry_max_seconds": 1, "retry_backoff_seconds": 0.001})
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(429, headers={"Retry-After": "30"})], seen))
    started = time.monotonic()
    with pytest.raises(DialerRateLimitError):
        hook.get_thing(1)
    # it gave up at once instead of waiting out the 30 s (bound loose enough for a loaded machine)
    assert time.monotonic() - started < 15
    assert len(seen) == 1


def test_connect_error_is_retried_even_for_writes(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.ConnectError("refused"), httpx.Response(201, json={"id": 4})], seen))
    assert hook.create_thing("x") == {"id": 4}
    assert len(seen) == 2


def test_write_with_unknown_fate_is_not_resent(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.RemoteProtocolError("Server disconnected")], seen))
    with pytest.raises(DialerDeliveryUnknownError, match="not resent"):
        hook.create_thing("x")
    assert len(seen) == 1


def test_read_with_unknown_fate_is_retried(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.ReadTimeout("slow"), httpx.Response(200, json={"id": 5})], seen))
    assert hook.get_thing(5) == {"id": 5}


def test_exhausted_connect_errors_raise_transport_error(monkeypatch):
    set_conn(monkeypatch, extra={"max_attempts": 2, "retry_backoff_seconds": 0.001})
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.ConnectError("refused")] * 2, seen))
    with pytest.raises(DialerTransportError) as info:
        hook.get_thing(1)
    assert not isinstance(info.value, DialerDeliveryUnknownError)


def test_flow_can_handle_a_status_error(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(404, json={"message": "no"})], seen))
    assert hook.maybe_thing(9) is None


def test_backoff_is_bounded_full_jitter():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    rng = random.Random(1)
    waits = [policy.backoff(attempt, rng) for attempt in range(1, 10)]
    assert all(0 <= w <= 8.0 for w in waits)
    assert max(policy.backoff(1, random.Random(i)) for i in range(50)) <= 1.0


def test_parse_retry_after_forms():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("garbage") is None
    http_date = "Wed, 21 Oct 2026 07:28:00 GMT"
    import email.utils

    now = email.utils.parsedate_to_datetime(http_date).timestamp() - 7
    assert parse_retry_after(http_date, now=now) == pytest.approx(7.0)


# -- secrets ---------------------------------------------------------------------------------


def test_error_text_never_carries_the_password(monkeypatch):
    set_conn(monkeypatch)
    seen: list[httpx.Request] = []
    echo = httpx.Response(401, text=f"bad token Bearer {SECRET}")
    hook = DemoHook(transport=scripted([echo], seen))
    with pytest.raises(DialerAuthError) as info:
        hook.get_thing(1)
    assert SECRET not in str(info.value)
    assert "***" in str(info.value)
    assert seen[0].headers["Authorization"] == f"Bearer {SECRET}"


def test_test_connection_messages(monkeypatch):
    set_conn(monkeypatch)
    ok, message = DemoHook(transport=scripted([httpx.Response(200, json={})], [])).test_connection()
    assert ok and "things readable" in message
    ok, message = DemoHook(transport=scripted([httpx.Response(401)], [])).test_connection()
    assert not ok and message.startswith("Authentication failed") and SECRET not in message
    set_conn(monkeypatch, extra={"max_attempts": 1})
    ok, message = DemoHook(
        transport=scripted([httpx.ConnectError("[Errno 111] Connection refused")], [])
    ).test_connection()
    assert not ok and "connection refused" in message


def test_test_connection_against_a_closed_port(monkeypatch):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    set_conn(monkeypatch, port=port, extra={"max_attempts": 1})
    ok, message = DemoHook().test_connection()
    assert not ok
    assert "connection refused" in message.lower()


# -- rate limit and async twin ---------------------------------------------------------------


def test_rate_limiter_spaces_requests_from_the_first_one():
    clock = {"now": 0.0}
    limiter = RateLimiter(per_second=20, clock=lambda: clock["now"])
    assert limiter.acquire() == 0.0
    assert limiter.acquire() == pytest.approx(0.05)  # no burst: the second waits its turn
    clock["now"] = 0.05
    assert limiter.acquire() == 0.0


def test_rate_limit_from_connection_slows_requests(monkeypatch):
    set_conn(monkeypatch, extra={"rate_limit_per_second": 20})
    seen: list[httpx.Request] = []
    hook = DemoHook(transport=scripted([httpx.Response(200, json={})] * 25, seen))
    started = time.monotonic()
    for i in range(25):
        hook.get_thing(i)
    assert time.monotonic() - started >= 0.2


async def test_async_twin_matches_sync(monkeypatch):
    set_conn(monkeypatch)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"path": request.url.path, "auth": request.headers["Authorization"] == f"Bearer {SECRET}"}
        )

    hook = DemoHook(transport=httpx.MockTransport(handler), async_transport=httpx.MockTransport(handler))
    sync_result = hook.get_thing(7)
    async_result = await hook.aget_thing(7)
    await hook.aclose()
    assert sync_result == async_result == {"path": "/things/7", "auth": True}
    assert DemoHook.aget_thing.__name__ == "aget_thing"


# -- one SSL context per verify setting ----------------------------------------------------------


def test_clients_share_one_ssl_context_per_verify_setting(monkeypatch):
    import asyncio
    import ssl

    import certifi

    from airflow_provider_dialer.transport.settings import ssl_context

    set_conn(monkeypatch, host="api.example.com", schema="https", port=None)
    first, second = DemoHook(), DemoHook()
    assert first.get_conn()._transport._pool._ssl_context is second.get_conn()._transport._pool._ssl_context

    async def async_context(hook: DemoHook) -> ssl.SSLContext:
        client = hook._get_async_client()
        try:
            return client._transport._pool._ssl_context
        finally:
            await client.aclose()

    assert asyncio.run(async_context(first)) is ssl_context(True)
    insecure, bundle = ssl_context(False), ssl_context(certifi.where())
    assert insecure.verify_mode == ssl.CERT_NONE and not insecure.check_hostname
    assert bundle.verify_mode == ssl.CERT_REQUIRED and bundle is not ssl_context(True)
    assert ssl_context(certifi.where()) is bundle
    with pytest.raises(FileNotFoundError):
        ssl_context("/nonexistent/ca.pem")


def test_a_hook_setting_the_old_per_lead_schedule_name_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="list_per_lead_schedule"):

        class OldStyleHook(DemoHook):
            supports_per_lead_schedule = True

    assert OldStyleHook.list_per_lead_schedule is True
    assert DemoHook.list_per_lead_schedule is False
