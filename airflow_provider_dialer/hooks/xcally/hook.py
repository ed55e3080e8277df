"""XCallyHook: what exactly we send to an XCALLY Motion server (self-hosted, ``https://{host}/api``)."""

from __future__ import annotations

import base64
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import to_json

from airflow_provider_dialer.capabilities import ChunkOutcome, WaitState
from airflow_provider_dialer.exceptions import (
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
    DialerJobFailedError,
    UnsupportedCapabilityError,
)
from airflow_provider_dialer.hooks.base import DialerHook, Flow, Request, api_call, register_secret
from airflow_provider_dialer.hooks.xcally.campaign import (
    AGENTS_KEY,
    LISTS_KEY,
    build_campaign_wanted,
    campaign_body,
    campaign_differences,
    int_ids,
    missing_ids,
)
from airflow_provider_dialer.hooks.xcally.wire import (
    AttachLists,
    BulkAddResult,
    CampaignAgents,
    CmList,
    Contact,
    ContactIn,
    CsvImport,
    HopperHistory,
    ImportProgress,
    ImportStarted,
    ListAgents,
    ListCreate,
    ListField,
    Page,
    QueueCampaign,
    QueueCampaignOut,
    RealtimeAgent,
    StagedUpload,
    User,
    campaign_update_body,
    contacts_csv,
    csv_binding,
    xcally_contact,
)

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

#: rows per page when the hook walks a collection (public client pages at 100)
PAGE_SIZE = 100
#: rows per page for bulk reads (contacts of a list, a campaign's agents): Motion's documented maximum
LIST_READ_PAGE = 1000


def _total(response: Any, body: Any) -> int:
    """A collection's total: ``count`` in the body, else the ``Content-Range: a-b/total`` header."""
    if isinstance(body, dict) and isinstance(body.get("count"), int):
        return body["count"]
    header = response.headers.get("Content-Range", "")
    tail = header.rpartition("/")[2].strip()
    if tail.isdigit():
        return int(tail)
    raise DialerHTTPError("XCALLY", response.request.method, response.request.url.path, response.status_code,
                          "collection answer has neither count nor Content-Range", "")


class XCallyHook(DialerHook):
    """XCALLY Motion REST API (``/api/cm/...`` contact manager, ``/api/voice/queues`` campaigns).

    Connection: host (required; self-hosted, no expansion), port, schema (``https``), login and
    password for HTTP Basic, or extra ``api_key`` (then sent as ``?apikey=`` and no Basic header).
    ``verify_ssl`` / ``ca_bundle`` cover self-signed servers.

    Every endpoint method has an async twin named ``a<name>`` (``await hook.acount_contacts(7)``).

    .. code-block:: python

        hook = XCallyHook("xcally_default")
        lst = hook.create_list("leads 2026-01-05")
        hook.add_contacts(lst.id, [xcally_contact(lead, list_id=lst.id) for lead in leads])
    """

    conn_name_attr = "xcally_conn_id"
    default_conn_name = "xcally_default"
    conn_type = "xcally"
    hook_name = "XCALLY Motion"
    vendor = "XCALLY"
    secret_extras = ("api_key",)
    default_rate_limit = None
    supports_per_lead_schedule = True
    #: links: queue campaigns and contact lists (a list upload knows the campaign it attached the list to)
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {
        "campaign": frozenset({"campaign_id", "campaign_name"}),
        "list": frozenset({"list_id", "list_name", "campaign_id"}),
    }

    #: where the API lives under the server URL (seed: ``https://{domain}/api/...``)
    api_prefix: ClassVar[str] = "/api"

    def __init__(self, conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(conn_id, **kwargs)
        self._basic: str | None = None

    # -- auth -------------------------------------------------------------------------------

    @property
    def api_key(self) -> str | None:
        key = self.extras.get("api_key")
        return str(key).strip() if key else None

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        if self.api_key:
            return {}
        if self._basic is None:
            conn = self.connection
            if not conn.login or not conn.password:
                raise DialerConfigError(
                    f"connection {self.conn_id!r} (XCALLY) needs login and password, or the extra api_key"
                )
            token = base64.b64encode(f"{conn.login}:{conn.password}".encode()).decode("ascii")
            register_secret(token)
            self._basic = f"Basic {token}"
        return {"Authorization": self._basic}
        yield  # pragma: no cover - makes this a generator

    def auth_params(self, scheme: str = "default") -> dict[str, str]:
        key = self.api_key
        return {"apikey": key} if key else {}

    def invalidate_auth(self, scheme: str = "default") -> bool:
        return False  # static credentials: asking again gives the same answer

    def _path(self, path: str) -> str:
        return f"{self.api_prefix}{path}"

    def probe(self) -> Flow[str]:
        response = yield Request("GET", self._path("/cm/lists"), params={"limit": 1, "fields": "id"})
        body = response.json()
        return f"{_total(response, body)} contact lists readable"

    # -- contact lists ------------------------------------------------------------------------

    @api_call
    def create_list(self, name: str, description: str | None = None) -> Flow[CmList]:
        """``POST /api/cm/lists`` -> the created list (201)."""
        body = ListCreate(name=name, description=description).model_dump(exclude_none=True)
        response = yield Request("POST", self._path("/cm/lists"), json=body)
        return CmList.model_validate(response.json())

    @api_call
    def get_list(self, list_id: int) -> Flow[CmList | None]:
        """``GET /api/cm/lists/{id}``; None when the list does not exist (404)."""
        response = yield Request("GET", self._path(f"/cm/lists/{int(list_id)}"), accept_statuses=frozenset({404}))
        return None if response.status_code == 404 else CmList.model_validate(response.json())

    @api_call
    def find_list_by_name(self, name: str) -> Flow[CmList | None]:
        """The list whose name is exactly ``name`` (``GET /api/cm/lists?filter=`` is a text search)."""
        offset = 0
        while True:
            response = yield Request("GET", self._path("/cm/lists"), params={
                "filter": name, "fields": "id,name,description,createdAt,updatedAt",
                "limit": PAGE_SIZE, "offset": offset, "sort": "id",
            })
            body = response.json()
            page = Page[CmList].model_validate(body)
            for row in page.rows:
                if row.name == name:
                    return row
            offset += len(page.rows)
            if not page.rows or offset >= page.count:
                return None

    @api_call
    def list_fields(self, list_id: int, include_globals: bool = True) -> Flow[list[ListField]]:
        """``GET /api/cm/lists/{id}/fields``: custom fields (their ``id`` gives the contact key ``cf_<id>``)."""
        response = yield Request("GET", self._path(f"/cm/lists/{int(list_id)}/fields"),
                                 params={"includeGlobals": "true" if include_globals else "false"})
        body = response.json()
        rows = body.get("rows", []) if isinstance(body, dict) else body
        return [ListField.model_validate(row) for row in rows]

    @api_call
    def add_list_agents(self, list_id: int, agent_ids: Sequence[int]) -> Flow[None]:
        """``POST /api/cm/lists/{ListId}/users`` ``{"id": ListId, "ids": [...]}`` (set-like: safe to resend)."""
        body = ListAgents(id=int(list_id), ids=list(agent_ids)).model_dump()
        yield Request("POST", self._path(f"/cm/lists/{int(list_id)}/users"), json=body, idempotent=True)

    # -- contacts -----------------------------------------------------------------------------

    @api_call
    def create_contact(self, contact: dict[str, Any]) -> Flow[Contact]:
        """``POST /api/cm/contacts`` with one contact (see :func:`xcally_contact`)."""
        body = ContactIn.model_validate(contact).wire()
        response = yield Request("POST", self._path("/cm/contacts"), json=body)
        return Contact.model_validate(response.json())

    @api_call
    def add_contacts(self, list_id: int, contacts: Sequence[dict[str, Any]]) -> Flow[BulkAddResult]:
        """``POST /api/cm/lists/{ListId}/contacts`` with a JSON array; each contact carries ``ListId``."""
        body = []
        for contact in contacts:
            wire = ContactIn.model_validate(contact).wire()
            if wire["ListId"] != int(list_id):
                raise ValueError(f"contact for list {wire['ListId']} sent to list {list_id}")
            body.append(wire)
        return (yield from self._add_contacts_flow(list_id, body))

    def _add_contacts_flow(self, list_id: int, body: list[dict[str, Any]]) -> Flow[BulkAddResult]:
        """The bulk add request for wire contacts (``add_contacts`` and the list path)."""
        response = yield Request("POST", self._path(f"/cm/lists/{int(list_id)}/contacts"),
                                 content=to_json(body), headers={"Content-Type": "application/json"})
        ids: list[int] = []
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        if isinstance(answer, list):
            ids = [row["id"] for row in answer if isinstance(row, dict) and isinstance(row.get("id"), int)]
        return BulkAddResult(sent=len(body), ids=ids)

    @api_call
    def count_contacts(self, list_id: int) -> Flow[int]:
        """Contacts in a list: ``GET /api/cm/contacts?ListId=&limit=1&fields=id`` (``count`` or ``Content-Range``)."""
        response = yield Request("GET", self._path("/cm/contacts"),
                                 params={"ListId": int(list_id), "limit": 1, "fields": "id"})
        return _total(response, response.json())

    @api_call
    def find_contacts_by_phone(self, list_id: int, phones: Iterable[str]) -> Flow[dict[str, list[Contact]]]:
        """Contacts of a list per phone, one equality-filtered read each (resolves a batch whose fate is unknown).

        ``phones`` must be spelt as they were sent (see ``phone_format``).
        """
        found: dict[str, list[Contact]] = {}
        for phone in dict.fromkeys(phones):
            response = yield Request("GET", self._path("/cm/contacts"), params={
                "ListId": int(list_id), "phone": phone, "fields": "id,firstName,lastName,phone,ListId",
                "limit": PAGE_SIZE,
            })
            found[phone] = Page[Contact].model_validate(response.json()).rows
        return found

    @api_call
    def contact_phones(self, list_id: int) -> Flow[set[str]]:
        """Every phone a list holds, read in pages of :data:`LIST_READ_PAGE` (``fields=id,phone``, by id).

        Cheaper than :meth:`find_contacts_by_phone` when a chunk has more leads than the list has pages.
        """
        phones: set[str] = set()
        offset = 0
        while True:
            response = yield Request("GET", self._path("/cm/contacts"), params={
                "ListId": int(list_id), "fields": "id,phone", "limit": LIST_READ_PAGE, "offset": offset, "sort": "id"})
            page = Page[Contact].model_validate(response.json())
            phones.update(row.phone for row in page.rows if row.phone)
            offset += len(page.rows)
            if not page.rows or offset >= page.count:
                return phones

    # -- CSV upload (D5) ----------------------------------------------------------------------

    def _stage(self, csv_bytes: bytes, filename: str) -> Request:
        identifier = f"{len(csv_bytes)}-{uuid.uuid4().hex}"
        size = str(len(csv_bytes))
        data = {
            "flowChunkNumber": "1", "flowChunkSize": size, "flowCurrentChunkSize": size, "flowTotalSize": size,
            "flowIdentifier": identifier, "flowFilename": filename, "flowRelativePath": filename,
            "flowTotalChunks": "1",
        }
        # staging only stores a temporary file on the server: resending it is harmless
        return Request("POST", self._path("/cm/contacts/upload"), data=data,
                       files={"file": (filename, csv_bytes, "text/csv")}, idempotent=True)

    @api_call
    def stage_csv(self, csv_bytes: bytes, filename: str = "contacts.csv") -> Flow[str]:
        """Step 1: ``POST /api/cm/contacts/upload`` (multipart, flow.js fields) -> the staged file name."""
        response = yield self._stage(csv_bytes, filename)
        return StagedUpload.model_validate(response.json()).file.name

    @api_call
    def import_csv(self, staged_name: str, list_id: int, binding: dict[str, str],
                   duplicates: Sequence[str] | None = ("phone",)) -> Flow[int]:
        """Step 2: ``POST /api/cm/contacts/upload/{stagedName}`` -> ``pid``; contacts then load in the background."""
        body = CsvImport(id=staged_name, ListId=int(list_id), binding=dict(binding),
                         duplicates=list(duplicates) if duplicates else None).model_dump(by_alias=True, exclude_none=True)
        response = yield Request("POST", self._path(f"/cm/contacts/upload/{staged_name}"), json=body)
        return ImportStarted.model_validate(response.json()).pid

    @api_call
    def upload_csv(self, list_id: int, csv_bytes: bytes, binding: dict[str, str],
                   duplicates: Sequence[str] | None = ("phone",), filename: str | None = None) -> Flow[int]:
        """Both steps of D5: stage the file, then bind its columns into ``list_id``; returns the import ``pid``.

        Completion is not signalled by Motion: poll :meth:`import_progress` (or :meth:`wait_for_import`).
        """
        name = filename or f"list-{int(list_id)}-{uuid.uuid4().hex[:8]}.csv"
        response = yield self._stage(csv_bytes, name)
        staged = StagedUpload.model_validate(response.json()).file.name
        body = CsvImport(id=staged, ListId=int(list_id), binding=dict(binding),
                         duplicates=list(duplicates) if duplicates else None).model_dump(by_alias=True, exclude_none=True)
        response = yield Request("POST", self._path(f"/cm/contacts/upload/{staged}"), json=body)
        return ImportStarted.model_validate(response.json()).pid

    @api_call
    def import_progress(self, list_id: int, expected: int) -> Flow[ImportProgress]:
        """D5: how far a CSV import is, read as the list's contact count against the expected total."""
        count = yield from self.count_contacts.flow(self, list_id)  # type: ignore[attr-defined]
        return ImportProgress(list_id=int(list_id), count=count, expected=int(expected))

    def wait_for_import(self, list_id: int, expected: int, timeout: float = 600.0, poll_interval: float = 2.0) -> int:
        """Poll the list's contact count until it reaches ``expected``; raise DialerJobFailedError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            progress = self.import_progress(list_id, expected)
            if progress.done:
                return progress.count
            if time.monotonic() + poll_interval > deadline:
                raise DialerJobFailedError(
                    self.vendor, f"CSV import into list {list_id}", "timed out",
                    f"{progress.count} of {expected} contacts after {timeout:.0f}s (duplicates skipped by the "
                    "import also keep the count below the expected number)",
                )
            time.sleep(poll_interval)

    # -- queue campaigns ----------------------------------------------------------------------

    @api_call
    def create_campaign(self, campaign: QueueCampaign | dict[str, Any]) -> Flow[QueueCampaignOut]:
        """``POST /api/voice/queues`` with an outbound queue campaign (unset fields take the document's values)."""
        model = campaign if isinstance(campaign, QueueCampaign) else QueueCampaign.model_validate(campaign)
        response = yield Request("POST", self._path("/voice/queues"), json=model.wire())
        return QueueCampaignOut.model_validate(response.json())

    @api_call
    def get_campaign(self, campaign_id: int) -> Flow[QueueCampaignOut | None]:
        """``GET /api/voice/queues/{id}``; None on 404."""
        response = yield Request("GET", self._path(f"/voice/queues/{int(campaign_id)}"),
                                 accept_statuses=frozenset({404}))
        return None if response.status_code == 404 else QueueCampaignOut.model_validate(response.json())

    @api_call
    def list_campaigns(self, active: bool | None = None, name: str | None = None,
                       limit: int = PAGE_SIZE, offset: int = 0) -> Flow[Page[QueueCampaignOut]]:
        """``GET /api/voice/queues?type=outbound`` (equality filters ``dialActive``, ``name``)."""
        params: dict[str, Any] = {"type": "outbound", "limit": limit, "offset": offset, "sort": "id",
                                  "fields": "id,name,type,dialMethod,TrunkId,IntervalId,dialTimezone,dialActive,"
                                            "dialCheckDuplicateType"}
        if active is not None:
            params["dialActive"] = "true" if active else "false"
        if name is not None:
            params["name"] = name
        response = yield Request("GET", self._path("/voice/queues"), params=params)
        return Page[QueueCampaignOut].model_validate(response.json())

    @api_call
    def find_queue_campaign(self, name: str) -> Flow[QueueCampaignOut | None]:
        """The outbound queue campaign named exactly ``name``, or None (the capability
        :meth:`find_campaign_by_name` returns the same as a JSON-able dict)."""
        page = yield from self.list_campaigns.flow(self, name=name)  # type: ignore[attr-defined]
        return next((row for row in page.rows if row.name == name), None)

    @api_call
    def update_campaign(self, campaign_id: int, changes: dict[str, Any]) -> Flow[QueueCampaignOut]:
        """``PUT /api/voice/queues/{id}`` with only the given fields (validated like a create)."""
        body = campaign_update_body(changes)
        if not body:
            raise ValueError("update_campaign needs at least one field")
        response = yield Request("PUT", self._path(f"/voice/queues/{int(campaign_id)}"), json=body, idempotent=True)
        return QueueCampaignOut.model_validate(response.json())

    @api_call
    def set_campaign_active(self, campaign_id: int, active: bool) -> Flow[QueueCampaignOut]:
        """Activate (``dialActive: true``) or deactivate a campaign."""
        return (yield from self.update_campaign.flow(self, campaign_id, {"dialActive": bool(active)}))  # type: ignore[attr-defined]

    @api_call
    def attach_lists(self, campaign_id: int, list_ids: Sequence[int]) -> Flow[None]:
        """``POST /api/voice/queues/{id}/lists`` ``{"id": id, "ids": [...]}``: the lists' contacts feed the hopper."""
        body = AttachLists(id=int(campaign_id), ids=list(list_ids)).model_dump()
        yield Request("POST", self._path(f"/voice/queues/{int(campaign_id)}/lists"), json=body, idempotent=True)

    @api_call
    def campaign_lists(self, campaign_id: int) -> Flow[list[CmList]]:
        """``GET /api/voice/queues/{id}/lists`` (a bare array; a ``{count, rows}`` answer is read too)."""
        response = yield Request("GET", self._path(f"/voice/queues/{int(campaign_id)}/lists"))
        body = response.json()
        rows = body.get("rows", []) if isinstance(body, dict) else body
        return [CmList.model_validate(row) for row in rows]

    @api_call
    def detach_lists(self, campaign_id: int, list_ids: Sequence[int]) -> Flow[None]:
        """``DELETE /api/voice/queues/{id}/lists?ids=7&ids=8``."""
        if not list_ids:
            raise ValueError("detach_lists needs at least one list id")
        params = [("ids", int(i)) for i in list_ids]
        yield Request("DELETE", self._path(f"/voice/queues/{int(campaign_id)}/lists"), params=params, idempotent=True)

    @api_call
    def add_campaign_agents(self, campaign_id: int, agent_ids: Sequence[int], penalty: int = 0) -> Flow[None]:
        """``POST /api/voice/queues/{id}/users`` ``{"id", "ids", "penalty": "0"}``."""
        body = CampaignAgents(id=int(campaign_id), ids=list(agent_ids), penalty=str(int(penalty))).model_dump()
        yield Request("POST", self._path(f"/voice/queues/{int(campaign_id)}/users"), json=body, idempotent=True)

    @api_call
    def campaign_agents(self, campaign_id: int) -> Flow[list[User]]:
        """``GET /api/voice/queues/{id}/users``: the agents attached to a queue campaign (every page)."""
        agents: list[User] = []
        while True:
            response = yield Request("GET", self._path(f"/voice/queues/{int(campaign_id)}/users"), params={
                "fields": "id,name,fullname,role", "limit": LIST_READ_PAGE, "offset": len(agents), "sort": "id"})
            page = Page[User].model_validate(response.json())
            agents.extend(page.rows)
            if not page.rows or len(agents) >= page.count:
                return agents

    @api_call
    def hopper_histories(self, campaign_id: int, limit: int = 10, offset: int = 0) -> Flow[Page[HopperHistory]]:
        """``GET /api/voice/queues/{id}/hopper_histories``: the latest call attempts, newest first."""
        response = yield Request("GET", self._path(f"/voice/queues/{int(campaign_id)}/hopper_histories"), params={
            "VoiceQueueId": int(campaign_id), "fields": "id,VoiceQueueId,statedesc,starttime,endtime,ContactId,ListId",
            "limit": limit, "offset": offset, "sort": "-id",
        })
        return Page[HopperHistory].model_validate(response.json())

    # -- agents ---------------------------------------------------------------------------------

    @api_call
    def list_agents(self, limit: int = PAGE_SIZE, offset: int = 0) -> Flow[Page[User]]:
        """``GET /api/users?role=agent``."""
        response = yield Request("GET", self._path("/users"), params={
            "role": "agent", "fields": "id,name,fullname,role", "limit": limit, "offset": offset, "sort": "id"})
        return Page[User].model_validate(response.json())

    @api_call
    def realtime_agents(self) -> Flow[Page[RealtimeAgent]]:
        """``GET /api/realtime/agents?channel=voice&nolimit=true``: who is online and their voice status."""
        response = yield Request("GET", self._path("/realtime/agents"),
                                 params={"channel": "voice", "nolimit": "true", "sort": "fullname"})
        return Page[RealtimeAgent].model_validate(response.json())

    # ==========================================================================================
    # capabilities (capabilities.py): what the vendor-neutral operators call
    #
    # ListUploader, ListStateWatcher, FreshLeadPusher, CampaignCreator, CampaignController.
    # Motion has no DialerTask, its documents give no contact removal, and a CSV import has no job
    # to read (D5): DialerTaskAdder, LeadRemover and ImportJobWatcher stay absent on purpose, so the
    # operators raise UnsupportedCapabilityError before any request.
    # ==========================================================================================

    #: leads per bulk add (JSON array) and per CSV import file
    batch_chunk_size: ClassVar[int] = 1000
    csv_chunk_size: ClassVar[int] = 50_000
    fresh_chunk_size: ClassVar[int] = 100
    fresh_per_lead_schedule: ClassVar[bool] = True
    #: after a lost CSV import answer, wait until the list has not grown for this long before calling leads missing
    resolve_settle_seconds: ClassVar[float] = 2.0
    #: ... and never longer than this in all (a large import still running is then trusted to the count read)
    resolve_settle_max_seconds: ClassVar[float] = 120.0
    resolve_poll_seconds: ClassVar[float] = 0.25
    campaign_commands: ClassVar[frozenset[str]] = frozenset({"activate", "deactivate"})

    _LIST_SETTINGS: ClassVar[frozenset[str]] = frozenset(
        {"mode", "agents", "campaign_id", "duplicates", "phone_format", "first_name_fallback"})
    _FRESH_SETTINGS: ClassVar[frozenset[str]] = frozenset({"list_id", "list_name", "phone_format", "first_name_fallback"})

    # -- shared by list uploads and fresh leads ---------------------------------------------------

    @staticmethod
    def _check_settings(settings: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise DialerConfigError(f"XCALLY {what}: unknown settings {unknown}; allowed: {sorted(allowed)}")

    def _contact_options(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``phone_format`` / ``first_name_fallback``: the settings, else the connection extras."""
        phone_format = str(settings.get("phone_format") or self.extras.get("phone_format") or "digits").lower()
        if phone_format not in ("digits", "e164"):
            raise DialerConfigError(f"XCALLY phone_format must be 'digits' or 'e164', got {phone_format!r}")
        fallback = settings.get("first_name_fallback") or self.extras.get("first_name_fallback") or None
        return {"phone_format": phone_format, "first_name_fallback": str(fallback) if fallback else None}

    def _find_or_create_list(self, name: str) -> CmList:
        """The list named exactly ``name``, created when absent (a lost create answer is read back by name)."""
        found = self.find_list_by_name(name)
        if found is not None:
            return found
        try:
            return self.create_list(name)
        except (DialerDeliveryUnknownError, DialerHTTPError) as exc:
            # a lost answer, or a unique-name refusal because another task created it meanwhile
            if isinstance(exc, DialerHTTPError) and exc.status != 400:
                raise
            found = self.find_list_by_name(name)
            if found is None:
                raise
            return found

    def _wire_contacts(
        self, target: Mapping[str, Any], leads: Sequence[PreparedLead]
    ) -> tuple[list[tuple[PreparedLead, dict[str, Any]]], list[dict[str, Any]]]:
        """Each lead's Motion contact; a lead Motion would refuse (e.g. priority < 1) is a refusal, not a failed chunk."""
        good: list[tuple[PreparedLead, dict[str, Any]]] = []
        refused: list[dict[str, Any]] = []
        for lead in leads:
            try:
                # xcally_contact refuses with ValueError whatever ContactIn would refuse (a unit test pins it)
                contact = xcally_contact(lead, list_id=int(target["list_id"]), phone_format=target["phone_format"],
                                         first_name_fallback=target.get("first_name_fallback"))
            except ValueError as exc:
                refused.append({"row": lead.row, "reason": "invalid_contact", "detail": self.redact(str(exc))[:200]})
                continue
            good.append((lead, contact))
        return good, refused

    def _chunk_mode(self, target: Mapping[str, Any], leads: Sequence[PreparedLead]) -> str:
        """``batch`` or ``csv`` for one chunk; ``auto`` sends a chunk of up to ``batch_chunk_size`` leads
        as one bulk add and a larger one as a CSV import (decided by the chunk alone, so a retry decides alike)."""
        mode = target.get("mode") or "batch"
        if mode == "auto":
            return "csv" if len(leads) > self.batch_chunk_size else "batch"
        return str(mode)

    def _push(self, target: Mapping[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        good, refused = self._wire_contacts(target, leads)
        if not good:
            return ChunkOutcome(refused=refused)
        list_id = int(target["list_id"])
        if self._chunk_mode(target, leads) == "csv":
            csv_bytes = contacts_csv([lead for lead, _ in good], phone_format=target["phone_format"],
                                     first_name_fallback=target.get("first_name_fallback"))
            slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-") or "chunk"
            pid = self.upload_csv(list_id, csv_bytes, csv_binding(csv_bytes), duplicates=target.get("duplicates") or None,
                                  filename=f"list-{list_id}-{slug}.csv")
            return ChunkOutcome(accepted=len(good), refused=refused, ids={"pids": [pid]})
        self.run_flow(self._add_contacts_flow(list_id, [contact for _, contact in good]))
        return ChunkOutcome(accepted=len(good), refused=refused)

    def _phones_in_list(self, list_id: int, phones: Sequence[str]) -> set[str]:
        """Which of ``phones`` (spelt as sent) the list holds: one read per phone, or the list's pages when fewer."""
        wanted = set(phones)
        if not wanted:
            return set()
        total = self.count_contacts(list_id)
        if total == 0:
            return set()
        if -(-total // LIST_READ_PAGE) < len(wanted):
            return self.contact_phones(list_id) & wanted
        found = self.find_contacts_by_phone(list_id, sorted(wanted))
        return {phone for phone, rows in found.items() if rows}

    def _wait_until_list_settles(self, list_id: int) -> None:
        """A CSV import stores contacts progressively: wait until the count stops growing (bounded)."""
        started = changed = time.monotonic()
        last = self.count_contacts(list_id)
        while True:
            now = time.monotonic()
            if now - changed >= self.resolve_settle_seconds or now - started >= self.resolve_settle_max_seconds:
                return
            time.sleep(self.resolve_poll_seconds)
            count = self.count_contacts(list_id)
            if count != last:
                last, changed = count, time.monotonic()

    def _resolve(self, target: Mapping[str, Any], leads: Sequence[PreparedLead], settle: bool) -> ChunkOutcome:
        """After a lost answer: the leads whose phone the list holds landed; the others are missing (sent again).

        A phone the list already held before this upload also counts as landed: it will not be dialed twice.
        """
        good, refused = self._wire_contacts(target, leads)
        list_id = int(target["list_id"])
        phones = [contact["phone"] for _, contact in good]
        landed = self._phones_in_list(list_id, phones)
        if settle and len(landed) < len(set(phones)):
            self._wait_until_list_settles(list_id)
            landed = self._phones_in_list(list_id, phones)
        accepted = [lead.row for lead, contact in good if contact["phone"] in landed]
        missing = [lead.row for lead, contact in good if contact["phone"] not in landed]
        return ChunkOutcome(accepted=len(accepted), refused=refused, missing=missing, how="resolved")

    # -- ListUploader / ListStateWatcher ----------------------------------------------------------

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Reuse the list named exactly ``list_name`` or create it; add ``agents``; attach it to ``campaign_id``.

        ``mode``: ``batch`` (default: bulk adds of 1,000, synchronous), ``csv`` (two-step CSV imports of
        50,000, loaded in the background), or ``auto``: chunks of 50,000, each sent as one bulk add when
        it holds at most 1,000 leads (so a small list is stored at once) and as a CSV import otherwise.
        ``duplicates`` (CSV only, default ``["phone"]``):
        fields Motion's import uses to skip contacts the list already has. ``baseline`` is the list's
        contact count before the upload: a CSV wait expects ``baseline + accepted``.
        """
        self._check_settings(settings, self._LIST_SETTINGS, "list upload")
        mode = str(settings.get("mode") or "batch").lower()
        if mode not in ("batch", "csv", "auto"):
            raise DialerConfigError(f"XCALLY list upload mode must be 'batch', 'csv' or 'auto', got {mode!r}")
        duplicates = settings.get("duplicates", ["phone"])
        if isinstance(duplicates, str):
            duplicates = [d.strip() for d in duplicates.split(",") if d.strip()]
        agents = int_ids(settings.get("agents"), "agents")
        campaign_ids = int_ids(settings.get("campaign_id"), "campaign_id")
        if len(campaign_ids) > 1:
            raise DialerConfigError(f"XCALLY campaign_id must be one queue campaign id, got {settings['campaign_id']!r}")
        options = self._contact_options(settings)
        lst = self._find_or_create_list(list_name)
        if agents:
            self.add_list_agents(lst.id, agents)
        if campaign_ids:
            self.attach_lists(campaign_ids[0], [lst.id])
        target: dict[str, Any] = {
            "list_id": lst.id,
            "list_name": lst.name,
            "mode": mode,
            "baseline": self.count_contacts(lst.id),
            "duplicates": list(duplicates or []),
            **options,
        }
        if campaign_ids:
            target["campaign_id"] = campaign_ids[0]
        return target

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.batch_chunk_size if target.get("mode", "batch") == "batch" else self.csv_chunk_size

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """``batch``: one bulk add (each contact with its ``scheduledat``); ``csv``: one CSV import (its ``pid``);
        ``auto``: whichever fits the chunk's size (see :meth:`open_list_target`)."""
        return self._push(target, key, leads)

    def resolve_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        """Read the list by phone; a CSV import may still be storing, so wait for the list to settle first."""
        return self._resolve(target, leads, settle=self._chunk_mode(target, leads) == "csv")

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        """CSV imports load in the background (D5): wait until the list holds ``baseline + accepted``.

        Nothing to wait for when no chunk went as a CSV import (``batch``, or ``auto`` with a small list)."""
        if target.get("mode") == "batch" or (target.get("mode") == "auto" and not (summary.get("ids") or {}).get("pids")):
            return None
        expected = int(target.get("baseline") or 0) + int(summary.get("accepted") or 0)
        return {"kind": "list_loaded", "targets": [{"list_id": target["list_id"], "expected": expected}]}

    @staticmethod
    def _loaded(target: Mapping[str, Any], count: int) -> WaitState:
        expected = int(target["expected"])
        return WaitState(status=f"{count}/{expected} contacts", done=count >= expected, failed=False)

    def list_state(self, target: dict[str, Any]) -> WaitState:
        return self._loaded(target, self.count_contacts(int(target["list_id"])))

    async def alist_state(self, target: dict[str, Any]) -> WaitState:
        return self._loaded(target, await self.acount_contacts(int(target["list_id"])))  # type: ignore[attr-defined]

    # -- FreshLeadPusher ----------------------------------------------------------------------------

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]:
        """An EXISTING list: ``{"list_id": 12}`` or ``{"list_name": "fresh"}`` (never created here)."""
        self._check_settings(settings, self._FRESH_SETTINGS, "fresh leads")
        list_id, list_name = settings.get("list_id"), settings.get("list_name")
        if (list_id in (None, "")) == (not list_name):
            raise DialerConfigError("XCALLY fresh leads need settings={'list_id': <id>} or {'list_name': <name>} (one of them)")
        options = self._contact_options(settings)
        if list_id not in (None, ""):
            ids = int_ids(list_id, "list_id")
            lst = self.get_list(ids[0]) if len(ids) == 1 else None
            if lst is None:
                raise DialerConfigError(f"XCALLY has no contact list with id {list_id!r}")
        else:
            lst = self.find_list_by_name(str(list_name))
            if lst is None:
                raise DialerConfigError(
                    f"XCALLY has no contact list named {list_name!r}: fresh leads go into an existing list; "
                    "create it first (UploadListOperator) or pass settings={'list_id': <id>}"
                )
        return {"list_id": lst.id, "list_name": lst.name, "mode": "batch", **options}

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        return self._push(target, key, leads)

    def resolve_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome | None:
        return self._resolve(target, leads, settle=False)  # a bulk add is synchronous

    # -- CampaignCreator ------------------------------------------------------------------------------

    def find_campaign_by_name(self, name: str) -> dict[str, Any] | None:
        """The outbound queue campaign named exactly ``name`` as a JSON-able dict (wire names, ``id``), or None."""
        found = self.find_queue_campaign(name)
        return found.model_dump(mode="json", by_alias=True, exclude_none=True) if found is not None else None

    def build_campaign(self, common: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """See :func:`~airflow_provider_dialer.hooks.xcally.campaign.build_campaign_wanted` (no request)."""
        return build_campaign_wanted(common, settings)

    def _campaign_now(self, campaign_id: int, wanted: Mapping[str, Any]) -> tuple[dict[str, Any], list[int], list[int]]:
        campaign = self.get_campaign(campaign_id)
        if campaign is None:
            raise DialerConfigError(f"XCALLY queue campaign {campaign_id} no longer exists")
        lists = [lst.id for lst in self.campaign_lists(campaign_id)] if wanted.get(LISTS_KEY) else []
        agents = [user.id for user in self.campaign_agents(campaign_id)] if wanted.get(AGENTS_KEY) else []
        return campaign.model_dump(mode="json", by_alias=True), lists, agents

    def campaign_differences(self, existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """Field -> (existing, wanted) for the fields the DAG set that differ, plus missing ``lists`` / ``agents``."""
        current, lists, agents = self._campaign_now(int(existing["id"]), wanted)
        return campaign_differences(current, wanted, lists, agents)

    def _attach(self, campaign_id: int, lists: Sequence[int], agents: Sequence[int]) -> None:
        # agents first: a campaign created active must not dial a list before anyone can take the calls
        if agents:
            self.add_campaign_agents(campaign_id, list(agents))
        if lists:
            self.attach_lists(campaign_id, list(lists))

    def create_campaign_from(self, wanted: dict[str, Any]) -> int:
        created = self.create_campaign(campaign_body(wanted))
        self._attach(created.id, wanted.get(LISTS_KEY) or [], wanted.get(AGENTS_KEY) or [])
        return created.id

    def update_campaign_from(self, campaign_id: Any, wanted: dict[str, Any]) -> None:
        """A partial PUT of the differing fields; missing lists and agents are attached."""
        campaign_id = int(campaign_id)
        differences = self.campaign_differences({"id": campaign_id}, wanted)
        changes = {field: wanted.get(field) for field in differences if field not in ("lists", "agents")}
        if changes:
            self.update_campaign(campaign_id, changes)
        self._attach(campaign_id, missing_ids(differences, "lists"), missing_ids(differences, "agents"))

    # -- CampaignController ---------------------------------------------------------------------------

    def control(self, campaign_id: Any, command: str) -> dict[str, Any]:
        """``activate`` / ``deactivate``: ``PUT /api/voice/queues/{id}`` ``{"dialActive": true|false}``."""
        if command not in self.campaign_commands:
            raise UnsupportedCapabilityError(self.vendor, f"campaign command {command!r}",
                                             f"XCALLY accepts {', '.join(sorted(self.campaign_commands))}")
        ids = int_ids(campaign_id, "campaign_id")
        if len(ids) != 1:
            raise DialerConfigError(f"XCALLY campaign_id must be one queue campaign id, got {campaign_id!r}")
        campaign = self.set_campaign_active(ids[0], command == "activate")
        return {"id": campaign.id, "name": campaign.name, "dialActive": campaign.dial_active}
