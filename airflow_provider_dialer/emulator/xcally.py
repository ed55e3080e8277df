"""Emulated XCALLY Motion API: contact lists, contacts (single, bulk, two-step CSV), queue campaigns, hopper, agents.

Written from the vendor document and the wire reference (docs/vendors/xcally.md#wire-reference) on its own:
nothing here imports the provider's hooks. Motion is an Express + Sequelize server, so errors look
like Express/Sequelize ones [A]: ``{"message": ...}``, and validation failures
``400 {"name": "SequelizeValidationError", "message": ..., "errors": [{"message", "path"}]}``.

The emulator is stricter than Motion on one point, on purpose: unknown attributes are refused with a
validation error (Sequelize would drop them silently), so a misspelt field fails a test.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import bisect
import csv
import io
import itertools
import re
import secrets
import time
from array import array
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, create_model
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from typing_extensions import TypedDict

from airflow_provider_dialer.emulator.state import VendorAPI, json_response, read_json

#: custom fields the emulated server knows (global custom fields ``cf_1`` .. ``cf_100``)
CUSTOM_FIELD_IDS = range(1, 101)
#: seeded users: the seed adds agents 24, 26, 31 to a campaign
SEEDED_USERS = (
    {"id": 1, "name": "admin", "fullname": "Administrator", "role": "admin"},
    {"id": 24, "name": "agent24", "fullname": "Ana Agent", "role": "agent"},
    {"id": 26, "name": "agent26", "fullname": "Bruno Agent", "role": "agent"},
    {"id": 31, "name": "agent31", "fullname": "Carla Agent", "role": "agent"},
    {"id": 40, "name": "super40", "fullname": "Sam Supervisor", "role": "supervisor"},
)
#: most rows a collection answers without ``nolimit=true``
MAX_LIMIT = 1000
#: seconds between two background steps of a CSV import
IMPORT_TICK = 0.05

_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
Str255 = Annotated[str, StringConstraints(max_length=255)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=255)]
DateTimeText = Annotated[str, StringConstraints(pattern=_DATETIME)]
Positive = Annotated[int, Field(gt=0)]

# cm_contacts columns (the contact fields Motion documents); ``firstName`` is NOT NULL
_CONTACT_STRINGS = (
    "lastName",
    "street",
    "postalCode",
    "city",
    "country",
    "dateOfBirth",
    "description",
    "phone",
    "mobile",
    "fax",
    "email",
    "url",
    "facebook",
    "twitter",
    "skype",
    "teams",
    "viber",
    "line",
    "wechat",
    "telegram",
    "tags",
)
CONTACT_FIELDS = frozenset(("firstName", "priority", "scheduledat", "UserId", "CompanyId", "ListId", *_CONTACT_STRINGS))
_CF = re.compile(r"^cf_([1-9][0-9]*)$")


def _contact_model(name: str, list_required: bool) -> type[BaseModel]:
    fields: dict[str, Any] = {"firstName": (NonEmpty, ...)}
    fields.update({f: (Str255 | None, None) for f in _CONTACT_STRINGS})
    fields.update(
        {
            "priority": (Positive | None, None),
            "scheduledat": (DateTimeText | None, None),
            "UserId": (int | None, None),
            "CompanyId": (int | None, None),
            "ListId": (int, ...) if list_required else (int | None, None),
        }
    )
    fields.update({f"cf_{i}": (str | int | None, None) for i in CUSTOM_FIELD_IDS})
    return create_model(name, __config__=ConfigDict(extra="forbid", strict=False), **fields)


ContactCreate = _contact_model("ContactCreate", list_required=True)

# the bulk body is validated in one Rust pass into plain dicts (a TypedDict schema, not model instances)
_bulk_fields: dict[str, Any] = {"firstName": NonEmpty}
_bulk_fields.update({f: NotRequired[Str255 | None] for f in _CONTACT_STRINGS})
_bulk_fields.update(
    {
        "priority": NotRequired[Positive | None],
        "scheduledat": NotRequired[DateTimeText | None],
        "UserId": NotRequired[int | None],
        "CompanyId": NotRequired[int | None],
        "ListId": NotRequired[int],
    }
)
_bulk_fields.update({f"cf_{i}": NotRequired[str | int | None] for i in CUSTOM_FIELD_IDS})
# the custom fields are computed, so the functional form, which type checkers take only with a literal
BulkContact = TypedDict("BulkContact", _bulk_fields)  # type: ignore[misc]  # noqa: UP013
BulkContact.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]  # pydantic reads it
# Any to type checkers: BulkContact's keys are computed, so they cannot be read statically
_BULK: TypeAdapter[Any] = TypeAdapter(list[BulkContact])


class ListCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: NonEmpty
    description: str | None = None


class IdsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    ids: list[int] = Field(min_length=1)


class AgentsBody(IdsBody):
    penalty: Annotated[str, StringConstraints(pattern=r"^\d+$")] | int = "0"


class UploadBind(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    ListId: int
    binding: dict[str, str] = Field(min_length=1)
    duplicates: list[str] | None = None
    socket_timestamp: int | float | None = None


YesNo = Literal["yes", "no"]
NonNeg = Annotated[int, Field(ge=0)]

# voice queue campaign: every field of the document's example, its enums, plus the dial* columns of Motion's DB
_QUEUE_FIELDS: dict[str, Any] = {
    "name": (NonEmpty, ...),
    "type": (Literal["outbound", "inbound"], "inbound"),
    "dialActive": (bool, False),
    "dialCheckDuplicateType": (Literal["always", "onlyIfOpen", "never"], "always"),
    "dialCutDigit": (NonNeg, 0),
    "autopause": (Literal["yes", "no", "all"], "no"),
    "ringinuse": (YesNo, "no"),
    "timeoutrestart": (YesNo, "no"),
    "setinterfacevar": (YesNo, "no"),
    "setqueuevar": (YesNo, "no"),
    "setqueueentryvar": (YesNo, "no"),
    "dialOrderByScheduledAt": (Literal["ASC", "DESC"], "DESC"),
    "dialGlobalInterval": (
        Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}-\d{2}:\d{2},[^,]+,[^,]+,[^,]+$")],
        "07:00-22:00,*,*,*",
    ),
    "dialMethod": (Literal["preview", "progressive", "power", "predictive", "booked"], "preview"),
    "dialPowerLevel": (Annotated[int, Field(ge=1)], 1),
    "dialPredictiveOptimization": (Str255, "dropRate"),
    "dialPredictiveOptimizationPercentage": (Annotated[int, Field(ge=0, le=100)], 3),
    "dialQueueOptions": (Str255, "tTxX"),
    "strategy": (
        Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered"],
        "rrmemory",
    ),
    "TrunkId": (int | None, None),
    "IntervalId": (int | None, None),
    "TrunkBackupId": (int | None, None),
    "description": (str | None, None),
    "dialTimezone": (str | None, None),
    "dialPrefix": (str | None, None),
    "dialAMDActive": (bool, False),
}
for _name, _default in {
    "dialAMDInitialSilence": 2500,
    "dialAMDGreeting": 1500,
    "dialAMDAfterGreetingSilence": 800,
    "dialAMDTotalAnalysisTime": 5000,
    "dialAMDMinWordLength": 100,
    "dialAMDBetweenWordsSilence": 50,
    "dialAMDMaximumNumberOfWords": 3,
    "dialAMDSilenceThreshold": 256,
    "dialAMDMaximumWordLength": 5000,
    "dialPredictiveInterval": 10,
    "dialLimitQueue": 0,
    "dialRandomLastDigitCallerIdNumber": 0,
    "dialOriginateTimeout": 30,
    "dialQueueTimeout": 3,
    "timeout": 15,
    "retry": 5,
    "weight": 0,
    "dialGlobalMaxRetry": 4,
    **{
        f"dial{o}MaxRetry": 3
        for o in ("Congestion", "Busy", "NoAnswer", "NoSuchNumber", "Drop", "Abandoned", "Machine", "AgentReject")
    },
    **{
        f"dial{o}RetryFrequency": 150
        for o in ("Congestion", "Busy", "NoAnswer", "NoSuchNumber", "Drop", "Abandoned", "Machine", "AgentReject")
    },
}.items():
    _QUEUE_FIELDS[_name] = (NonNeg, _default)

QueueCreate = create_model("QueueCreate", __config__=ConfigDict(extra="forbid"), **_QUEUE_FIELDS)
_QUEUE_UPDATE_FIELDS: dict[str, Any] = {name: (spec[0] | None, None) for name, spec in _QUEUE_FIELDS.items()}
QueueUpdate = create_model("QueueUpdate", __config__=ConfigDict(extra="forbid"), **_QUEUE_UPDATE_FIELDS)

#: what Sequelize (over MySQL/MariaDB, Motion's database) reads as a boolean in an equality filter; any
#: other text on a boolean column answers 400 instead of an empty page
_BOOL_TRUE = frozenset({"true", "1"})
_BOOL_FALSE = frozenset({"false", "0"})

_RESERVED_QUERY = frozenset(
    {"limit", "offset", "page", "fields", "filter", "sort", "nolimit", "apikey", "includeGlobals", "channel"}
)


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(text: str, status: int) -> Response:
    return json_response({"message": text}, status)


def _validation(errors: list[dict[str, Any]]) -> Response:
    return json_response(
        {
            "name": "SequelizeValidationError",
            "message": "Validation error: " + ",\n".join(e["message"] for e in errors),
            "errors": errors,
        },
        400,
    )


def _pydantic_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False)[:50]:
        loc = [str(p) for p in err["loc"]]
        path = next((p for p in reversed(loc) if not p.isdigit()), "") if loc else ""
        where = f"{prefix}[{loc[0]}]." if loc and loc[0].isdigit() else prefix
        if err["type"] == "missing":
            message, kind = f"{where}{path} cannot be null", "notNull Violation"
        elif err["type"] == "extra_forbidden":
            message, kind = f"{where}{path} is not an attribute of this model", "unknown attribute"
        else:
            message, kind = f"{where}{path}: {err['msg']}", "Validation error"
        out.append(
            {
                "message": message,
                "path": path,
                "type": kind,
                "value": err.get("input") if kind != "notNull Violation" else None,
            }
        )
    return out


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | None]:
    """The CSV's rows, ``None`` for a row the reader refuses (a cell over the csv module's 128 KiB field
    limit, a stray quote): that row is counted invalid and the import goes on at the next line, as a
    server would, instead of the error ending the import loop (the import then never finishes)."""
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield None


class _Import:
    """A CSV import in progress: its rows are read and stored progressively (``config.xcally_import_rate``/s)."""

    def __init__(
        self, pid: int, list_id: int, text: str, columns: dict[str, int], duplicates: list[str], header_len: int
    ) -> None:
        self.pid = pid
        self.list_id = list_id
        reader = csv.reader(io.StringIO(text))
        next(reader, None)  # header (bind already read it)
        self.reader: Iterator[list[str] | None] = _records(reader)
        self.columns = columns
        self.duplicates = duplicates
        self.header_len = header_len
        self.started = time.monotonic()
        self.read = 0
        self.stored = 0
        self.skipped_duplicates = 0
        self.invalid = 0
        self.done = False
        self.dup_keys: set[tuple[Any, ...]] | None = None

    def public(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ListId": self.list_id,
            "status": "done" if self.done else "running",
            "read": self.read,
            "stored": self.stored,
            "skipped_duplicates": self.skipped_duplicates,
            "invalid": self.invalid,
            "duplicates": self.duplicates,
        }


class XCallyAPI(VendorAPI):
    """XCALLY Motion on one port: ``/api/cm/...``, ``/api/voice/queues...``, ``/api/users``, ``/api/realtime/agents``."""

    name = "xcally"

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.reset()

    # -- state ---------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.ctx.lock:
            self.lists: dict[int, dict[str, Any]] = {}
            self.list_users: dict[int, set[int]] = defaultdict(set)
            # contacts are kept as the validated wire dicts (no copy); contact id = index + 1
            self.contacts: list[dict[str, Any]] = []
            self._batches: list[tuple[int, str]] = []  # (first contact id, createdAt) per stored batch
            self.by_list: dict[int, array[int]] = defaultdict(lambda: array("q"))
            self.campaigns: dict[int, dict[str, Any]] = {}
            self.campaign_lists: dict[int, list[int]] = defaultdict(list)
            self.campaign_users: dict[int, dict[int, str]] = defaultdict(dict)
            # hopper: campaign -> [(ContactId, phone, ListId, scheduledat, priority)]; final stays empty (nothing is dialed)
            self.hopper: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
            self.hopper_phones: dict[int, set[str]] = defaultdict(set)
            self.final: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
            self.final_phones: dict[int, set[str]] = defaultdict(set)
            self.hopper_duplicates: dict[int, int] = defaultdict(int)
            self.staged: dict[str, bytes] = {}
            self.imports: dict[int, _Import] = {}
            self._next_list = 1
            self._next_campaign = 1
            self._next_pid = 1000
            self._ticking = False

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self._advance()
            sample = self.contacts if len(self.contacts) <= 10_000 else self.contacts[:1000]
            return {
                "lists": [
                    {**lst, "contacts": len(self.by_list.get(lid, ())), "agents": sorted(self.list_users.get(lid, ()))}
                    for lid, lst in self.lists.items()
                ],
                "contacts_total": len(self.contacts),
                "contacts": [self._contact_dict(i) for i in range(len(sample))],
                "campaigns": [
                    {
                        **camp,
                        "lists": list(self.campaign_lists.get(cid, ())),
                        "agents": {str(k): v for k, v in self.campaign_users.get(cid, {}).items()},
                        "hopper": [
                            {"ContactId": h[0], "phone": h[1], "ListId": h[2], "scheduledat": h[3], "priority": h[4]}
                            for h in self.hopper.get(cid, ())[:1000]
                        ],
                        "hopper_count": len(self.hopper.get(cid, ())),
                        "final_count": len(self.final.get(cid, ())),
                        "hopper_duplicates_skipped": self.hopper_duplicates.get(cid, 0),
                    }
                    for cid, camp in self.campaigns.items()
                ],
                "staged": sorted(self.staged),
                "imports": [job.public() for job in self.imports.values()],
            }

    def _contact_dict(self, index: int) -> dict[str, Any]:
        """Contact ``index`` (id - 1) as Motion answers it: id, Motion's defaults, createdAt/updatedAt."""
        created = self._batches[bisect.bisect_right(self._batches, (index + 1, "\uffff")) - 1][1]
        return {
            "id": index + 1,
            "lastName": None,
            "phone": None,
            "email": None,
            "priority": 2,
            "scheduledat": None,
            **self.contacts[index],
            "createdAt": created,
            "updatedAt": created,
        }

    def _store(self, list_id: int, rows: list[dict[str, Any]], endpoint: str) -> range:
        """Append validated contact dicts (each with ``ListId``); the caller holds the lock."""
        first = len(self.contacts) + 1
        self._batches.append((first, _now_iso()))
        self.contacts.extend(rows)
        ids = range(first, first + len(rows))
        self.by_list[list_id].extend(ids)
        self.ctx.recorder.leads_received(endpoint, [p for p in (r.get("phone") for r in rows) if p], f"list {list_id}")
        self._feed_hopper(list_id, first, len(rows))
        return ids

    def _feed_hopper(self, list_id: int, first_id: int, count: int) -> None:
        for cid, attached in self.campaign_lists.items():
            if list_id in attached:
                self._load_hopper(cid, range(first_id, first_id + count))

    def _load_hopper(self, cid: int, contact_ids: Any) -> None:
        """dialCheckDuplicateType: ``always`` checks hopper and final, ``onlyIfOpen`` the hopper only, ``never`` nothing."""
        mode = self.campaigns[cid]["dialCheckDuplicateType"]
        hopper, phones, final = self.hopper[cid], self.hopper_phones[cid], self.final_phones[cid]
        for contact_id in contact_ids:
            c = self.contacts[contact_id - 1]
            phone = c.get("phone")
            if not phone:
                continue
            if mode != "never" and (phone in phones or (mode == "always" and phone in final)):
                self.hopper_duplicates[cid] += 1
                continue
            hopper.append((contact_id, phone, c["ListId"], c.get("scheduledat"), c.get("priority") or 2))
            phones.add(phone)

    def custom_fields(self) -> list[dict[str, Any]]:
        """The global custom fields, ``cf_1`` .. in the order ``config.xcally_custom_fields`` names them.

        The setting is a comma-separated text (``--set xcally_custom_fields=code,region``) or a JSON list
        (``PATCH /_emulator/config``); each name is both the field's ``name`` and its ``alias``.
        """
        raw = self.config.xcally_custom_fields
        names = raw.split(",") if isinstance(raw, str) else list(raw)
        names = [str(n).strip() for n in names if str(n).strip()][: len(CUSTOM_FIELD_IDS)]
        return [{"id": i, "name": n, "alias": n, "type": "text"} for i, n in enumerate(names, 1)]

    # -- auth ----------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        key = request.query_params.get("apikey")
        if key is not None:
            return secrets.compare_digest(key, self.credentials.xcally_api_key)
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value:
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.credentials.xcally_user) and secrets.compare_digest(
            password, self.credentials.xcally_password
        )

    def _guard(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            if not self._authorized(request):
                return _message("Unauthorized", 401)
            return await handler(request)

        return endpoint

    # -- collections -----------------------------------------------------------------------------

    @staticmethod
    def _window(request: Request) -> tuple[int, int | None]:
        q = request.query_params
        try:
            limit = None if q.get("nolimit") == "true" else min(int(q.get("limit", 100)), MAX_LIMIT)
            offset = int(q.get("offset", 0))
            if "page" in q and "offset" not in q and limit:
                offset = (max(1, int(q["page"])) - 1) * limit
        except ValueError:
            raise ValueError("limit, offset and page must be integers") from None
        return offset, limit

    @staticmethod
    def _page(request: Request, rows: list[dict[str, Any]], total: int, offset: int) -> Response:
        fields = request.query_params.get("fields")
        if fields:
            keep = [f.strip() for f in fields.split(",") if f.strip()]
            rows = [{k: r[k] for k in keep if k in r} for r in rows]
        headers = {"Content-Range": f"{offset}-{offset + len(rows)}/{total}"}
        return json_response({"count": total, "rows": rows}, headers=headers)

    def _collection(self, request: Request, rows: list[dict[str, Any]]) -> Response:
        try:
            offset, limit = self._window(request)
        except ValueError as exc:
            return _message(str(exc), 400)
        q = request.query_params
        known = set().union(*(r.keys() for r in rows)) if rows else set()
        for key in q.keys():
            if key in _RESERVED_QUERY or key not in known:
                continue
            boolean = any(isinstance(r.get(key), bool) for r in rows)
            try:
                wanted = _filter_values(q.getlist(key), boolean)
            except ValueError as exc:
                return _message(f"{key}: {exc}", 400)
            rows = [r for r in rows if _text(r.get(key)) in wanted]
        text = q.get("filter")
        if text:
            low = text.lower()
            rows = [r for r in rows if any(isinstance(v, str) and low in v.lower() for v in r.values())]
        sort = q.get("sort")
        if sort:
            field, reverse = (sort[1:], True) if sort.startswith("-") else (sort, False)
            rows = sorted(
                rows,
                key=lambda r: (r.get(field) is None, r.get(field) if r.get(field) is not None else 0),
                reverse=reverse,
            )
        total = len(rows)
        page = rows[offset:] if limit is None else rows[offset : offset + limit]
        return self._page(request, page, total, offset)

    # -- routes --------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        g = self._guard
        return [
            Route("/api/cm/lists", g(self.lists_collection), methods=["GET", "POST"]),
            Route("/api/cm/lists/{list_id:int}", g(self.list_item), methods=["GET"]),
            Route("/api/cm/lists/{list_id:int}/fields", g(self.list_fields), methods=["GET"]),
            Route("/api/cm/lists/{list_id:int}/users", g(self.list_users_route), methods=["GET", "POST"]),
            Route("/api/cm/lists/{list_id:int}/contacts", g(self.list_contacts), methods=["POST"]),
            Route("/api/cm/contacts", g(self.contacts_collection), methods=["GET", "POST"]),
            Route("/api/cm/contacts/upload", g(self.upload_stage), methods=["POST"]),
            Route("/api/cm/contacts/upload/{name}", g(self.upload_bind), methods=["POST"]),
            Route("/api/voice/queues", g(self.queues_collection), methods=["GET", "POST"]),
            Route("/api/voice/queues/{qid:int}", g(self.queue_item), methods=["GET", "PUT"]),
            Route("/api/voice/queues/{qid:int}/lists", g(self.queue_lists), methods=["GET", "POST", "DELETE"]),
            Route("/api/voice/queues/{qid:int}/users", g(self.queue_users), methods=["GET", "POST"]),
            Route("/api/voice/queues/{qid:int}/teams", g(self.queue_teams), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper", g(self.queue_hopper), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper_histories", g(self.queue_histories), methods=["GET"]),
            Route("/api/voice/queues/{qid:int}/hopper_finals", g(self.queue_finals), methods=["GET"]),
            Route("/api/users", g(self.users), methods=["GET"]),
            Route("/api/realtime/agents", g(self.realtime_agents), methods=["GET"]),
        ]

    # -- lists -----------------------------------------------------------------------------------

    async def lists_collection(self, request: Request) -> Response:
        if request.method == "GET":
            with self.ctx.lock:
                rows = [dict(r) for r in self.lists.values()]
            return self._collection(request, rows)
        data, problem = await _parsed(request, ListCreate)
        if problem is not None:
            return problem
        with self.ctx.lock:
            if any(lst["name"] == data.name for lst in self.lists.values()):
                return json_response(
                    {
                        "name": "SequelizeUniqueConstraintError",
                        "message": "Validation error",
                        "errors": [{"message": "name must be unique", "path": "name"}],
                    },
                    400,
                )
            now = _now_iso()
            lst = {
                "id": self._next_list,
                "name": data.name,
                "description": data.description,
                "updatedAt": now,
                "createdAt": now,
            }
            self.lists[lst["id"]] = lst
            self._next_list += 1
            return json_response(dict(lst), 201)

    async def list_item(self, request: Request) -> Response:
        with self.ctx.lock:
            lst = self.lists.get(request.path_params["list_id"])
            return json_response(dict(lst)) if lst else _message("List not found", 404)

    async def list_fields(self, request: Request) -> Response:
        lid = request.path_params["list_id"]
        with self.ctx.lock:
            if lid not in self.lists:
                return _message("List not found", 404)
        rows = [{**f, "ListId": None} for f in self.custom_fields()]
        if request.query_params.get("includeGlobals") == "false":
            rows = []
        return json_response({"count": len(rows), "rows": rows})

    async def list_users_route(self, request: Request) -> Response:
        lid = request.path_params["list_id"]
        if request.method == "GET":
            with self.ctx.lock:
                if lid not in self.lists:
                    return _message("List not found", 404)
                rows = [dict(u) for u in SEEDED_USERS if u["id"] in self.list_users[lid]]
            return self._collection(request, rows)
        data, problem = await _parsed(request, IdsBody)
        if problem is not None:
            return problem
        with self.ctx.lock:
            if lid not in self.lists:
                return _message("List not found", 404)
            problem = self._check_ids_body(data, lid)
            if problem:
                return problem
            self.list_users[lid].update(data.ids)
            return json_response([dict(u) for u in SEEDED_USERS if u["id"] in self.list_users[lid]], 201)

    @staticmethod
    def _check_ids_body(data: IdsBody, path_id: int) -> Response | None:
        if data.id != path_id:
            return _validation([{"message": f"id {data.id} does not match the URL id {path_id}", "path": "id"}])
        agents = {u["id"] for u in SEEDED_USERS if u["role"] == "agent"}
        unknown = [i for i in data.ids if i not in {u["id"] for u in SEEDED_USERS}]
        if unknown:
            return _message(f"User not found: {', '.join(map(str, unknown))}", 404)
        not_agents = [i for i in data.ids if i not in agents]
        if not_agents:
            return _validation([{"message": f"user {i} is not an agent", "path": "ids"} for i in not_agents])
        return None

    # -- contacts --------------------------------------------------------------------------------

    async def list_contacts(self, request: Request) -> Response:
        lid = request.path_params["list_id"]
        raw = await request.body()
        with self.ctx.lock:
            if lid not in self.lists:
                return _message("List not found", 404)
        if len(raw) > 1_000_000:
            return await run_in_threadpool(self._bulk_add, lid, raw)
        return self._bulk_add(lid, raw)

    def _bulk_add(self, lid: int, raw: bytes) -> Response:
        if not raw:
            return _message("empty body", 400)
        try:
            items = _BULK.validate_json(raw)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                return _message(f"invalid JSON: {exc.errors()[0]['msg']}", 400)
            return _validation(_pydantic_errors(exc))
        for index, d in enumerate(items):
            got = d.setdefault("ListId", lid)
            if got != lid:
                return _validation(
                    [
                        {
                            "message": f"[{index}].ListId {got} does not match the URL list {lid}",
                            "path": "ListId",
                            "type": "Validation error",
                            "value": got,
                        }
                    ]
                )
        with self.ctx.lock:
            if lid not in self.lists:
                return _message("List not found", 404)
            self._advance()
            ids = self._store(lid, items, "xcally.contacts")
        # the answer's shape is not documented (NF): [A] one {"id"} per created contact, in order
        body = "[" + ",".join(map('{{"id":{}}}'.format, ids)) + "]"
        return Response(body, status_code=201, media_type="application/json")

    async def contacts_collection(self, request: Request) -> Response:
        if request.method == "POST":
            data, problem = await _parsed(request, ContactCreate)
            if problem is not None:
                return problem
            data = data.model_dump(exclude_none=True)
            with self.ctx.lock:
                lid = data["ListId"]
                if lid not in self.lists:
                    return _validation(
                        [
                            {
                                "message": f"ListId {lid} does not reference an existing list",
                                "path": "ListId",
                                "type": "foreign key",
                                "value": lid,
                            }
                        ]
                    )
                (cid,) = self._store(lid, [data], "xcally.contacts")
                return json_response(self._contact_dict(cid - 1), 201)
        q = request.query_params
        try:
            offset, limit = self._window(request)
            list_id = int(q["ListId"]) if "ListId" in q else None
        except ValueError as exc:
            return _message(str(exc), 400)
        filters = {k: q.getlist(k) for k in q.keys() if k not in _RESERVED_QUERY and k != "ListId"}
        with self.ctx.lock:
            self._advance()
            ids: Any = self.by_list.get(list_id, ()) if list_id is not None else range(1, len(self.contacts) + 1)
            if not filters and not q.get("filter") and not q.get("sort"):
                total = len(ids)
                window = itertools.islice(ids, offset, None if limit is None else offset + limit)
                rows = [self._contact_dict(i - 1) for i in window]
            else:
                matched = []
                text = q.get("filter")
                for i in ids:
                    c = self.contacts[i - 1]
                    if all(_text(c.get(k)) in v for k, v in filters.items()) and _search(c, text):
                        matched.append(self._contact_dict(i - 1))
                sort = q.get("sort")
                if sort:
                    field, rev = (sort[1:], True) if sort.startswith("-") else (sort, False)
                    matched.sort(key=lambda r: _text(r.get(field)), reverse=rev)
                total = len(matched)
                rows = matched[offset:] if limit is None else matched[offset : offset + limit]
        return self._page(request, rows, total, offset)

    # -- CSV upload ------------------------------------------------------------------------------

    async def upload_stage(self, request: Request) -> Response:
        ctype = request.headers.get("content-type", "")
        filename = "upload.csv"
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_files=2, max_fields=50)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return _message("multipart field 'file' is required", 400)
            content = await upload.read()
            flow_filename = form.get("flowFilename")
            filename = (flow_filename if isinstance(flow_filename, str) else None) or upload.filename or filename
            total_chunks = form.get("flowTotalChunks")
            if total_chunks not in (None, "1"):
                return _message("chunked flow.js uploads (flowTotalChunks > 1) are not emulated", 400)
            total_size = form.get("flowTotalSize")
            if total_size is not None and str(total_size) != str(len(content)):
                return _message(f"flowTotalSize {total_size} does not match the file size {len(content)}", 400)
            await form.close()
        else:  # the document's form: curl --data-binary @file.csv -H 'content-type: application/x-www-form-urlencoded'
            content = await request.body()
        if not content:
            return _message("empty file", 400)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(filename))[-100:] or "upload.csv"
        staged = f"{int(time.time() * 1000)}-{secrets.token_hex(3)}-{safe}"
        with self.ctx.lock:
            self.staged[staged] = content
        return json_response({"file": {"name": staged, "originalname": str(filename), "size": len(content)}}, 201)

    async def upload_bind(self, request: Request) -> Response:
        name = request.path_params["name"]
        data, problem = await _parsed(request, UploadBind)
        if problem is not None:
            return problem
        errors = [
            {"message": f"binding target {f!r} is not a contact field", "path": "binding"}
            for f in data.binding
            if f not in CONTACT_FIELDS and not _CF.match(f)
        ]
        if "firstName" not in data.binding:
            errors.append({"message": "binding must map firstName (NOT NULL)", "path": "binding"})
        errors += [
            {"message": f"duplicates field {f!r} is not a contact field", "path": "duplicates"}
            for f in data.duplicates or ()
            if f not in CONTACT_FIELDS and not _CF.match(f)
        ]
        if errors:
            return _validation(errors)
        with self.ctx.lock:
            content = self.staged.get(name)
            if content is None:
                # e.g. the document's literal step 2 (upload/mylist.csv): the name to bind is the
                # ``file.name`` step 1 answered, not the name of the file on the client's disk. The body's
                # ``id`` is not compared with it: the document's own example sends "file.csv" there
                return _message(f"File not found: {name} (bind the file.name the upload answered)", 404)
            if data.ListId not in self.lists:
                return _message("List not found", 404)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _message("the CSV file is not UTF-8", 400)
        try:
            header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        except csv.Error as exc:
            return _message(f"the CSV header cannot be read: {exc}", 400)
        positions = {col.strip(): i for i, col in enumerate(header)}
        columns: dict[str, int] = {}
        for field, column in data.binding.items():
            if column.strip() not in positions:
                errors.append(
                    {"message": f"column {column!r} (bound to {field}) is not in the CSV header", "path": "binding"}
                )
            else:
                columns[field] = positions[column.strip()]
        if errors:
            return _validation(errors)
        with self.ctx.lock:
            self.staged.pop(name, None)
            pid = self._next_pid
            self._next_pid += 1
            self.imports[pid] = _Import(pid, data.ListId, text, columns, list(data.duplicates or []), len(header))
            self._schedule_tick()
        return json_response({"pid": pid})

    def _schedule_tick(self) -> None:
        if self._ticking:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._ticking = True

        def tick() -> None:
            with self.ctx.lock:
                running = False
                try:
                    self._advance()
                    running = any(not job.done for job in self.imports.values())
                finally:
                    # an unexpected error must not leave _ticking set with no tick scheduled (the
                    # import would then advance only when something reads)
                    if running:
                        loop.call_later(IMPORT_TICK, tick)
                    else:
                        self._ticking = False

        loop.call_later(IMPORT_TICK, tick)

    def _advance(self) -> None:
        """Store what each running CSV import has reached by now (``xcally_import_rate`` contacts/s); holds the lock."""
        rate = max(1.0, float(self.config.xcally_import_rate))
        now = time.monotonic()
        for job in self.imports.values():
            if job.done:
                continue
            due = int((now - job.started) * rate) - job.read
            if due > 0:
                self._import_rows(job, due)

    def _import_rows(self, job: _Import, n: int) -> None:
        bound = list(job.columns.items())
        i_first = job.columns["firstName"]
        i_prio = job.columns.get("priority")
        dups = job.duplicates
        if dups and job.dup_keys is None:
            job.dup_keys = {
                tuple(_text(self.contacts[i - 1].get(f)) for f in dups) for i in self.by_list.get(job.list_id, ())
            }
        rows = []
        width = job.header_len
        list_id = job.list_id
        for record in job.reader:
            job.read += 1
            if record is not None and len(record) < width:
                record += [""] * (width - len(record))
            if record is None:  # a row the CSV reader refused (see _records)
                job.invalid += 1
            elif not record[i_first].strip() or (i_prio is not None and not _positive(record[i_prio])):
                job.invalid += 1
            else:
                row: dict[str, Any] = {f: record[i] for f, i in bound if record[i]}
                row["ListId"] = list_id
                if i_prio is not None and "priority" in row:
                    row["priority"] = int(row["priority"])
                key = tuple(_text(row.get(f)) for f in dups) if job.dup_keys is not None else None
                if key is None:
                    rows.append(row)
                elif key in job.dup_keys:  # type: ignore[operator]  # a key means dup_keys is a set
                    job.skipped_duplicates += 1
                else:
                    job.dup_keys.add(key)  # type: ignore[union-attr]  # as above
                    rows.append(row)
            n -= 1
            if n <= 0:
                break
        else:
            job.done = True
            job.reader = iter(())
            job.dup_keys = None
        if rows:
            self._store(job.list_id, rows, "xcally.csv")
            job.stored += len(rows)

    # -- queue campaigns -------------------------------------------------------------------------

    async def queues_collection(self, request: Request) -> Response:
        if request.method == "GET":
            with self.ctx.lock:
                rows = [dict(c) for c in self.campaigns.values()]
            return self._collection(request, rows)
        data, problem = await _parsed(request, QueueCreate)
        if problem is not None:
            return problem
        data = data.model_dump()
        with self.ctx.lock:
            if any(c["name"] == data["name"] for c in self.campaigns.values()):
                return json_response(
                    {
                        "name": "SequelizeUniqueConstraintError",
                        "message": "Validation error",
                        "errors": [{"message": "name must be unique", "path": "name"}],
                    },
                    400,
                )
            now = _now_iso()
            camp = {"id": self._next_campaign, **data, "createdAt": now, "updatedAt": now}
            self.campaigns[camp["id"]] = camp
            self._next_campaign += 1
            return json_response(dict(camp), 201)

    async def queue_item(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        if request.method == "GET":
            with self.ctx.lock:
                camp = self.campaigns.get(qid)
                return json_response(dict(camp)) if camp else _message("Queue not found", 404)
        changes, problem = await _parsed(request, QueueUpdate)
        if problem is not None:
            return problem
        changes = changes.model_dump(exclude_unset=True)
        nulls = [k for k, v in changes.items() if v is None and _QUEUE_FIELDS[k][1] is ...]
        if nulls:
            return _validation([{"message": f"{k} cannot be null", "path": k} for k in nulls])
        with self.ctx.lock:
            camp = self.campaigns.get(qid)
            if camp is None:
                return _message("Queue not found", 404)
            if "name" in changes and any(c["name"] == changes["name"] and i != qid for i, c in self.campaigns.items()):
                return json_response(
                    {
                        "name": "SequelizeUniqueConstraintError",
                        "message": "Validation error",
                        "errors": [{"message": "name must be unique", "path": "name"}],
                    },
                    400,
                )
            camp.update(changes)
            camp["updatedAt"] = _now_iso()
            return json_response(dict(camp))

    async def queue_lists(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        window: tuple[int, int | None] = (0, None)
        if request.method == "GET":
            try:
                window = self._association_window(request)
            except ValueError as exc:
                return _message(str(exc), 400)
        if request.method == "POST":
            data, problem = await _parsed(request, IdsBody)
            if problem is not None:
                return problem
            if data.id != qid:
                return _validation([{"message": f"id {data.id} does not match the URL id {qid}", "path": "id"}])
        with self.ctx.lock:
            if qid not in self.campaigns:
                return _message("Queue not found", 404)
            attached = self.campaign_lists[qid]
            if request.method == "POST":
                missing = [i for i in data.ids if i not in self.lists]
                if missing:
                    return _message(f"List not found: {', '.join(map(str, missing))}", 404)
                self._advance()
                for lid in data.ids:
                    if lid not in attached:
                        attached.append(lid)
                        self._load_hopper(qid, self.by_list.get(lid, ()))
            elif request.method == "DELETE":
                try:
                    ids = {int(v) for v in request.query_params.getlist("ids")}
                except ValueError:
                    return _message("ids must be integers", 400)
                if not ids:
                    return _message("ids query parameter is required", 400)
                attached[:] = [lid for lid in attached if lid not in ids]
                kept = [h for h in self.hopper[qid] if h[2] not in ids]
                self.hopper[qid] = kept
                self.hopper_phones[qid] = {h[1] for h in kept}
            rows = [dict(self.lists[lid]) for lid in attached]
        if request.method == "GET":
            return self._bare_page(rows, *window)
        return json_response(rows, 201 if request.method == "POST" else 200)

    @staticmethod
    def _association_window(request: Request) -> tuple[int, int | None]:
        """``offset``/``limit`` of an association read; no ``limit`` means every row (Sequelize's default)."""
        q = request.query_params
        try:
            offset = max(0, int(q.get("offset", 0)))
            limit = None if q.get("nolimit") == "true" or "limit" not in q else max(0, int(q["limit"]))
        except ValueError:
            raise ValueError("limit and offset must be integers") from None
        return offset, limit

    @staticmethod
    def _bare_page(rows: list[dict[str, Any]], offset: int, limit: int | None) -> Response:
        """An association read: a bare JSON array (as Motion answers it), paged, the total in ``Content-Range``."""
        total = len(rows)
        page = rows[offset:] if limit is None else rows[offset : offset + limit]
        return json_response(page, headers={"Content-Range": f"{offset}-{offset + len(page)}/{total}"})

    async def queue_users(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        if request.method == "GET":
            with self.ctx.lock:
                if qid not in self.campaigns:
                    return _message("Queue not found", 404)
                members = self.campaign_users[qid]
                rows = [{**u, "penalty": members[u["id"]]} for u in SEEDED_USERS if u["id"] in members]
            return self._collection(request, rows)
        data, problem = await _parsed(request, AgentsBody)
        if problem is not None:
            return problem
        with self.ctx.lock:
            if qid not in self.campaigns:
                return _message("Queue not found", 404)
            problem = self._check_ids_body(data, qid)
            if problem:
                return problem
            for uid in data.ids:
                self.campaign_users[qid][uid] = str(data.penalty)
            members = self.campaign_users[qid]
            return json_response([{**u, "penalty": members[u["id"]]} for u in SEEDED_USERS if u["id"] in members], 201)

    async def queue_teams(self, request: Request) -> Response:
        """``GET /api/voice/queues/{id}/teams``: the teams sharing the queue. The emulator has no teams, so
        the page is always empty; public clients read it to check a campaign is not shared."""
        qid = request.path_params["qid"]
        with self.ctx.lock:
            if qid not in self.campaigns:
                return _message("Queue not found", 404)
        return self._collection(request, [])

    async def queue_hopper(self, request: Request) -> Response:
        return self._hopper_rows(request, self.hopper)

    async def queue_finals(self, request: Request) -> Response:
        return self._hopper_rows(request, self.final)

    def _hopper_rows(self, request: Request, table: dict[int, list[tuple[Any, ...]]]) -> Response:
        qid = request.path_params["qid"]
        with self.ctx.lock:
            if qid not in self.campaigns:
                return _message("Queue not found", 404)
            self._advance()
            rows = [
                {
                    "id": n + 1,
                    "ContactId": h[0],
                    "phone": h[1],
                    "ListId": h[2],
                    "scheduledat": h[3],
                    "priority": h[4],
                    "VoiceQueueId": qid,
                }
                for n, h in enumerate(table.get(qid, ()))
            ]
        return self._collection(request, rows)

    async def queue_histories(self, request: Request) -> Response:
        qid = request.path_params["qid"]
        with self.ctx.lock:
            if qid not in self.campaigns:
                return _message("Queue not found", 404)
        return self._collection(request, [])  # nothing is dialed in the emulator

    # -- agents ----------------------------------------------------------------------------------

    async def users(self, request: Request) -> Response:
        return self._collection(request, [dict(u) for u in SEEDED_USERS])

    async def realtime_agents(self, request: Request) -> Response:
        rows = [
            {**u, "online": False, "voiceStatus": "unavailable", "voicePause": False}
            for u in SEEDED_USERS
            if u["role"] == "agent"
        ]
        return self._collection(request, rows)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _filter_values(values: list[str], boolean: bool) -> set[str]:
    """The texts an equality filter matches. On a boolean column ``true``/``1`` and ``false``/``0`` (any
    case: ``True``, ``TRUE``) mean what Sequelize over MySQL makes of them; any other text raises
    ValueError (a 400), never an empty page for a filter the server did not understand."""
    if not boolean:
        return set(values)
    out = set()
    for value in values:
        low = value.strip().lower()
        if low in _BOOL_TRUE:
            out.add("true")
        elif low in _BOOL_FALSE:
            out.add("false")
        else:
            raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")
    return out


def _positive(text: str) -> bool:
    try:
        return int(text) > 0 if text.strip() else True
    except ValueError:
        return False


def _search(row: dict[str, Any], text: str | None) -> bool:
    if not text:
        return True
    low = text.lower()
    return any(isinstance(v, str) and low in v.lower() for v in row.values())


async def _parsed(request: Request, model: type[BaseModel]) -> tuple[Any, Response | None]:
    """The JSON body validated by ``model``, or the answer Motion gives: 400 with a message for a body
    that is not JSON, a Sequelize-style validation error for one the model refuses."""
    body, error = await read_json(request)
    if error:
        return None, _message(error, 400)
    try:
        return model.model_validate(body), None
    except ValidationError as exc:
        return None, _validation(_pydantic_errors(exc))
