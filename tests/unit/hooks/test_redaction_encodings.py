"""Secrets in every spelling: a password or API key a vendor echoes JSON-escaped, URL-encoded or inside a Basic
value, and an API key written in the extras as a JSON number, never reach an error, a log line or XCom.

The spellings are computed here with other tools than the hook's (``urllib.parse.urlencode``, httpx's own
query encoding, ``json`` on a whole document, ``html``), and the masking is checked with the hook's
redaction and with Airflow's own secrets masker (what redacts a real task's log).
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from airflow.sdk._shared.secrets_masker import redact as airflow_redact
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError, DialerHTTPError
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.transport import redaction
from airflow_provider_dialer.transport.redaction import redact_value
from airflow_provider_dialer.transport.requests import Flow, Request, api_call

LOGIN = "bob"
#: what secrets are made of: letters, digits, non-ASCII (Latin, CJK, emoji), quotes, backslash, space, URL syntax
ALPHABET = st.sampled_from(list("abcXYZ0189") + list("éüßñ日本😀") + list("'\"\\ &=+%/?#;<>:@,"))
SECRETS = st.text(ALPHABET, min_size=8, max_size=24).filter(lambda s: s.strip() == s and len(set(s)) > 3)


class EchoHook(DialerHook):
    """Sends its api key as ``?apikey=`` (so httpx logs it, URL-encoded); the password is only echoed back."""

    conn_name_attr = "echo_conn_id"
    default_conn_name = "echo_default"
    conn_type = "echo"
    hook_name = "Echo"
    vendor = "Echo"
    secret_extras = ("api_key",)

    def auth_params(self, scheme: str = "default") -> dict[str, str]:
        key = self.extras.get("api_key")
        return {"apikey": str(key)} if key is not None else {}

    @api_call
    def get_thing(self) -> Flow[Any]:
        response = yield Request("GET", "/things/1")
        return response.json()


def spellings(secret: str, password: bool = True) -> dict[str, str]:
    """How ``secret`` may be written by someone else, by name (computed without the hook's code)."""
    document = json.dumps({"k": secret})  # the value as a JSON document writes it
    utf8_document = json.dumps({"k": secret}, ensure_ascii=False)
    escaped = document[len('{"k": "') : -2]
    out = {
        "raw": secret,
        "json": escaped,
        "json, ensure_ascii=False": utf8_document[len('{"k": "') : -2],
        "json, upper-case hex": re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped),
        "json, PHP slashes": escaped.replace("/", "\\/"),
        "json inside json": json.dumps({"k": document})[len('{"k": "') : -2][len('{\\"k\\": \\"') : -len('\\"}')],
        "form-encoded (urlencode)": urlencode({"k": secret})[2:],
        "percent-encoded": quote(secret.encode("utf-8"), safe=""),
        "percent-encoded, lower-case hex": re.sub(
            r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(secret, safe="")
        ),
        "as httpx puts it in a URL": str(httpx.QueryParams({"k": secret}))[2:],
        "html": html.escape(secret),
    }
    if password:  # the HTTP Basic value of login:password
        out["basic"] = base64.b64encode(f"{LOGIN}:{secret}".encode()).decode("ascii")
    return {name: form for name, form in out.items() if len(form) >= 5}


def set_conn(monkeypatch: pytest.MonkeyPatch, password: str, api_key: Any) -> None:
    conn = {
        "conn_type": "echo",
        "host": "127.0.0.1",
        "port": 9,
        "schema": "http",
        "login": LOGIN,
        "password": password,
        "extra": {"api_key": api_key, "max_attempts": 1},
    }
    monkeypatch.setenv("AIRFLOW_CONN_ECHO_DEFAULT", json.dumps(conn))


def leaks(text: str, secrets: list[str]) -> list[str]:
    """Spellings found in ``text``; the first secret is the password, the others API keys."""
    return [
        f"{name} of secret {i}"
        for i, secret in enumerate(secrets)
        for name, form in spellings(secret, password=i == 0).items()
        if form in text
    ]


API_KEYS = st.one_of(SECRETS, st.integers(10**7, 10**18), st.floats(1e7, 1e15, allow_nan=False, allow_infinity=False))


@pytest.fixture
def isolated_masks() -> Any:
    """Both maskers are process-wide and only grow; each example starts them empty (and the test restores them),
    so an example cannot pass on a spelling another example registered, and Airflow's pattern stays small."""
    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    saved = (set(redaction.SECRETS._secrets), set(masker.patterns), masker.replacer)

    def reset() -> None:
        redaction.SECRETS._secrets.clear()
        masker.reset_masker()

    yield reset
    redaction.SECRETS._secrets.update(saved[0])
    masker.patterns, masker.replacer = saved[1], saved[2]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=SECRETS, api_key=API_KEYS)
def test_every_spelling_of_every_secret_is_masked_in_errors_logs_and_xcom(
    monkeypatch, caplog, isolated_masks, password, api_key
):
    isolated_masks()
    set_conn(monkeypatch, password, api_key)
    secrets = [password, str(api_key)]
    echoed = "\n".join(form for i, secret in enumerate(secrets) for form in spellings(secret, i == 0).values())

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            500, text=f"request failed; you sent:\n{echoed}", headers={"Content-Type": "text/plain; charset=utf-8"}
        )

    hook = EchoHook(transport=httpx.MockTransport(handler))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="httpx"):
        with pytest.raises(DialerHTTPError) as info:
            hook.get_thing()
    error = info.value
    # the error keeps the vendor's body, redacted, not dropped
    assert "request failed" in error.body and "***" in error.body
    assert not leaks(f"{error}\n{error!r}\n{error.body}", secrets)
    # httpx's request line carries the api key URL-encoded
    request_lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert request_lines and all("apikey=***" in line for line in request_lines), request_lines
    assert not leaks("\n".join(request_lines), secrets)
    # Airflow's masker (a real task's log) knows every spelling too
    assert not leaks(airflow_redact(f"log line: {echoed}"), secrets)
    # XCom values pass the same redaction
    xcom = redact_value({"note": echoed, "rows": [{"reason": echoed}], echoed: (echoed, 7)})
    assert not leaks(json.dumps(xcom, ensure_ascii=False), secrets)
    assert xcom["rows"][0]["reason"].startswith("***") and list(xcom.values())[-1][1] == 7


@pytest.mark.parametrize("value", [True, False, {"id": "k-12345678"}, ["k-12345678"]])
def test_a_secret_extra_of_no_credential_type_is_a_config_error_that_names_no_value(monkeypatch, value):
    set_conn(monkeypatch, "pw-12345678", value)
    with pytest.raises(DialerConfigError, match="extra 'api_key' must be a string, got a JSON") as info:
        EchoHook().settings
    assert "12345678" not in str(info.value) and "True" not in str(info.value)


def test_numeric_api_key_is_masked_in_httpx_request_lines(monkeypatch, caplog):
    """The issue's case: ``{"api_key": 98765432101}`` is sent as ``?apikey=98765432101`` and httpx logs it."""
    set_conn(monkeypatch, "pw-12345678", 98765432101)
    hook = EchoHook(transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"ok": 1})))
    with caplog.at_level(logging.INFO, logger="httpx"):
        assert hook.get_thing() == {"ok": 1}
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP Request: GET" in text and "apikey=***" in text
    assert "98765432101" not in text


def test_the_lead_operators_xcom_value_passes_the_redaction(monkeypatch, tmp_path):
    """A vendor that puts a token into what the task reports (an id, a refusal reason): the summary pushed to
    XCom holds ``***`` in every spelling's place, and the rest of it is intact."""
    import datetime as dt

    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.operators import base as operators_base
    from airflow_provider_dialer.operators.lists import UploadListOperator
    from airflow_provider_dialer.transport.redaction import register_secret

    token = 'tok-"é/ü+&=%\\ 12'
    forms = [form for form in spellings(token, password=False).values()]

    class LeakyHook:
        vendor = "Leaky"
        list_per_lead_schedule = True

        def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
            register_secret(token)  # what a hook does with a token it obtains
            return {"list_id": 5, "name": list_name}

        def push_list_chunk(self, target: Any, key: str, leads: Any) -> Any:
            return ChunkOutcome(accepted=len(leads), ids={"list_ids": [f"L-{form}" for form in forms]})

        def resolve_list_chunk(self, target: Any, key: str, leads: Any) -> None:
            return None

        def list_wait(self, target: Any, summary: Any) -> None:
            return None

        def list_chunk_size_for(self, target: Any) -> int:
            return 10

        def close(self) -> None:
            pass

    monkeypatch.setattr("airflow_provider_dialer.hooks.registry.get_dialer_hook", lambda conn_id: LeakyHook())
    monkeypatch.setattr(operators_base, "utcnow", lambda: dt.datetime(2026, 6, 10, 16, tzinfo=dt.UTC))
    source = [{"phones": ["+12125550147"], "first_name": "Noah", "timezone": "America/New_York"}]
    op = UploadListOperator(
        task_id="t", conn_id="leaky", source=source, list_name="l", progress=str(tmp_path / "p.json")
    )
    result = op.execute({})
    stored = json.dumps(result, ensure_ascii=False)
    assert result["accepted"] == 1 and set(result["ids"]["list_ids"]) == {"L-***"}
    assert [form for form in forms if form in stored] == []
