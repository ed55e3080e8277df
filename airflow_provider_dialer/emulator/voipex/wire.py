"""What the Voipex emulator accepts: its own models of the guide's bodies, and the error bodies it answers.

Written from the vendor's dialer guide and the wire reference (docs/vendors/voipex.md#wire-reference), never
from the provider's hook. What the guide leaves open is marked [A] here and listed in
``docs/vendors/voipex.md``. Errors are Boom/Hapi-shaped (``{"statusCode", "error", "message"}``) on the
API and Keycloak-shaped (``{"error", "error_description"}``) on ``POST /token``.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from airflow_provider_dialer.emulator.state import Refused

# -- the emulator's own wire models (from the guide, not from the hook) -------------------------


class NumberAttribute(TypedDict):
    """[A] The guide shows only ``"attributes": []``; items are taken as ``{"name", "value"}`` strings."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    name: str
    value: str


class CallListNumber(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    #: [A] digits as in the guide's ``"123456789"``; a leading "+" is tolerated
    number: str
    attributes: NotRequired[list[NumberAttribute]]


class CallListBody(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)  # type: ignore[misc]  # pydantic reads it
    name: str
    numbers: list[CallListNumber]


CALL_LIST_BODY = TypeAdapter(CallListBody)

_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivePeriodBody(_Body):
    startTime: str = Field(pattern=_HHMM)  # noqa: N815 - the vendor's spelling
    endTime: str = Field(pattern=_HHMM)  # noqa: N815
    weekDays: list[int] = Field(min_length=1)  # noqa: N815


class RescheduleRuleBody(_Body):
    status: str = Field(min_length=1)
    retryAfter: int = Field(ge=0)  # noqa: N815
    maxAttempts: int = Field(ge=1)  # noqa: N815


class EndpointBody(_Body):
    type: Literal["phone", "queue"] = "phone"
    boostFactor: float = Field(default=1, gt=0)  # noqa: N815
    maxWaitingCalls: int = Field(default=2, ge=0)  # noqa: N815
    queue: str | None = None


class CampaignBody(_Body):
    """The guide's parameter table: required ✅ fields have no default."""

    name: str = Field(min_length=1)
    callerId: str = Field(min_length=1)  # noqa: N815
    activePeriod: ActivePeriodBody  # noqa: N815
    callLists: list[int] = Field(min_length=1)  # noqa: N815
    rescheduleRules: list[RescheduleRuleBody] = Field(default_factory=list)  # noqa: N815
    ivr: str = Field(min_length=1)
    endpoint: EndpointBody = Field(default_factory=EndpointBody)


class ControlBody(_Body):
    command: str


def _joi_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# -- error bodies ---------------------------------------------------------------------------------


def boom(status: int, error: str, message: str, **extra: Any) -> Refused:
    """A Hapi/Boom error body [A] (docs/vendors/voipex.md#decision-error-bodies-kept-verbatim)."""
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return Refused(status, {"statusCode": status, "error": error, "message": message, **extra}, headers)


def bad_field(message: str, key: str) -> Refused:
    """400 for one field the guide's rules refuse, naming it as Joi does."""
    return boom(400, "Bad Request", message, validation={"source": "payload", "keys": [key]})


def invalid(exc: ValidationError) -> Refused:
    """400 naming the first offending field, Joi-style (``"numbers[3].number" ...``)."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = _joi_path(tuple(first["loc"]))
    message = f'"{path}" {first["msg"]}' if path else first["msg"]
    keys = [".".join(str(p) for p in e["loc"]) for e in errors[:10]]
    return boom(400, "Bad Request", message, validation={"source": "payload", "keys": keys})


def oauth_error(status: int, error: str, description: str) -> Refused:
    """A Keycloak-shaped refusal of ``POST /token``."""
    return Refused(status, {"error": error, "error_description": description})
