"""The vendor-neutral verbs operators speak: what a verb returns, the verbs, and ``require``.

Operators never name a vendor: they ask for the hook of the connection's type
(``hooks/registry.py``, ``get_dialer_hook``) and check that it
implements the verb they need (``require(hook, ListUploader, ...)``). A hook implements the verbs its
vendor's API has; a missing one raises :class:`UnsupportedCapabilityError` naming the vendor, the
verb and what to use instead, before any request is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from airflow_provider_dialer.exceptions import UnsupportedCapabilityError

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead

# --------------------------------------------------------------------------------------------
# What a verb returns
# --------------------------------------------------------------------------------------------


@dataclass
class ChunkOutcome:
    """What happened to one chunk of leads at the vendor. JSON-able (it is kept as progress)."""

    accepted: int = 0
    #: leads the vendor refused: ``{"row", "reason", "detail"}``
    refused: list[dict[str, Any]] = field(default_factory=list)
    #: rows whose fate is unknown (sent, no answer, and the vendor's state cannot tell)
    unknown: list[int] = field(default_factory=list)
    #: rows a state read proved did NOT land (only set by ``resolve_*``); delivery sends them again
    missing: list[int] = field(default_factory=list)
    #: ids the chunk created or touched, by kind: ``{"list_ids": [...], "job_ids": [...]}``
    ids: dict[str, list[Any]] = field(default_factory=dict)
    #: how the outcome was learnt: ``sent`` or ``resolved`` (read back after an unknown fate)
    how: str = "sent"
    #: rows of ``accepted`` leads the target already held (the same phone): the vendor's duplicate
    #: check skipped them or the hook did not send them, so nothing new was stored for them and a
    #: wait on the target's count must not expect them
    already_held: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults: progress holds one per chunk (900 for a million
        XCALLY leads) and is rewritten as a whole, so most chunks store just ``{"accepted": n}``."""
        out: dict[str, Any] = {"accepted": self.accepted}
        for name in ("refused", "unknown", "missing", "ids", "already_held"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.how != "sent":
            out["how"] = self.how
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkOutcome:
        return cls(**data)


@dataclass(frozen=True)
class WaitState:
    """The state of something asynchronous at the vendor (an import job, a loading list)."""

    status: str
    done: bool
    failed: bool = False
    detail: str = ""


# --------------------------------------------------------------------------------------------
# The verbs
# --------------------------------------------------------------------------------------------


@runtime_checkable
class ListUploader(Protocol):
    """Push prepared leads as a whole list (hub list, XCALLY list, Voipex call list, UJET import)."""

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Create or reuse what the chunks go into; returns a JSON-able target kept as progress."""

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """Send one chunk. Raises DialerDeliveryUnknownError when the answer was lost."""

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """After an unknown fate: read the vendor's state; None when the vendor cannot tell."""

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        """What a wait needs: ``{"kind": "import_job", "campaign_id", "job_ids"}``,
        ``{"kind": "list_loaded", "targets": [...]}``, or None when the list is usable at once."""

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        """Leads per request for this target (e.g. XCALLY batch vs CSV import)."""


@runtime_checkable
class FreshLeadPusher(Protocol):
    """Push a small batch of priority leads for immediate or scheduled contact."""

    fresh_chunk_size: int
    #: whether the fresh-leads wire carries each lead's time (uContact scheduleDate, XCALLY scheduledat)
    fresh_per_lead_schedule: bool

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]: ...

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome: ...

    def resolve_fresh_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None: ...


@runtime_checkable
class DialerTaskAdder(Protocol):
    """uContact Integra ``DialerTask``: one record per lead."""

    def add_dialer_task_lead(self, lead: PreparedLead, settings: dict[str, Any]) -> None:
        """Add one record; raises DialerRejectedError when the instance answers ``0``."""


@runtime_checkable
class CampaignCreator(Protocol):
    """Create a campaign idempotently by name."""

    def find_campaign_by_name(self, name: str) -> dict[str, Any] | None: ...

    def build_campaign(self, common: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """Validate and merge the common arguments and the vendor ``settings`` into the wire body."""

    def campaign_differences(self, existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]: ...

    def create_campaign_from(self, wanted: dict[str, Any]) -> Any: ...

    def update_campaign_from(self, campaign_id: Any, wanted: dict[str, Any]) -> None: ...


@runtime_checkable
class CampaignController(Protocol):
    """Start, pause, ... a campaign. ``campaign_commands`` lists what the vendor accepts."""

    campaign_commands: frozenset[str]

    def control(self, campaign_id: Any, command: str) -> dict[str, Any]:
        """Send ``command``; one not in ``campaign_commands`` raises (``check_campaign_command``) before any request."""
        ...


def check_campaign_command(vendor: str, accepted: frozenset[str], command: str) -> None:
    """Raise ``UnsupportedCapabilityError`` before any request when ``command`` is not one of the vendor's
    ``accepted`` campaign commands, naming them (the operator and every vendor's ``control`` call this)."""
    if command not in accepted:
        raise UnsupportedCapabilityError(
            vendor, f"campaign command {command!r}", f"{vendor} accepts {', '.join(sorted(accepted))}"
        )


@runtime_checkable
class LeadRemover(Protocol):
    """Remove (and update) campaign contacts."""

    def remove_lead(
        self, campaign_id: Any, *, contact_id: Any = None, phone: str | None = None, external_id: str | None = None
    ) -> dict[str, Any]: ...


@runtime_checkable
class ContactSyncer(Protocol):
    """Change contacts a target already holds, by the vendor's id: what ``sync_mode`` ``upsert`` and
    ``mirror`` need beyond sending new leads. Keys are ``(key_kind, lead_key)`` as in the sync ledger."""

    #: the sync modes the vendor's verbs carry out faithfully (``upsert``, ``mirror``)
    sync_modes: frozenset[str]

    def sync_contact_ids(
        self, target: dict[str, Any], keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """The vendor's ids of the keys the target holds, read from the vendor (keys it lacks are left out)."""

    def sync_update(self, target: dict[str, Any], lead: PreparedLead, ids: dict[str, Any]) -> dict[str, Any]:
        """Update the contact ``ids`` names to what ``lead`` says; returns its ids. Idempotent.

        Raises ``DialerHTTPError`` when the vendor refuses the change (e.g. the contact is gone)."""

    def sync_remove(self, target: dict[str, Any], ids: dict[str, Any]) -> bool:
        """Remove the contact ``ids`` names; False when the target no longer held it. Idempotent."""


@runtime_checkable
class ImportJobWatcher(Protocol):
    """Reads a bulk import job's state (async, for triggers; sync, for poke mode)."""

    def import_job_state(self, campaign_id: Any, job_id: Any) -> WaitState: ...

    async def aimport_job_state(self, campaign_id: Any, job_id: Any) -> WaitState: ...


@runtime_checkable
class ListStateWatcher(Protocol):
    """Reads whether an uploaded list has finished loading."""

    def list_state(self, target: dict[str, Any]) -> WaitState: ...

    async def alist_state(self, target: dict[str, Any]) -> WaitState: ...


@runtime_checkable
class LinkBuilder(Protocol):
    """Builds the URL of a campaign or list in the vendor's web UI (optional: a hook without it gives no links)."""

    def check_link_templates(self, kinds: Sequence[str]) -> None:
        """Raise DialerConfigError when a link template names what this vendor cannot fill."""

    def ui_link(self, kind: str, values: Mapping[str, Any]) -> str | None:
        """The URL for ``kind`` (``campaign``, ``list``) filled with ``values``, or None. Never raises."""

    def target_link_values(self, target: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
        """The placeholder values a lead upload knows: from its target and the ids its chunks reported."""


#: what to use instead, per verb, when a vendor lacks it
ALTERNATIVES: dict[str, str] = {
    "ListUploader": "use PushFreshLeadsOperator or AddToDialerTaskOperator for this vendor",
    "FreshLeadPusher": "use UploadListOperator for this vendor",
    "DialerTaskAdder": "DialerTask is a uContact Integra API; use UploadListOperator or PushFreshLeadsOperator",
    "CampaignCreator": "create the campaign in the vendor's UI and pass its id",
    "CampaignController": "control the campaign in the vendor's UI",
    "LeadRemover": "remove contacts in the vendor's UI; its documents give no API for it",
    "ImportJobWatcher": "this vendor has no asynchronous import jobs",
    "ListStateWatcher": "this vendor's lists are usable once the upload call returns",
}

P = TypeVar("P")


def require(hook: Any, verb: type[P], what: str | None = None) -> P:
    """Return ``hook`` typed as ``verb``, or raise UnsupportedCapabilityError before any request."""
    if isinstance(hook, verb):
        return hook
    name = verb.__name__
    raise UnsupportedCapabilityError(
        getattr(hook, "vendor", type(hook).__name__), what or name, ALTERNATIVES.get(name, "")
    )
