"""uContact's side of the vendor-neutral capabilities (``capabilities.py``), mixed into :class:`UContactHook`.

DialerTaskAdder (Integra), ListUploader, ListStateWatcher and FreshLeadPusher (Automation API: a
hub list per chunk, fresh leads per hub). The APIs have no campaign object and no contact removal:
CampaignCreator, CampaignController and LeadRemover stay absent on purpose, so the operators raise
UnsupportedCapabilityError before any request. The endpoint methods these call live in ``hook.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic_core import to_json

from airflow_provider_dialer.capabilities import ChunkOutcome, WaitState
from airflow_provider_dialer.exceptions import DialerConfigError, DialerHTTPError
from airflow_provider_dialer.hooks.phone_format import PhoneFormat, phone_format_setting, target_phone_format
from airflow_provider_dialer.hooks.ucontact.wire import CHANNELS, automation_contact, dialer_task_call
from airflow_provider_dialer.transport.settings import as_bool

if TYPE_CHECKING:
    from typing import Protocol

    from airflow_provider_dialer.hooks.base import DialerHook
    from airflow_provider_dialer.hooks.ucontact.wire import DialerTaskCall, FreshLeadsResult, ListInfo
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.transport.requests import AsyncTwin, Flow

    class _UContactEndpoints(Protocol):
        """The endpoints of UContactHook this mixin calls (UContactHook defines each, most with ``api_call``)."""

        aget_list: AsyncTwin[[str, Any], ListInfo]

        @property
        def instance_timezone(self) -> str: ...
        def _flag(self, name: str, settings: Mapping[str, Any] | None = None, default: bool = False) -> bool: ...
        def dialer_task(self, call: DialerTaskCall | Mapping[str, Any]) -> bool: ...
        def _upload_list_flow(self, hub: str, filename: str, encoded: Sequence[bytes]) -> Flow[ListInfo]: ...
        def _push_fresh_flow(self, hub: str, encoded: Sequence[bytes]) -> Flow[FreshLeadsResult]: ...
        def get_list(self, hub: str, list_id: Any) -> ListInfo: ...
        def list_lists(self, hub: str) -> list[ListInfo]: ...

    class _MixinBase(DialerHook, _UContactEndpoints):
        """What the mixin's methods find on ``self``: the base hook and UContactHook's endpoints."""

else:
    _MixinBase = object  # at run time the mixin adds nothing to UContactHook's bases

#: statuses that say "this read does not exist here" (the list reads are assumptions:
#: docs/vendors/ucontact.md#decision-assumed-list-state-read)
_NO_SUCH_READ = frozenset({404, 405, 501})
_LIST_SETTINGS = frozenset({"hub", "channel", "zone_aware", "chunk_size", "phone_format", "number_plus"})
_FRESH_SETTINGS = frozenset({"hub", "channel", "chunk_size", "phone_format", "number_plus"})


def _plus_means(value: Any) -> PhoneFormat:
    """The older boolean ``number_plus`` setting as a phone format (true: ``e164``)."""
    return "e164" if as_bool(value, True) else "digits"


def _phone_format(vendor: str, settings: Mapping[str, Any]) -> PhoneFormat:
    """An Automation target's ``phone_format`` (default ``e164``; ``number_plus``, its older name, still read)."""
    return phone_format_setting(vendor, settings, "e164", older="number_plus", older_means=_plus_means)


class UContactVerbs(_MixinBase):
    """The capability methods of :class:`~airflow_provider_dialer.hooks.ucontact.hook.UContactHook`."""

    #: leads per freshLeads request ("fewer than a list", the document says)
    fresh_chunk_size: ClassVar[int] = 500
    fresh_per_lead_schedule: ClassVar[bool] = True
    #: contacts per list upload; each chunk becomes its own hub list
    list_chunk_size: ClassVar[int] = 20_000
    #: list contacts carry no time (only a zone, within the hub's hours); a target may trust those hours
    list_per_lead_schedule: ClassVar[bool] = False

    # -- DialerTaskAdder (Integra) ---------------------------------------------------------------------

    def add_dialer_task_lead(self, lead: PreparedLead, settings: Mapping[str, Any]) -> None:
        """DialerTaskAdder: map ``lead`` with :func:`dialer_task_call` and send it."""
        campaign = settings.get("campaign")
        if not campaign:
            raise DialerConfigError("uContact DialerTask needs a campaign name")
        call = dialer_task_call(
            lead,
            campaign=str(campaign),
            instance_timezone=self.instance_timezone,
            source=str(settings.get("source", "airflow")),
            bulk=bool(settings.get("bulk", False)),
            automatic=bool(settings.get("automatic", True)),
            destination_plus=self._flag("destination_plus", settings),
        )
        self.dialer_task(call)

    # -- ListUploader, ListStateWatcher ---------------------------------------------

    @staticmethod
    def _channel(settings: Mapping[str, Any]) -> str:
        channel = str(settings.get("channel") or "telephony").lower()
        if channel not in CHANNELS:
            raise DialerConfigError(f"uContact hub channel {channel!r} is not one of {', '.join(CHANNELS)}")
        return channel

    def _hub_of(self, settings: Mapping[str, Any], allowed: frozenset[str], what: str) -> str:
        """The hub ``settings`` name, once they hold only keys the verb reads."""
        self.check_settings(settings, allowed, what)
        hub = settings.get("hub")
        if not hub:
            raise DialerConfigError(f"uContact {what} needs settings={{'hub': '<hub name>'}}")
        return str(hub)

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        hub = self._hub_of(settings, _LIST_SETTINGS, "list upload")
        return {
            "hub": hub,
            "channel": self._channel(settings),
            "list_name": list_name,
            # lists carry no per-lead time: leads outside their window are held back by the operator,
            # unless the user trusts the hub's own hours in each contact's zone (setting zone_aware=True)
            "per_lead_schedule": as_bool(settings.get("zone_aware"), self.list_per_lead_schedule),
            "chunk_size": int(settings.get("chunk_size") or self.list_chunk_size),
            "phone_format": _phone_format(self.vendor, settings),
        }

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return int(target.get("chunk_size") or self.list_chunk_size)

    @staticmethod
    def chunk_filename(list_name: str, key: str) -> str:
        """The first chunk keeps the list name; later chunks (and resends) get the chunk key appended."""
        return list_name if key == "now#1" else f"{list_name} ({key})"

    @staticmethod
    def _contacts(
        leads: Sequence[PreparedLead], target: Mapping[str, Any], fresh: bool
    ) -> tuple[list[bytes], list[dict[str, Any]]]:
        """Each lead's contact, encoded as it is mapped (``automation_contact`` builds exactly what
        ``AutomationContact`` dumps; a unit test pins it), and the leads the hub cannot take."""
        channel = target["channel"]
        fmt = target_phone_format(target, older="number_plus", older_means=_plus_means) or "e164"
        contacts, refused = [], []
        for lead in leads:
            try:
                contacts.append(to_json(automation_contact(lead, channel=channel, fresh=fresh, phone_format=fmt)))
            except ValueError as exc:
                refused.append({"row": lead.row, "reason": "missing_email", "detail": str(exc)})
        return contacts, refused

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        contacts, refused = self._contacts(leads, target, False)
        if not contacts:
            return ChunkOutcome(refused=refused)
        info = self.run_flow(
            self._upload_list_flow(target["hub"], self.chunk_filename(target["list_name"], key), contacts)
        )
        ids = {"list_ids": [info.id]} if info.id is not None else {}
        return ChunkOutcome(accepted=len(contacts), refused=refused, ids=ids)

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """After a lost answer: a list named like the chunk exists -> accepted; none -> its leads are missing."""
        try:
            lists = self.list_lists(target["hub"])
        except DialerHTTPError as exc:
            if exc.status in _NO_SUCH_READ:
                return None
            raise
        contacts, refused = self._contacts(leads, target, False)
        filename = self.chunk_filename(target["list_name"], key)
        found = [info for info in lists if info.filename == filename]
        if found:
            ids = {"list_ids": [found[-1].id]} if found[-1].id is not None else {}
            return ChunkOutcome(accepted=len(contacts), refused=refused, ids=ids, how="resolved")
        sent_rows = {lead.row for lead in leads} - {r["row"] for r in refused}
        return ChunkOutcome(refused=refused, missing=sorted(sent_rows), how="resolved")

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        list_ids = (summary.get("ids") or {}).get("list_ids") or []
        if not list_ids:
            return None
        return {"kind": "list_loaded", "targets": [{"hub": target["hub"], "list_id": i} for i in list_ids]}

    def _wait_state(self, info: ListInfo, target: Mapping[str, Any]) -> WaitState:
        status = info.status or "(no status)"
        detail = ""
        if info.is_failed:
            detail = (
                f"list {target.get('list_id')} of hub {target.get('hub')!r} is {status!r}; only loading "
                "(waiting), inactive and active (loaded) are expected (see docs/vendors/ucontact.md#decision-assumed-list-state-read)"
            )
        return WaitState(status=status, done=info.is_loaded, failed=info.is_failed, detail=detail)

    def list_state(self, target: dict[str, Any]) -> WaitState:
        return self._wait_state(self.get_list(target["hub"], target["list_id"]), target)

    async def alist_state(self, target: dict[str, Any]) -> WaitState:
        return self._wait_state(await self.aget_list(target["hub"], target["list_id"]), target)

    # -- FreshLeadPusher ---------------------------------------------------------------

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]:
        hub = self._hub_of(settings, _FRESH_SETTINGS, "fresh leads")
        return {
            "hub": hub,
            "channel": self._channel(settings),
            "phone_format": _phone_format(self.vendor, settings),
        }

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        contacts, refused = self._contacts(leads, target, True)
        if contacts:
            self.run_flow(self._push_fresh_flow(target["hub"], contacts))
        return ChunkOutcome(accepted=len(contacts), refused=refused)

    def resolve_fresh_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return None  # the Automation API has no read of fresh leads: their fate stays unknown
