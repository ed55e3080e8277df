"""What the uContact emulator accepts: the Integra ``call`` record and the Automation bodies, per channel kind.

Written from the Integra document, the Spanish Automation API document and the wire reference
(docs/vendors/ucontact.md#wire-reference) alone. Automation bodies are validated with one
``TypeAdapter.validate_json`` over TypedDicts (no model instance per contact), so a 1,000,000-contact
list is ingested in seconds.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any, NotRequired

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    with_config,
)
from typing_extensions import TypedDict

# -- Integra: Dialers/DialerTask ---------------------------------------------------------------

#: the nine keys of the ``call`` object, all mandatory ("In the JSON, all keys must be included")
CALL_KEYS = ("calldate", "campaign", "destination", "alternatives", "agent", "data", "source", "bulk", "automatic")
CALLDATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class Call(BaseModel):
    """The ``call`` JSON as the document describes it: every key required, strings and booleans strictly typed."""

    model_config = ConfigDict(extra="forbid", strict=True)

    calldate: StrictStr | None
    campaign: StrictStr
    destination: StrictStr
    alternatives: StrictStr
    agent: StrictStr
    data: StrictStr
    source: StrictStr
    bulk: StrictBool
    automatic: StrictBool


# -- Automation: outbound hubs -----------------------------------------------------------------

SCHEDULE_FORMAT = "%Y-%m-%d %H:%M:%S"


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


def validation_message(exc: ValidationError) -> dict[str, Any]:
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
