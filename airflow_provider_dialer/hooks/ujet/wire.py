"""UJET / CCAI Platform wire contract: request and response models, status enums, job-id discovery, lead mapping.

Field names are the vendor's, as its outbound dialer document spells them (the wire reference:
docs/vendors/ujet.md#wire-reference). Requests forbid unknown keys (a typo fails a test, not a customer);
responses ignore them (CCAI: "expect unrecognized JSON keys").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from airflow_provider_dialer.exceptions import DialerAnswerError
from airflow_provider_dialer.transport.requests import json_array

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead


# --------------------------------------------------------------------------------------------
# Enumerations
# --------------------------------------------------------------------------------------------


class ContactStatus(str, Enum):
    """Campaign contact ``status`` (the English strings, in the order of the vendor document's list)."""

    UPCOMING = "Upcoming"
    DIALING = "Dialing"
    QUEUED = "Queued"
    CONNECTED = "Connected"
    FINISHED = "Finished"
    TRANSFERRED = "Transferred"
    TRANSFERRED_AND_FINISHED = "Transferred and Finished"
    NOT_PICKED_UP = "Not Picked Up"
    NOT_REACHED_TO_CONTACT = "Not Reached to Contact"
    ABANDONED_BY_CONTACT = "Abandoned by Contact"
    SKIPPED = "Skipped"
    SKIPPED_AND_CLOSED = "Skipped & Closed"
    INVALID_NUMBER = "Invalid Number"
    CARRIER_ERROR = "Carrier Error"
    ABANDONED_BY_DIALER = "Abandoned by Dialer"
    VOICEMAIL_HUNG_UP = "Voicemail Hung Up"
    DIALER_GENERAL_ERROR = "Dialer General Error"
    REDIAL_SCHEDULED = "Redial Scheduled"
    DO_NOT_CALL = "Do Not Call"
    #: exact English string truncated in the stored page; the manager stats key is "Invalid outbound number"
    INVALID_OUTBOUND_NUMBER = "Invalid Outbound Number"
    #: English string not found (translated from PT/JA/KO): an assumption
    BLOCKED_PHONE_NUMBER = "Blocked Phone Number"

    @classmethod
    def parse(cls, value: str) -> ContactStatus:
        """The status for ``value`` (case-insensitive); raises DialerAnswerError naming an unknown value (docs/vendors/ujet.md#decision-unknown-keys-ignored-unknown-statuses-fail)."""
        for member in cls:
            if member.value.lower() == value.strip().lower():
                return member
        raise DialerAnswerError(
            f"UJET contact status {value!r} is not one the documents list (see docs/vendors/ujet.md#decision-unknown-keys-ignored-unknown-statuses-fail)"
        )


class JobStatus(str, Enum):
    """Import job ``status``: ``in_progress``, ``completed``, ``failed`` [S]; ``created`` [A] transitional."""

    CREATED = "created"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


# --------------------------------------------------------------------------------------------
# Requests (what we send): extra keys forbidden
# --------------------------------------------------------------------------------------------

_REQUEST = ConfigDict(extra="forbid", populate_by_name=True)
_RESPONSE = ConfigDict(extra="ignore", populate_by_name=True)


class UjetNewContact(BaseModel):
    """Body of ``POST …/contacts`` and one element of the import file (seed: the same five keys)."""

    model_config = _REQUEST

    name: str | None = Field(default=None, alias="name")
    email: str | None = Field(default=None, alias="email")
    phone_number: str = Field(alias="phone_number")
    outbound_number: str | None = Field(default=None, alias="outbound_number")
    external_unique_id: str | None = Field(default=None, alias="external_unique_id")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class UjetContactUpdate(BaseModel):
    """Body of ``PATCH …/contact`` (singular): ``contact_id`` and the fields to change (seed lists no outbound number)."""

    model_config = _REQUEST

    contact_id: int = Field(alias="contact_id")
    name: str | None = Field(default=None, alias="name")
    email: str | None = Field(default=None, alias="email")
    phone_number: str | None = Field(default=None, alias="phone_number")
    external_unique_id: str | None = Field(default=None, alias="external_unique_id")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class UjetContactSelector(BaseModel):
    """Body of ``DELETE …/contact`` (singular, JSON body): exactly one identifier."""

    model_config = _REQUEST

    contact_id: int | None = Field(default=None, alias="contact_id")
    phone_number: str | None = Field(default=None, alias="phone_number")
    external_unique_id: str | None = Field(default=None, alias="external_unique_id")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


# --------------------------------------------------------------------------------------------
# Responses (what we read): unknown keys ignored (docs/vendors/ujet.md#decision-unknown-keys-ignored-unknown-statuses-fail)
# --------------------------------------------------------------------------------------------

PHONE_METADATA_KEY = "PHONE (REQUIRED)"


class UjetContact(BaseModel):
    """A campaign contact as GET …/contacts, PATCH and DELETE return it (fields vary by endpoint)."""

    model_config = _RESPONSE

    id: int | None = Field(default=None, alias="id")
    name: str | None = Field(default=None, alias="name")
    email: str | None = Field(default=None, alias="email")
    phone_number: str | None = Field(default=None, alias="phone_number")
    outbound_number: str | None = Field(default=None, alias="outbound_number")
    external_unique_id: str | None = Field(default=None, alias="external_unique_id")
    campaign_id: int | None = Field(default=None, alias="campaign_id")
    assigned_call_id: int | None = Field(default=None, alias="assigned_call_id")
    assigned_participant_id: int | None = Field(default=None, alias="assigned_participant_id")
    priority: int | None = Field(default=None, alias="priority")
    status: str | None = Field(default=None, alias="status")
    created_at: datetime | None = Field(default=None, alias="created_at")
    updated_at: datetime | None = Field(default=None, alias="updated_at")
    user_custom_metadata: dict[str, Any] = Field(default_factory=dict, alias="user_custom_metadata")

    @property
    def phone(self) -> str | None:
        """``phone_number``, or the ``PHONE (REQUIRED)`` metadata where the object has no top-level phone (PATCH/DELETE)."""
        if self.phone_number:
            return self.phone_number
        value = self.user_custom_metadata.get(PHONE_METADATA_KEY)
        return str(value) if value else None

    @property
    def contact_status(self) -> ContactStatus | None:
        """``status`` as the enum; raises DialerError for a value the documents do not list."""
        return ContactStatus.parse(self.status) if self.status else None


class UjetInvalidContact(UjetContact):
    """An element of ``invalid_contacts``; its shape is undocumented, so the reason is read generously."""

    errors: Any = Field(default=None, alias="errors")
    error: Any = Field(default=None, alias="error")
    message: Any = Field(default=None, alias="message")

    @property
    def reason(self) -> str:
        for value in (self.errors, self.error, self.message):
            if value:
                return "; ".join(map(str, value)) if isinstance(value, list) else str(value)
        return "refused by UJET (no reason given)"


class UjetAddResult(BaseModel):
    """Answer of ``POST …/contacts``: ``{"valid_contacts": [...], "invalid_contacts": [...]}``."""

    model_config = _RESPONSE

    valid_contacts: list[UjetContact] = Field(default_factory=list, alias="valid_contacts")
    invalid_contacts: list[UjetInvalidContact] = Field(default_factory=list, alias="invalid_contacts")


class UjetJob(BaseModel):
    """An import job (``GET …/contacts/jobs/{job_id}``); a failed one carries ``error_message``/``error_details``."""

    model_config = _RESPONSE

    id: int | str = Field(alias="id")
    status: JobStatus = Field(alias="status")
    type: str | None = Field(default=None, alias="type")
    error_message: str | None = Field(default=None, alias="error_message")
    error_details: str | None = Field(default=None, alias="error_details")

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def failed(self) -> bool:
        return self.status is JobStatus.FAILED

    @property
    def detail(self) -> str:
        """``error_message: error_details`` for a failed job (what a user reads in the task log)."""
        return ": ".join(p for p in (self.error_message, self.error_details) if p)


class UjetQueue(BaseModel):
    model_config = _RESPONSE

    id: int | None = Field(default=None, alias="id")
    name: str | None = Field(default=None, alias="name")


class UjetCampaign(BaseModel):
    """A campaign as the manager API returns it (CCAI's manager campaign model); ``contact_stats`` maps stat names to counts."""

    model_config = _RESPONSE

    id: int = Field(alias="id")
    name: str | None = Field(default=None, alias="name")
    campaign_type: str | None = Field(default=None, alias="campaign_type")
    external_campaign_id: str | None = Field(default=None, alias="external_campaign_id")
    mode: str | None = Field(default=None, alias="mode")
    max_abandonment_percent: float | None = Field(default=None, alias="max_abandonment_percent")
    max_redial_count: int | None = Field(default=None, alias="max_redial_count")
    redial_interval_minutes: float | None = Field(default=None, alias="redial_interval_minutes")
    overdial_adjustment_multiplier: float | None = Field(default=None, alias="overdial_adjustment_multiplier")
    target_number_to_process: int | None = Field(default=None, alias="target_number_to_process")
    queue: UjetQueue | None = Field(default=None, alias="queue")
    status: str | None = Field(default=None, alias="status")
    created_at: datetime | None = Field(default=None, alias="created_at")
    starts_at: datetime | None = Field(default=None, alias="starts_at")
    ends_at: datetime | None = Field(default=None, alias="ends_at")
    updated_at: datetime | None = Field(default=None, alias="updated_at")
    contact_stats: dict[str, Any] = Field(default_factory=dict, alias="contact_stats")


# --------------------------------------------------------------------------------------------
# Where the import's job id comes from: docs/vendors/ujet.md#decision-import-job-id-discovery
# --------------------------------------------------------------------------------------------

_JOB_IN_URL = re.compile(r"/jobs/([A-Za-z0-9_-]+)/?$")
_LINK_URL = re.compile(r"<([^>]*)>")


def _job_id_value(value: Any) -> int | str | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else (text or None)


def _job_id_in_url(url: str) -> int | str | None:
    path = url.split("?", 1)[0].split("#", 1)[0]
    match = _JOB_IN_URL.search(path)
    return _job_id_value(match.group(1)) if match else None


def discover_job_id(response: httpx.Response) -> int | str | None:
    """The job id (docs/vendors/ujet.md#decision-import-job-id-discovery), in order: body ``job_id`` or ``id``, then the ``Location`` header, then a ``Link`` header ending in ``/jobs/<id>``."""
    if response.content.strip():
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, Mapping):
            for key in ("job_id", "id"):
                found = _job_id_value(body.get(key))
                if found is not None:
                    return found
    location = response.headers.get("Location")
    if location:
        found = _job_id_in_url(location)
        if found is not None:
            return found
    for link in response.headers.get_list("Link"):
        for url in _LINK_URL.findall(link):
            found = _job_id_in_url(url)
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------------------------
# PreparedLead -> wire contact
# --------------------------------------------------------------------------------------------


def ujet_contact(lead: PreparedLead) -> dict[str, Any]:
    """The UJET contact for a prepared lead (keys with no value omitted).

    ``name`` is the lead's full name, falling back to its external id, then to its phone (the
    vendor's contact template marks the name as required). ``phone_number`` is the E.164 phone.
    UJET has no place for alternatives, priority, agent, schedule or free data: they are not sent.
    """
    wire = {
        "name": lead.full_name or lead.external_id or lead.phone,
        "email": lead.email,
        "phone_number": lead.phone,
        "outbound_number": lead.outbound_number,
        "external_unique_id": lead.external_id,
    }
    return {key: value for key, value in wire.items() if value not in (None, "")}


def phone_digits(phone: str | None) -> str:
    """``+`` and the digits of a phone as UJET may echo it (``+1 111-111-1111`` -> ``+11111111111``)."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"+{digits}" if digits else ""


def import_file(leads: Iterable[PreparedLead]) -> bytes:
    """The import file of a chunk: the JSON array of each lead's :func:`ujet_contact`, encoded one by one.

    ``ujet_contact`` builds exactly what ``UjetNewContact`` accepts and dumps (a unit test pins the
    bytes), so no model is built per contact.
    """
    return json_array(to_json(ujet_contact(lead)) for lead in leads)
