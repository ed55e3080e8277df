"""Emulated uContact Integra API: getUserToken / EndSession sessions and Dialers/DialerTask.

Written from the Integra document and the wire reference (docs/vendors/ucontact.md#wire-reference) alone; it never imports the provider's hooks.
"""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.state import VendorAPI

#: campaigns the emulated instance knows (names from the document and public samples, verbatim)
SEED_CAMPAIGNS = ("POWER<-", "AutomationDialerPD<-", "Ventas->")
#: the nine keys of the ``call`` object, all mandatory ("In the JSON, all keys must be included")
CALL_KEYS = ("calldate", "campaign", "destination", "alternatives", "agent", "data", "source", "bulk", "automatic")
CALLDATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class _Call(BaseModel):
    """The ``call`` JSON as the document describes it: every key required, strings and booleans strictly typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    calldate: StrictStr | None
    campaign: StrictStr
    destination: StrictStr
    alternatives: StrictStr
    agent: StrictStr
    data: StrictStr
    source: StrictStr
    bulk: StrictBool
    automatic: StrictBool


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison of two texts of any script (compared as UTF-8 bytes)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _basic_token(request: Request) -> str | None:
    """The token of an ``Authorization: Basic <token>`` header, or None when there is none."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        return None
    return token.strip()


def _text(body: str, status: int = 200) -> Response:
    return PlainTextResponse(body, status_code=status)


class IntegraAPI(VendorAPI):
    """``/Integra/resources/auth/getUserToken``, ``/auth/EndSession`` and ``/Dialers/DialerTask``."""

    name = "ucontact_integra"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.reset()

    def reset(self) -> None:
        with self.ctx.lock:
            self.campaigns: set[str] = set(SEED_CAMPAIGNS)
            self.sessions: dict[str, str] = {}  # token -> user
            self.logins = 0
            self.failed_logins = 0
            self.sessions_ended = 0
            self.tasks: list[dict[str, Any]] = []
            self.rejected: list[dict[str, Any]] = []

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            return {
                "campaigns": sorted(self.campaigns),
                "open_sessions": sorted(self.sessions.values()),
                "logins": self.logins,
                "failed_logins": self.failed_logins,
                "sessions_ended": self.sessions_ended,
                "tasks": list(self.tasks),
                "rejected": list(self.rejected),
            }

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/Integra/resources/auth/getUserToken", self.get_user_token, methods=["POST"]),
            # not in the DialerTask document: public clients log in here and take the token at index 2
            Route("/Integra/resources/auth/UserLogin", self.get_user_token, methods=["POST"]),
            Route("/Integra/resources/auth/EndSession", self.end_session, methods=["POST"]),
            Route("/Integra/resources/Dialers/DialerTask", self.dialer_task, methods=["POST"]),
        ]

    # -- auth ---------------------------------------------------------------------------------

    async def get_user_token(self, request: Request) -> Response:
        """Form ``user``/``password`` -> JSON array whose last element is base64("user:uuid"); bad creds -> ``0``.

        Served at ``getUserToken`` and ``UserLogin`` alike (``["Supervisor", user, token]``: the token is
        both the last element and index 2). Credentials are compared as UTF-8 bytes, so a non-ASCII
        password is checked like any other (``hmac.compare_digest`` refuses non-ASCII ``str``).
        """
        form = await request.form()
        user, password = str(form.get("user") or ""), str(form.get("password") or "")
        creds = self.credentials
        good = _same(user, creds.ucontact_user) & _same(password, creds.ucontact_password)
        with self.ctx.lock:
            if not good:
                self.failed_logins += 1
                return _text("0")
            token = base64.b64encode(f"{user}:{uuid.uuid4()}".encode()).decode()
            self.sessions[token] = user
            self.logins += 1
        return JSONResponse(["Supervisor", user, token])

    async def end_session(self, request: Request) -> Response:
        """Form ``user``/``token``: invalidates the token (``1``); an unknown pair answers ``0``.

        Public clients also send ``Authorization: Basic <token>``. When they do, it must name the same
        session as the form's ``token`` (a header for another session answers ``0``); a request with no
        form ``token`` ends the session the header names.
        """
        form = await request.form()
        user, token = str(form.get("user") or ""), str(form.get("token") or "")
        header = _basic_token(request)
        if header is not None:
            if token and not _same(token, header):
                return _text("0")
            token = header
        with self.ctx.lock:
            if self.sessions.get(token) != user:
                return _text("0")
            del self.sessions[token]
            self.sessions_ended += 1
        return _text("1")

    def _session_user(self, request: Request) -> str | None:
        token = _basic_token(request)
        if token is None:
            return None
        with self.ctx.lock:
            return self.sessions.get(token)

    # -- DialerTask -----------------------------------------------------------------------------

    def _reject(self, reason: str, raw: str | None) -> Response:
        with self.ctx.lock:
            self.rejected.append({"reason": reason, "call": (raw or "")[:500]})
        return _text("0")

    async def dialer_task(self, request: Request) -> Response:
        """Adds a record when ``call`` holds all nine keys with the documented types and a known campaign.

        Success -> 200 ``1``; anything wrong with the record -> 200 ``0``
        (docs/vendors/ucontact.md#decision-dialertask-success-is-the-text-1); no session -> 401, empty.
        """
        user = self._session_user(request)
        if user is None:
            return Response(status_code=401)
        form = await request.form()
        raw = form.get("call")
        if not isinstance(raw, str) or not raw:
            return self._reject("missing form field 'call'", None)
        try:
            obj = json.loads(raw)
        except ValueError:
            return self._reject("call is not JSON", raw)
        if not isinstance(obj, dict):
            return self._reject("call is not a JSON object", raw)
        missing = [k for k in CALL_KEYS if k not in obj]
        if missing:
            return self._reject(f"missing keys {missing}", raw)
        try:
            call = _Call.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            return self._reject(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", raw)
        calldate_utc = None
        if call.calldate is not None:
            try:
                local = datetime.strptime(call.calldate, CALLDATE_FORMAT)
            except ValueError:
                return self._reject("calldate is not 'YYYY-MM-DD HH:MM:SS'", raw)
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(self.config.ucontact_instance_timezone)
            calldate_utc = local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).strftime(CALLDATE_FORMAT)
        if not call.destination.strip():
            return self._reject("destination is empty", raw)
        with self.ctx.lock:
            if call.campaign not in self.campaigns:
                self.rejected.append({"reason": f"unknown campaign {call.campaign!r}", "call": raw[:500]})
                return _text("0")
            record = call.model_dump()
            record.update(
                {"id": len(self.tasks) + 1, "user": user, "calldate_utc": calldate_utc, "received_at": time.time()}
            )
            self.tasks.append(record)
            self.ctx.recorder.leads_received("integra.dialertask", [call.destination], f"campaign {call.campaign}")
        return _text("1")
