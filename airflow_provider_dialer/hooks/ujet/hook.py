"""UjetHook: the UJET / Google Cloud CCAI Platform outbound dialer (Apps API contacts and jobs, manager API campaigns).

Base URL: the connection's host; a bare subdomain ``acme`` becomes ``acme.<domain>`` (extra
``domain``, default ``uc1.ccaiplatform.com``). The hook adds ``/apps/api/v1`` and
``/manager/api/v1`` itself. Auth: HTTP Basic ``login:password`` where the password is the API token
(Settings > Developer Settings > API Credentials). Client-side rate limit: 10 requests/s (docs/vendors/ujet.md#decision-rate-limit-10-per-second).
"""

from __future__ import annotations

import base64
import ipaddress
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from airflow_provider_dialer.capabilities import ChunkOutcome, WaitState
from airflow_provider_dialer.exceptions import DialerConfigError, DialerError, DialerNotFoundError
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.hooks.ujet.wire import (
    JobStatus,
    UjetAddResult,
    UjetCampaign,
    UjetContact,
    UjetContactSelector,
    UjetContactUpdate,
    UjetJob,
    UjetNewContact,
    discover_job_id,
    phone_digits,
    ujet_contact,
)
from airflow_provider_dialer.transport.redaction import register_secret
from airflow_provider_dialer.transport.requests import AsyncTwin, Flow, Request, api_call, json_array
from airflow_provider_dialer.transport.settings import is_loopback

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.transport.settings import ConnectionSettings

APPS_API = "/apps/api/v1"
MANAGER_API = "/manager/api/v1"
DEFAULT_DOMAIN = "uc1.ccaiplatform.com"

_CONTACTS = TypeAdapter(list[UjetContact])
_CAMPAIGNS = TypeAdapter(list[UjetCampaign])
_NEW_CONTACTS = TypeAdapter(list[UjetNewContact])

NewContactLike = UjetNewContact | Mapping[str, Any]


#: guards each hook's read-once cache of a campaign's phones (chunks are sent from several threads)
_CAMPAIGN_PHONES_LOCK = threading.Lock()


def _campaign_path(campaign_id: int | str) -> str:
    text = str(campaign_id).strip()
    if not text or "/" in text or "?" in text or "#" in text:
        raise DialerConfigError(f"UJET campaign id must be a plain id, got {campaign_id!r}")
    return f"{APPS_API}/outbound_dialer/campaigns/{text}"


def _contact_id(value: Any) -> int:
    """A contact id as the document types it (an integer); ``"7"`` from a template becomes 7."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not text.isascii():
        raise DialerConfigError(f"UJET contact ids are integers, got {value!r}")
    return int(text)


def _new_contact(contact: NewContactLike) -> UjetNewContact:
    if isinstance(contact, UjetNewContact):
        return contact
    try:
        return UjetNewContact.model_validate(dict(contact))
    except ValidationError as exc:
        raise DialerConfigError(f"not a UJET contact: {exc}") from None


def import_file(leads: Iterable[PreparedLead]) -> bytes:
    """The import file of a chunk: the JSON array of each lead's :func:`ujet_contact`, encoded one by one.

    ``ujet_contact`` builds exactly what ``UjetNewContact`` accepts and dumps (a unit test pins the
    bytes), so no model is built per contact.
    """
    return json_array(to_json(ujet_contact(lead)) for lead in leads)


class UjetHook(DialerHook):
    """Hook for the UJET / CCAI Platform outbound dialer.

    :param ujet_conn_id: connection id (type ``ujet``), default ``ujet_default``.

    Every endpoint method has an async twin named ``a<name>`` (``await hook.aget_job(6, 530)``).
    """

    #: async twins (made by ``api_call``) this class calls, declared for type checkers
    aget_job: AsyncTwin[[int | str, int | str], UjetJob]

    conn_name_attr: ClassVar[str] = "ujet_conn_id"
    default_conn_name: ClassVar[str] = "ujet_default"
    conn_type: ClassVar[str] = "ujet"
    hook_name: ClassVar[str] = "UJET / CCAI Platform"
    vendor: ClassVar[str] = "UJET"
    secret_extras: ClassVar[tuple[str, ...]] = ()
    default_rate_limit: ClassVar[float | None] = 10.0
    supports_per_lead_schedule: ClassVar[bool] = False
    #: links: campaigns; UJET has no lists, so the list link of an upload is its import job in the campaign
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {
        "campaign": frozenset({"campaign_id"}),
        "list": frozenset({"campaign_id", "job_id"}),
    }

    _auth_header: str | None = None

    # -- base URL ---------------------------------------------------------------------------

    def expand_host(self, host: str, extras: Mapping[str, Any]) -> str:
        """``acme`` -> ``acme.uc1.ccaiplatform.com`` (extra ``domain``); names with a dot, IPs and loopback stay."""
        if not host or "." in host or ":" in host or is_loopback(host):
            return host
        try:
            ipaddress.ip_address(host)
            return host
        except ValueError:
            pass
        domain = str(extras.get("domain") or DEFAULT_DOMAIN).strip().strip(".")
        return f"{host}.{domain}"

    def _build_settings(self, conn: Connection, extras: Mapping[str, Any]) -> ConnectionSettings:
        settings = super()._build_settings(conn, extras)
        base = settings.base_url
        # a pasted API URL keeps working: the hook adds the API prefixes itself
        for suffix in (APPS_API, MANAGER_API):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        return replace(settings, base_url=base)

    # -- auth ---------------------------------------------------------------------------------

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        """HTTP Basic ``login:token``; without a login, the subdomain (what the CCAI docs name the username)."""
        if self._auth_header is None:
            conn = self.connection
            token = conn.password or ""
            if not token:
                raise DialerConfigError(f"connection {self.conn_id!r} (UJET) has no API token in its password field")
            user = (conn.login or "").strip() or self.base_url.split("://", 1)[-1].split(".", 1)[0]
            encoded = base64.b64encode(f"{user}:{token}".encode()).decode("ascii")
            register_secret(encoded)
            self._auth_header = f"Basic {encoded}"
        return {"Authorization": self._auth_header}
        yield  # pragma: no cover - makes this a generator

    # -- Apps API: contacts ---------------------------------------------------------------------

    @api_call
    def add_contact(self, campaign_id: int | str, contact: NewContactLike) -> Flow[UjetAddResult]:
        """``POST /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts``: one contact.

        Returns ``valid_contacts`` and ``invalid_contacts``; an invalid contact is an answer, not an error.
        """
        body = _new_contact(contact).wire()
        response = yield Request("POST", f"{_campaign_path(campaign_id)}/contacts", json=body)
        return UjetAddResult.model_validate(response.json())

    def _list_contacts(self, campaign_id: int | str) -> Flow[list[UjetContact]]:
        response = yield Request("GET", f"{_campaign_path(campaign_id)}/contacts", idempotent=True)
        return _CONTACTS.validate_python(response.json())

    @api_call
    def list_contacts(self, campaign_id: int | str) -> Flow[list[UjetContact]]:
        """``GET /apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts``: every contact (one JSON array)."""
        return (yield from self._list_contacts(campaign_id))

    @api_call
    def find_contacts(
        self,
        campaign_id: int | str,
        *,
        external_ids: Iterable[str] | None = None,
        phones: Iterable[str] | None = None,
    ) -> Flow[dict[str, UjetContact]]:
        """Which of these external ids / phones the campaign holds: ``{given identifier: contact}``.

        Built on :meth:`list_contacts` (UJET has no search); phones match on ``+`` and digits, so
        ``+1 111-111-1111`` finds ``+11111111111``. Used to resolve writes whose fate is unknown.
        """
        wanted_ids = {str(x) for x in external_ids or ()}
        wanted_phones = {phone_digits(p): p for p in phones or () if phone_digits(p)}
        if not wanted_ids and not wanted_phones:
            return {}
        found: dict[str, UjetContact] = {}
        for contact in (yield from self._list_contacts(campaign_id)):
            if contact.external_unique_id is not None and contact.external_unique_id in wanted_ids:
                found.setdefault(contact.external_unique_id, contact)
            given = wanted_phones.get(phone_digits(contact.phone))
            if given is not None:
                found.setdefault(given, contact)
        return found

    @api_call
    def import_contacts(self, campaign_id: int | str, contacts: Iterable[NewContactLike]) -> Flow[int | str]:
        """``POST …/contacts/import``: multipart field ``file`` = a JSON file holding the array; returns the job id.

        The vendor answers 202 with no body; the job id is found as docs/vendors/ujet.md#decision-import-job-id-discovery
        says (body ``job_id``/``id``, then
        ``Location``, then ``Link``). When none carries it, a DialerError says so: the import may be
        running, so do not resend blindly.
        """
        items = [c if isinstance(c, UjetNewContact) else _new_contact(c) for c in contacts]
        if not items:
            raise DialerConfigError("import_contacts needs at least one contact")
        return (
            yield from self._import_flow(campaign_id, _NEW_CONTACTS.dump_json(items, by_alias=True, exclude_none=True))
        )

    def _import_flow(self, campaign_id: int | str, payload: bytes) -> Flow[int | str]:
        """The import request for a JSON array already encoded (``import_contacts`` and the list path)."""
        path = f"{_campaign_path(campaign_id)}/contacts/import"
        response = yield Request("POST", path, files={"file": ("contacts.json", payload, "application/json")})
        job_id = discover_job_id(response)
        if job_id is None:
            raise DialerError(
                f"UJET POST {path} -> HTTP {response.status_code}: the import was accepted but neither the body "
                "(job_id/id) nor the Location or Link header gave a job id (see docs/vendors/ujet.md#decision-import-job-id-discovery), so its progress cannot be "
                "followed; check the campaign's contacts before sending these contacts again"
            )
        return job_id

    @api_call
    def get_job(self, campaign_id: int | str, job_id: int | str) -> Flow[UjetJob]:
        """``GET …/contacts/jobs/{job_id}``: ``in_progress`` / ``completed`` / ``failed`` (``created`` tolerated)."""
        path = f"{_campaign_path(campaign_id)}/contacts/jobs/{job_id}"
        response = yield Request("GET", path, idempotent=True)
        body = response.json()
        status = body.get("status") if isinstance(body, Mapping) else None
        if status not in {s.value for s in JobStatus}:
            raise DialerError(
                f"UJET GET {path}: job status {status!r} is not one the documents list "
                f"({', '.join(s.value for s in JobStatus)}); refusing to guess whether the import finished (see docs/vendors/ujet.md#decision-job-states)"
            )
        return UjetJob.model_validate(body)

    @api_call
    def update_contact(
        self,
        campaign_id: int | str,
        contact_id: int,
        *,
        name: str | None = None,
        email: str | None = None,
        phone_number: str | None = None,
        external_unique_id: str | None = None,
    ) -> Flow[UjetContact]:
        """``PATCH …/contact`` (singular, JSON body with ``contact_id``); returns the updated contact."""
        body = UjetContactUpdate(
            contact_id=contact_id,
            name=name,
            email=email,
            phone_number=phone_number,
            external_unique_id=external_unique_id,
        ).wire()
        if len(body) == 1:
            raise DialerConfigError("update_contact needs at least one field to change")
        # setting fields to given values is idempotent: safe to resend when the answer was lost
        response = yield Request("PATCH", f"{_campaign_path(campaign_id)}/contact", json=body, idempotent=True)
        return UjetContact.model_validate(response.json())

    @api_call
    def delete_contact(
        self,
        campaign_id: int | str,
        *,
        contact_id: int | None = None,
        phone_number: str | None = None,
        external_unique_id: str | None = None,
    ) -> Flow[UjetContact]:
        """``DELETE …/contact`` (singular) with a JSON body naming exactly one identifier; returns the removed contact.

        Resent after a lost answer (deleting is idempotent): the second try may then answer 404.
        """
        given = {
            k: v
            for k, v in (
                ("contact_id", contact_id),
                ("phone_number", phone_number),
                ("external_unique_id", external_unique_id),
            )
            if v not in (None, "")
        }
        if len(given) != 1:
            raise DialerConfigError(
                "delete_contact needs exactly one of contact_id, phone_number or external_unique_id, "
                f"got {sorted(given) or 'none'}"
            )
        body = UjetContactSelector(**given).wire()
        response = yield Request("DELETE", f"{_campaign_path(campaign_id)}/contact", json=body, idempotent=True)
        return UjetContact.model_validate(response.json())

    # -- manager API: campaigns -------------------------------------------------------------

    def _list_campaigns(self) -> Flow[list[UjetCampaign]]:
        response = yield Request("GET", f"{MANAGER_API}/outbound_dialer/campaigns", idempotent=True)
        return _CAMPAIGNS.validate_python(response.json())

    @api_call
    def list_campaigns(self) -> Flow[list[UjetCampaign]]:
        """``GET /manager/api/v1/outbound_dialer/campaigns``: every outbound campaign."""
        return (yield from self._list_campaigns())

    @api_call
    def get_campaign(self, campaign_id: int | str) -> Flow[UjetCampaign]:
        """``GET /manager/api/v1/outbound_dialer/campaigns/{id}``: one campaign with its ``contact_stats``."""
        text = str(campaign_id).strip()
        if not text or "/" in text or "?" in text:
            raise DialerConfigError(f"UJET campaign id must be a plain id, got {campaign_id!r}")
        response = yield Request("GET", f"{MANAGER_API}/outbound_dialer/campaigns/{text}", idempotent=True)
        return UjetCampaign.model_validate(response.json())

    # -- test_connection ----------------------------------------------------------------------

    def probe(self) -> Flow[str]:
        """The Test button: the manager campaign list (cheap, authenticated)."""
        campaigns = yield from self._list_campaigns()
        return f"{len(campaigns)} outbound campaign(s) visible"

    # -- capabilities (capabilities.py): what the vendor-neutral operators call ----------------

    list_chunk_size: ClassVar[int] = 5000
    fresh_chunk_size: ClassVar[int] = 25
    fresh_per_lead_schedule: ClassVar[bool] = False
    #: seconds a state read waits for an import that may still be running before calling leads missing
    resolve_settle_seconds: ClassVar[float] = 2.0

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.list_chunk_size

    def _campaign_target(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        campaign_id = settings.get("campaign_id")
        if campaign_id in (None, ""):
            raise DialerConfigError("UJET needs settings={'campaign_id': <id>}: contacts belong to a campaign")
        self.get_campaign(campaign_id)  # fail fast on an unknown campaign, before any lead is sent
        return {"campaign_id": campaign_id}

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """UJET has no lists: the target is the campaign (``settings["campaign_id"]``)."""
        return self._campaign_target(settings)

    def _campaign_phones(self, campaign_id: Any) -> set[str]:
        """The phones (``+`` and digits) the campaign held when this hook first sent to it: one read of
        its contacts per task attempt, shared by the chunks (they run on several threads)."""
        with _CAMPAIGN_PHONES_LOCK:
            cache: dict[str, set[str]] = self.__dict__.setdefault("_held_phones", {})
            phones = cache.get(str(campaign_id))
            if phones is None:
                phones = {phone_digits(c.phone) for c in self.list_contacts(campaign_id) if c.phone}
                cache[str(campaign_id)] = phones
            return phones

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """One import job per chunk (multipart JSON file); contacts are stored when the job completes.

        An import job is all or nothing: one phone the campaign already holds fails it as a whole
        (``DuplicateContactPhoneOnCampaign``). So the leads whose phone the campaign held when the
        run began (read once, the way a lost answer is resolved) or that repeat a phone earlier in the
        chunk are not sent: they count as accepted and already held (reject report level ``held``),
        and only the rest is imported. Nothing left to send: no import at all.
        """
        held_phones = self._campaign_phones(target["campaign_id"])
        send: list[PreparedLead] = []
        held: list[int] = []
        seen: set[str] = set()
        for lead in leads:
            digits = phone_digits(lead.phone)
            if digits in held_phones or digits in seen:
                held.append(lead.row)
            else:
                seen.add(digits)
                send.append(lead)
        if not send:
            return ChunkOutcome(accepted=len(held), already_held=held)
        job_id = self.run_flow(self._import_flow(target["campaign_id"], import_file(send)))
        return ChunkOutcome(accepted=len(leads), ids={"job_ids": [job_id]}, already_held=held)

    def _resolve(self, target: dict[str, Any], leads: Sequence[PreparedLead], settle: float) -> ChunkOutcome:
        """Which leads the campaign holds (by external id, else phone); the rest are missing."""
        import time

        deadline = time.monotonic() + settle
        while True:
            found = self.find_contacts(
                target["campaign_id"],
                external_ids=[lead.external_id for lead in leads if lead.external_id],
                phones=[lead.phone for lead in leads],
            )
            landed = [lead for lead in leads if (lead.external_id in found) or (lead.phone in found)]
            if len(landed) == len(leads) or time.monotonic() >= deadline:
                break
            time.sleep(min(0.5, max(0.05, settle / 4)))
        rows = {lead.row for lead in landed}
        return ChunkOutcome(accepted=len(landed), missing=[lead.row for lead in leads if lead.row not in rows])

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """After a lost import answer: the job may still run, so wait ``resolve_settle_seconds`` for its contacts."""
        return self._resolve(target, leads, self.resolve_settle_seconds)

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        job_ids = (summary.get("ids") or {}).get("job_ids") or []
        return {"kind": "import_job", "campaign_id": target["campaign_id"], "job_ids": job_ids} if job_ids else None

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]:
        return self._campaign_target(settings)

    #: rounds of "settle, then send the leads proved absent again" for single adds whose answer was lost
    fresh_resend_rounds: ClassVar[int] = 3

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """Single-contact adds; UJET's ``invalid_contacts`` become refusals with the vendor's reason.

        A lead whose answer is lost is read back once the others are sent, and again after the
        connection's ``late_write_seconds`` (the add may still be applied late); only a lead both
        reads miss is added again. A resend the campaign refuses because the lead is there by now
        (the late add landed first) is read back and counts as accepted.
        """
        outcome = ChunkOutcome()
        lost = self._add_each(target, leads, outcome, resent=False)
        for _ in range(self.fresh_resend_rounds):
            if not lost:
                break
            lost = self._add_each(target, self._settled_absent(target, lost, outcome), outcome, resent=True)
        outcome.unknown += [lead.row for lead in lost]
        return outcome

    def _add_each(
        self, target: dict[str, Any], leads: Sequence[PreparedLead], outcome: ChunkOutcome, resent: bool
    ) -> list[PreparedLead]:
        """Add each lead, counting it into ``outcome``; return the leads whose answer was lost."""
        from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError

        lost: list[PreparedLead] = []
        for lead in leads:
            try:
                result = self.add_contact(target["campaign_id"], ujet_contact(lead))
            except DialerDeliveryUnknownError:
                lost.append(lead)
                continue
            if not result.invalid_contacts:
                outcome.accepted += 1
            elif resent and self._resolve(target, [lead], 0.0).accepted:
                outcome.accepted += 1  # refused as already there: the add whose answer was lost landed
            else:
                detail = "; ".join(str(c.model_dump(exclude_none=True)) for c in result.invalid_contacts)[:200]
                outcome.refused.append({"row": lead.row, "reason": "invalid_contact", "detail": self.redact(detail)})
        return lost

    def _settled_absent(
        self, target: dict[str, Any], leads: Sequence[PreparedLead], outcome: ChunkOutcome
    ) -> list[PreparedLead]:
        """The leads two reads ``late_write_seconds`` apart both miss (counting the found ones as accepted)."""
        import time

        absent = list(leads)
        for settle in (0.0, self.settings.late_write_seconds):
            if not absent:
                break
            time.sleep(settle)
            read = self._resolve(target, absent, 0.0)
            outcome.accepted += read.accepted
            missing = set(read.missing)
            absent = [lead for lead in absent if lead.row in missing]
        return absent

    def resolve_fresh_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return self._resolve(target, leads, 0.0)

    def remove_lead(
        self, campaign_id: Any, *, contact_id: Any = None, phone: str | None = None, external_id: str | None = None
    ) -> dict[str, Any]:
        """Remove one contact, always with the document's "remove a contact by ID" request.

        By phone or external id the id is resolved first by reading the campaign's contacts (phones
        match on ``+`` and digits); every contact with that external id is removed. Nothing matching
        raises :class:`~airflow_provider_dialer.exceptions.DialerNotFoundError`.
        """
        given = [v for v in (contact_id, phone, external_id) if v not in (None, "")]
        if len(given) != 1:
            raise DialerConfigError("remove_lead needs exactly one of contact_id, phone or external_id")
        if contact_id not in (None, ""):
            removed = self.delete_contact(campaign_id, contact_id=_contact_id(contact_id))
            return removed.model_dump(mode="json", exclude_none=True)
        ids = self.contact_ids_for(campaign_id, phone=phone, external_id=external_id)
        if not ids:
            from airflow_provider_dialer.leads.phones import mask_phone

            what = f"phone {mask_phone(phone)}" if phone else f"external id {external_id!r}"
            raise DialerNotFoundError(f"UJET campaign {campaign_id} has no contact with {what}")
        removed_all = [self.delete_contact(campaign_id, contact_id=i) for i in ids]
        return {**removed_all[0].model_dump(mode="json", exclude_none=True), "removed_ids": ids}

    def contact_ids_for(
        self, campaign_id: Any, *, phone: str | None = None, external_id: str | None = None
    ) -> list[int]:
        """The ids of the campaign's contacts with this phone (``+`` and digits) or this external id."""
        wanted_phone = phone_digits(phone) if phone else None
        wanted_external = None if external_id in (None, "") else str(external_id)
        return [
            c.id
            for c in self.list_contacts(campaign_id)
            if c.id is not None
            and (
                (wanted_phone is not None and phone_digits(c.phone) == wanted_phone)
                or (wanted_external is not None and c.external_unique_id == wanted_external)
            )
        ]

    # -- ContactSyncer: sync_mode upsert (PATCH a contact by id) and mirror (DELETE by id) -------------

    sync_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror"})

    def sync_contact_ids(
        self, target: dict[str, Any], keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """One read of the campaign's contacts: ``{key: {"contact_id": id}}`` for the keys it holds, an
        ``external_id`` key matched on ``external_unique_id``, a ``phone`` key on ``+`` and digits."""
        wanted_external = {value for kind, value in keys if kind == "external_id"}
        wanted_phone = {phone_digits(value): value for kind, value in keys if kind == "phone"}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if not wanted_external and not wanted_phone:
            return found
        for contact in self.list_contacts(target["campaign_id"]):
            if contact.id is None:
                continue
            if contact.external_unique_id is not None and contact.external_unique_id in wanted_external:
                found.setdefault(("external_id", contact.external_unique_id), {"contact_id": contact.id})
            given = wanted_phone.get(phone_digits(contact.phone))
            if given is not None:
                found.setdefault(("phone", given), {"contact_id": contact.id})
        return found

    def sync_update(self, target: dict[str, Any], lead: PreparedLead, ids: dict[str, Any]) -> dict[str, Any]:
        """``PATCH …/contact`` with the lead's name, e-mail, phone and external id (the fields the document
        lets a PATCH set; the outbound number is not one of them)."""
        wire = ujet_contact(lead)
        updated = self.update_contact(
            target["campaign_id"],
            _contact_id(ids["contact_id"]),
            name=wire.get("name"),
            email=wire.get("email"),
            phone_number=wire.get("phone_number"),
            external_unique_id=wire.get("external_unique_id"),
        )
        return {"contact_id": updated.id if updated.id is not None else _contact_id(ids["contact_id"])}

    def sync_remove(self, target: dict[str, Any], ids: dict[str, Any]) -> bool:
        """``DELETE …/contact`` by id; a 404 (already gone, e.g. a resend after a lost answer) is False."""
        from airflow_provider_dialer.exceptions import DialerHTTPError

        try:
            self.delete_contact(target["campaign_id"], contact_id=_contact_id(ids["contact_id"]))
        except DialerHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _job_state(self, job: UjetJob) -> WaitState:
        return WaitState(
            status=job.status.value, done=job.status is JobStatus.COMPLETED, failed=job.failed, detail=job.detail
        )

    def import_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        return self._job_state(self.get_job(campaign_id, job_id))

    async def aimport_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        return self._job_state(await self.aget_job(campaign_id, job_id))


__all__ = ["UjetHook", "APPS_API", "MANAGER_API", "DEFAULT_DOMAIN", "NewContactLike"]
