"""Secrets audit: operators, hooks, triggers and an example DAG run against an emulator that only accepts
sentinel credentials; everything the code emits is scanned for the sentinels, their derived forms and
Authorization header values.

What is scanned: Python logging at DEBUG from every logger (also loggers that do not propagate),
httpx's request lines (full URLs: XCALLY's ``?apikey=``), stdout/stderr at the file-descriptor level,
``str``/``repr``/formatted tracebacks of every exception, operator return values (XCom) as JSON, the
operators' template fields, ``test_connection()`` messages and trigger event payloads. ``dag.test()``
does not mask (docs: airflow3.md §4), so what is asserted is that our code never emits a secret at all.

Each scan is paired with a proof that it could fail: the emulator accepted the sentinel on the
wire, the derived tokens were actually issued, and a canary line logged through the same channels
shows up in the captured text.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import re
import traceback
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_dialer.emulator.app import Emulator, connection_for, run_emulator
from airflow_provider_dialer.emulator.state import Credentials
from airflow_provider_dialer.operators import base as base_module

from .conftest import first_event

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York, so every lead below may be called now
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)

SENTINELS = Credentials(
    ucontact_user="sentinel-supervisor",
    ucontact_password="SENTINEL-uc-pass-1234",
    ucontact_api_token="SENTINEL-uc-apitoken-5678",
    xcally_user="sentinel-admin",
    xcally_password="SENTINEL-xc-pass-9012",
    xcally_api_key="SENTINEL-xc-apikey-3456",
    voipex_user="sentinel@example.com",
    voipex_password="SENTINEL-vx-pass-7890",
    ujet_user="sentinel-ujet",
    ujet_token="SENTINEL-uj-token-2468",
)
#: what the second ("wrong") connections send: refused, and still secret
WRONG = Credentials(
    ucontact_user=SENTINELS.ucontact_user,
    ucontact_password="SENTINEL-uc-WRONG-1111",
    ucontact_api_token="SENTINEL-uc-apitoken-WRONG-2222",
    xcally_user=SENTINELS.xcally_user,
    xcally_password="SENTINEL-xc-WRONG-3333",
    xcally_api_key="SENTINEL-xc-apikey-WRONG-4444",
    voipex_user=SENTINELS.voipex_user,
    voipex_password="SENTINEL-vx-WRONG-5555",
    ujet_user=SENTINELS.ujet_user,
    ujet_token="SENTINEL-uj-WRONG-6666",
)
CANARY = "CANARY-visible-4242"
#: an Authorization value in any shape: header dump, dict repr, "Basic xxx" / "Bearer xxx"
AUTH_VALUE = re.compile(
    r"(?i)(authorization\\?['\"]?\s*[:=]\s*\\?['\"]?(?!(?:(?:basic|bearer)\s+)?\*\*\*)[^\s'\",}\\]{4,}"
    r"|\b(?:basic|bearer)\s+(?!\*\*\*)[A-Za-z0-9+/=._~-]{12,})"
)
PASSWORDS = (
    "ucontact_password",
    "ucontact_api_token",
    "xcally_password",
    "xcally_api_key",
    "voipex_password",
    "ujet_token",
)


# --------------------------------------------------------------------------------------------
# The emulator with sentinel credentials (run_emulator takes no credentials)
# --------------------------------------------------------------------------------------------


def emulator_with(credentials: Credentials) -> contextlib.AbstractContextManager[Emulator]:
    """``run_emulator`` with the credentials the emulator accepts replaced."""
    return run_emulator(credentials=credentials)


class _RecordingDict(dict):
    """Integra's session table; remembers every token ever issued (EndSession deletes them)."""

    def __init__(self) -> None:
        super().__init__()
        self.issued: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.issued.append(key)
        super().__setitem__(key, value)


def _api(emu: Emulator, vendor: str, name: str) -> Any:
    return next(backend for backend in emu.ports[vendor].backends if backend.name == name)


@pytest.fixture(scope="module")
def sentinel_emulator() -> Iterator[Emulator]:
    with emulator_with(SENTINELS) as emu:
        yield emu


@pytest.fixture
def emu(sentinel_emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    e = sentinel_emulator
    e.reset()
    e.configure(ujet_rate_limit=0, ujet_job_seconds=0.05, ucontact_list_load_seconds=0.05)
    _api(e, "ucontact", "ucontact_integra").sessions = _RecordingDict()
    for key, value in e.env().items():
        monkeypatch.setenv(key, value)
    for vendor in ("ucontact", "xcally", "voipex", "ujet"):
        wrong = connection_for(vendor, e.host, e.port_of(vendor), WRONG, e.config)
        monkeypatch.setenv(f"AIRFLOW_CONN_{vendor.upper()}_WRONG", json.dumps(wrong))
    xc = {
        "conn_type": "xcally",
        "host": e.host,
        "port": e.port_of("xcally"),
        "schema": "http",
        "extra": {"api_key": SENTINELS.xcally_api_key},
    }
    monkeypatch.setenv("AIRFLOW_CONN_XCALLY_APIKEY", json.dumps(xc))
    monkeypatch.setenv(
        "AIRFLOW_CONN_XCALLY_APIKEY_WRONG", json.dumps({**xc, "extra": {"api_key": WRONG.xcally_api_key}})
    )
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    return e


# --------------------------------------------------------------------------------------------
# Capturing everything, and the forbidden strings
# --------------------------------------------------------------------------------------------


class Emitted:
    """Everything the code under test emitted; ``text()`` joins it for scanning."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        self.caplog, self.capfd = caplog, capfd
        self.extra: list[str] = []
        self.out = ""

    def exception(self, exc: BaseException) -> None:
        self.extra += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
        for attr in ("body", "reason", "detail"):
            if isinstance(getattr(exc, attr, None), str):
                self.extra.append(getattr(exc, attr))

    def value(self, value: Any) -> None:
        self.extra.append(json.dumps(value, default=str, ensure_ascii=False))
        self.extra.append(repr(value))

    def operator(self, op: Any, result: Any = None) -> None:
        self.value(result)
        self.value({name: getattr(op, name, None) for name in op.template_fields})

    def text(self) -> str:
        out, err = self.capfd.readouterr()
        self.out += out + err
        records = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in self.caplog.records)
        return "\n".join([self.caplog.text, records, self.out, *self.extra])


@contextlib.contextmanager
def emitted(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Emitted]:
    """DEBUG for every logger, caplog's handler also on loggers that do not propagate, warnings as text."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "airflow", "airflow.task", "airflow_provider_dialer"):
        caplog.set_level(logging.DEBUG, logger=name)
    isolated = [
        lg
        for lg in logging.Logger.manager.loggerDict.values()
        if isinstance(lg, logging.Logger) and not lg.propagate and caplog.handler not in lg.handlers
    ]
    for lg in isolated:
        lg.addHandler(caplog.handler)
    capture = Emitted(caplog, capfd)
    try:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            yield capture
        capture.extra += [str(w.message) for w in seen]
    finally:
        for lg in isolated:
            lg.removeHandler(caplog.handler)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def forbidden(emu: Emulator) -> dict[str, str]:
    """Every secret and every form derived from one, by a name for the failure message."""
    out: dict[str, str] = {}
    for creds, tag in ((SENTINELS, ""), (WRONG, "wrong ")):
        for field in PASSWORDS:
            value = getattr(creds, field)
            out[f"{tag}{field}"] = value
            out[f"{tag}{field} (url-encoded)"] = quote(value, safe="")
            out[f"{tag}{field} (form-encoded)"] = quote_plus(value)
        out[f"{tag}xcally basic"] = b64(f"{creds.xcally_user}:{creds.xcally_password}")
        out[f"{tag}ujet basic"] = b64(f"{creds.ujet_user}:{creds.ujet_token}")
    for token in _api(emu, "ucontact", "ucontact_integra").sessions.issued:
        out[f"integra session token {token[:6]}"] = token
    voipex = _api(emu, "voipex", "voipex")
    for kind in ("access_tokens", "refresh_tokens"):
        for token in getattr(voipex, kind):
            out[f"voipex {kind} {token[:6]}"] = token
    return out


def assert_clean(capture: Emitted, emu: Emulator) -> str:
    text = capture.text()
    leaks = {name: value for name, value in forbidden(emu).items() if value in text}
    assert not leaks, f"secrets in emitted text: {sorted(leaks)}"
    auth = [m.group(0) for m in AUTH_VALUE.finditer(text)]
    assert not auth, f"Authorization values in emitted text: {auth[:5]}"
    return text


def canary(capture: Emitted, hook: Any, op: Any = None) -> None:
    """Log a harmless marker through the channels the code uses, and prove the capture sees it."""
    hook.log.info("canary hook %s", CANARY)
    if op is not None:
        op.log.info("canary operator %s", CANARY)
    logging.getLogger("httpx").info("canary httpx %s", CANARY)
    text = capture.text()
    assert text.count(CANARY) >= (3 if op is not None else 2), "the capture misses a log channel"


def leads(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}",
            "external_id": f"EXT-{i}",
            "timezone": "America/New_York",
            "data": {"note": f"n{i}"},
        }
        for i in range(start, start + n)
    ]


def _call() -> Any:
    from airflow_provider_dialer.hooks.ucontact.wire import DialerTaskCall

    return DialerTaskCall(
        calldate=None,
        campaign="POWER<-",
        destination="12125550001",
        alternatives="",
        agent="",
        data="",
        source="audit",
        bulk=False,
        automatic=True,
    )


CALL = _call()


def raises(capture: Emitted, exc_type: type[BaseException], fn: Any, *args: Any, **kwargs: Any) -> BaseException:
    with pytest.raises(exc_type) as info:
        fn(*args, **kwargs)
    capture.exception(info.value)
    return info.value


# --------------------------------------------------------------------------------------------
# (a) operators, hooks and triggers of every vendor, successes and failures
# --------------------------------------------------------------------------------------------


def test_sentinels_are_what_the_emulator_accepts(emu):
    """The audit is only meaningful if the sentinels are the credentials actually used on the wire."""
    import httpx

    from airflow_provider_dialer.hooks.ucontact import UContactHook
    from airflow_provider_dialer.hooks.ujet import UjetHook
    from airflow_provider_dialer.hooks.voipex import VoipexHook
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    for hook_cls, conn_id in (
        (UContactHook, "ucontact_default"),
        (XCallyHook, "xcally_default"),
        (XCallyHook, "xcally_apikey"),
        (VoipexHook, "voipex_default"),
        (UjetHook, "ujet_default"),
    ):
        ok, message = hook_cls(conn_id).test_connection()
        assert ok, (conn_id, message)
    for hook_cls, conn_id in (
        (UContactHook, "ucontact_wrong"),
        (XCallyHook, "xcally_wrong"),
        (XCallyHook, "xcally_apikey_wrong"),
        (VoipexHook, "voipex_wrong"),
        (UjetHook, "ujet_wrong"),
    ):
        ok, message = hook_cls(conn_id).test_connection()
        assert not ok, (conn_id, message)
    integra = emu.state("ucontact")["ucontact_integra"]
    assert integra["logins"] == 1 and integra["failed_logins"] == 1
    assert _api(emu, "ucontact", "ucontact_integra").sessions.issued  # a derived token was issued...
    assert _api(emu, "voipex", "voipex").access_tokens  # ...and Voipex issued one too
    # the emulator's defaults are refused: nothing falls back to them
    default_basic = b64(f"{Credentials().xcally_user}:{Credentials().xcally_password}")
    refused = httpx.get(f"{emu.base_url('xcally')}/api/cm/lists", headers={"Authorization": f"Basic {default_basic}"})
    assert refused.status_code == 401


def test_successful_operators_of_every_vendor_emit_no_secret(emu, tmp_path, caplog, capfd):
    from airflow_provider_dialer.hooks.registry import get_dialer_hook
    from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
    from airflow_provider_dialer.operators.lists import UploadListOperator
    from airflow_provider_dialer.triggers.wait import ImportJobTrigger, ListLoadedTrigger

    def run(op: Any) -> Any:
        result = op.execute({})
        capture.operator(op, result)
        assert result["accepted"] > 0, result
        return result

    with emitted(caplog, capfd) as capture:
        canary(
            capture,
            get_dialer_hook("ucontact_default"),
            UploadListOperator(task_id="c", conn_id="x", source=[], list_name="l"),
        )
        common = {"source": leads(3), "chunk_size": 2}
        run(
            AddToDialerTaskOperator(
                task_id="integra",
                conn_id="ucontact_default",
                campaign="POWER<-",
                progress=str(tmp_path / "a.json"),
                **common,
            )
        )
        hub = run(
            UploadListOperator(
                task_id="hub",
                conn_id="ucontact_default",
                list_name="audit",
                settings={"hub": "sales"},
                progress=str(tmp_path / "b.json"),
                **common,
            )
        )
        run(
            PushFreshLeadsOperator(
                task_id="fresh",
                conn_id="ucontact_default",
                settings={"hub": "sales"},
                progress=str(tmp_path / "c.json"),
                **common,
            )
        )
        event = first_event(
            ListLoadedTrigger("ucontact_default", hub["wait"]["targets"], poll_interval=0.05, timeout=10)
        )
        capture.value(event.payload)
        assert event.payload["status"] == "success"
        run(
            UploadListOperator(
                task_id="xc", conn_id="xcally_default", list_name="audit", progress=str(tmp_path / "d.json"), **common
            )
        )
        run(
            UploadListOperator(
                task_id="xck",
                conn_id="xcally_apikey",
                list_name="audit-key",
                progress=str(tmp_path / "e.json"),
                **common,
            )
        )
        run(
            UploadListOperator(
                task_id="vx", conn_id="voipex_default", list_name="audit", progress=str(tmp_path / "f.json"), **common
            )
        )
        uj = run(
            UploadListOperator(
                task_id="uj",
                conn_id="ujet_default",
                list_name="audit",
                settings={"campaign_id": 6},
                progress=str(tmp_path / "g.json"),
                **common,
            )
        )
        event = first_event(ImportJobTrigger("ujet_default", 6, uj["wait"]["job_ids"], poll_interval=0.05, timeout=10))
        capture.value(event.payload)
        assert event.payload["status"] == "success"

    text = assert_clean(capture, emu)
    # the scan saw the wire: httpx request lines, with XCALLY's apikey query redacted (not dropped)
    assert re.search(r"HTTP Request: POST http://\S+/Integra/resources/Dialers/DialerTask", text)
    apikey_lines = re.findall(r"HTTP Request: \w+ \S*apikey=(\S*?)[&\s\"]", text)
    assert apikey_lines and set(apikey_lines) == {"***"}, apikey_lines
    # the emulator accepted every sentinel and issued the derived tokens that were scanned for
    assert emu.state("ucontact")["ucontact_integra"]["logins"] >= 1
    assert _api(emu, "ucontact", "ucontact_integra").sessions.issued
    assert _api(emu, "voipex", "voipex").access_tokens and _api(emu, "voipex", "voipex").refresh_tokens


def test_refused_credentials_raise_auth_errors_that_name_no_secret(emu, tmp_path, caplog, capfd):
    from airflow_provider_dialer.exceptions import DialerAuthError
    from airflow_provider_dialer.hooks.ucontact import UContactHook
    from airflow_provider_dialer.hooks.ujet import UjetHook
    from airflow_provider_dialer.hooks.voipex import VoipexHook
    from airflow_provider_dialer.hooks.xcally import XCallyHook
    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
    from airflow_provider_dialer.operators.lists import UploadListOperator

    with emitted(caplog, capfd) as capture:
        canary(capture, UContactHook("ucontact_wrong"))
        common = {"source": leads(2), "progress": str(tmp_path / "p.json")}
        ops = [
            PushFreshLeadsOperator(
                task_id="fresh", conn_id="ucontact_wrong", settings={"hub": "sales"}, **common
            ),  # 401
            UploadListOperator(task_id="xc", conn_id="xcally_wrong", list_name="l", **common),
            UploadListOperator(task_id="xck", conn_id="xcally_apikey_wrong", list_name="l", **common),
            UploadListOperator(task_id="vx", conn_id="voipex_wrong", list_name="l", **common),  # token endpoint 401
            UploadListOperator(
                task_id="uj", conn_id="ujet_wrong", list_name="l", settings={"campaign_id": 6}, **common
            ),
        ]
        for i, op in enumerate(ops):
            op.progress = str(tmp_path / f"p{i}.json")
            raises(capture, DialerAuthError, op.execute, {})
            capture.operator(op)
        # Integra answers a refused login with HTTP 200 and the body "0"
        integra = UContactHook("ucontact_wrong")
        exc = raises(capture, DialerAuthError, integra.dialer_task, CALL)
        assert "getUserToken refused" in str(exc)
        for hook in (
            UContactHook("ucontact_wrong"),
            XCallyHook("xcally_wrong"),
            VoipexHook("voipex_wrong"),
            UjetHook("ujet_wrong"),
        ):
            ok, message = hook.test_connection()
            assert not ok
            capture.extra.append(message)
    assert_clean(capture, emu)
    assert emu.state("ucontact")["ucontact_integra"]["failed_logins"] >= 2  # the wrong password reached the server
    assert emu.state("voipex")["voipex"]["tokens"]["refused_grants"] >= 2


def test_wrong_integra_password_fails_the_dialer_task_operator(emu, tmp_path):
    from airflow_provider_dialer.exceptions import DialerAuthError
    from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator

    op = AddToDialerTaskOperator(
        task_id="integra",
        conn_id="ucontact_wrong",
        campaign="POWER<-",
        source=leads(2),
        progress=str(tmp_path / "p.json"),
    )
    with pytest.raises(DialerAuthError, match="getUserToken refused"):
        op.execute({})


def test_vendor_bodies_echoing_credentials_are_redacted_in_errors(emu, caplog, capfd):
    """A 500 whose body echoes the password, the Basic value or a token back: the error keeps the body, redacted."""
    from airflow_provider_dialer.exceptions import DialerHTTPError
    from airflow_provider_dialer.hooks.ucontact import UContactHook
    from airflow_provider_dialer.hooks.ujet import UjetHook
    from airflow_provider_dialer.hooks.voipex import VoipexHook
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    def fault(vendor: str, echo: dict[str, str], path: str = ".*") -> None:
        emu.set_faults(
            vendor,
            [{"kind": "status", "status": 500, "path": path, "times": 1, "body": {"message": "boom", "echo": echo}}],
        )

    def failing(vendor: str, fn: Any, *args: Any) -> BaseException:
        exc = raises(capture, DialerHTTPError, fn, *args)
        assert exc.status == 500 and "***" in exc.body and "boom" in exc.body, exc  # redacted, not dropped
        return exc

    call = CALL
    with emitted(caplog, capfd) as capture:
        canary(capture, XCallyHook("xcally_default"))
        # XCALLY: Basic value and password, over Basic and over ?apikey=
        xc = XCallyHook("xcally_default")
        fault(
            "xcally",
            {
                "password": SENTINELS.xcally_password,
                "authorization": f"Basic {b64(f'{SENTINELS.xcally_user}:{SENTINELS.xcally_password}')}",
            },
        )
        failing("xcally", xc.create_list, "audit")
        xk = XCallyHook("xcally_apikey")
        fault("xcally", {"apikey": SENTINELS.xcally_api_key, "url": f"/api/cm/lists?apikey={SENTINELS.xcally_api_key}"})
        failing("xcally", xk.create_list, "audit")
        # UJET: the Basic value of user:token
        uj = UjetHook("ujet_default")
        fault(
            "ujet",
            {
                "authorization": f"Basic {b64(f'{SENTINELS.ujet_user}:{SENTINELS.ujet_token}')}",
                "token": SENTINELS.ujet_token,
            },
        )
        failing("ujet", uj.list_campaigns)
        # uContact Automation: the Bearer API token
        uc = UContactHook("ucontact_default")
        fault("ucontact", {"authorization": f"Bearer {SENTINELS.ucontact_api_token}"}, path="/api/dialer/")
        failing("ucontact", uc.list_lists, "sales")
        # uContact Integra: log in, then the DialerTask answer echoes the session token just issued
        assert uc.dialer_task(call) is True
        session = _api(emu, "ucontact", "ucontact_integra").sessions.issued[-1]
        fault(
            "ucontact",
            {"authorization": f"Basic {session}", "password": SENTINELS.ucontact_password},
            path="DialerTask",
        )
        failing("ucontact", uc.dialer_task, call)
        uc.close()
        # Voipex: get a token, then the API echoes the access and refresh tokens
        vx = VoipexHook("voipex_default")
        vx.list_ivrs()
        voipex = _api(emu, "voipex", "voipex")
        access, refresh = next(iter(voipex.access_tokens)), next(iter(voipex.refresh_tokens))
        fault("voipex", {"authorization": f"Bearer {access}", "refresh_token": refresh}, path="^/(?!token)")
        failing("voipex", vx.list_ivrs)
        # Voipex: the token endpoint itself fails and echoes the password form back
        vx2 = VoipexHook("voipex_default")
        fault(
            "voipex",
            {"form": f"grant_type=password&username={SENTINELS.voipex_user}&password={SENTINELS.voipex_password}"},
            path="^/token$",
        )
        failing("voipex", vx2.list_ivrs)
        # Integra "0" for a record: a refusal, not a credential problem
        from airflow_provider_dialer.exceptions import DialerRejectedError

        uc2 = UContactHook("ucontact_default")
        exc = raises(
            capture, DialerRejectedError, uc2.dialer_task, call.model_copy(update={"campaign": "NO-SUCH-CAMPAIGN"})
        )
        assert exc.body == "0"
        uc2.close()
    text = assert_clean(capture, emu)
    assert text.count("***") >= 8


def test_xcally_apikey_needing_url_encoding_is_redacted_in_request_logs(caplog, capfd, monkeypatch):
    """An api key with characters httpx percent-encodes in the query string (``+ / =``)."""
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    key = "SENTINEL+xc/apikey=7777"
    with emulator_with(Credentials(xcally_api_key=key)) as e:
        monkeypatch.setenv(
            "AIRFLOW_CONN_XCALLY_ODDKEY",
            json.dumps(
                {
                    "conn_type": "xcally",
                    "host": e.host,
                    "port": e.port_of("xcally"),
                    "schema": "http",
                    "extra": {"api_key": key},
                }
            ),
        )
        with emitted(caplog, capfd) as capture:
            hook = XCallyHook("xcally_oddkey")
            hook.create_list("odd")  # accepted: the key reached the server intact
            hook.close()
        text = capture.text()
    assert "HTTP Request: POST" in text
    for form in (key, quote(key, safe=""), quote_plus(key)):
        assert form not in text, f"api key leaked as {form!r}"


def test_extra_links_carry_no_secret_even_when_the_template_asks_for_one(emu, tmp_path, caplog, capfd, monkeypatch):
    """Link templates that embed the credentials (user info, ``apikey=``/``password=``/``token=`` parameters, the
    password in a path) or name them as placeholders: the links keep none, and the refusals name none."""
    from airflow_provider_dialer.exceptions import DialerConfigError
    from airflow_provider_dialer.hooks.registry import get_dialer_hook
    from airflow_provider_dialer.links import DialerCampaignLink, DialerListLink
    from airflow_provider_dialer.operators.campaign import CreateCampaignOperator
    from airflow_provider_dialer.operators.lists import UploadListOperator

    user, pw, key = SENTINELS.xcally_user, SENTINELS.xcally_password, SENTINELS.xcally_api_key

    def conn(conn_id: str, **templates: str) -> str:
        xc = emu.connection("xcally")
        xc["extra"] = {**xc["extra"], **templates}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(xc))
        return conn_id

    class Key:
        dag_id, task_id, run_id, map_index = "d", "t", "r", -1

    hostile = conn(
        "xcally_links",
        campaign_link_template=f"https://{user}:{pw}@ui.example/c/{{campaign_id}}?apikey={key}&password={pw}&tab=1",
        list_link_template=f"{{origin}}/#/lists/{{list_id}}?token={key}&view=all",
    )
    in_path = conn("xcally_link_in_path", list_link_template=f"{{origin}}/{pw}/lists/{{list_id}}")
    with emitted(caplog, capfd) as capture:
        canary(capture, get_dialer_hook(hostile))
        campaign = CreateCampaignOperator(
            task_id="campaign", conn_id=hostile, name="audit", settings={"dialMethod": "progressive", "TrunkId": 12}
        )
        campaign_id = campaign.execute({})
        upload = UploadListOperator(
            task_id="upload", conn_id=hostile, list_name="audit", source=leads(2), progress=str(tmp_path / "a.json")
        )
        upload.execute({})
        dropped = UploadListOperator(
            task_id="dropped", conn_id=in_path, list_name="audit2", source=leads(1), progress=str(tmp_path / "b.json")
        )
        dropped.execute({})
        links = {
            "campaign": DialerCampaignLink().get_link(campaign, ti_key=Key()),
            "list": DialerListLink().get_link(upload, ti_key=Key()),
            "dropped": DialerListLink().get_link(dropped, ti_key=Key()),
        }
        capture.value(links)
        for placeholder in ("password", "api_key", "login"):
            asks = conn("xcally_link_asks", campaign_link_template=f"{{origin}}/c/{{campaign_id}}?x={{{placeholder}}}")
            op = CreateCampaignOperator(task_id="asks", conn_id=asks, name="audit")
            raises(capture, DialerConfigError, op.execute, {})
    assert_clean(capture, emu)
    # the scan saw real links: the user info and credential parameters are gone, the rest is kept
    assert links["campaign"] == f"https://ui.example/c/{campaign_id}?tab=1"
    assert links["list"].startswith(emu.base_url("xcally") + "/#/lists/") and links["list"].endswith("?view=all")
    assert links["dropped"] == ""


# --------------------------------------------------------------------------------------------
# (b) an example DAG end to end with dag.test()
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def airflow_db():
    from airflow.utils import db

    db.initdb()


@pytest.mark.dagtest
def test_rest_triggered_push_dag_emits_no_secret_and_no_full_phone(emu, airflow_db, caplog, capfd):
    import os

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dag = bag.dags["dialer_rest_triggered_push"]
    for task in dag.tasks:
        task.retries = 0
    # the last number is an invalid alternative: a warning sample (masked), and the task still succeeds
    phones = ["+59894123456", "+59899111222", "+12125550147", "+5989412"]
    conf = {
        "campaign": "POWER<-",
        "leads": [
            {
                "phones": [*phones[:2], phones[3]],
                "first_name": "Carmen",
                "external_id": "C-7",
                "data": {"idcustomer": "7"},
                "timezone": "America/Montevideo",
            },
            {"phones": [phones[2]], "first_name": "Noah", "timezone": "America/New_York"},
        ],
    }
    with emitted(caplog, capfd) as capture:
        run = dag.test(run_conf={**conf, "conn_id": "ucontact_default"})
        xcoms = _xcoms_and_rendered(dag.dag_id, run.run_id)
        capture.value(xcoms)
    assert str(run.state) == "success", [(ti.task_id, str(ti.state)) for ti in run.get_task_instances()]
    tasks = emu.state("ucontact")["ucontact_integra"]["tasks"]
    assert len(tasks) == 2, tasks
    text = assert_clean(capture, emu)
    assert "delivery summary" in text  # the operator's own log lines were captured
    assert _api(emu, "ucontact", "ucontact_integra").sessions.issued  # logged in with the sentinel
    # XCom (and rendered fields) hold no phone number in full; the reject sample is masked to 4 digits
    stored = json.dumps(xcoms["xcom"], default=str)
    for phone in phones:
        assert phone not in stored and phone.lstrip("+") not in stored, phone
    from airflow_provider_dialer.leads import mask_phone

    assert xcoms["xcom"] and json.dumps(mask_phone(phones[3])) in stored, stored
    # the rendered template fields were stored and scanned (source renders to the conf leads: phones are
    # legitimately there, secrets are not)
    assert xcoms["rendered"] and "POWER<-" in json.dumps(xcoms["rendered"], default=str)


def _xcoms_and_rendered(dag_id: str, run_id: str) -> dict[str, Any]:
    """XCom values and rendered template fields of a run, as stored in the metadata DB."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        xcom = [
            {"task_id": x.task_id, "key": x.key, "value": x.value}
            for x in session.scalars(select(XComModel).where(XComModel.dag_id == dag_id, XComModel.run_id == run_id))
        ]
        rendered = [
            {"task_id": r.task_id, "fields": r.rendered_fields}
            for r in session.scalars(
                select(RenderedTaskInstanceFields).where(
                    RenderedTaskInstanceFields.dag_id == dag_id, RenderedTaskInstanceFields.run_id == run_id
                )
            )
        ]
    return {"xcom": xcom, "rendered": rendered}
