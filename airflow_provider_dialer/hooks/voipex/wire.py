"""Voipex IPBX wire contract: the request and response models, with the names the dialer guide spells, and the lead mapping.

Source: the vendor's dialer guide and Voipex's auth guide, as the wire reference states them
(docs/vendors/voipex.md#wire-reference). Shapes the guide does not give (campaign list/get/edit, call-list
reads, the control answer) are assumptions, marked [A] and listed in ``docs/vendors/voipex.md``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from airflow_provider_dialer.hooks.phone_format import PhoneFormat, wire_phone
from airflow_provider_dialer.leads.model import PreparedLead

T = TypeVar("T")

#: the five commands of ``PUT /dialer/campaigns/:id/control`` (guide, step 4)
CampaignCommand = Literal["start", "pause", "unpause", "reload", "remove"]
CAMPAIGN_COMMAND_ORDER: tuple[str, ...] = ("start", "pause", "unpause", "reload", "remove")
CAMPAIGN_COMMANDS: frozenset[str] = frozenset(CAMPAIGN_COMMAND_ORDER)
#: [A] the state a command leaves the campaign in, where that state tells the command was applied
#: (reload changes no state; a removed campaign can no longer be read)
CAMPAIGN_COMMAND_STATE: dict[str, str] = {"start": "running", "pause": "paused", "unpause": "running"}


class _Request(BaseModel):
    """Our own request bodies: a typo fails a test, not a customer."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class _Response(BaseModel):
    """Vendor answers: unknown keys are ignored (docs/vendors/voipex.md#decision-unknown-keys-ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# --------------------------------------------------------------------------------------------
# Token endpoint (Keycloak-shaped; docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh)
# --------------------------------------------------------------------------------------------


class TokenResponse(_Response):
    access_token: str
    expires_in: float = 300.0
    refresh_expires_in: float | None = None
    refresh_token: str | None = None
    token_type: str = "Bearer"
    not_before_policy: int | None = Field(default=None, alias="not-before-policy")
    session_state: str | None = None
    scope: str | None = None


# --------------------------------------------------------------------------------------------
# Call lists (guide step 1)
# --------------------------------------------------------------------------------------------


class CallListNumber(_Request):
    number: str
    attributes: list[Any] = Field(default_factory=list)


class CallListCreate(_Request):
    name: str = Field(min_length=1)
    numbers: list[CallListNumber]


class CallListCreated(_Response):
    id: int
    message: str = ""
    numbers_count: int | None = Field(default=None, alias="numbersCount")


class CallList(_Response):
    """[A] A call list as the assumed reads ``GET /dialer/call-lists[/:id]`` return it."""

    id: int
    name: str
    numbers_count: int | None = Field(default=None, alias="numbersCount")
    created_at: str | None = Field(default=None, alias="createdAt")


# --------------------------------------------------------------------------------------------
# IVR applications (guide step 2)
# --------------------------------------------------------------------------------------------


class IvrUser(_Response):
    id: str | None = None
    email: str | None = None


class IvrRouting(_Response):
    exten: str | None = None
    ddi: str | None = None


class Ivr(_Response):
    id: str
    name: str
    description: str | None = None
    created_at: str | None = Field(default=None, alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    created_by: IvrUser | None = Field(default=None, alias="createdBy")
    updated_by: IvrUser | None = Field(default=None, alias="updatedBy")
    routing: list[IvrRouting] = Field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Campaigns (guide step 3, parameter table)
# --------------------------------------------------------------------------------------------

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class ActivePeriod(_Request):
    start_time: str = Field(alias="startTime", pattern=_HHMM)
    end_time: str = Field(alias="endTime", pattern=_HHMM)
    #: 1 = Monday ... 7 = Sunday
    week_days: list[int] = Field(alias="weekDays", min_length=1)

    @field_validator("week_days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        bad = [d for d in days if not 1 <= d <= 7]
        if bad:
            raise ValueError(f"weekDays are 1 (Monday) .. 7 (Sunday), got {bad}")
        if len(set(days)) != len(days):
            raise ValueError(f"weekDays has duplicates: {days}")
        return days


class RescheduleRule(_Request):
    #: call status the rule applies to; the guide shows only ``RS_ERROR``
    status: str = Field(min_length=1)
    #: seconds
    retry_after: int = Field(alias="retryAfter", ge=0)
    max_attempts: int = Field(alias="maxAttempts", ge=1)


class CampaignEndpoint(_Request):
    #: ``phone`` (default) or ``queue`` (channels from the available agents of ``queue``)
    type: Literal["phone", "queue"] = "phone"
    boost_factor: float = Field(default=1.0, alias="boostFactor", gt=0)
    max_waiting_calls: int = Field(default=2, alias="maxWaitingCalls", ge=0)
    queue: str | None = None


class CampaignCreate(_Request):
    """The body of ``POST /dialer/campaigns`` (and, [A], of ``PUT /dialer/campaigns/:id``)."""

    name: str = Field(min_length=1)
    caller_id: str = Field(alias="callerId", min_length=1)
    active_period: ActivePeriod = Field(alias="activePeriod")
    call_lists: list[int] = Field(alias="callLists", min_length=1)
    #: empty list for none (the guide: "Enter empty array in case of no reschedule rules")
    reschedule_rules: list[RescheduleRule] = Field(default_factory=list, alias="rescheduleRules")
    ivr: str = Field(min_length=1)
    endpoint: CampaignEndpoint | None = None


class CampaignCreated(_Response):
    id: int
    message: str = ""


class CampaignState(str, enum.Enum):
    """[A] Campaign states implied by the control commands (start/pause/unpause/remove)."""

    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    REMOVED = "removed"

    @classmethod
    def parse(cls, value: str | None) -> CampaignState | None:
        """The state, or None for a value the hook does not know (surfaced, not guessed: docs/vendors/voipex.md#decision-campaign-states)."""
        try:
            return cls(value) if value is not None else None
        except ValueError:
            return None


class Campaign(_Response):
    """[A] A campaign as ``GET /dialer/campaigns[/:id]`` is assumed to return it: the create body plus id and state."""

    id: int
    name: str
    caller_id: str | None = Field(default=None, alias="callerId")
    active_period: dict[str, Any] | None = Field(default=None, alias="activePeriod")
    call_lists: list[int] = Field(default_factory=list, alias="callLists")
    reschedule_rules: list[dict[str, Any]] = Field(default_factory=list, alias="rescheduleRules")
    ivr: str | None = None
    endpoint: dict[str, Any] | None = None
    state: str | None = None

    @property
    def campaign_state(self) -> CampaignState | None:
        return CampaignState.parse(self.state)


class CampaignControl(_Request):
    command: CampaignCommand


class ControlResult(_Response):
    """[A] The control answer (the guide shows none): ``{id, message, state}``."""

    id: int | None = None
    message: str = ""
    state: str | None = None


class PageLink(_Response):
    rel: str | None = None
    href: str | None = None
    method: str | None = None


class Page(_Response, Generic[T]):
    """The API's pagination envelope, assumed for the dialer's GET lists [A] (docs/vendors/voipex.md#decision-assumed-reads-and-pagination)."""

    items: list[T] = Field(default_factory=list)
    links: list[PageLink] = Field(default_factory=list)
    current_page: int = Field(default=1, alias="currentPage")
    total_pages: int = Field(default=1, alias="totalPages")
    total_results: int | None = Field(default=None, alias="totalResults")


# --------------------------------------------------------------------------------------------
# PreparedLead -> call-list number
# --------------------------------------------------------------------------------------------


def lead_attributes(lead: PreparedLead) -> list[dict[str, str]]:
    """[A] ``attributes`` as ``[{"name", "value"}]`` string pairs: ``external_id`` then the lead's ``data``.

    The guide shows only ``"attributes": []``; a lead without external id and data maps to exactly that.
    """
    out: list[dict[str, str]] = []
    if lead.external_id:
        out.append({"name": "external_id", "value": lead.external_id})
    for key, value in lead.data.items():
        if value is None:
            continue
        out.append({"name": str(key), "value": value if isinstance(value, str) else _text(value)})
    return out


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple)):
        import json

        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def voipex_number(
    lead: PreparedLead, *, phone_format: PhoneFormat = "digits", with_attributes: bool = True
) -> dict[str, Any]:
    """Map a prepared lead to one entry of a call list's ``numbers``: ``{"number": ..., "attributes": [...]}``.

    Only ``phone`` is dialled: call lists have no alternative numbers, names, e-mail, agent, priority
    or per-number time (leads with a future ``call_at`` are held back by the operators). ``phone_format``:
    ``digits`` (without "+", as the guide's example ``"123456789"``) or ``e164``.
    """
    return {
        "number": wire_phone(lead.phone, phone_format),
        "attributes": lead_attributes(lead) if with_attributes else [],
    }
