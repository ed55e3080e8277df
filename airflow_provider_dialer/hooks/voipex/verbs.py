"""Voipex's side of the vendor-neutral capabilities (``capabilities.py``), mixed into :class:`VoipexHook`.

ListUploader (one call list per chunk, a lost answer resolved by the list's name), CampaignCreator
and CampaignController. The dialer API has no fresh-lead push, no DialerTask, no contact removal and
no asynchronous import: FreshLeadPusher, DialerTaskAdder, LeadRemover and the watchers stay absent on
purpose, so the operators raise UnsupportedCapabilityError before any request. The endpoint methods
these call live in ``hook.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError
from pydantic_core import to_json

from airflow_provider_dialer.capabilities import ChunkOutcome, check_campaign_command
from airflow_provider_dialer.exceptions import DialerConfigError, DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.hooks.phone_format import phone_format_setting, target_phone_format
from airflow_provider_dialer.hooks.voipex.wire import (
    CAMPAIGN_COMMAND_STATE,
    CAMPAIGN_COMMANDS,
    ActivePeriod,
    CampaignCreate,
    CampaignEndpoint,
    voipex_number,
)
from airflow_provider_dialer.link_templates import one_id
from airflow_provider_dialer.transport.requests import json_object

if TYPE_CHECKING:
    from typing import Protocol

    from airflow_provider_dialer.hooks.base import DialerHook
    from airflow_provider_dialer.hooks.phone_format import PhoneFormat
    from airflow_provider_dialer.hooks.voipex.wire import (
        CallList,
        CallListCreated,
        Campaign,
        CampaignCommand,
        CampaignCreated,
        ControlResult,
        Ivr,
    )
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.transport.requests import Flow

    class _VoipexEndpoints(Protocol):
        """The endpoints of VoipexHook this mixin calls (VoipexHook defines each, most with ``api_call``)."""

        phone_format: PhoneFormat

        def _create_call_list_flow(self, content: bytes) -> Flow[CallListCreated]: ...
        def list_call_lists(self) -> list[CallList]: ...
        def find_ivr(self, name_or_id: str) -> Ivr | None: ...
        def create_campaign(self, campaign: CampaignCreate | dict[str, Any]) -> CampaignCreated: ...
        def list_campaigns(self) -> list[Campaign]: ...
        def get_campaign(self, campaign_id: int) -> Campaign | None: ...
        def update_campaign(self, campaign_id: int, campaign: CampaignCreate | dict[str, Any]) -> CampaignCreated: ...
        def control_campaign(self, campaign_id: int, command: CampaignCommand) -> ControlResult: ...

    class _MixinBase(DialerHook, _VoipexEndpoints):
        """What the mixin's methods find on ``self``: the base hook and VoipexHook's endpoints."""

else:
    _MixinBase = object  # at run time the mixin adds nothing to VoipexHook's bases
#: the key of a run's first chunk of leads due now (the operators' ``<wave>#<n>`` keys): its call list
#: keeps the name the user gave
FIRST_CHUNK_KEY = "now#1"
#: the settings a list upload reads
_LIST_SETTINGS = frozenset({"phone_format", "number_format", "attributes"})


class VoipexVerbs(_MixinBase):
    """The capability methods of :class:`~airflow_provider_dialer.hooks.voipex.hook.VoipexHook`."""

    #: CampaignController: the guide's five commands
    campaign_commands: ClassVar[frozenset[str]] = CAMPAIGN_COMMANDS
    #: numbers per call list when the list upload operator splits leads into chunks
    list_chunk_size: ClassVar[int] = 5000
    #: a call list has no per-number time
    list_per_lead_schedule: ClassVar[bool] = False

    # -- ListUploader -------------------------------------------------------------

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """One call list per chunk. The first chunk of the leads due now (key ``now#1``) is named
        ``list_name`` exactly; every other chunk ``<list_name> <chunk key>`` (``june now#2``, or
        ``june 2026-06-02T13:00Z#1`` for a later wave), so each name is unique within a run and a lost
        answer is resolved by name.

        ``settings``: ``phone_format`` (``digits``/``e164``, the setting's name for every vendor; the
        older ``number_format`` is still read, and given both, they must agree), ``attributes`` (bool,
        default true).
        """
        self.check_settings(settings, _LIST_SETTINGS, "list upload")
        fmt = phone_format_setting(self.vendor, settings, self.phone_format, older="number_format")
        return {"list_name": list_name, "phone_format": fmt, "attributes": bool(settings.get("attributes", True))}

    @staticmethod
    def call_list_name(target: dict[str, Any], key: str) -> str:
        """The user's name for the first list of the run (``now#1``), ``<name> <key>`` for the others."""
        return target["list_name"] if key == FIRST_CHUNK_KEY else f"{target['list_name']} {key}"

    def call_list_body(self, target: dict[str, Any], key: str, leads: Iterable[PreparedLead]) -> bytes:
        """A chunk's ``POST /dialer/call-lists`` body, each number encoded as it is mapped.

        ``voipex_number`` builds exactly what ``CallListNumber`` accepts and dumps (a unit test pins
        the bytes against ``CallListCreate``), so no model is built per number.
        """
        fmt = target_phone_format(target, older="number_format") or self.phone_format
        attributes = bool(target.get("attributes", True))
        numbers = (to_json(voipex_number(lead, phone_format=fmt, with_attributes=attributes)) for lead in leads)
        return json_object({"name": self.call_list_name(target, key)}, "numbers", numbers)

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        created = self.run_flow(self._create_call_list_flow(self.call_list_body(target, key, leads)))
        return ChunkOutcome(accepted=len(leads), ids={"call_list_ids": [created.id]})

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """Look the chunk's call list up by name: found -> accepted; absent -> missing (sent again)."""
        name = self.call_list_name(target, key)
        try:
            lists = self.list_call_lists()
        except DialerHTTPError as exc:
            if exc.status in (404, 405, 501):  # the assumed read does not exist on this tenant
                return None
            raise
        found = [c for c in lists if c.name == name]
        if not found:
            return ChunkOutcome(missing=[lead.row for lead in leads], how="resolved")
        return ChunkOutcome(accepted=len(leads), ids={"call_list_ids": [found[0].id]}, how="resolved")

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        return None  # a call list is usable once its creation answered

    def target_link_values(self, target: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
        """The list link points to the first call list (``call_list_ids``), named ``list_name`` as given."""
        values = super().target_link_values(target, ids)
        if ids.get("call_list_ids"):
            values["list_id"] = one_id(ids["call_list_ids"])
        return values

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.list_chunk_size

    # -- CampaignCreator / CampaignController ---------------------------------------

    def find_campaign_by_name(self, name: str) -> dict[str, Any] | None:
        named = [c for c in self.list_campaigns() if c.name == name and c.state != "removed"]
        if len(named) > 1:
            raise DialerConfigError(f"Voipex has {len(named)} campaigns named {name!r} (ids {[c.id for c in named]})")
        return named[0].model_dump(by_alias=True, exclude_none=True) if named else None

    def build_campaign(self, common: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """The campaign body from the operator's arguments: ``calling_hours`` -> ``activePeriod``, ``lists`` ->
        ``callLists``; ``settings``: ``callerId``, ``ivr`` (id) or ``ivr_name``, ``rescheduleRules``, ``endpoint``."""
        settings = dict(settings)
        if isinstance(settings.get("callerId"), int):
            # a DAG rendering templates as native objects turns "420228881234" into an int
            settings["callerId"] = str(settings["callerId"])
        if common.get("agents"):
            raise DialerConfigError("Voipex campaigns take no agents; use endpoint {'type': 'queue', 'queue': ...}")
        ivr = settings.pop("ivr", None)
        ivr_name = settings.pop("ivr_name", None)
        if ivr is None and ivr_name:
            found = self.find_ivr(ivr_name)
            if found is None:
                raise DialerConfigError(f"Voipex has no IVR application named {ivr_name!r}")
            ivr = found.id
        hours = common.get("calling_hours") or "00:00-23:59"
        start, sep, end = str(hours).partition("-")
        if not sep:
            raise DialerConfigError(f"calling_hours must look like '09:00-17:00', got {hours!r}")
        try:
            body = CampaignCreate.model_validate(
                {
                    "name": common["name"],
                    "activePeriod": ActivePeriod(
                        start_time=start.strip(),
                        end_time=end.strip(),
                        week_days=list(common.get("weekdays") or range(1, 8)),
                    ),
                    "callLists": [int(x) for x in common.get("lists") or []],
                    "ivr": ivr,
                    **settings,
                }
            )
        except (ValidationError, TypeError, ValueError) as exc:
            raise DialerConfigError(f"Voipex campaign settings are invalid: {exc}") from None
        return body.wire()

    def campaign_differences(self, existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        def norm(key: str, value: Any) -> Any:
            if key == "endpoint" and value is not None:
                return _endpoint_with_defaults(value)
            return value

        out = {}
        for key, value in wanted.items():
            if norm(key, existing.get(key)) != norm(key, value):
                out[key] = {"existing": existing.get(key), "wanted": value}
        return out

    def create_campaign_from(self, wanted: dict[str, Any]) -> Any:
        return self.create_campaign(CampaignCreate.model_validate(wanted)).id

    def update_campaign_from(self, campaign_id: Any, wanted: dict[str, Any]) -> None:
        self.update_campaign(int(campaign_id), CampaignCreate.model_validate(wanted))

    def control(self, campaign_id: Any, command: str) -> dict[str, Any]:
        """Send the command; when its answer is lost, or it conflicts (409) with the campaign's state,
        read the campaign: already in the state the command leads to means done (the command was
        applied, e.g. by an attempt whose answer was lost). Otherwise the error stands; never resent."""
        check_campaign_command(self.vendor, self.campaign_commands, command)
        campaign_id = int(campaign_id)
        try:
            # a str where a CampaignCommand is typed, checked just above
            return self.control_campaign(campaign_id, command).model_dump(exclude_none=True)  # type: ignore[arg-type]
        except (DialerDeliveryUnknownError, DialerHTTPError) as exc:
            target = CAMPAIGN_COMMAND_STATE.get(command)
            unsure = isinstance(exc, DialerDeliveryUnknownError) or exc.status == 409 or exc.status >= 500
            if target is None or not unsure:
                raise
            current = self.get_campaign(campaign_id)
            if current is None or current.state != target:
                raise
            self.log.info(
                "Voipex campaign %s is %s: command %r has been applied (%s)", campaign_id, target, command, exc
            )
            return {"id": campaign_id, "message": f"Campaign is already {target}", "state": target}


def _endpoint_with_defaults(value: dict[str, Any]) -> dict[str, Any]:
    """An endpoint dict with the guide's defaults filled in, so ``{}`` equals ``{"type": "phone", ...}``."""
    try:
        return CampaignEndpoint.model_validate(value).wire()
    except ValidationError:
        return value
