"""XCALLY Motion wire contract: request/response models with Motion's own field names, and the lead -> contact mapping.

Over 500 lines because Motion's API has many shapes (lists, contacts, campaigns, agents, staged imports);
one file keeps every shape the provider sends or reads next to the mapping that fills it, as every
vendor's wire.py does.

Field names are spelled as the vendor document spells them (``ListId``, ``firstName``,
``dialCheckDuplicateType``, ``TrunkId``). Request models forbid unknown keys (a typo fails a test,
not a customer); response models ignore them (Motion adds keys between releases).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator, model_validator

from airflow_provider_dialer.exceptions import DialerValueError
from airflow_provider_dialer.hooks.phone_format import PhoneFormat, wire_phone

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

T = TypeVar("T")

_REQUEST = ConfigDict(extra="forbid", populate_by_name=True)
_RESPONSE = ConfigDict(extra="ignore", populate_by_name=True)

#: ``cf_<id>``: a list custom field (seed: "you can assign the value using the sintax cf_{your customfield id}")
CUSTOM_FIELD = re.compile(r"^cf_[1-9][0-9]*$")

#: contact columns of Motion's ``cm_contacts`` table a client may set (the contact fields Motion documents)
CONTACT_FIELDS = (
    "firstName",
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
    "priority",
    "scheduledat",
    "UserId",
    "CompanyId",
    "ListId",
)

#: the most characters Motion stores in the contact columns a lead fills (lead field -> limit): its
#: contact columns are Sequelize ``STRING``, a ``VARCHAR(255)``, and a longer value fails the whole
#: bulk add with a 400. Preparation rejects such a lead as ``field_too_long`` instead. ``phone`` and
#: ``mobile`` hold at most 15 digits; custom fields (``cf_<id>``) are left to the server.
LEAD_FIELD_LIMITS: Mapping[str, int] = MappingProxyType({"first_name": 255, "last_name": 255, "email": 255})

YesNo = Literal["yes", "no"]
DialMethod = Literal["preview", "progressive", "power", "predictive", "booked"]
DuplicateCheck = Literal["always", "onlyIfOpen", "never"]
ScheduledOrder = Literal["ASC", "DESC"]
QueueStrategy = Literal["ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom", "rrordered"]


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


#: rows per page when the hook walks a collection (public client pages at 100)
PAGE_SIZE = 100
#: rows per page for bulk reads (contacts of a list, a campaign's agents): Motion's documented maximum
LIST_READ_PAGE = 1000


class ListCreate(BaseModel):
    """``POST /api/cm/lists`` body (seed: ``{"name": "list1", "description": "..."}``)."""

    model_config = _REQUEST

    name: str = Field(min_length=1)
    description: str | None = None


class ContactIn(BaseModel):
    """One Motion contact as sent to ``POST /api/cm/contacts`` or in the bulk array.

    ``firstName`` is NOT NULL in Motion. Custom fields go as extra keys named ``cf_<id>``; any other
    unknown key that is neither a Motion contact column nor ``cf_<id>`` is refused.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    first_name: str = Field(alias="firstName", min_length=1)
    last_name: str | None = Field(default=None, alias="lastName")
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    priority: int | None = Field(default=None, gt=0)
    scheduled_at: str | None = Field(default=None, alias="scheduledat")
    description: str | None = None
    list_id: int = Field(alias="ListId")

    @model_validator(mode="after")
    def _only_custom_fields_extra(self) -> ContactIn:
        for key in self.model_extra or {}:
            if key not in CONTACT_FIELDS and not CUSTOM_FIELD.match(key):
                raise ValueError(f"unknown contact field {key!r} (Motion custom fields are cf_<id>)")
        return self

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


class _IdsBody(BaseModel):
    model_config = _REQUEST

    id: int
    ids: list[int] = Field(min_length=1)


class AttachLists(_IdsBody):
    """``POST /api/voice/queues/{id}/lists`` body: ``{"id": campaign_id, "ids": [list ids]}``."""


class ListAgents(_IdsBody):
    """``POST /api/cm/lists/{ListId}/users`` body: ``{"id": list_id, "ids": [agent ids]}``."""


class CampaignAgents(_IdsBody):
    """``POST /api/voice/queues/{id}/users`` body; ``penalty`` is a string in the seed (``"0"``)."""

    penalty: str = "0"


class CsvImport(BaseModel):
    """Step 2 of the CSV upload: ``POST /api/cm/contacts/upload/{stagedName}``."""

    model_config = _REQUEST

    id: str
    list_id: int = Field(alias="ListId")
    binding: dict[str, str] = Field(min_length=1)
    duplicates: list[str] | None = None

    @field_validator("binding")
    @classmethod
    def _binding_targets(cls, value: dict[str, str]) -> dict[str, str]:
        for field in value:
            if field not in CONTACT_FIELDS and not CUSTOM_FIELD.match(field):
                raise ValueError(f"binding target {field!r} is not a Motion contact field")
        if "firstName" not in value:
            raise ValueError("binding must map firstName (NOT NULL in Motion)")
        return value


class QueueCampaign(BaseModel):
    """``POST /api/voice/queues``: an outbound queue campaign.

    Every field of the vendor document's example body, with the example's values as defaults, except
    ``name`` and ``TrunkId`` which are required (a trunk id copied from an example would dial through
    someone else's trunk) and ``IntervalId`` which is omitted unless given.
    """

    model_config = _REQUEST

    name: str = Field(min_length=1)
    trunk_id: int = Field(alias="TrunkId")
    interval_id: int | None = Field(default=None, alias="IntervalId")
    dial_active: bool = Field(default=True, alias="dialActive")
    type: Literal["outbound"] = "outbound"
    dial_check_duplicate_type: DuplicateCheck = Field(default="always", alias="dialCheckDuplicateType")
    dial_cut_digit: int = Field(default=0, ge=0, alias="dialCutDigit")
    autopause: Literal["yes", "no", "all"] = "no"
    ringinuse: YesNo = "no"
    timeoutrestart: YesNo = "no"
    setinterfacevar: YesNo = "no"
    setqueuevar: YesNo = "no"
    setqueueentryvar: YesNo = "no"
    dial_order_by_scheduled_at: ScheduledOrder = Field(default="ASC", alias="dialOrderByScheduledAt")
    dial_global_interval: str = Field(default="07:00-22:00,*,*,*", alias="dialGlobalInterval")
    dial_amd_initial_silence: int = Field(default=2500, ge=0, alias="dialAMDInitialSilence")
    dial_amd_greeting: int = Field(default=1500, ge=0, alias="dialAMDGreeting")
    dial_amd_after_greeting_silence: int = Field(default=800, ge=0, alias="dialAMDAfterGreetingSilence")
    dial_amd_total_analysis_time: int = Field(default=5000, ge=0, alias="dialAMDTotalAnalysisTime")
    dial_amd_min_word_length: int = Field(default=100, ge=0, alias="dialAMDMinWordLength")
    dial_amd_between_words_silence: int = Field(default=50, ge=0, alias="dialAMDBetweenWordsSilence")
    dial_amd_maximum_number_of_words: int = Field(default=3, ge=0, alias="dialAMDMaximumNumberOfWords")
    dial_amd_silence_threshold: int = Field(default=256, ge=0, alias="dialAMDSilenceThreshold")
    dial_amd_maximum_word_length: int = Field(default=5000, ge=0, alias="dialAMDMaximumWordLength")
    dial_method: DialMethod = Field(default="progressive", alias="dialMethod")
    dial_power_level: int = Field(default=1, ge=1, alias="dialPowerLevel")
    dial_predictive_optimization: str = Field(default="dropRate", alias="dialPredictiveOptimization")
    dial_predictive_optimization_percentage: int = Field(
        default=3, ge=0, le=100, alias="dialPredictiveOptimizationPercentage"
    )
    dial_predictive_interval: int = Field(default=10, ge=0, alias="dialPredictiveInterval")
    dial_limit_queue: int = Field(default=0, ge=0, alias="dialLimitQueue")
    dial_random_last_digit_caller_id_number: int = Field(default=0, ge=0, alias="dialRandomLastDigitCallerIdNumber")
    dial_originate_timeout: int = Field(default=30, ge=0, alias="dialOriginateTimeout")
    dial_queue_options: str = Field(default="tTxX", alias="dialQueueOptions")
    dial_queue_timeout: int = Field(default=3, ge=0, alias="dialQueueTimeout")
    strategy: QueueStrategy = "rrmemory"
    timeout: int = Field(default=3, ge=0)
    retry: int = Field(default=3, ge=0)
    weight: int = Field(default=1, ge=0)
    dial_global_max_retry: int = Field(default=4, ge=0, alias="dialGlobalMaxRetry")
    dial_congestion_max_retry: int = Field(default=3, ge=0, alias="dialCongestionMaxRetry")
    dial_congestion_retry_frequency: int = Field(default=150, ge=0, alias="dialCongestionRetryFrequency")
    dial_busy_max_retry: int = Field(default=3, ge=0, alias="dialBusyMaxRetry")
    dial_busy_retry_frequency: int = Field(default=150, ge=0, alias="dialBusyRetryFrequency")
    dial_no_answer_max_retry: int = Field(default=3, ge=0, alias="dialNoAnswerMaxRetry")
    dial_no_answer_retry_frequency: int = Field(default=150, ge=0, alias="dialNoAnswerRetryFrequency")
    # Motion columns outside the document's example (Motion's campaign settings): sent only when given
    description: str | None = None
    dial_timezone: str | None = Field(default=None, alias="dialTimezone")
    dial_prefix: str | None = Field(default=None, alias="dialPrefix")
    dial_amd_active: bool | None = Field(default=None, alias="dialAMDActive")
    trunk_backup_id: int | None = Field(default=None, alias="TrunkBackupId")
    dial_no_such_number_max_retry: int | None = Field(default=None, ge=0, alias="dialNoSuchNumberMaxRetry")
    dial_no_such_number_retry_frequency: int | None = Field(default=None, ge=0, alias="dialNoSuchNumberRetryFrequency")
    dial_drop_max_retry: int | None = Field(default=None, ge=0, alias="dialDropMaxRetry")
    dial_drop_retry_frequency: int | None = Field(default=None, ge=0, alias="dialDropRetryFrequency")
    dial_abandoned_max_retry: int | None = Field(default=None, ge=0, alias="dialAbandonedMaxRetry")
    dial_abandoned_retry_frequency: int | None = Field(default=None, ge=0, alias="dialAbandonedRetryFrequency")
    dial_machine_max_retry: int | None = Field(default=None, ge=0, alias="dialMachineMaxRetry")
    dial_machine_retry_frequency: int | None = Field(default=None, ge=0, alias="dialMachineRetryFrequency")
    dial_agent_reject_max_retry: int | None = Field(default=None, ge=0, alias="dialAgentRejectMaxRetry")
    dial_agent_reject_retry_frequency: int | None = Field(default=None, ge=0, alias="dialAgentRejectRetryFrequency")

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def _build_update_model() -> type[BaseModel]:
    """``PUT /api/voice/queues/{id}``: the same fields, all optional; only those given are sent."""
    fields: dict[str, Any] = {}
    for name, info in QueueCampaign.model_fields.items():
        annotation: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        fields[name] = (annotation | None, Field(default=None, alias=info.alias))
    return create_model("QueueCampaignUpdate", __config__=_REQUEST, **fields)


QueueCampaignUpdate = _build_update_model()


def campaign_update_body(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate a partial campaign update (wire or Python names) and return only the given keys, wire-named."""
    model = QueueCampaignUpdate.model_validate(changes)
    return model.model_dump(by_alias=True, exclude_unset=True)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


class Page(BaseModel, Generic[T]):
    """Motion collections: ``{"count": total, "rows": [...]}``."""

    model_config = _RESPONSE

    count: int
    rows: list[T]


class CmList(BaseModel):
    model_config = _RESPONSE

    id: int
    name: str
    description: str | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")


class ListField(BaseModel):
    """A custom field of a list: its ``id`` gives the contact key ``cf_<id>``."""

    model_config = _RESPONSE

    id: int
    name: str | None = None
    alias: str | None = None
    type: str | None = None

    @property
    def key(self) -> str:
        return f"cf_{self.id}"


class Contact(BaseModel):
    model_config = _RESPONSE

    id: int
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    phone: str | None = None
    email: str | None = None
    priority: int | None = None
    scheduled_at: str | None = Field(default=None, alias="scheduledat")
    list_id: int | None = Field(default=None, alias="ListId")


class BulkAddResult(BaseModel):
    """What ``POST /api/cm/lists/{id}/contacts`` achieved: the body shape is not documented (NF)."""

    sent: int
    ids: list[int] = Field(default_factory=list)


class QueueCampaignOut(BaseModel):
    """A queue campaign as Motion answers it. Unlike other responses it keeps every key it is given
    (``model_extra``), so that a re-run of CreateCampaignOperator can compare any field it set."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: int
    name: str
    type: str | None = None
    dial_active: bool | None = Field(default=None, alias="dialActive")
    dial_method: str | None = Field(default=None, alias="dialMethod")
    dial_check_duplicate_type: str | None = Field(default=None, alias="dialCheckDuplicateType")
    trunk_id: int | None = Field(default=None, alias="TrunkId")
    interval_id: int | None = Field(default=None, alias="IntervalId")
    dial_timezone: str | None = Field(default=None, alias="dialTimezone")


class User(BaseModel):
    model_config = _RESPONSE

    id: int
    name: str | None = None
    fullname: str | None = None
    role: str | None = None


class RealtimeAgent(BaseModel):
    model_config = _RESPONSE

    id: int
    name: str | None = None
    fullname: str | None = None
    online: bool | None = None
    voice_status: str | None = Field(default=None, alias="voiceStatus")


class HopperHistory(BaseModel):
    model_config = _RESPONSE

    id: int | None = None
    voice_queue_id: int | None = Field(default=None, alias="VoiceQueueId")
    statedesc: str | None = None
    starttime: str | None = None
    endtime: str | None = None
    contact_id: int | None = Field(default=None, alias="ContactId")
    list_id: int | None = Field(default=None, alias="ListId")


class StagedFile(BaseModel):
    model_config = _RESPONSE

    name: str


class StagedUpload(BaseModel):
    """Step 1 answer: ``{"file": {"name": "<staged name>", ...}}``."""

    model_config = _RESPONSE

    file: StagedFile


class ImportStarted(BaseModel):
    """Step 2 answer: ``{"pid": n}``; the import then continues in the background."""

    model_config = _RESPONSE

    pid: int


class ImportProgress(BaseModel):
    """A CSV import is done when the list holds the expected number of contacts (docs/vendors/xcally.md#decision-csv-import-completion-by-contact-count)."""

    list_id: int
    count: int
    expected: int

    @property
    def done(self) -> bool:
        return self.count >= self.expected


# --------------------------------------------------------------------------------------------
# PreparedLead -> Motion contact
# --------------------------------------------------------------------------------------------


def wire_datetime(value: datetime) -> str:
    """An aware instant as Motion's ``scheduledat``: ISO 8601 in UTC with ``Z``, whole seconds (assumption)."""
    if value.tzinfo is None:
        raise DialerValueError("scheduledat needs an aware datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def custom_field_key(key: str) -> str:
    """``"3"`` or ``"cf_3"`` -> ``"cf_3"``; anything else is refused."""
    key = str(key).strip()
    candidate = key if key.startswith("cf_") else f"cf_{key}"
    if not CUSTOM_FIELD.match(candidate):
        raise DialerValueError(f"custom field {key!r} must be a Motion custom field id (cf_<id> or <id>)")
    return candidate


def xcally_contact(
    lead: PreparedLead,
    *,
    list_id: int,
    phone_format: PhoneFormat = "digits",
    first_name_fallback: str | None = None,
) -> dict[str, Any]:
    """Map a prepared lead to the Motion contact JSON of ``POST /api/cm/contacts`` and the bulk array.

    - ``firstName`` is NOT NULL in Motion: the lead's first name, else ``first_name_fallback``, else
      the phone as sent (so an agent always sees something that identifies the contact).
    - ``phone``: see :func:`wire_phone`; the first alternative number goes to ``mobile``.
    - ``scheduledat``: only when ``lead.call_at`` is set, see :func:`wire_datetime`.
    - ``priority``: only when given; Motion requires > 0 (its default is 2).
    - ``custom_fields`` ``{"3": "x"}`` or ``{"cf_3": "x"}`` -> ``"cf_3": "x"``.

    A chunk maps every lead with the same options: :func:`contact_mapper` checks them once.
    """
    return contact_mapper(list_id=list_id, phone_format=phone_format, first_name_fallback=first_name_fallback)(lead)


def contact_mapper(
    *, list_id: int, phone_format: PhoneFormat = "digits", first_name_fallback: str | None = None
) -> Callable[[PreparedLead], dict[str, Any]]:
    """:func:`xcally_contact` with its options checked once: the function a chunk maps each of its leads with.

    A list upload maps every lead it sends; the options (list, phone format, fallback) are the
    chunk's, so they are read and checked here, and the function returned does only the per-lead work.
    """
    wire_phone("+1", phone_format)  # refuses an unknown format now, not at the first lead
    list_id = int(list_id)
    strip = "+" if phone_format == "digits" else ""
    fallback = first_name_fallback or None

    def contact(lead: PreparedLead) -> dict[str, Any]:
        phone = lead.phone.lstrip(strip) if strip else lead.phone
        out: dict[str, Any] = {"ListId": list_id, "firstName": lead.first_name or fallback or phone}
        if lead.last_name:
            out["lastName"] = lead.last_name
        out["phone"] = phone
        if lead.alternatives:
            mobile = lead.alternatives[0]
            out["mobile"] = mobile.lstrip(strip) if strip else mobile
        if lead.email:
            out["email"] = lead.email
        if lead.priority is not None:
            if lead.priority < 1:
                raise DialerValueError(f"row {lead.row}: XCALLY priority must be > 0, got {lead.priority}")
            out["priority"] = lead.priority
        if lead.call_at is not None:
            out["scheduledat"] = wire_datetime(lead.call_at)
        if lead.custom_fields:
            for key, value in lead.custom_fields.items():
                out[custom_field_key(key)] = value
        return out

    return contact


#: CSV columns in the order they are written (only those some lead fills are kept)
_CSV_ORDER = ("firstName", "lastName", "phone", "mobile", "email", "priority", "scheduledat")


def contacts_csv(
    leads: Iterable[PreparedLead],
    *,
    phone_format: PhoneFormat = "digits",
    first_name_fallback: str | None = None,
) -> bytes:
    """The CSV file for the two-step upload (docs/vendors/xcally.md#decision-csv-upload-as-flowjs-multipart): a header of Motion field names, then one row per lead.

    Columns are named after the Motion fields they bind to (see :func:`csv_binding`), so the binding
    is the identity. Quoting is RFC 4180 (``csv.QUOTE_MINIMAL``), UTF-8, ``\\r\\n`` line ends.
    """
    mapped = contact_mapper(list_id=0, phone_format=phone_format, first_name_fallback=first_name_fallback)
    rows = [mapped(lead) for lead in leads]
    custom = sorted({k for row in rows for k in row if k.startswith("cf_")}, key=lambda k: int(k[3:]))
    present = {k for row in rows for k in row}
    columns = [c for c in _CSV_ORDER if c in present or c in ("firstName", "phone")] + custom
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in columns])
    return out.getvalue().encode("utf-8")


def csv_binding(csv_bytes: bytes) -> dict[str, str]:
    """The step-2 ``binding`` (contact field -> CSV column) for a file made by :func:`contacts_csv`."""
    first_line = csv_bytes.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")
    header = next(csv.reader([first_line]))
    return {column: column for column in header}


def contacts_of_leads(
    leads: Sequence[PreparedLead],
    *,
    list_id: int,
    phone_format: PhoneFormat = "digits",
    first_name_fallback: str | None = None,
) -> list[dict[str, Any]]:
    """The bulk-add array for a chunk of leads."""
    mapped = contact_mapper(list_id=list_id, phone_format=phone_format, first_name_fallback=first_name_fallback)
    return [mapped(lead) for lead in leads]
