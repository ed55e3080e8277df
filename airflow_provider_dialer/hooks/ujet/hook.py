"""UjetHook: the UJET / Google Cloud CCAI Platform outbound dialer (Apps API contacts and jobs, manager API campaigns).

Base URL: the connection's host; a bare subdomain ``acme`` becomes ``acme.<domain>`` (extra
``domain``, default ``uc1.ccaiplatform.com``). The hook adds ``/apps/api/v1`` and
``/manager/api/v1`` itself. Auth: HTTP Basic ``login:password`` where the password is the API token
(Settings > Developer Settings > API Credentials). Client-side rate limit: 10 requests/s (docs/vendors/ujet.md#decision-rate-limit-10-per-second).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import TypeAdapter, ValidationError

from airflow_provider_dialer.exceptions import DialerAnswerError, DialerConfigError
from airflow_provider_dialer.hooks.base import DialerHook, validation_problems
from airflow_provider_dialer.hooks.ujet.verbs import UjetVerbs
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
)
from airflow_provider_dialer.transport.auth import basic_authorization
from airflow_provider_dialer.transport.requests import AsyncTwin, Flow, Request, api_call
from airflow_provider_dialer.transport.settings import is_loopback

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from airflow_provider_dialer.transport.settings import ConnectionSettings

APPS_API = "/apps/api/v1"
MANAGER_API = "/manager/api/v1"
DEFAULT_DOMAIN = "uc1.ccaiplatform.com"

_CONTACTS = TypeAdapter(list[UjetContact])
_CAMPAIGNS = TypeAdapter(list[UjetCampaign])
_NEW_CONTACTS = TypeAdapter(list[UjetNewContact])

NewContactLike = UjetNewContact | Mapping[str, Any]


def _campaign_path(campaign_id: int | str) -> str:
    text = str(campaign_id).strip()
    if not text or "/" in text or "?" in text or "#" in text:
        raise DialerConfigError(f"UJET campaign id must be a plain id, got {campaign_id!r}")
    return f"{APPS_API}/outbound_dialer/campaigns/{text}"


def _new_contact(contact: NewContactLike) -> UjetNewContact:
    if isinstance(contact, UjetNewContact):
        return contact
    try:
        return UjetNewContact.model_validate(dict(contact))
    except ValidationError as exc:
        # field and rule only: pydantic's own text quotes the input, and a contact's input is a phone number
        raise DialerConfigError(f"not a UJET contact: {validation_problems(exc)}") from None


class UjetHook(UjetVerbs, DialerHook):
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
            self._auth_header = basic_authorization(user, token)
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
            raise DialerAnswerError(
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
        if not isinstance(status, str) or status not in {s.value for s in JobStatus}:
            raise DialerAnswerError(
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


__all__ = ["UjetHook", "APPS_API", "MANAGER_API", "DEFAULT_DOMAIN", "NewContactLike"]
