"""uContact wire contract: Integra DialerTask and Automation API models, list states, and the PreparedLead mappings.

Field names are spelled exactly as the vendor documents spell them (``calldate``, ``clientIds``,
``scheduleDate``). Request models forbid unknown keys (a typo fails a test, not a customer);
response models ignore them (docs/vendors/ucontact.md#decision-unknown-keys-ignored-unknown-states-fail).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from airflow_provider_dialer.exceptions import DialerValueError
from airflow_provider_dialer.hooks.phone_format import PhoneFormat, wire_phone

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

#: Integra's ``calldate`` and the Automation API's ``scheduleDate`` share this layout
WIRE_DATETIME = "%Y-%m-%d %H:%M:%S"

CHANNELS: tuple[str, ...] = ("telephony", "email", "sms", "whatsapp")


# --------------------------------------------------------------------------------------------
# Integra DialerTask
# --------------------------------------------------------------------------------------------


class DialerTaskCall(BaseModel):
    """The JSON object sent in the ``call`` form field of ``Dialers/DialerTask``; every key is always present (docs/vendors/ucontact.md#decision-dialertask-sends-every-key-form-encoded)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    calldate: str | None = Field(None, alias="calldate", pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    campaign: str = Field(alias="campaign", min_length=1)
    destination: str = Field(alias="destination", min_length=1)
    alternatives: str = Field("", alias="alternatives")
    agent: str = Field("", alias="agent")
    data: str = Field("", alias="data")
    source: str = Field("airflow", alias="source")
    bulk: bool = Field(False, alias="bulk")
    automatic: bool = Field(True, alias="automatic")

    def to_json(self) -> str:
        """The ``call`` value: compact JSON, all nine keys, non-ASCII kept as UTF-8 (form-encoding carries it)."""
        return json.dumps(self.model_dump(by_alias=True), ensure_ascii=False, separators=(",", ":"))


def escape_data_part(text: str) -> str:
    """Percent-encode ``%``, ``:`` and ``=`` (and nothing else) so a value cannot break ``k=v:k=v``."""
    return text.replace("%", "%25").replace(":", "%3A").replace("=", "%3D")


def _data_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def render_integra_data(data: Mapping[str, Any]) -> str:
    """``{"idcustomer": 7, "note": "a:b"}`` -> ``idcustomer=7:note=a%3Ab`` (keys and values escaped)."""
    return ":".join(f"{escape_data_part(str(k))}={escape_data_part(_data_value(v))}" for k, v in data.items())


def integra_number(phone: str, *, plus: bool = False) -> str:
    """An E.164 number as Integra dials it: digits only by default (the document's ``0123456789``)."""
    return _spelt(phone, "e164" if plus else "digits")


def _spelt(phone: str, phone_format: PhoneFormat) -> str:
    """``phone`` (E.164, with or without its ``+``, surrounding spaces ignored) as ``phone_format`` spells it."""
    return wire_phone("+" + phone.strip().lstrip("+"), phone_format)


def dialer_task_call(
    lead: PreparedLead,
    *,
    campaign: str,
    instance_timezone: str = "UTC",
    source: str = "airflow",
    bulk: bool = False,
    automatic: bool = True,
    destination_plus: bool = False,
) -> DialerTaskCall:
    """Map a prepared lead to one DialerTask record.

    ``calldate`` is ``lead.call_at`` as wall-clock time in the instance's zone (Integra reads it
    there), or null to call as soon as an agent is free. ``destination`` and ``alternatives`` are
    E.164 without ``+`` unless ``destination_plus``; alternatives are joined with ``:``.
    ``data`` is ``lead.data`` as ``k=v:k=v`` with ``%``, ``:`` and ``=`` percent-encoded.
    """
    calldate = as_wall_clock(lead.call_at, instance_timezone) if lead.call_at is not None else None
    return DialerTaskCall(
        calldate=calldate,
        campaign=campaign,
        destination=integra_number(lead.phone, plus=destination_plus),
        alternatives=":".join(integra_number(p, plus=destination_plus) for p in lead.alternatives),
        agent=lead.agent or "",
        data=render_integra_data(lead.data),
        source=source,
        bulk=bulk,
        automatic=automatic,
    )


def parse_user_token(body: str) -> str | None:
    """The token in a ``getUserToken`` answer (the last element of its JSON array), or None for ``0``/junk."""
    text = body.strip()
    if not text or text == "0":
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    if isinstance(parsed, list) and parsed and isinstance(parsed[-1], str) and parsed[-1].strip():
        return parsed[-1].strip()
    return None


# --------------------------------------------------------------------------------------------
# Automation API
# --------------------------------------------------------------------------------------------


class AutomationContact(BaseModel):
    """One contact of ``lists`` / ``freshLeads`` (section "Contactos" of the Automation API document)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    client_ids: list[str] | None = Field(None, alias="clientIds")
    client_id: str | None = Field(None, alias="clientId")
    timezone: str | None = Field(None, alias="timezone")
    data: dict[str, Any] | None = Field(None, alias="data")
    priority: int | None = Field(None, alias="priority")
    contact_id: str | None = Field(None, alias="contactId")
    agent: str | None = Field(None, alias="agent")
    content: str | None = Field(None, alias="content")
    template: str | None = Field(None, alias="template")
    subject: str | None = Field(None, alias="subject")
    attachments: list[str] | None = Field(None, alias="attachments")
    schedule_date: str | None = Field(None, alias="scheduleDate", pattern=r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class UploadListBody(BaseModel):
    """``POST /api/dialer/id/<hub>/lists``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    filename: str = Field(alias="filename", min_length=1)
    contacts: list[dict[str, Any]] = Field(alias="list")


class FreshLeadsBody(BaseModel):
    """``POST /api/dialer/id/<hub>/freshLeads``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    leads: list[dict[str, Any]] = Field(alias="leads")


def automation_number(phone: str, *, phone_format: PhoneFormat = "e164") -> str:
    """E.164 as the Automation API takes it: with ``+`` by default (``e164``, the document's
    ``+1 (312) ...`` examples), ``digits`` without it."""
    return _spelt(phone, phone_format)


def automation_contact(
    lead: PreparedLead, *, channel: str = "telephony", fresh: bool = False, phone_format: PhoneFormat = "e164"
) -> dict[str, Any]:
    """Map a prepared lead to an Automation API contact dict (keys with no value omitted).

    Telephony: ``clientIds`` = [phone, *alternatives], and ``agent`` (a preview-hub property). Email:
    ``clientId`` = the email. SMS/WhatsApp: ``clientId`` = the phone. Text hubs never get ``agent``. ``scheduleDate`` (fresh leads only) is ``lead.call_at``
    as wall-clock time in the lead's zone, which is sent as ``timezone`` beside it.
    """
    if channel not in CHANNELS:
        raise DialerValueError(f"unknown uContact hub channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    # built in AutomationContact's wire order with its None fields left out: what
    # ``AutomationContact(...).wire()`` returns, without a model per lead (a unit test pins the equality)
    wire: dict[str, Any] = {}
    if channel == "telephony":
        wire["clientIds"] = [automation_number(p, phone_format=phone_format) for p in (lead.phone, *lead.alternatives)]
    elif channel == "email":
        if not lead.email:
            raise DialerValueError(f"row {lead.row}: an email hub needs the lead's email")
        wire["clientId"] = lead.email
    else:
        wire["clientId"] = automation_number(lead.phone, phone_format=phone_format)
    if lead.timezone:
        wire["timezone"] = lead.timezone
    if lead.data:
        wire["data"] = dict(lead.data)
    if lead.priority is not None:
        wire["priority"] = lead.priority
    if lead.external_id:
        wire["contactId"] = lead.external_id
    if lead.agent and channel == "telephony":
        # "agent" is a preview property, and preview hubs are telephony hubs: the contact tables of the
        # SMS, WhatsApp and e-mail hubs have no agent, so it is never sent to them
        wire["agent"] = lead.agent
    if channel != "telephony":
        if lead.content:
            wire["content"] = lead.content
        if lead.template:
            wire["template"] = lead.template
    if channel == "email" and lead.subject:
        wire["subject"] = lead.subject
    if fresh and lead.call_at is not None:
        local = lead.local_call_at()
        assert local is not None
        wire["scheduleDate"] = local.strftime(WIRE_DATETIME)
    return wire


class ListState(str, Enum):
    """Automation list states (docs/vendors/ucontact.md#decision-assumed-list-state-read): ``loading`` waits; ``inactive``/``active`` are loaded; anything else failed."""

    LOADING = "loading"
    INACTIVE = "inactive"
    ACTIVE = "active"

    @staticmethod
    def normal(status: str | None) -> str:
        return (status or "").strip().lower()

    @classmethod
    def is_waiting(cls, status: str | None) -> bool:
        return cls.normal(status) == cls.LOADING.value

    @classmethod
    def is_loaded(cls, status: str | None) -> bool:
        return cls.normal(status) in (cls.INACTIVE.value, cls.ACTIVE.value)

    @classmethod
    def is_failed(cls, status: str | None) -> bool:
        return not cls.is_waiting(status) and not cls.is_loaded(status)


class ListInfo(BaseModel):
    """A hub list as the upload answer and the assumed list reads describe it (docs/vendors/ucontact.md#decision-assumed-list-state-read)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: int | str | None = Field(None, alias="id")
    filename: str | None = Field(None, alias="filename")
    status: str | None = Field(None, alias="status")
    count: int | None = Field(None, alias="count")

    @property
    def is_loaded(self) -> bool:
        return ListState.is_loaded(self.status)

    @property
    def is_failed(self) -> bool:
        return ListState.is_failed(self.status)

    @property
    def is_waiting(self) -> bool:
        return ListState.is_waiting(self.status)


class FreshLeadsResult(BaseModel):
    """The ``freshLeads`` answer (its shape is not documented; the emulator sends ``{"count": n}``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    count: int | None = Field(None, alias="count")


def hub_path(hub: str) -> str:
    if not hub:
        raise DialerValueError("a uContact hub name is required")
    return f"/api/dialer/id/{quote(hub, safe='')}"


def as_wall_clock(moment: datetime, zone: str) -> str:
    """An aware datetime as ``YYYY-MM-DD HH:MM:SS`` wall-clock time in ``zone``."""
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(zone)).strftime(WIRE_DATETIME)
