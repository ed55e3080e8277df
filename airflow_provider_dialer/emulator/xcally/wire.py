"""What the XCALLY emulator accepts: its own models of Motion's contacts, lists, queue campaigns and bodies, and
the Express/Sequelize-shaped errors it answers.

Written from the vendor document and the wire reference (docs/vendors/xcally.md#wire-reference) on its own:
nothing here imports the provider's hooks. Motion is an Express + Sequelize server, so errors look
like Express/Sequelize ones [A]: ``{"message": ...}``, and validation failures
``400 {"name": "SequelizeValidationError", "message": ..., "errors": [{"message", "path"}]}``.

The emulator is stricter than Motion on one point, on purpose: unknown attributes are refused with a
validation error (Sequelize would drop them silently), so a misspelt field fails a test.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, create_model
from typing_extensions import TypedDict

from airflow_provider_dialer.emulator.state import Refused

#: custom fields the emulated server knows (global custom fields ``cf_1`` .. ``cf_100``)
CUSTOM_FIELD_IDS = range(1, 101)
_DATETIME = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?)?$"
Str255 = Annotated[str, StringConstraints(max_length=255)]
NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=255)]
DateTimeText = Annotated[str, StringConstraints(pattern=_DATETIME)]
Positive = Annotated[int, Field(gt=0)]

# cm_contacts columns (the contact fields Motion documents); ``firstName`` is NOT NULL. The hook lists them too:
# the emulator reads the document on its own and imports nothing of the hook, so a misreading fails a test
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
_CUSTOM_FIELD = re.compile(r"^cf_([1-9][0-9]*)$")


def is_contact_field(name: str) -> bool:
    """Whether ``name`` is a contact column a CSV binding or a duplicates check may name (``cf_N`` included)."""
    return name in CONTACT_FIELDS or bool(_CUSTOM_FIELD.match(name))


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
BULK_CONTACTS: TypeAdapter[Any] = TypeAdapter(list[BulkContact])


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
QUEUE_FIELDS: dict[str, Any] = {
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
    QUEUE_FIELDS[_name] = (NonNeg, _default)

QueueCreate = create_model("QueueCreate", __config__=ConfigDict(extra="forbid"), **QUEUE_FIELDS)
_QUEUE_UPDATE_FIELDS: dict[str, Any] = {name: (spec[0] | None, None) for name, spec in QUEUE_FIELDS.items()}
QueueUpdate = create_model("QueueUpdate", __config__=ConfigDict(extra="forbid"), **_QUEUE_UPDATE_FIELDS)


# -- column values, as filters and duplicate checks compare them --------------------------------


def as_text(value: Any) -> str:
    """A column's value as the text a filter (or a duplicates check) compares."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def matches_search(row: dict[str, Any], text: str | None) -> bool:
    """``filter=<text>``: some text column holds ``text``, in any case."""
    if not text:
        return True
    low = text.lower()
    return any(isinstance(v, str) and low in v.lower() for v in row.values())


# -- error bodies ---------------------------------------------------------------------------------


def message(text: str, status: int) -> Refused:
    """An Express-style refusal: ``{"message": text}``."""
    return Refused(status, {"message": text})


def validation(errors: list[dict[str, Any]]) -> Refused:
    """A ``SequelizeValidationError`` (400) listing each offending attribute."""
    body = {
        "name": "SequelizeValidationError",
        "message": "Validation error: " + ",\n".join(e["message"] for e in errors),
        "errors": errors,
    }
    return Refused(400, body)


def not_unique(field: str) -> Refused:
    """A ``SequelizeUniqueConstraintError`` (400): another row holds this value of a unique column."""
    body = {
        "name": "SequelizeUniqueConstraintError",
        "message": "Validation error",
        "errors": [{"message": f"{field} must be unique", "path": field}],
    }
    return Refused(400, body)


def pydantic_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False)[:50]:
        loc = [str(p) for p in err["loc"]]
        path = next((p for p in reversed(loc) if not p.isdigit()), "") if loc else ""
        where = f"{prefix}[{loc[0]}]." if loc and loc[0].isdigit() else prefix
        if err["type"] == "missing":
            text, kind = f"{where}{path} cannot be null", "notNull Violation"
        elif err["type"] == "extra_forbidden":
            text, kind = f"{where}{path} is not an attribute of this model", "unknown attribute"
        else:
            text, kind = f"{where}{path}: {err['msg']}", "Validation error"
        out.append(
            {
                "message": text,
                "path": path,
                "type": kind,
                "value": err.get("input") if kind != "notNull Violation" else None,
            }
        )
    return out


def parsed(body: Any, model: type[BaseModel]) -> Any:
    """``body`` (JSON already read) validated by ``model``, or the Sequelize-style validation error Motion answers."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise validation(pydantic_errors(exc)) from None
