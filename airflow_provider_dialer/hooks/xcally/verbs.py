"""XCALLY Motion's side of the vendor-neutral capabilities (``capabilities.py``), mixed into :class:`XCallyHook`.

ListUploader, ListStateWatcher, FreshLeadPusher, CampaignCreator, CampaignController. Motion has no
DialerTask, its documents give no contact removal, and a CSV import has no job to read
(docs/vendors/xcally.md#decision-csv-import-completion-by-contact-count):
DialerTaskAdder, LeadRemover and ImportJobWatcher stay absent on purpose, so the operators raise
UnsupportedCapabilityError before any request. The endpoint methods these call live in ``hook.py``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic_core import to_json

from airflow_provider_dialer.capabilities import ChunkOutcome, WaitState, check_campaign_command
from airflow_provider_dialer.exceptions import (
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerHTTPError,
)
from airflow_provider_dialer.hooks.phone_format import phone_format_setting
from airflow_provider_dialer.hooks.xcally.campaign import (
    AGENTS_KEY,
    LISTS_KEY,
    build_campaign_wanted,
    campaign_body,
    campaign_differences,
    int_ids,
    missing_ids,
)
from airflow_provider_dialer.hooks.xcally.wire import (
    LIST_READ_PAGE,
    CmList,
    contact_mapper,
    contacts_csv,
    csv_binding,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_dialer.hooks.base import DialerHook
    from airflow_provider_dialer.hooks.xcally.wire import (
        BulkAddResult,
        Contact,
        QueueCampaign,
        QueueCampaignOut,
        User,
    )
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.transport.requests import AsyncTwin, Flow

    class _XCallyEndpoints(Protocol):
        """The endpoints of XCallyHook this mixin calls (XCallyHook defines each with ``api_call``)."""

        acount_contacts: AsyncTwin[[int], int]

        def _add_contacts_flow(
            self, list_id: int, encoded: list[bytes], read_ids: bool = True
        ) -> Flow[BulkAddResult]: ...
        def add_campaign_agents(self, campaign_id: int, agent_ids: Sequence[int], penalty: int = 0) -> None: ...
        def add_list_agents(self, list_id: int, agent_ids: Sequence[int]) -> None: ...
        def attach_lists(self, campaign_id: int, list_ids: Sequence[int]) -> None: ...
        def campaign_agents(self, campaign_id: int) -> list[User] | None: ...
        def campaign_lists(self, campaign_id: int) -> list[CmList]: ...
        def contact_phones(self, list_id: int) -> set[str]: ...
        def count_contacts(self, list_id: int) -> int: ...
        def create_campaign(self, campaign: QueueCampaign | dict[str, Any]) -> QueueCampaignOut: ...
        def create_list(self, name: str, description: str | None = None) -> CmList: ...
        def find_contacts_by_phone(self, list_id: int, phones: Iterable[str]) -> dict[str, list[Contact]]: ...
        def find_list_by_name(self, name: str) -> CmList | None: ...
        def find_queue_campaign(self, name: str) -> QueueCampaignOut | None: ...
        def get_campaign(self, campaign_id: int) -> QueueCampaignOut | None: ...
        def get_list(self, list_id: int) -> CmList | None: ...
        def set_campaign_active(self, campaign_id: int, active: bool) -> QueueCampaignOut: ...
        def update_campaign(self, campaign_id: int, changes: dict[str, Any]) -> QueueCampaignOut: ...
        def upload_csv(
            self,
            list_id: int,
            csv_bytes: bytes,
            binding: dict[str, str],
            duplicates: Sequence[str] | None = ("phone",),
            filename: str | None = None,
        ) -> int: ...

    class _MixinBase(DialerHook, _XCallyEndpoints):
        """What the mixin's methods find on ``self``: the base hook and XCallyHook's endpoints."""

else:
    _MixinBase = object  # at run time the mixin adds nothing to XCallyHook's bases


class XCallyVerbs(_MixinBase):
    """The capability methods of :class:`~airflow_provider_dialer.hooks.xcally.hook.XCallyHook`."""

    batch_chunk_size: ClassVar[int] = 1000
    csv_chunk_size: ClassVar[int] = 50_000
    #: a contact carries its time (``scheduledat``)
    list_per_lead_schedule: ClassVar[bool] = True
    fresh_chunk_size: ClassVar[int] = 100
    fresh_per_lead_schedule: ClassVar[bool] = True
    #: after a lost CSV import answer, wait until the list has not grown for this long before calling leads missing
    resolve_settle_seconds: ClassVar[float] = 2.0
    #: ... and never longer than this in all (a large import still running is then trusted to the count read)
    resolve_settle_max_seconds: ClassVar[float] = 120.0
    resolve_poll_seconds: ClassVar[float] = 0.25
    campaign_commands: ClassVar[frozenset[str]] = frozenset({"activate", "deactivate"})

    _LIST_SETTINGS: ClassVar[frozenset[str]] = frozenset(
        {"mode", "agents", "campaign_id", "duplicates", "phone_format", "first_name_fallback"}
    )
    _FRESH_SETTINGS: ClassVar[frozenset[str]] = frozenset(
        {"list_id", "list_name", "phone_format", "first_name_fallback"}
    )

    # -- shared by list uploads and fresh leads ---------------------------------------------------

    def _contact_options(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``phone_format`` / ``first_name_fallback``: the settings, else the connection extras."""
        phone_format = phone_format_setting(self.vendor, settings, self.extras.get("phone_format") or "digits")
        fallback = settings.get("first_name_fallback") or self.extras.get("first_name_fallback") or None
        return {"phone_format": phone_format, "first_name_fallback": str(fallback) if fallback else None}

    def _find_or_create_list(self, name: str) -> CmList:
        """The list named exactly ``name``, created when absent (a lost create answer is read back by name)."""
        found = self.find_list_by_name(name)
        if found is not None:
            return found
        try:
            return self.create_list(name)
        except (DialerDeliveryUnknownError, DialerHTTPError) as exc:
            # a lost answer, or a unique-name refusal because another task created it meanwhile
            if isinstance(exc, DialerHTTPError) and exc.status != 400:
                raise
            found = self.find_list_by_name(name)
            if found is None:
                raise
            return found

    def _wire_contacts(
        self, target: Mapping[str, Any], leads: Sequence[PreparedLead]
    ) -> tuple[list[tuple[PreparedLead, str, bytes]], list[dict[str, Any]]]:
        """Each lead with its phone as sent and its Motion contact, encoded as it is mapped (the dict dies
        at once, see ``hooks.base.json_array``); a lead Motion would refuse (e.g. priority < 1) is a
        refusal, not a failed chunk."""
        good: list[tuple[PreparedLead, str, bytes]] = []
        refused: list[dict[str, Any]] = []
        # the options are the chunk's: checked once, then each lead is a plain dict build (no model)
        mapped = self._contact_mapper(target)
        for lead in leads:
            try:
                # the mapping refuses with ValueError whatever ContactIn would refuse (a unit test pins it)
                contact = mapped(lead)
            except ValueError as exc:
                refused.append({"row": lead.row, "reason": "invalid_contact", "detail": self.redact(str(exc))[:200]})
                continue
            good.append((lead, contact["phone"], to_json(contact)))
        return good, refused

    def _chunk_mode(self, target: Mapping[str, Any], leads: Sequence[PreparedLead]) -> str:
        """``batch`` or ``csv`` for one chunk; ``auto`` sends a chunk of up to ``batch_chunk_size`` leads
        as one bulk add and a larger one as a CSV import (decided by the chunk alone, so a retry decides alike)."""
        mode = target.get("mode") or "batch"
        if mode == "auto":
            return "csv" if len(leads) > self.batch_chunk_size else "batch"
        return str(mode)

    @staticmethod
    def _contact_mapper(target: Mapping[str, Any]) -> Callable[[PreparedLead], dict[str, Any]]:
        """The contact mapping of a list target's chunks (its list, phone format and first-name fallback)."""
        return contact_mapper(
            list_id=int(target["list_id"]),
            phone_format=target["phone_format"],
            first_name_fallback=target.get("first_name_fallback"),
        )

    def _bulk_body(
        self, target: Mapping[str, Any], leads: Sequence[PreparedLead]
    ) -> tuple[list[bytes], list[dict[str, Any]]]:
        """The encoded contacts of a bulk add and the leads refused: one comprehension over the chunk, and
        lead by lead (``_wire_contacts``) only when some lead is refused, so the usual chunk pays no
        per-lead bookkeeping (the bulk add needs neither the lead nor its phone back)."""
        mapped = self._contact_mapper(target)
        try:
            return [to_json(mapped(lead)) for lead in leads], []
        except ValueError:
            good, refused = self._wire_contacts(target, leads)
            return [encoded for _, _, encoded in good], refused

    def _push(self, target: Mapping[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        list_id = int(target["list_id"])
        if self._chunk_mode(target, leads) != "csv":
            encoded, refused = self._bulk_body(target, leads)
            if not encoded:
                return ChunkOutcome(refused=refused)
            # the answer's ids are not used here: its body is not parsed (for 1,000 contacts that costs
            # about what mapping them does)
            self.run_flow(self._add_contacts_flow(list_id, encoded, read_ids=False))
            return ChunkOutcome(accepted=len(encoded), refused=refused)
        good, refused = self._wire_contacts(target, leads)
        if not good:
            return ChunkOutcome(refused=refused)
        # a CSV import: each lead's phone is needed to predict what Motion's duplicate check skips
        csv_bytes = contacts_csv(
            [lead for lead, _, _ in good],
            phone_format=target["phone_format"],
            first_name_fallback=target.get("first_name_fallback"),
        )
        slug = re.sub(r"[^A-Za-z0-9]+", "-", key).strip("-") or "chunk"
        duplicates = list(target.get("duplicates") or ())
        if key.endswith("/resend") and "phone" not in duplicates:
            # Motion's duplicate check skips a phone the list holds when the import runs: a resend is
            # guarded even when the import it replaces lands later than the settled read allowed for
            duplicates.append("phone")
        held = self._held_by_duplicate_check(target, good, duplicates)
        pid = self.upload_csv(
            list_id,
            csv_bytes,
            csv_binding(csv_bytes),
            duplicates=duplicates or None,
            filename=f"list-{list_id}-{slug}.csv",
        )
        return ChunkOutcome(accepted=len(good), refused=refused, ids={"pids": [pid]}, already_held=held)

    def _held_by_duplicate_check(
        self, target: Mapping[str, Any], good: Sequence[tuple[PreparedLead, str, bytes]], duplicates: Sequence[str]
    ) -> list[int]:
        """The rows of a CSV chunk whose contact Motion's duplicate check on ``phone`` will skip: a phone
        the list held before the upload, or one repeated within the chunk. They are accounted for (the
        list holds the phone) but add nothing to its count, so the list wait must not expect them: a
        re-run over overlapping leads would otherwise poll until ``wait_timeout`` for contacts that never come.

        Read before the upload (the list only grows, so what it holds now the import skips too). No read
        when the list was empty when the run opened it: then only this run's own chunks can hold a
        phone, and a phone repeated across them is counted below only within one chunk."""
        if list(duplicates) != ["phone"] or not good:
            # checked on other fields too, a contact is skipped only when all of them match: not
            # predictable from the phone alone, so nothing is counted (and the wait may run long)
            return []
        held_phones: set[str] = set()
        if int(target.get("baseline") or 0) > 0:
            held_phones = self._phones_in_list(int(target["list_id"]), list(dict.fromkeys(p for _, p, _ in good)))
        rows, seen = [], set()
        for lead, phone, _ in good:
            if phone in held_phones or phone in seen:
                rows.append(lead.row)
            seen.add(phone)
        return rows

    def _phones_in_list(self, list_id: int, phones: Sequence[str]) -> set[str]:
        """Which of ``phones`` (spelt as sent) the list holds: one read per phone, or the list's pages when fewer."""
        wanted = set(phones)
        if not wanted:
            return set()
        total = self.count_contacts(list_id)
        if total == 0:
            return set()
        if -(-total // LIST_READ_PAGE) < len(wanted):
            return self.contact_phones(list_id) & wanted
        found = self.find_contacts_by_phone(list_id, sorted(wanted))
        return {phone for phone, rows in found.items() if rows}

    def _wait_until_list_settles(self, list_id: int) -> None:
        """A CSV import stores contacts progressively: wait until the count stops growing (bounded)."""
        started = changed = time.monotonic()
        last = self.count_contacts(list_id)
        while True:
            now = time.monotonic()
            if now - changed >= self.resolve_settle_seconds or now - started >= self.resolve_settle_max_seconds:
                return
            time.sleep(self.resolve_poll_seconds)
            count = self.count_contacts(list_id)
            if count != last:
                last, changed = count, time.monotonic()

    def _resolve(self, target: Mapping[str, Any], leads: Sequence[PreparedLead], settle: bool) -> ChunkOutcome:
        """After a lost answer: the leads whose phone the list holds landed; the others are missing (sent again).

        A phone the list already held before this upload also counts as landed: it will not be dialed twice.
        """
        good, refused = self._wire_contacts(target, leads)
        list_id = int(target["list_id"])
        phones = [phone for _, phone, _ in good]
        landed = self._phones_in_list(list_id, phones)
        if settle and len(landed) < len(set(phones)):
            self._wait_until_list_settles(list_id)
            landed = self._phones_in_list(list_id, phones)
        accepted = [lead.row for lead, phone, _ in good if phone in landed]
        missing = [lead.row for lead, phone, _ in good if phone not in landed]
        return ChunkOutcome(accepted=len(accepted), refused=refused, missing=missing, how="resolved")

    # -- ListUploader / ListStateWatcher ----------------------------------------------------------

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """Reuse the list named exactly ``list_name`` or create it; add ``agents``; attach it to ``campaign_id``.

        ``mode``: ``batch`` (default: bulk adds of 1,000, synchronous), ``csv`` (two-step CSV imports of
        50,000, loaded in the background), or ``auto``: chunks of 50,000, each sent as one bulk add when
        it holds at most 1,000 leads (so a small list is stored at once) and as a CSV import otherwise.
        ``duplicates`` (CSV only, default ``["phone"]``):
        fields Motion's import uses to skip contacts the list already has. ``baseline`` is the list's
        contact count before the upload: a CSV wait expects ``baseline + accepted``.
        """
        self.check_settings(settings, self._LIST_SETTINGS, "list upload")
        mode = str(settings.get("mode") or "batch").lower()
        if mode not in ("batch", "csv", "auto"):
            raise DialerConfigError(f"XCALLY list upload mode must be 'batch', 'csv' or 'auto', got {mode!r}")
        duplicates = settings.get("duplicates", ["phone"])
        if isinstance(duplicates, str):
            duplicates = [d.strip() for d in duplicates.split(",") if d.strip()]
        agents = int_ids(settings.get("agents"), "agents")
        campaign_ids = int_ids(settings.get("campaign_id"), "campaign_id")
        if len(campaign_ids) > 1:
            raise DialerConfigError(
                f"XCALLY campaign_id must be one queue campaign id, got {settings['campaign_id']!r}"
            )
        options = self._contact_options(settings)
        lst = self._find_or_create_list(list_name)
        if agents:
            self.add_list_agents(lst.id, agents)
        if campaign_ids:
            self.attach_lists(campaign_ids[0], [lst.id])
        target: dict[str, Any] = {
            "list_id": lst.id,
            "list_name": lst.name,
            "mode": mode,
            "baseline": self.count_contacts(lst.id),
            "duplicates": list(duplicates or []),
            **options,
        }
        if campaign_ids:
            target["campaign_id"] = campaign_ids[0]
        return target

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.batch_chunk_size if target.get("mode", "batch") == "batch" else self.csv_chunk_size

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """``batch``: one bulk add (each contact with its ``scheduledat``); ``csv``: one CSV import (its ``pid``);
        ``auto``: whichever fits the chunk's size (see :meth:`open_list_target`)."""
        return self._push(target, key, leads)

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """Read the list by phone; a CSV import may still be storing, so wait for the list to settle first."""
        return self._resolve(target, leads, settle=self._chunk_mode(target, leads) == "csv")

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        """CSV imports load in the background (docs/vendors/xcally.md#decision-csv-import-completion-by-contact-count): wait until the list holds ``baseline + accepted - already_held``.

        Nothing to wait for when no chunk went as a CSV import (``batch``, or ``auto`` with a small list)."""
        if target.get("mode") == "batch" or (
            target.get("mode") == "auto" and not (summary.get("ids") or {}).get("pids")
        ):
            return None
        # contacts accounted for: stored by this run, or skipped by the duplicate check (already held)
        expected = (
            int(target.get("baseline") or 0) + int(summary.get("accepted") or 0) - int(summary.get("already_held") or 0)
        )
        return {"kind": "list_loaded", "targets": [{"list_id": target["list_id"], "expected": expected}]}

    @staticmethod
    def _loaded(target: Mapping[str, Any], count: int) -> WaitState:
        expected = int(target["expected"])
        return WaitState(status=f"{count}/{expected} contacts", done=count >= expected, failed=False)

    def list_state(self, target: dict[str, Any]) -> WaitState:
        return self._loaded(target, self.count_contacts(int(target["list_id"])))

    async def alist_state(self, target: dict[str, Any]) -> WaitState:
        return self._loaded(target, await self.acount_contacts(int(target["list_id"])))

    # -- FreshLeadPusher ----------------------------------------------------------------------------

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]:
        """An EXISTING list: ``{"list_id": 12}`` or ``{"list_name": "fresh"}`` (never created here)."""
        self.check_settings(settings, self._FRESH_SETTINGS, "fresh leads")
        list_id, list_name = settings.get("list_id"), settings.get("list_name")
        if (list_id in (None, "")) == (not list_name):
            raise DialerConfigError(
                "XCALLY fresh leads need settings={'list_id': <id>} or {'list_name': <name>} (one of them)"
            )
        options = self._contact_options(settings)
        if list_id not in (None, ""):
            ids = int_ids(list_id, "list_id")
            lst = self.get_list(ids[0]) if len(ids) == 1 else None
            if lst is None:
                raise DialerConfigError(f"XCALLY has no contact list with id {list_id!r}")
        else:
            lst = self.find_list_by_name(str(list_name))
            if lst is None:
                raise DialerConfigError(
                    f"XCALLY has no contact list named {list_name!r}: fresh leads go into an existing list; "
                    "create it first (UploadListOperator) or pass settings={'list_id': <id>}"
                )
        return {"list_id": lst.id, "list_name": lst.name, "mode": "batch", **options}

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        return self._push(target, key, leads)

    def resolve_fresh_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return self._resolve(target, leads, settle=False)  # a bulk add is synchronous

    # -- CampaignCreator ------------------------------------------------------------------------------

    def find_campaign_by_name(self, name: str) -> dict[str, Any] | None:
        """The outbound queue campaign named exactly ``name`` as a JSON-able dict (wire names, ``id``), or None."""
        found = self.find_queue_campaign(name)
        return found.model_dump(mode="json", by_alias=True, exclude_none=True) if found is not None else None

    def build_campaign(self, common: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
        """See :func:`~airflow_provider_dialer.hooks.xcally.campaign.build_campaign_wanted` (no request)."""
        return build_campaign_wanted(common, settings)

    def _campaign_now(
        self,
        campaign_id: int,
        wanted: Mapping[str, Any],
    ) -> tuple[dict[str, Any], list[int] | None, list[int] | None]:
        """The campaign, its attached list ids and agent ids (None: this server does not serve that read)."""
        campaign = self.get_campaign(campaign_id)
        if campaign is None:
            raise DialerConfigError(f"XCALLY queue campaign {campaign_id} no longer exists")
        lists: list[int] | None = []
        agents: list[int] | None = []
        if wanted.get(LISTS_KEY):
            try:
                lists = [lst.id for lst in self.campaign_lists(campaign_id)]
            except DialerHTTPError as exc:
                if exc.status not in (404, 405):
                    raise
                lists = None
                self._unreadable(campaign_id, "lists", wanted[LISTS_KEY])
        if wanted.get(AGENTS_KEY):
            attached = self.campaign_agents(campaign_id)
            if attached is None:
                self._unreadable(campaign_id, "users", wanted[AGENTS_KEY])
            agents = None if attached is None else [user.id for user in attached]
        return campaign.model_dump(mode="json", by_alias=True), lists, agents

    def _unreadable(self, campaign_id: int, what: str, wanted: Sequence[int]) -> None:
        # the document gives only the POST of .../lists and .../users (set-like: resending attaches
        # nothing twice), not their reads; without the read every wanted id counts as missing, so an
        # update sends them all again and on_difference="fail" shows (None, wanted)
        self.log.warning(
            "XCALLY campaign %s: this server does not serve GET /api/voice/queues/%s/%s (the document gives only "
            "its POST), so what is attached cannot be read; the wanted ids %s are sent again (attaching is set-like)",
            campaign_id,
            campaign_id,
            what,
            sorted(wanted),
        )

    def campaign_differences(self, existing: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
        """Field -> (existing, wanted) for the fields the DAG set that differ, plus missing ``lists`` / ``agents``."""
        current, lists, agents = self._campaign_now(int(existing["id"]), wanted)
        return campaign_differences(current, wanted, lists, agents)

    def _attach(self, campaign_id: int, lists: Sequence[int], agents: Sequence[int]) -> None:
        # agents first: a campaign created active must not dial a list before anyone can take the calls
        if agents:
            self.add_campaign_agents(campaign_id, list(agents))
        if lists:
            self.attach_lists(campaign_id, list(lists))

    def create_campaign_from(self, wanted: dict[str, Any]) -> int:
        created = self.create_campaign(campaign_body(wanted))
        self._attach(created.id, wanted.get(LISTS_KEY) or [], wanted.get(AGENTS_KEY) or [])
        return created.id

    def update_campaign_from(self, campaign_id: Any, wanted: dict[str, Any]) -> None:
        """A partial PUT of the differing fields; missing lists and agents are attached."""
        campaign_id = int(campaign_id)
        differences = self.campaign_differences({"id": campaign_id}, wanted)
        changes = {field: wanted.get(field) for field in differences if field not in ("lists", "agents")}
        if changes:
            self.update_campaign(campaign_id, changes)
        self._attach(campaign_id, missing_ids(differences, "lists"), missing_ids(differences, "agents"))

    # -- CampaignController ---------------------------------------------------------------------------

    def control(self, campaign_id: Any, command: str) -> dict[str, Any]:
        """``activate`` / ``deactivate``: ``PUT /api/voice/queues/{id}`` ``{"dialActive": true|false}``."""
        check_campaign_command(self.vendor, self.campaign_commands, command)
        ids = int_ids(campaign_id, "campaign_id")
        if len(ids) != 1:
            raise DialerConfigError(f"XCALLY campaign_id must be one queue campaign id, got {campaign_id!r}")
        campaign = self.set_campaign_active(ids[0], command == "activate")
        return {"id": campaign.id, "name": campaign.name, "dialActive": campaign.dial_active}
