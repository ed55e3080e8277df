"""XCallyHook: what exactly we send to an XCALLY Motion server (self-hosted, ``https://{host}/api``).

Over 500 lines because Motion needs the most endpoints of the four vendors (lists, contacts, campaigns,
agents, staged CSV imports); the file is one method per documented endpoint, as every vendor's hook.py is.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic_core import to_json

from airflow_provider_dialer.exceptions import (
    DialerConfigError,
    DialerHTTPError,
    DialerJobFailedError,
    DialerValueError,
)
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.hooks.xcally.verbs import XCallyVerbs
from airflow_provider_dialer.hooks.xcally.wire import (
    LEAD_FIELD_LIMITS,
    LIST_READ_PAGE,
    PAGE_SIZE,
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
)
from airflow_provider_dialer.transport.auth import basic_authorization
from airflow_provider_dialer.transport.requests import Flow, Request, api_call, json_array


def _total(response: Any, body: Any) -> int:
    """A collection's total: ``count`` in the body, else the ``Content-Range: a-b/total`` header."""
    if isinstance(body, dict) and isinstance(body.get("count"), int):
        count: int = body["count"]
        return count
    header = response.headers.get("Content-Range", "")
    tail = header.rpartition("/")[2].strip()
    if tail.isdigit():
        return int(tail)
    raise DialerHTTPError(
        "XCALLY",
        response.request.method,
        response.request.url.path,
        response.status_code,
        "collection answer has neither count nor Content-Range",
        "",
    )


class XCallyHook(XCallyVerbs, DialerHook):
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
    #: lead field -> most characters Motion stores (see ``wire.LEAD_FIELD_LIMITS``); checked at preparation
    lead_field_limits: ClassVar[Mapping[str, int]] = LEAD_FIELD_LIMITS
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
            self._basic = basic_authorization(conn.login, conn.password)
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
            response = yield Request(
                "GET",
                self._path("/cm/lists"),
                params={
                    "filter": name,
                    "fields": "id,name,description,createdAt,updatedAt",
                    "limit": PAGE_SIZE,
                    "offset": offset,
                    "sort": "id",
                },
            )
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
        response = yield Request(
            "GET",
            self._path(f"/cm/lists/{int(list_id)}/fields"),
            params={"includeGlobals": "true" if include_globals else "false"},
        )
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
                raise DialerValueError(f"contact for list {wire['ListId']} sent to list {list_id}")
            body.append(wire)
        return (yield from self._add_contacts_flow(list_id, [to_json(wire) for wire in body]))

    def _add_contacts_flow(self, list_id: int, encoded: list[bytes], read_ids: bool = True) -> Flow[BulkAddResult]:
        """The bulk add request for contacts already encoded (``add_contacts`` and the list path).

        ``read_ids=False`` leaves the answer unparsed (``ids`` empty): the list path counts what it sent
        and never uses the ids, and parsing the answer to a 1,000-contact add costs as much as mapping them."""
        response = yield Request(
            "POST",
            self._path(f"/cm/lists/{int(list_id)}/contacts"),
            content=json_array(encoded),
            headers={"Content-Type": "application/json"},
        )
        ids: list[int] = []
        if not read_ids:
            return BulkAddResult(sent=len(encoded))
        try:
            answer = response.json() if response.content else None
        except ValueError:
            answer = None
        if isinstance(answer, list):
            ids = [row["id"] for row in answer if isinstance(row, dict) and isinstance(row.get("id"), int)]
        return BulkAddResult(sent=len(encoded), ids=ids)

    @api_call
    def count_contacts(self, list_id: int) -> Flow[int]:
        """Contacts in a list: ``GET /api/cm/contacts?ListId=&limit=1&fields=id`` (``count`` or ``Content-Range``)."""
        response = yield Request(
            "GET", self._path("/cm/contacts"), params={"ListId": int(list_id), "limit": 1, "fields": "id"}
        )
        return _total(response, response.json())

    @api_call
    def find_contacts_by_phone(self, list_id: int, phones: Iterable[str]) -> Flow[dict[str, list[Contact]]]:
        """Contacts of a list per phone, one equality-filtered read each (resolves a batch whose fate is unknown).

        ``phones`` must be spelt as they were sent (see ``phone_format``).
        """
        found: dict[str, list[Contact]] = {}
        for phone in dict.fromkeys(phones):
            response = yield Request(
                "GET",
                self._path("/cm/contacts"),
                params={
                    "ListId": int(list_id),
                    "phone": phone,
                    "fields": "id,firstName,lastName,phone,ListId",
                    "limit": PAGE_SIZE,
                },
            )
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
            response = yield Request(
                "GET",
                self._path("/cm/contacts"),
                params={
                    "ListId": int(list_id),
                    "fields": "id,phone",
                    "limit": LIST_READ_PAGE,
                    "offset": offset,
                    "sort": "id",
                },
            )
            page = Page[Contact].model_validate(response.json())
            phones.update(row.phone for row in page.rows if row.phone)
            offset += len(page.rows)
            if not page.rows or offset >= page.count:
                return phones

    # -- CSV upload (docs/vendors/xcally.md#decision-csv-upload-as-flowjs-multipart) ----------

    def _stage(self, csv_bytes: bytes, filename: str) -> Request:
        identifier = f"{len(csv_bytes)}-{uuid.uuid4().hex}"
        size = str(len(csv_bytes))
        data = {
            "flowChunkNumber": "1",
            "flowChunkSize": size,
            "flowCurrentChunkSize": size,
            "flowTotalSize": size,
            "flowIdentifier": identifier,
            "flowFilename": filename,
            "flowRelativePath": filename,
            "flowTotalChunks": "1",
        }
        # staging only stores a temporary file on the server: resending it is harmless
        return Request(
            "POST",
            self._path("/cm/contacts/upload"),
            data=data,
            files={"file": (filename, csv_bytes, "text/csv")},
            idempotent=True,
        )

    @api_call
    def stage_csv(self, csv_bytes: bytes, filename: str = "contacts.csv") -> Flow[str]:
        """Step 1: ``POST /api/cm/contacts/upload`` (multipart, flow.js fields) -> the staged file name."""
        response = yield self._stage(csv_bytes, filename)
        return StagedUpload.model_validate(response.json()).file.name

    @api_call
    def import_csv(
        self, staged_name: str, list_id: int, binding: dict[str, str], duplicates: Sequence[str] | None = ("phone",)
    ) -> Flow[int]:
        """Step 2: ``POST /api/cm/contacts/upload/{stagedName}`` -> ``pid``; contacts then load in the background."""
        body = CsvImport(
            id=staged_name,
            ListId=int(list_id),
            binding=dict(binding),
            duplicates=list(duplicates) if duplicates else None,
        ).model_dump(by_alias=True, exclude_none=True)
        response = yield Request("POST", self._path(f"/cm/contacts/upload/{staged_name}"), json=body)
        return ImportStarted.model_validate(response.json()).pid

    @api_call
    def upload_csv(
        self,
        list_id: int,
        csv_bytes: bytes,
        binding: dict[str, str],
        duplicates: Sequence[str] | None = ("phone",),
        filename: str | None = None,
    ) -> Flow[int]:
        """Both steps of the CSV upload (docs/vendors/xcally.md#decision-csv-upload-as-flowjs-multipart): stage the file, then bind its columns into ``list_id``; returns the import ``pid``.

        Completion is not signalled by Motion: poll :meth:`import_progress` (or :meth:`wait_for_import`).
        """
        name = filename or f"list-{int(list_id)}-{uuid.uuid4().hex[:8]}.csv"
        response = yield self._stage(csv_bytes, name)
        staged = StagedUpload.model_validate(response.json()).file.name
        body = CsvImport(
            id=staged, ListId=int(list_id), binding=dict(binding), duplicates=list(duplicates) if duplicates else None
        ).model_dump(by_alias=True, exclude_none=True)
        response = yield Request("POST", self._path(f"/cm/contacts/upload/{staged}"), json=body)
        return ImportStarted.model_validate(response.json()).pid

    @api_call
    def import_progress(self, list_id: int, expected: int) -> Flow[ImportProgress]:
        """How far a CSV import is, read as the list's contact count against the expected total (docs/vendors/xcally.md#decision-csv-import-completion-by-contact-count)."""
        count = yield from self.count_contacts.flow(self, list_id)
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
                    self.vendor,
                    f"CSV import into list {list_id}",
                    "timed out",
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
        response = yield Request(
            "GET", self._path(f"/voice/queues/{int(campaign_id)}"), accept_statuses=frozenset({404})
        )
        return None if response.status_code == 404 else QueueCampaignOut.model_validate(response.json())

    @api_call
    def list_campaigns(
        self, active: bool | None = None, name: str | None = None, limit: int = PAGE_SIZE, offset: int = 0
    ) -> Flow[Page[QueueCampaignOut]]:
        """``GET /api/voice/queues?type=outbound`` (equality filters ``dialActive``, ``name``)."""
        params: dict[str, Any] = {
            "type": "outbound",
            "limit": limit,
            "offset": offset,
            "sort": "id",
            "fields": "id,name,type,dialMethod,TrunkId,IntervalId,dialTimezone,dialActive,dialCheckDuplicateType",
        }
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
        page = yield from self.list_campaigns.flow(self, name=name)
        return next((row for row in page.rows if row.name == name), None)

    @api_call
    def update_campaign(self, campaign_id: int, changes: dict[str, Any]) -> Flow[QueueCampaignOut]:
        """``PUT /api/voice/queues/{id}`` with only the given fields (validated like a create)."""
        body = campaign_update_body(changes)
        if not body:
            raise DialerValueError("update_campaign needs at least one field")
        response = yield Request("PUT", self._path(f"/voice/queues/{int(campaign_id)}"), json=body, idempotent=True)
        return QueueCampaignOut.model_validate(response.json())

    @api_call
    def set_campaign_active(self, campaign_id: int, active: bool) -> Flow[QueueCampaignOut]:
        """Activate (``dialActive: true``) or deactivate a campaign."""
        return (yield from self.update_campaign.flow(self, campaign_id, {"dialActive": bool(active)}))

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
            raise DialerValueError("detach_lists needs at least one list id")
        params = [("ids", int(i)) for i in list_ids]
        yield Request("DELETE", self._path(f"/voice/queues/{int(campaign_id)}/lists"), params=params, idempotent=True)

    @api_call
    def add_campaign_agents(self, campaign_id: int, agent_ids: Sequence[int], penalty: int = 0) -> Flow[None]:
        """``POST /api/voice/queues/{id}/users`` ``{"id", "ids", "penalty": "0"}``."""
        body = CampaignAgents(id=int(campaign_id), ids=list(agent_ids), penalty=str(int(penalty))).model_dump()
        yield Request("POST", self._path(f"/voice/queues/{int(campaign_id)}/users"), json=body, idempotent=True)

    @api_call
    def campaign_agents(self, campaign_id: int) -> Flow[list[User] | None]:
        """``GET /api/voice/queues/{id}/users``: the agents attached to a queue campaign (every page).

        The XCALLY document gives only the ``POST`` of this path, so a server may not serve the read: a
        404 or 405 returns None ("cannot tell"), never an empty list.
        """
        agents: list[User] = []
        while True:
            response = yield Request(
                "GET",
                self._path(f"/voice/queues/{int(campaign_id)}/users"),
                params={
                    "fields": "id,name,fullname,role",
                    "limit": LIST_READ_PAGE,
                    "offset": len(agents),
                    "sort": "id",
                },
                accept_statuses=frozenset({404, 405}),
            )
            if response.status_code in (404, 405):
                return None
            page = Page[User].model_validate(response.json())
            agents.extend(page.rows)
            if not page.rows or len(agents) >= page.count:
                return agents

    @api_call
    def hopper_histories(self, campaign_id: int, limit: int = 10, offset: int = 0) -> Flow[Page[HopperHistory]]:
        """``GET /api/voice/queues/{id}/hopper_histories``: the latest call attempts, newest first."""
        response = yield Request(
            "GET",
            self._path(f"/voice/queues/{int(campaign_id)}/hopper_histories"),
            params={
                "VoiceQueueId": int(campaign_id),
                "fields": "id,VoiceQueueId,statedesc,starttime,endtime,ContactId,ListId",
                "limit": limit,
                "offset": offset,
                "sort": "-id",
            },
        )
        return Page[HopperHistory].model_validate(response.json())

    # -- agents ---------------------------------------------------------------------------------

    @api_call
    def list_agents(self, limit: int = PAGE_SIZE, offset: int = 0) -> Flow[Page[User]]:
        """``GET /api/users?role=agent``."""
        response = yield Request(
            "GET",
            self._path("/users"),
            params={"role": "agent", "fields": "id,name,fullname,role", "limit": limit, "offset": offset, "sort": "id"},
        )
        return Page[User].model_validate(response.json())

    @api_call
    def realtime_agents(self) -> Flow[Page[RealtimeAgent]]:
        """``GET /api/realtime/agents?channel=voice&nolimit=true``: who is online and their voice status."""
        response = yield Request(
            "GET", self._path("/realtime/agents"), params={"channel": "voice", "nolimit": "true", "sort": "fullname"}
        )
        return Page[RealtimeAgent].model_validate(response.json())
