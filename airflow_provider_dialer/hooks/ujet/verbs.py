"""UJET's side of the vendor-neutral capabilities (``capabilities.py``), mixed into :class:`UjetHook`.

ListUploader (one import job per chunk, into a campaign: UJET has no lists), ImportJobWatcher,
FreshLeadPusher (single-contact adds), LeadRemover and ContactSyncer. UJET's documents give no
campaign creation or control and no DialerTask: CampaignCreator, CampaignController and
DialerTaskAdder stay absent on purpose, so the operators raise UnsupportedCapabilityError before any
request. The endpoint methods these call live in ``hook.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_dialer.capabilities import ChunkOutcome, WaitState
from airflow_provider_dialer.exceptions import DialerConfigError, DialerNotFoundError
from airflow_provider_dialer.hooks.ujet.wire import JobStatus, import_file, phone_digits, ujet_contact

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Protocol

    from airflow_provider_dialer.hooks.base import DialerHook
    from airflow_provider_dialer.hooks.ujet.wire import (
        UjetAddResult,
        UjetCampaign,
        UjetContact,
        UjetJob,
        UjetNewContact,
    )
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.transport.requests import AsyncTwin, Flow

    class _UjetEndpoints(Protocol):
        """The endpoints of UjetHook this mixin calls (UjetHook defines each, most with ``api_call``)."""

        aget_job: AsyncTwin[[int | str, int | str], UjetJob]

        def add_contact(self, campaign_id: int | str, contact: UjetNewContact | Mapping[str, Any]) -> UjetAddResult: ...
        def list_contacts(self, campaign_id: int | str) -> list[UjetContact]: ...
        def find_contacts(
            self,
            campaign_id: int | str,
            *,
            external_ids: Iterable[str] | None = None,
            phones: Iterable[str] | None = None,
        ) -> dict[str, UjetContact]: ...
        def _import_flow(self, campaign_id: int | str, payload: bytes) -> Flow[int | str]: ...
        def get_job(self, campaign_id: int | str, job_id: int | str) -> UjetJob: ...
        def get_campaign(self, campaign_id: int | str) -> UjetCampaign: ...
        def update_contact(
            self,
            campaign_id: int | str,
            contact_id: int,
            *,
            name: str | None = None,
            email: str | None = None,
            phone_number: str | None = None,
            external_unique_id: str | None = None,
        ) -> UjetContact: ...
        def delete_contact(
            self,
            campaign_id: int | str,
            *,
            contact_id: int | None = None,
            phone_number: str | None = None,
            external_unique_id: str | None = None,
        ) -> UjetContact: ...

    class _MixinBase(DialerHook, _UjetEndpoints):
        """What the mixin's methods find on ``self``: the base hook and UjetHook's endpoints."""

else:
    _MixinBase = object  # at run time the mixin adds nothing to UjetHook's bases

#: guards each hook's read-once cache of a campaign's phones (chunks are sent from several threads)
_CAMPAIGN_PHONES_LOCK = threading.Lock()


def _contact_id(value: Any) -> int:
    """A contact id as the document types it (an integer); ``"7"`` from a template becomes 7."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not text.isascii():
        raise DialerConfigError(f"UJET contact ids are integers, got {value!r}")
    return int(text)


class UjetVerbs(_MixinBase):
    """The capability methods of :class:`~airflow_provider_dialer.hooks.ujet.hook.UjetHook`."""

    list_chunk_size: ClassVar[int] = 5000
    #: an imported contact has no time field
    list_per_lead_schedule: ClassVar[bool] = False
    fresh_chunk_size: ClassVar[int] = 25
    fresh_per_lead_schedule: ClassVar[bool] = False
    #: seconds a state read waits for an import that may still be running before calling leads missing
    resolve_settle_seconds: ClassVar[float] = 2.0

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.list_chunk_size

    def _campaign_target(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        campaign_id = settings.get("campaign_id")
        if campaign_id in (None, ""):
            raise DialerConfigError("UJET needs settings={'campaign_id': <id>}: contacts belong to a campaign")
        self.get_campaign(campaign_id)  # fail fast on an unknown campaign, before any lead is sent
        return {"campaign_id": campaign_id}

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        """UJET has no lists: the target is the campaign (``settings["campaign_id"]``)."""
        return self._campaign_target(settings)

    def _campaign_phones(self, campaign_id: Any) -> set[str]:
        """The phones (``+`` and digits) the campaign held when this hook first sent to it: one read of
        its contacts per task attempt, shared by the chunks (they run on several threads)."""
        with _CAMPAIGN_PHONES_LOCK:
            cache: dict[str, set[str]] = self.__dict__.setdefault("_held_phones", {})
            phones = cache.get(str(campaign_id))
            if phones is None:
                phones = {phone_digits(c.phone) for c in self.list_contacts(campaign_id) if c.phone}
                cache[str(campaign_id)] = phones
            return phones

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """One import job per chunk (multipart JSON file); contacts are stored when the job completes.

        An import job is all or nothing: one phone the campaign already holds fails it as a whole
        (``DuplicateContactPhoneOnCampaign``). So the leads whose phone the campaign held when the
        run began (read once, the way a lost answer is resolved) or that repeat a phone earlier in the
        chunk are not sent: they count as accepted and already held (reject report level ``held``),
        and only the rest is imported. Nothing left to send: no import at all.
        """
        held_phones = self._campaign_phones(target["campaign_id"])
        send: list[PreparedLead] = []
        held: list[int] = []
        seen: set[str] = set()
        for lead in leads:
            digits = phone_digits(lead.phone)
            if digits in held_phones or digits in seen:
                held.append(lead.row)
            else:
                seen.add(digits)
                send.append(lead)
        if not send:
            return ChunkOutcome(accepted=len(held), already_held=held)
        job_id = self.run_flow(self._import_flow(target["campaign_id"], import_file(send)))
        return ChunkOutcome(accepted=len(leads), ids={"job_ids": [job_id]}, already_held=held)

    def _resolve(self, target: dict[str, Any], leads: Sequence[PreparedLead], settle: float) -> ChunkOutcome:
        """Which leads the campaign holds (by external id, else phone); the rest are missing."""
        import time

        deadline = time.monotonic() + settle
        while True:
            found = self.find_contacts(
                target["campaign_id"],
                external_ids=[lead.external_id for lead in leads if lead.external_id],
                phones=[lead.phone for lead in leads],
            )
            landed = [lead for lead in leads if (lead.external_id in found) or (lead.phone in found)]
            if len(landed) == len(leads) or time.monotonic() >= deadline:
                break
            time.sleep(min(0.5, max(0.05, settle / 4)))
        rows = {lead.row for lead in landed}
        return ChunkOutcome(accepted=len(landed), missing=[lead.row for lead in leads if lead.row not in rows])

    def resolve_list_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        """After a lost import answer: the job may still run, so wait ``resolve_settle_seconds`` for its contacts."""
        return self._resolve(target, leads, self.resolve_settle_seconds)

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any] | None:
        job_ids = (summary.get("ids") or {}).get("job_ids") or []
        return {"kind": "import_job", "campaign_id": target["campaign_id"], "job_ids": job_ids} if job_ids else None

    def open_fresh_target(self, settings: dict[str, Any]) -> dict[str, Any]:
        return self._campaign_target(settings)

    #: rounds of "settle, then send the leads proved absent again" for single adds whose answer was lost
    fresh_resend_rounds: ClassVar[int] = 3

    def push_fresh_chunk(self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]) -> ChunkOutcome:
        """Single-contact adds; UJET's ``invalid_contacts`` become refusals with the vendor's reason.

        A lead whose answer is lost is read back once the others are sent, and again after the
        connection's ``late_write_seconds`` (the add may still be applied late); only a lead both
        reads miss is added again. A resend the campaign refuses because the lead is there by now
        (the late add landed first) is read back and counts as accepted.
        """
        outcome = ChunkOutcome()
        lost = self._add_each(target, leads, outcome, resent=False)
        for _ in range(self.fresh_resend_rounds):
            if not lost:
                break
            lost = self._add_each(target, self._settled_absent(target, lost, outcome), outcome, resent=True)
        outcome.unknown += [lead.row for lead in lost]
        return outcome

    def _add_each(
        self, target: dict[str, Any], leads: Sequence[PreparedLead], outcome: ChunkOutcome, resent: bool
    ) -> list[PreparedLead]:
        """Add each lead, counting it into ``outcome``; return the leads whose answer was lost."""
        from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError

        lost: list[PreparedLead] = []
        for lead in leads:
            try:
                result = self.add_contact(target["campaign_id"], ujet_contact(lead))
            except DialerDeliveryUnknownError:
                lost.append(lead)
                continue
            if not result.invalid_contacts:
                outcome.accepted += 1
            elif resent and self._resolve(target, [lead], 0.0).accepted:
                outcome.accepted += 1  # refused as already there: the add whose answer was lost landed
            else:
                detail = "; ".join(str(c.model_dump(exclude_none=True)) for c in result.invalid_contacts)[:200]
                outcome.refused.append({"row": lead.row, "reason": "invalid_contact", "detail": self.redact(detail)})
        return lost

    def _settled_absent(
        self, target: dict[str, Any], leads: Sequence[PreparedLead], outcome: ChunkOutcome
    ) -> list[PreparedLead]:
        """The leads two reads ``late_write_seconds`` apart both miss (counting the found ones as accepted)."""
        import time

        absent = list(leads)
        for settle in (0.0, self.settings.late_write_seconds):
            if not absent:
                break
            time.sleep(settle)
            read = self._resolve(target, absent, 0.0)
            outcome.accepted += read.accepted
            missing = set(read.missing)
            absent = [lead for lead in absent if lead.row in missing]
        return absent

    def resolve_fresh_chunk(
        self, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return self._resolve(target, leads, 0.0)

    def remove_lead(
        self, campaign_id: Any, *, contact_id: Any = None, phone: str | None = None, external_id: str | None = None
    ) -> dict[str, Any]:
        """Remove one contact, always with the document's "remove a contact by ID" request.

        By phone or external id the id is resolved first by reading the campaign's contacts (phones
        match on ``+`` and digits); every contact with that external id is removed. Nothing matching
        raises :class:`~airflow_provider_dialer.exceptions.DialerNotFoundError`.
        """
        given = [v for v in (contact_id, phone, external_id) if v not in (None, "")]
        if len(given) != 1:
            raise DialerConfigError("remove_lead needs exactly one of contact_id, phone or external_id")
        if contact_id not in (None, ""):
            removed = self.delete_contact(campaign_id, contact_id=_contact_id(contact_id))
            return removed.model_dump(mode="json", exclude_none=True)
        ids = self.contact_ids_for(campaign_id, phone=phone, external_id=external_id)
        if not ids:
            from airflow_provider_dialer.leads.phones import mask_phone

            what = f"phone {mask_phone(phone)}" if phone else f"external id {external_id!r}"
            raise DialerNotFoundError(f"UJET campaign {campaign_id} has no contact with {what}")
        removed_all = [self.delete_contact(campaign_id, contact_id=i) for i in ids]
        return {**removed_all[0].model_dump(mode="json", exclude_none=True), "removed_ids": ids}

    def contact_ids_for(
        self, campaign_id: Any, *, phone: str | None = None, external_id: str | None = None
    ) -> list[int]:
        """The ids of the campaign's contacts with this phone (``+`` and digits) or this external id."""
        wanted_phone = phone_digits(phone) if phone else None
        wanted_external = None if external_id in (None, "") else str(external_id)
        return [
            c.id
            for c in self.list_contacts(campaign_id)
            if c.id is not None
            and (
                (wanted_phone is not None and phone_digits(c.phone) == wanted_phone)
                or (wanted_external is not None and c.external_unique_id == wanted_external)
            )
        ]

    # -- ContactSyncer: sync_mode upsert (PATCH a contact by id) and mirror (DELETE by id) -------------

    sync_modes: ClassVar[frozenset[str]] = frozenset({"upsert", "mirror"})

    def sync_contact_ids(
        self, target: dict[str, Any], keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """One read of the campaign's contacts: ``{key: {"contact_id": id}}`` for the keys it holds, an
        ``external_id`` key matched on ``external_unique_id``, a ``phone`` key on ``+`` and digits."""
        wanted_external = {value for kind, value in keys if kind == "external_id"}
        wanted_phone = {phone_digits(value): value for kind, value in keys if kind == "phone"}
        found: dict[tuple[str, str], dict[str, Any]] = {}
        if not wanted_external and not wanted_phone:
            return found
        for contact in self.list_contacts(target["campaign_id"]):
            if contact.id is None:
                continue
            if contact.external_unique_id is not None and contact.external_unique_id in wanted_external:
                found.setdefault(("external_id", contact.external_unique_id), {"contact_id": contact.id})
            given = wanted_phone.get(phone_digits(contact.phone))
            if given is not None:
                found.setdefault(("phone", given), {"contact_id": contact.id})
        return found

    def sync_update(self, target: dict[str, Any], lead: PreparedLead, ids: dict[str, Any]) -> dict[str, Any]:
        """``PATCH …/contact`` with the lead's name, e-mail, phone and external id (the fields the document
        lets a PATCH set; the outbound number is not one of them)."""
        wire = ujet_contact(lead)
        updated = self.update_contact(
            target["campaign_id"],
            _contact_id(ids["contact_id"]),
            name=wire.get("name"),
            email=wire.get("email"),
            phone_number=wire.get("phone_number"),
            external_unique_id=wire.get("external_unique_id"),
        )
        return {"contact_id": updated.id if updated.id is not None else _contact_id(ids["contact_id"])}

    def sync_remove(self, target: dict[str, Any], ids: dict[str, Any]) -> bool:
        """``DELETE …/contact`` by id; a 404 (already gone, e.g. a resend after a lost answer) is False."""
        from airflow_provider_dialer.exceptions import DialerHTTPError

        try:
            self.delete_contact(target["campaign_id"], contact_id=_contact_id(ids["contact_id"]))
        except DialerHTTPError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _job_state(self, job: UjetJob) -> WaitState:
        return WaitState(
            status=job.status.value, done=job.status is JobStatus.COMPLETED, failed=job.failed, detail=job.detail
        )

    def import_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        return self._job_state(self.get_job(campaign_id, job_id))

    async def aimport_job_state(self, campaign_id: Any, job_id: Any) -> WaitState:
        return self._job_state(await self.aget_job(campaign_id, job_id))
