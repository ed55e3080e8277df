"""Emulated uContact Automation API (outbound hubs): list uploads that load asynchronously, fresh leads, and the assumed list reads.

Written from the Spanish Automation API document and the wire reference
(docs/vendors/ucontact.md#wire-reference) alone; it never imports
the provider's hooks. Bodies are validated with one ``TypeAdapter.validate_json`` over TypedDicts
(no model instance per contact) so a 1,000,000-contact list is ingested in seconds.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, NotRequired

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    with_config,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from typing_extensions import TypedDict

from airflow_provider_dialer.emulator.state import VendorAPI, json_response

#: hub name -> (channel, preview). Channels as the document lists them: telephony, email, SMS, WhatsApp.
SEED_HUBS: dict[str, tuple[str, bool]] = {
    "sales": ("telephony", False),
    "renewals": ("telephony", False),
    "hot_leads": ("telephony", False),
    "preview_sales": ("telephony", True),
    "mail": ("email", False),
    "sms": ("sms", False),
    "wa": ("whatsapp", False),
}
SCHEDULE_FORMAT = "%Y-%m-%d %H:%M:%S"
#: contacts of a list included in the admin dump (bigger lists show a sample)
DUMP_CONTACTS_MAX = 1000


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    import zoneinfo

    return frozenset(zoneinfo.available_timezones())


def _iana(value: str) -> str:
    if value not in _zones():
        raise ValueError(f"{value!r} is not an IANA time zone")
    return value


def _schedule(value: str) -> str:
    try:
        datetime.strptime(value, SCHEDULE_FORMAT)
    except ValueError:
        raise ValueError(f"{value!r} does not match yyyy-MM-dd HH:mm:ss") from None
    return value


Zone = Annotated[StrictStr, AfterValidator(_iana)]
ScheduleDate = Annotated[StrictStr, AfterValidator(_schedule)]
NonEmpty = Annotated[StrictStr, Field(min_length=1)]
# the table says Array[Integer], every example is a string: both are accepted
ClientIds = Annotated[list[NonEmpty | StrictInt], Field(min_length=1)]
FORBID = ConfigDict(extra="forbid")


# "Propiedades generales" + "Propiedades de telefonía" + "Propiedades de preview"
@with_config(FORBID)
class TelephonyContact(TypedDict):
    clientIds: ClientIds
    timezone: NotRequired[Zone]
    data: NotRequired[dict[str, Any]]
    priority: NotRequired[StrictInt]
    contactId: NotRequired[StrictStr]
    agent: NotRequired[StrictStr]


@with_config(FORBID)
class TelephonyLead(TelephonyContact):
    scheduleDate: NotRequired[ScheduleDate]


# "Propiedades de canales de texto" + "Propiedades de WhatsApp/SMS"
@with_config(FORBID)
class MessagingContact(TypedDict):
    clientId: NonEmpty
    timezone: NotRequired[Zone]
    data: NotRequired[dict[str, Any]]
    priority: NotRequired[StrictInt]
    contactId: NotRequired[StrictStr]
    content: NotRequired[StrictStr]
    template: NotRequired[StrictStr]


@with_config(FORBID)
class MessagingLead(MessagingContact):
    scheduleDate: NotRequired[ScheduleDate]


# "Propiedades de email"
@with_config(FORBID)
class EmailContact(MessagingContact):
    subject: NotRequired[StrictStr]
    attachments: NotRequired[list[StrictStr]]


@with_config(FORBID)
class EmailLead(EmailContact):
    scheduleDate: NotRequired[ScheduleDate]


def _list_body(contact: type) -> TypeAdapter[Any]:
    # functional form: the item type is a parameter, which class syntax cannot close over
    ListBody = TypedDict("ListBody", {"filename": NonEmpty, "list": Annotated[list[contact], Field(min_length=1)]})  # type: ignore[valid-type]  # noqa: UP013
    return TypeAdapter(with_config(FORBID)(ListBody))


def _fresh_body(lead: type) -> TypeAdapter[Any]:
    # functional form: the item type is a parameter, which class syntax cannot close over
    FreshBody = TypedDict("FreshBody", {"leads": Annotated[list[lead], Field(min_length=1)]})  # type: ignore[valid-type]  # noqa: UP013
    return TypeAdapter(with_config(FORBID)(FreshBody))


KINDS = {"telephony": "phone", "sms": "text", "whatsapp": "text", "email": "email"}
LIST_BODIES = {
    "phone": _list_body(TelephonyContact),
    "text": _list_body(MessagingContact),
    "email": _list_body(EmailContact),
}
FRESH_BODIES = {
    "phone": _fresh_body(TelephonyLead),
    "text": _fresh_body(MessagingLead),
    "email": _fresh_body(EmailLead),
}


def _where(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _validation_message(exc: ValidationError) -> dict[str, Any]:
    """``{"message": "list[3].clientIds: Field required", "errors": [...]}`` (index and field named)."""
    details: dict[str, dict[str, Any]] = {}
    for err in exc.errors(include_url=False, include_context=False, include_input=False)[:40]:
        # drop the union-member labels pydantic adds to the location ("constrained-str", "int")
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and (p in {"str", "int"} or "-" in p or "[" in p)))
        what = "unknown property" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        field = _where(loc)
        if field in details:
            details[field]["error"] += f" or {what[0].lower()}{what[1:]}"
            continue
        entry: dict[str, Any] = {"field": field, "error": what}
        if len(loc) >= 2 and isinstance(loc[1], int):
            entry["index"] = loc[1]
        details[field] = entry
    rows = list(details.values())[:20]
    first = rows[0] if rows else {"field": "body", "error": "invalid"}
    return {"message": f"Invalid request: {first['field']}: {first['error']}", "errors": rows}


def _key(contact: dict[str, Any]) -> str:
    ids = contact.get("clientIds")
    return str(ids[0]) if ids else str(contact.get("clientId"))


class AutomationAPI(VendorAPI):
    """``/api/dialer/id/<hub>/lists`` (POST, and the assumed GETs) and ``/api/dialer/id/<hub>/freshLeads``."""

    name = "ucontact_automation"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.reset()

    def reset(self) -> None:
        with self.ctx.lock:
            self.hubs: dict[str, dict[str, Any]] = {
                name: {"channel": channel, "preview": preview} for name, (channel, preview) in SEED_HUBS.items()
            }
            # list id -> {"id", "hub", "filename", "status", "count", "raw", "keys", "ready_at", ...}; contacts are
            # kept as the request's raw JSON (the most compact form) and re-read only for the admin dump
            self.lists: dict[int, dict[str, Any]] = {}
            self.fresh: dict[str, list[dict[str, Any]]] = {name: [] for name in self.hubs}
            self.next_list_id = 1

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self._settle_all()
            lists = []
            for entry in self.lists.values():
                public = self._public(entry)
                big = entry["count"] > DUMP_CONTACTS_MAX
                public["contacts"] = [] if big else json.loads(entry["raw"])["list"]
                public["contacts_truncated"] = big
                public["hub"] = entry["hub"]
                lists.append(public)
            return {"hubs": dict(self.hubs), "lists": lists, "fresh_leads": {k: list(v) for k, v in self.fresh.items()}}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/dialer/id/{hub}/lists", self.post_list, methods=["POST"]),
            Route("/api/dialer/id/{hub}/lists", self.get_lists, methods=["GET"]),
            Route("/api/dialer/id/{hub}/lists/{list_id}", self.get_list, methods=["GET"]),
            Route("/api/dialer/id/{hub}/freshLeads", self.post_fresh, methods=["POST"]),
        ]

    # -- common checks --------------------------------------------------------------------------

    def _guard(self, request: Request) -> tuple[str | None, Response | None]:
        """Bearer token first (401), then the hub (404). Returns the hub name or the error response."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.credentials.ucontact_api_token):
            return None, json_response({"message": "Unauthorized: missing or invalid API token"}, 401)
        hub = request.path_params["hub"]
        if hub not in self.hubs:
            return None, json_response({"message": "Hub not found"}, 404)
        return hub, None

    @staticmethod
    def _public(entry: dict[str, Any]) -> dict[str, Any]:
        return {"id": entry["id"], "filename": entry["filename"], "status": entry["status"], "count": entry["count"]}

    # -- asynchronous loading: loading -> inactive ----------------------------------------------

    def _finish_load(self, list_id: int, generation: object) -> None:
        with self.ctx.lock:
            entry = self.lists.get(list_id)
            if entry is None or entry["generation"] is not generation or entry["status"] != "loading":
                return  # reset since, or already settled by a read
            entry["status"] = "inactive"
            entry["loaded_at"] = time.time()
            keys, entry["keys"] = entry["keys"], None
            self.ctx.recorder.leads_received("automation.lists", keys, f"hub {entry['hub']}")

    def _settle_all(self) -> None:
        now = time.monotonic()
        for entry in list(self.lists.values()):
            if entry["status"] == "loading" and now >= entry["ready_at"]:
                self._finish_load(entry["id"], entry["generation"])

    # -- handlers ----------------------------------------------------------------------------------

    async def _hub_body(self, request: Request, bodies: Mapping[str, Any]) -> tuple[str, Any, Response | None]:
        """The hub (auth checked) and the body validated by the adapter for the hub's channel kind, or the error answer."""
        hub, error = self._guard(request)
        if error is not None:
            return "", None, error
        assert hub is not None
        raw = await request.body()
        try:
            return hub, bodies[KINDS[self.hubs[hub]["channel"]]].validate_json(raw), None
        except ValidationError as exc:
            return hub, None, json_response(_validation_message(exc), 400)

    async def post_list(self, request: Request) -> Response:
        """ "Subir una lista": 202 with the new list in ``loading``; it turns ``inactive`` once "stored"."""
        hub, body, error = await self._hub_body(request, LIST_BODIES)
        if error is not None:
            return error
        contacts = body["list"]
        filename, count, keys = body["filename"], len(contacts), list(map(_key, contacts))
        del body, contacts  # the validated dicts are the bulky form; keep the raw JSON instead
        raw = await request.body()  # Starlette keeps the body it read: no second read
        delay = max(0.0, float(self.config.ucontact_list_load_seconds))
        with self.ctx.lock:
            list_id = self.next_list_id
            self.next_list_id += 1
            generation = object()
            entry = {
                "id": list_id,
                "hub": hub,
                "filename": filename,
                "status": "loading",
                "count": count,
                "raw": raw,
                "keys": keys,
                "created_at": time.time(),
                "ready_at": time.monotonic() + delay,
                "generation": generation,
            }
            self.lists[list_id] = entry
            public = self._public(entry)
        asyncio.get_running_loop().call_later(delay, self._finish_load, list_id, generation)
        return json_response(public, 202)

    async def get_lists(self, request: Request) -> Response:
        """Emulator-only read (docs/vendors/ucontact.md#decision-assumed-list-state-read): the hub's lists with their states."""
        hub, error = self._guard(request)
        if error is not None:
            return error
        with self.ctx.lock:
            self._settle_all()
            rows = [self._public(e) for e in self.lists.values() if e["hub"] == hub]
        return json_response(rows)

    async def get_list(self, request: Request) -> Response:
        """Emulator-only read (docs/vendors/ucontact.md#decision-assumed-list-state-read): one list's state."""
        hub, error = self._guard(request)
        if error is not None:
            return error
        try:
            list_id = int(request.path_params["list_id"])
        except ValueError:
            list_id = -1
        with self.ctx.lock:
            self._settle_all()
            entry = self.lists.get(list_id)
            if entry is None or entry["hub"] != hub:
                return json_response({"message": "List not found"}, 404)
            return json_response(self._public(entry))

    async def post_fresh(self, request: Request) -> Response:
        """ "Fresh leads": synchronous; 200 ``{"count": n}`` once every lead is stored."""
        hub, body, error = await self._hub_body(request, FRESH_BODIES)
        if error is not None:
            return error
        leads = body["leads"]
        with self.ctx.lock:
            self.fresh[hub].extend(leads)
            self.ctx.recorder.leads_received("automation.freshLeads", map(_key, leads), f"hub {hub}")
        return json_response({"count": len(leads)})
