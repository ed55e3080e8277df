"""What the UJET emulator accepts and answers: its own models of the seed's contact bodies, phone numbers, job and
error shapes.

Written from the vendor's outbound dialer document and the wire reference (docs/vendors/ujet.md#wire-reference),
never from the provider's hook, so a misreading on either side fails a test. Behaviour the documents
leave open is marked [A] here and in ``docs/vendors/ujet.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from airflow_provider_dialer.emulator.state import Refused

UPCOMING = "Upcoming"
JOB_PARENT = "Jobs::Bulk::Campaign::ParentJob"
JOB_START_IMPORT = "Jobs::Bulk::Campaign::StartImport"
DUPLICATE_PHONE = "NativePowerDial::ContactService::DuplicateContactPhoneOnCampaign"

#: manager API ``contact_stats`` keys (CCAI's manager-api-campaign model)
CONTACT_STATS_KEYS = (
    "Abandoned by Contact",
    "Abandoned by Dialer",
    "Average Redials per Number",
    "Carrier Error",
    "Completed",
    "Connected",
    "Contacts",
    "Dialer General Error",
    "Dialing",
    "Do Not Call",
    "Finished",
    "Invalid Number or Name",
    "Invalid outbound number",
    "Not Picked Up",
    "Not Reached to Contact",
    "Not reached",
    "Not yet reached",
    "Queued",
    "Reached",
    "Redial Scheduled",
    "Redials",
    "Remaining",
    "Running",
    "Skipped",
    "Skipped & Closed",
    "Transferred",
    "Transferred and Finished",
    "Upcoming",
    "Voicemail Hung Up",
)

PHONE_PUNCTUATION = str.maketrans("", "", " -()")


def phone_key(raw: str) -> str | None:
    """The number a UJET phone stands for, or None when it is not a plausible international number.

    [A] Spaces, dashes and parentheses are dropped (the seed writes ``+1 111-111-1111``); what is left
    must be ``+`` and 8 to 15 digits (E.164 allows at most 15).
    """
    key = raw.translate(PHONE_PUNCTUATION)
    digits = key[1:]
    if key[:1] == "+" and 8 <= len(digits) <= 15 and digits.isdigit() and digits.isascii():
        return key
    return None


# -- the emulator's own wire models (from the seed, not from the hook) --------------------------


@dataclass(slots=True)
class NewContact:
    """A contact as the seed's single-add body and import file show it. Parsed straight to this slotted class."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True, cache_strings="all")

    phone_number: str
    name: str | None = None
    email: str | None = None
    outbound_number: str | None = None
    external_unique_id: str | None = None


@dataclass(slots=True)
class ContactPatch:
    """``PATCH …/contact`` body: ``contact_id`` plus the fields to change (the seed lists no ``outbound_number``)."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    contact_id: int
    name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    external_unique_id: str | None = None


@dataclass(slots=True)
class ContactSelector:
    """``DELETE …/contact`` body: the seed's schema lists three identifiers."""

    __pydantic_config__ = ConfigDict(extra="forbid", strict=True)

    contact_id: int | None = None
    phone_number: str | None = None
    external_unique_id: str | None = None


NEW_CONTACT = TypeAdapter(NewContact)
NEW_CONTACTS = TypeAdapter(list[NewContact])
CONTACT_PATCH = TypeAdapter(ContactPatch)
CONTACT_SELECTOR = TypeAdapter(ContactSelector)


# -- error bodies ---------------------------------------------------------------------------------


def not_found(what: str) -> Refused:
    return Refused(404, {"message": f"{what} not found"})


def invalid(message: str, errors: list[str] | None = None) -> Refused:
    """422 with the message and, when there are any, one line per offending field."""
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return Refused(422, body)


def field_errors(exc: ValidationError, limit: int = 10) -> list[str]:
    out = []
    for err in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        out.append(f"{where}: {err['msg']}")
    return out


def parsed_body(raw: bytes, adapter: TypeAdapter[Any]) -> Any:
    """A JSON body validated by ``adapter``, or the 422 UJET answers for an empty or invalid one."""
    if not raw:
        raise invalid("Request body is empty")
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        raise invalid("Invalid contact parameters", field_errors(exc)) from None
