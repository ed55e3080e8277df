"""Emulated Voipex IPBX dialer API: the OAuth2 token endpoint, call lists, IVR applications, campaigns and their control.

Written from the vendor's dialer guide and the wire reference (docs/vendors/voipex.md#wire-reference), never
from the provider's hook: bodies are validated with this module's own models. What the guide leaves
open is marked [A] here and listed in ``docs/vendors/voipex.md``. Errors are Boom/Hapi-shaped
(``{"statusCode", "error", "message"}``) on the API and Keycloak-shaped
(``{"error", "error_description"}``) on ``POST /token``.
"""

from __future__ import annotations

import ctypes
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, NotRequired
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from typing_extensions import TypedDict

from airflow_provider_dialer.emulator.state import EmulatorContext, VendorAPI, json_response

#: call-list numbers listed per list in the admin state dump (a million would make the dump useless)
DUMP_NUMBERS_LIMIT = 10_000
#: the OAuth2 client the guide's auth section names
CLIENT_ID = "api"
#: pagination (the rest of the Voipex API: page default 1, pageSize default 100, max 5000)
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 100, 5000
COMMANDS = ("start", "pause", "unpause", "reload", "remove")
#: [A] state machine of the control commands: command -> {state it applies in: state after}
TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {"created": "running"},
    "pause": {"running": "paused"},
    "unpause": {"paused": "running"},
    "reload": {"created": "created", "running": "running", "paused": "paused"},
    "remove": {"created": "removed", "running": "removed", "paused": "removed"},
}
CONTROL_MESSAGES = {
    "start": "Campaign started",
    "pause": "Campaign paused",
    "unpause": "Campaign unpaused",
    "reload": "Campaign reloaded",
    "remove": "Campaign removed",
}

#: the IVR applications a fresh emulator holds: the guide's example plus one more [A]
SEED_IVRS: tuple[dict[str, Any], ...] = (
    {
        "id": "TUxw53xCBf",
        "name": "IVR-app-name",
        "description": "",
        "createdAt": "2024-03-01T08:00:00.000Z",
        "updatedAt": "2024-03-01T08:00:00.000Z",
        "createdBy": {"id": "u-1", "email": "admin@example.com"},
        "updatedBy": {"id": "u-1", "email": "admin@example.com"},
        "routing": [{"exten": "500", "ddi": "420228881234"}],
    },
    {
        "id": "Qm8vK2pLxa",
        "name": "Outage announcement",
        "description": "Plays the outage message, then hangs up",
        "createdAt": "2024-05-10T12:30:00.000Z",
        "updatedAt": "2024-06-02T09:15:00.000Z",
        "createdBy": {"id": "u-2", "email": "noc@example.com"},
        "updatedBy": {"id": "u-2", "email": "noc@example.com"},
        "routing": [{"exten": "501", "ddi": "420228881235"}],
    },
)


# --------------------------------------------------------------------------------------------
# The emulator's own wire models (from the guide, not from the hook)
# --------------------------------------------------------------------------------------------


class NumberAttribute(TypedDict):
    """[A] The guide shows only ``"attributes": []``; items are taken as ``{"name", "value"}`` strings."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    name: str
    value: str


class CallListNumber(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    #: [A] digits as in the guide's ``"123456789"``; a leading "+" is tolerated
    number: str
    attributes: NotRequired[list[NumberAttribute]]


class CallListBody(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    name: str
    numbers: list[CallListNumber]


CALL_LIST_BODY = TypeAdapter(CallListBody)

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivePeriodBody(_Body):
    startTime: str = Field(pattern=_HHMM)  # noqa: N815 - the vendor's spelling
    endTime: str = Field(pattern=_HHMM)  # noqa: N815
    weekDays: list[int] = Field(min_length=1)  # noqa: N815


class RescheduleRuleBody(_Body):
    status: str = Field(min_length=1)
    retryAfter: int = Field(ge=0)  # noqa: N815
    maxAttempts: int = Field(ge=1)  # noqa: N815


class EndpointBody(_Body):
    type: Literal["phone", "queue"] = "phone"
    boostFactor: float = Field(default=1, gt=0)  # noqa: N815
    maxWaitingCalls: int = Field(default=2, ge=0)  # noqa: N815
    queue: str | None = None


class CampaignBody(_Body):
    """The guide's parameter table: required ✅ fields have no default."""

    name: str = Field(min_length=1)
    callerId: str = Field(min_length=1)  # noqa: N815
    activePeriod: ActivePeriodBody  # noqa: N815
    callLists: list[int] = Field(min_length=1)  # noqa: N815
    rescheduleRules: list[RescheduleRuleBody] = Field(default_factory=list)  # noqa: N815
    ivr: str = Field(min_length=1)
    endpoint: EndpointBody = Field(default_factory=EndpointBody)


class ControlBody(_Body):
    command: str


def _release_memory() -> None:
    """Hand the parser's freed buffers back to the OS after a big call list (glibc only; best effort)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def _now_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _joi_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def boom(status: int, error: str, message: str, **extra: Any) -> Response:
    """A Hapi/Boom error body [A] (docs/vendors/voipex.md#decision-error-bodies-kept-verbatim)."""
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return json_response({"statusCode": status, "error": error, "message": message, **extra}, status, headers)


def invalid(exc: ValidationError) -> Response:
    """400 naming the first offending field, Joi-style (``"numbers[3].number" ...``)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = _joi_path(tuple(first["loc"]))
    message = f'"{path}" {first["msg"]}' if path else first["msg"]
    keys = [".".join(str(p) for p in e["loc"]) for e in errors[:10]]
    return boom(400, "Bad Request", message, validation={"source": "payload", "keys": keys})


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


class VoipexAPI(VendorAPI):
    """``POST /token``, ``/dialer/call-lists``, ``GET /ivr``, ``/dialer/campaigns`` and their control."""

    name = "voipex"

    def __init__(self, ctx: EmulatorContext) -> None:
        super().__init__(ctx)
        self.reset()

    # -- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.ctx.lock:
            #: access token -> monotonic expiry; refresh token -> monotonic expiry
            self.access_tokens: dict[str, float] = {}
            self.refresh_tokens: dict[str, float] = {}
            self.grants: dict[str, int] = {"password": 0, "refresh_token": 0}
            self.refused_grants = 0
            self.refused_api_calls = 0
            #: id -> {"id", "name", "createdAt", "numbers": [str], "attributes": {index: [...]}}
            self.call_lists: dict[int, dict[str, Any]] = {}
            self.next_call_list_id = 1
            self.ivrs: list[dict[str, Any]] = [dict(ivr) for ivr in SEED_IVRS]
            #: id -> the stored body plus "id", "state", "createdAt", "updatedAt"; emulator-only keys below
            self.campaigns: dict[int, dict[str, Any]] = {}
            self.campaign_log: dict[int, dict[str, Any]] = {}
            self.next_campaign_id = 1

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            now = time.monotonic()
            lists = []
            for c in self.call_lists.values():
                entry = {
                    "id": c["id"],
                    "name": c["name"],
                    "numbersCount": len(c["numbers"]),
                    "createdAt": c["createdAt"],
                }
                if len(c["numbers"]) <= DUMP_NUMBERS_LIMIT:
                    attrs = c["attributes"]
                    entry["numbers"] = [
                        {"number": n, "attributes": attrs.get(i, [])} for i, n in enumerate(c["numbers"])
                    ]
                else:
                    entry["numbers_truncated"] = True
                lists.append(entry)
            return {
                "tokens": {
                    "grants": dict(self.grants),
                    "refused_grants": self.refused_grants,
                    "refused_api_calls": self.refused_api_calls,
                    "live_access_tokens": sum(1 for t in self.access_tokens.values() if t > now),
                },
                "call_lists": lists,
                "ivrs": [dict(i) for i in self.ivrs],
                "campaigns": [{**c, **self.campaign_log[cid]} for cid, c in self.campaigns.items()],
            }

    # -- token endpoint (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh) -------

    def _issue(self, grant: str) -> dict[str, Any]:
        now = time.monotonic()
        life, refresh_life = self.config.voipex_token_lifetime, self.config.voipex_refresh_lifetime
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access_tokens = {t: e for t, e in self.access_tokens.items() if e > now}
        self.refresh_tokens = {t: e for t, e in self.refresh_tokens.items() if e > now}
        self.access_tokens[access] = now + life
        self.refresh_tokens[refresh] = now + refresh_life
        self.grants[grant] += 1

        def seconds(value: float) -> float | int:
            return int(value) if float(value).is_integer() else value

        return {
            "access_token": access,
            "expires_in": seconds(life),
            "refresh_expires_in": seconds(refresh_life),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "profile email",
        }

    async def token(self, request: Request) -> Response:
        """Keycloak-shaped password and refresh-token grants (Voipex's auth guide)."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return oauth_error(400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        raw = await request.body()
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        with self.ctx.lock:
            if form.get("client_id") != CLIENT_ID:
                self.refused_grants += 1
                return oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
            if grant == "password":
                if not form.get("username") or not form.get("password"):
                    self.refused_grants += 1
                    return oauth_error(400, "invalid_request", "Missing parameter: username or password")
                creds = self.credentials
                if form["username"] != creds.voipex_user or form["password"] != creds.voipex_password:
                    self.refused_grants += 1
                    return oauth_error(401, "invalid_grant", "Invalid user credentials")
                return json_response(self._issue("password"))
            if grant == "refresh_token":
                expiry = self.refresh_tokens.get(form.get("refresh_token", ""))
                if expiry is None or expiry <= time.monotonic():
                    self.refused_grants += 1
                    return oauth_error(400, "invalid_grant", "Token is not active")
                return json_response(self._issue("refresh_token"))
            self.refused_grants += 1
            return oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}")

    def _refuse(self, request: Request) -> Response | None:
        """401 unless the request carries a live Bearer access token."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            message = "Missing authentication"
        else:
            with self.ctx.lock:
                expiry = self.access_tokens.get(token.strip())
                if expiry is not None and expiry > time.monotonic():
                    return None
            message = "Token expired" if expiry is not None else "Invalid token"
        with self.ctx.lock:
            self.refused_api_calls += 1
        return boom(401, "Unauthorized", message, attributes={"error": message})

    async def _json(self, request: Request) -> tuple[bytes, Response | None]:
        """The body, or (``b\"\"``, the answer refusing it)."""
        refused = self._refuse(request)
        if refused is not None:
            return b"", refused
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return b"", boom(415, "Unsupported Media Type", "Unsupported Media Type")
        raw = await request.body()
        if not raw.strip():
            return b"", boom(400, "Bad Request", "Invalid request payload JSON format")
        return raw, None

    @staticmethod
    def _id(request: Request, key: str) -> int | None:
        raw = request.path_params[key]
        return int(raw) if raw.isdigit() else None

    @staticmethod
    def _page(request: Request, items: list[dict[str, Any]]) -> Response:
        """The API's pagination envelope [A for the dialer's lists] (docs/vendors/voipex.md#decision-assumed-reads-and-pagination)."""
        try:
            page = int(request.query_params.get("page", 1))
            size = int(request.query_params.get("pageSize", PAGE_SIZE_DEFAULT))
        except ValueError:
            return boom(400, "Bad Request", '"page" and "pageSize" must be numbers')
        if page < 1 or not 1 <= size <= PAGE_SIZE_MAX:
            return boom(400, "Bad Request", f'"page" must be >= 1 and "pageSize" 1..{PAGE_SIZE_MAX}')
        total = len(items)
        pages = max(1, -(-total // size))
        chunk = items[(page - 1) * size : page * size]
        base = request.url.path
        links = [{"rel": "self", "href": f"{base}?page={page}&pageSize={size}", "method": "GET"}]
        if page < pages:
            links.append({"rel": "next", "href": f"{base}?page={page + 1}&pageSize={size}", "method": "GET"})
        if page > 1:
            links.append({"rel": "prev", "href": f"{base}?page={page - 1}&pageSize={size}", "method": "GET"})
        return json_response(
            {"items": chunk, "links": links, "currentPage": page, "totalPages": pages, "totalResults": total}
        )

    # -- call lists (guide step 1) ----------------------------------------------------------------

    @staticmethod
    def _parse_call_list(raw: bytes) -> tuple[str, list[str], dict[int, list[Any]]] | Response:
        """One TypeAdapter call over the whole body; numbers kept as plain strings, attributes only where non-empty."""
        try:
            body = CALL_LIST_BODY.validate_json(raw)
        except ValidationError as exc:
            return invalid(exc)
        name = body["name"]
        if not name.strip():
            return boom(
                400,
                "Bad Request",
                '"name" is not allowed to be empty',
                validation={"source": "payload", "keys": ["name"]},
            )
        items = body["numbers"]
        numbers: list[str] = []
        append = numbers.append
        attributes: dict[int, list[Any]] = {}
        for index, item in enumerate(items):
            number = item["number"]
            digits = number[1:] if number[:1] == "+" else number
            if not (3 <= len(digits) <= 20 and digits.isdigit() and digits.isascii()):
                return boom(
                    400,
                    "Bad Request",
                    f'"numbers[{index}].number" must be a phone number of digits, got {number!r}',
                    validation={"source": "payload", "keys": [f"numbers.{index}.number"]},
                )
            append(number)
            extra = item.get("attributes")
            if extra:
                attributes[index] = extra
        del body, items
        if len(numbers) > 100_000:
            _release_memory()
        if not numbers:
            return boom(
                400,
                "Bad Request",
                '"numbers" must contain at least 1 items',
                validation={"source": "payload", "keys": ["numbers"]},
            )
        return name, numbers, attributes

    async def create_call_list(self, request: Request) -> Response:
        raw, error = await self._json(request)
        if error is not None:
            return error
        parsed = await run_in_threadpool(self._parse_call_list, raw)
        del raw
        if isinstance(parsed, Response):
            return parsed
        name, numbers, attributes = parsed
        with self.ctx.lock:
            list_id = self.next_call_list_id
            self.next_call_list_id += 1
            self.call_lists[list_id] = {
                "id": list_id,
                "name": name,
                "createdAt": _now_iso(),
                "numbers": numbers,
                "attributes": attributes,
            }
        self.ctx.recorder.leads_received("voipex.call-lists", numbers)
        return json_response({"id": list_id, "message": "Call list successfully created", "numbersCount": len(numbers)})

    @staticmethod
    def _call_list_public(c: dict[str, Any]) -> dict[str, Any]:
        return {"id": c["id"], "name": c["name"], "numbersCount": len(c["numbers"]), "createdAt": c["createdAt"]}

    async def read_call_lists(self, request: Request) -> Response:
        """[A] ``GET /dialer/call-lists``: the lists without their numbers, paginated."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            items = [self._call_list_public(c) for c in self.call_lists.values()]
        return self._page(request, items)

    async def read_call_list(self, request: Request) -> Response:
        """[A] ``GET /dialer/call-lists/:id``."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        list_id = self._id(request, "list_id")
        with self.ctx.lock:
            found = self.call_lists.get(list_id) if list_id is not None else None
            if found is None:
                return boom(404, "Not Found", "Call list not found")
            return json_response(self._call_list_public(found))

    # -- IVR (guide step 2) -----------------------------------------------------------------------

    async def ivr(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            return json_response([dict(i) for i in self.ivrs])

    # -- campaigns (guide steps 3-4) --------------------------------------------------------------

    def _check_campaign(self, raw: bytes) -> CampaignBody | Response:
        try:
            body = CampaignBody.model_validate_json(raw)
        except ValidationError as exc:
            return invalid(exc)
        days = body.activePeriod.weekDays
        bad = [d for d in days if not 1 <= d <= 7]
        if bad or len(set(days)) != len(days):
            return boom(
                400,
                "Bad Request",
                f'"activePeriod.weekDays" must hold distinct days 1 (Mo) .. 7 (Su), got {days}',
                validation={"source": "payload", "keys": ["activePeriod.weekDays"]},
            )
        if body.activePeriod.startTime >= body.activePeriod.endTime:
            return boom(
                400,
                "Bad Request",
                '"activePeriod.endTime" must be later than "activePeriod.startTime"',
                validation={"source": "payload", "keys": ["activePeriod.endTime"]},
            )
        if body.endpoint.type == "queue" and not body.endpoint.queue:
            return boom(
                400,
                "Bad Request",
                '"endpoint.queue" is required when "endpoint.type" is queue',
                validation={"source": "payload", "keys": ["endpoint.queue"]},
            )
        with self.ctx.lock:
            missing = [i for i in body.callLists if i not in self.call_lists]
            if missing:
                return boom(404, "Not Found", f'Call list {missing[0]} not found ("callLists")')
            if not any(i["id"] == body.ivr for i in self.ivrs):
                return boom(404, "Not Found", f'IVR application {body.ivr!r} not found ("ivr")')
        return body

    def _live_campaign(self, request: Request) -> tuple[int, dict[str, Any]] | Response:
        campaign_id = self._id(request, "campaign_id")
        found = self.campaigns.get(campaign_id) if campaign_id is not None else None
        if found is None or found["state"] == "removed":
            return boom(404, "Not Found", "Campaign not found")
        return campaign_id, found  # type: ignore[return-value]  # found is not None, so neither is campaign_id

    async def create_campaign(self, request: Request) -> Response:
        raw, error = await self._json(request)
        if error is not None:
            return error
        checked = self._check_campaign(raw)
        if isinstance(checked, Response):
            return checked
        stamp = _now_iso()
        with self.ctx.lock:
            campaign_id = self.next_campaign_id
            self.next_campaign_id += 1
            self.campaigns[campaign_id] = {
                "id": campaign_id,
                **checked.model_dump(exclude_none=True),
                "state": "created",
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            self.campaign_log[campaign_id] = {"reloads": 0, "commands": [], "updates": 0}
        return json_response({"id": campaign_id, "message": "Campaign successfully created"})

    async def campaigns_list(self, request: Request) -> Response:
        """[A] ``GET /dialer/campaigns`` (the guide's "campaign list"): removed campaigns are not listed."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            items = [dict(c) for c in self.campaigns.values() if c["state"] != "removed"]
        return self._page(request, items)

    async def campaign(self, request: Request) -> Response:
        """[A] ``GET /dialer/campaigns/:id`` and ``PUT`` (the guide's "editing a campaign": the create body)."""
        if request.method == "GET":
            refused = self._refuse(request)
            if refused is not None:
                return refused
            with self.ctx.lock:
                found = self._live_campaign(request)
                return found if isinstance(found, Response) else json_response(dict(found[1]))
        raw, error = await self._json(request)
        if error is not None:
            return error
        with self.ctx.lock:
            found = self._live_campaign(request)
        if isinstance(found, Response):
            return found
        checked = self._check_campaign(raw)
        if isinstance(checked, Response):
            return checked
        with self.ctx.lock:
            found = self._live_campaign(request)
            if isinstance(found, Response):
                return found
            campaign_id, current = found
            self.campaigns[campaign_id] = {
                "id": campaign_id,
                **checked.model_dump(exclude_none=True),
                "state": current["state"],
                "createdAt": current["createdAt"],
                "updatedAt": _now_iso(),
            }
            self.campaign_log[campaign_id]["updates"] += 1
        return json_response({"id": campaign_id, "message": "Campaign successfully updated"})

    async def control(self, request: Request) -> Response:
        """``PUT /dialer/campaigns/:id/control``: the five commands, a state machine, 409 on a wrong transition [A]."""
        raw, error = await self._json(request)
        if error is not None:
            return error
        try:
            body = ControlBody.model_validate_json(raw)
        except ValidationError as exc:
            return invalid(exc)
        if body.command not in COMMANDS:
            return boom(
                400,
                "Bad Request",
                f'"command" must be one of [{", ".join(COMMANDS)}]',
                validation={"source": "payload", "keys": ["command"]},
            )
        with self.ctx.lock:
            found = self._live_campaign(request)
            if isinstance(found, Response):
                return found
            campaign_id, campaign = found
            state = campaign["state"]
            after = TRANSITIONS[body.command].get(state)
            if after is None:
                return boom(409, "Conflict", f"Cannot {body.command} a campaign that is {state}")
            campaign["state"] = after
            campaign["updatedAt"] = _now_iso()
            log = self.campaign_log[campaign_id]
            log["commands"].append(body.command)
            if body.command == "reload":
                log["reloads"] += 1
        return json_response({"id": campaign_id, "message": CONTROL_MESSAGES[body.command], "state": after})

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/token", self.token, methods=["POST"]),
            Route("/dialer/call-lists", self.create_call_list, methods=["POST"]),
            Route("/dialer/call-lists", self.read_call_lists, methods=["GET"]),
            Route("/dialer/call-lists/{list_id}", self.read_call_list, methods=["GET"]),
            Route("/ivr", self.ivr, methods=["GET"]),
            Route("/dialer/campaigns", self.create_campaign, methods=["POST"]),
            Route("/dialer/campaigns", self.campaigns_list, methods=["GET"]),
            Route("/dialer/campaigns/{campaign_id}", self.campaign, methods=["GET", "PUT"]),
            Route("/dialer/campaigns/{campaign_id}/control", self.control, methods=["PUT"]),
        ]
