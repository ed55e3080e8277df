"""The UJET emulator's state and rules: campaigns and their contacts, import jobs, removals and the per-customer rate limit.

Plain Python, no HTTP: ``routes.py`` reads the requests and calls these methods. Behaviour the
documents leave open is marked [A] here and in ``docs/vendors/ujet.md``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from airflow_provider_dialer.emulator.state import (
    EmulatorContext,
    VendorBackend,
    call_later,
    now_iso_millis,
    release_memory,
    same_text,
)
from airflow_provider_dialer.emulator.ujet.wire import (
    CONTACT_PATCH,
    CONTACT_SELECTOR,
    CONTACT_STATS_KEYS,
    DUPLICATE_PHONE,
    JOB_PARENT,
    JOB_START_IMPORT,
    NEW_CONTACT,
    NEW_CONTACTS,
    PHONE_PUNCTUATION,
    UPCOMING,
    ContactPatch,
    ContactSelector,
    field_errors,
    invalid,
    not_found,
    parsed_body,
    phone_key,
)

#: contacts listed per campaign in the admin state dump (a million would make the dump useless)
DUMP_CONTACTS_LIMIT = 10_000

# A stored contact is one tuple (a million of them must stay small):
ID, NAME, EMAIL, PHONE, OUTBOUND, EXTERNAL, STATUS, CREATED, UPDATED = range(9)

#: one campaign per example DAG that imports contacts, so examples enabled together never share one:
#: (id, name, mode, status)
SEED_CAMPAIGNS = (
    (1, "Emulator campaign", "predictive", "created"),
    (6, "Renewals", "preview", "dialing"),
    (7, "Contacts launch", "progressive", "dialing"),
    (8, "Daily sync", "preview", "dialing"),
    (9, "Large list", "progressive", "dialing"),
)


@dataclass
class Campaign:
    """One campaign: manager-API metadata plus its contacts and the indexes the endpoints need."""

    meta: dict[str, Any]
    contacts: dict[int, tuple[Any, ...]] = field(default_factory=dict)
    by_phone: dict[str, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class ImportJob:
    id: int
    campaign_id: int
    created: float
    #: valid contacts waiting for the job to finish: (name, email, phone, outbound, external id, phone key)
    pending: list[tuple[Any, ...]] | None
    invalid_count: int
    status: str = "in_progress"
    stored: int = 0
    type: str = JOB_PARENT
    error_message: str | None = None
    error_details: str | None = None

    def public(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "status": self.status, "type": self.type}
        if self.status == "failed":
            body["error_message"] = self.error_message
            body["error_details"] = self.error_details
        body["invalid_count"] = self.invalid_count  # emulator extra [A]
        return body


def _seed_meta(cid: int, name: str, mode: str, status: str) -> dict[str, Any]:
    created = "2024-08-01T12:00:00.000Z"
    return {
        "id": cid,
        "name": name,
        "campaign_type": "default",
        "external_campaign_id": None,
        "mode": mode,
        "max_abandonment_percent": 3,
        "max_redial_count": 2,
        "redial_interval_minutes": 60,
        "overdial_adjustment_multiplier": 1.0,
        "target_number_to_process": None,
        "queue": {
            "id": 10,
            "name": "Outbound",
            "menu_type": "ivr_menu",
            "parent_id": None,
            "position": 0,
            "deleted": False,
            "hidden": False,
            "output_msg": None,
        },
        "status": status,
        "created_at": created,
        "starts_at": None,
        "ends_at": None,
        "updated_at": created,
    }


# -- answer shapes of a stored contact and a campaign -----------------------------------------


def list_item(c: tuple[Any, ...], cid: int) -> dict[str, Any]:
    """``GET …/contacts`` item [A]: the seed's example fields plus id, status and timestamps (the public client reads them)."""
    return {
        "id": c[ID],
        "name": c[NAME],
        "email": c[EMAIL],
        "phone_number": c[PHONE],
        "outbound_number": c[OUTBOUND],
        "external_unique_id": c[EXTERNAL],
        "campaign_id": cid,
        "status": c[STATUS],
        "created_at": c[CREATED],
        "updated_at": c[UPDATED],
    }


def contact_body(c: tuple[Any, ...], cid: int) -> dict[str, Any]:
    """The PATCH/DELETE answer, key for key as the seed shows it (no top-level ``phone_number``)."""
    return {
        "id": c[ID],
        "name": c[NAME],
        "campaign_id": cid,
        "assigned_call_id": None,
        "assigned_participant_id": None,
        "outbound_number": c[OUTBOUND],
        "priority": None,
        "created_at": c[CREATED],
        "updated_at": c[UPDATED],
        "status": c[STATUS],
        "user_custom_metadata": {
            "NAME (REQUIRED)": c[NAME],
            "PHONE (REQUIRED)": c[PHONE],
            "EMAIL (REQUIRED)": c[EMAIL],
        },
    }


def campaign_body(campaign: Campaign) -> dict[str, Any]:
    """The manager API's campaign, with ``contact_stats`` counted from the stored contacts."""
    stats: dict[str, Any] = dict.fromkeys(CONTACT_STATS_KEYS, 0)
    total = sum(campaign.statuses.values())
    for status, count in campaign.statuses.items():
        if status in stats:
            stats[status] = count
    upcoming = campaign.statuses.get(UPCOMING, 0)
    stats.update({"Contacts": total, "Remaining": upcoming, "Not yet reached": upcoming})
    return {**campaign.meta, "contact_stats": stats}


class UjetBackend(VendorBackend):
    """The CCAI Platform outbound dialer's campaigns, contacts and import jobs, with a per-customer rate limit."""

    name = "ujet"

    def __init__(self, ctx: EmulatorContext) -> None:
        self._bucket_lock = threading.Lock()
        super().__init__(ctx)

    def reset(self) -> None:
        with self.ctx.lock:
            self.campaigns: dict[int, Campaign] = {}
            self.jobs: dict[int, ImportJob] = {}
            #: each contact removed: campaign, contact id and which identifiers the request named
            self.removals: list[dict[str, Any]] = []
            self.next_contact_id = 1
            self.next_job_id = 500
            self._tokens = -1.0
            self._stamp = time.monotonic()
            for cid, name, mode, status in SEED_CAMPAIGNS:
                self.campaigns[cid] = Campaign(meta=_seed_meta(cid, name, mode, status))

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self._advance_jobs()
            campaigns = {}
            for cid, campaign in self.campaigns.items():
                contacts = list(campaign.contacts.values())
                campaigns[str(cid)] = {
                    **campaign_body(campaign),
                    "contact_count": len(contacts),
                    "contacts": [list_item(c, cid) for c in contacts[:DUMP_CONTACTS_LIMIT]],
                    "contacts_truncated": len(contacts) > DUMP_CONTACTS_LIMIT,
                }
            jobs = {
                str(j.id): {**j.public(), "campaign_id": j.campaign_id, "stored": j.stored} for j in self.jobs.values()
            }
            return {"campaigns": campaigns, "jobs": jobs, "removals": list(self.removals)}

    # -- who may call, and how often ------------------------------------------------------------

    def accepts(self, user: str, token: str) -> bool:
        """Basic credentials: any username, the configured API token as the password."""
        return bool(user) and same_text(token, self.credentials.ujet_token)

    def take_request_token(self) -> bool:
        """Token bucket of ``config.ujet_rate_limit`` requests/s per customer (capacity: one second's worth)
        (docs/vendors/ujet.md#decision-rate-limit-10-per-second)."""
        rate = self.config.ujet_rate_limit
        if not rate or rate <= 0:
            return True
        with self._bucket_lock:
            now = time.monotonic()
            capacity = max(1.0, rate)
            if self._tokens < 0:
                self._tokens = capacity
            self._tokens = min(capacity, self._tokens + (now - self._stamp) * rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False

    # -- campaigns --------------------------------------------------------------------------------

    def _campaign(self, raw_id: str) -> tuple[int, Campaign]:
        """The campaign a path names (caller holds the lock), or 404."""
        campaign = self.campaigns.get(int(raw_id)) if raw_id.isdigit() else None
        if campaign is None:
            raise not_found("Campaign")
        return int(raw_id), campaign

    def check_campaign(self, raw_id: str) -> int:
        """The id of the campaign a path names, or 404 (checked before a body is read)."""
        with self.ctx.lock:
            return self._campaign(raw_id)[0]

    def campaigns_public(self) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._advance_jobs()
            return [campaign_body(c) for c in self.campaigns.values()]

    def campaign_public(self, raw_id: str) -> dict[str, Any]:
        with self.ctx.lock:
            self._advance_jobs()
            return campaign_body(self._campaign(raw_id)[1])

    # -- contacts, one at a time ----------------------------------------------------------------

    def contacts_of(self, raw_id: str) -> list[dict[str, Any]]:
        """The campaign's contacts, as ``GET …/contacts`` lists them."""
        with self.ctx.lock:
            self._advance_jobs()
            cid, campaign = self._campaign(raw_id)
            return [list_item(c, cid) for c in campaign.contacts.values()]

    def add_contact(self, raw_id: str, raw: bytes) -> dict[str, Any]:
        """Seed "Adicionar um único contato": the ``valid_contacts`` / ``invalid_contacts`` answer."""
        self.check_campaign(raw_id)
        contact = parsed_body(raw, NEW_CONTACT)
        echoed = {
            "name": contact.name,
            "email": contact.email,
            "phone_number": contact.phone_number,
            "outbound_number": contact.outbound_number,
            "external_unique_id": contact.external_unique_id,
        }
        echoed = {k: v for k, v in echoed.items() if v is not None}
        with self.ctx.lock:
            self._advance_jobs()
            cid, campaign = self._campaign(raw_id)
            key = phone_key(contact.phone_number)
            if key is None or key in campaign.by_phone:
                error = (
                    "phone_number is not a valid international phone number"
                    if key is None
                    else "phone_number has already been taken in this campaign"
                )
                return {"valid_contacts": [], "invalid_contacts": [{**echoed, "errors": [error]}]}
            row = (
                contact.name,
                contact.email,
                contact.phone_number,
                contact.outbound_number,
                contact.external_unique_id,
                key,
            )
            self._store(campaign, [row], now_iso_millis())
        self.ctx.recorder.leads_received("ujet.contacts", [contact.phone_number], f"campaign {cid}")
        return {"valid_contacts": [echoed], "invalid_contacts": []}

    def _store(self, campaign: Campaign, rows: list[tuple[Any, ...]], stamp: str) -> None:
        """Give each row an id and store it (caller holds the lock and has checked the phones)."""
        contacts, by_phone = campaign.contacts, campaign.by_phone
        next_id = self.next_contact_id
        for name, email, phone, outbound, external, key in rows:
            contacts[next_id] = (next_id, name, email, phone, outbound, external, UPCOMING, stamp, stamp)
            by_phone[key] = next_id
            next_id += 1
        campaign.statuses[UPCOMING] += next_id - self.next_contact_id
        self.next_contact_id = next_id

    def patch_contact(self, raw_id: str, raw: bytes) -> dict[str, Any]:
        """``PATCH …/contact``: the fields the body names change; the seed's contact object answers."""
        self.check_campaign(raw_id)
        patch: ContactPatch = parsed_body(raw, CONTACT_PATCH)
        with self.ctx.lock:
            self._advance_jobs()
            cid, campaign = self._campaign(raw_id)
            current = campaign.contacts.get(patch.contact_id)
            if current is None:
                raise not_found("Contact")
            row = list(current)
            if patch.phone_number is not None:
                key = phone_key(patch.phone_number)
                if key is None:
                    raise invalid(
                        "Invalid contact parameters", ["phone_number: is not a valid international phone number"]
                    )
                holder = campaign.by_phone.get(key)
                if holder is not None and holder != patch.contact_id:
                    raise invalid(
                        "Invalid contact parameters", ["phone_number: has already been taken in this campaign"]
                    )
                old = phone_key(current[PHONE])
                if old is not None and campaign.by_phone.get(old) == patch.contact_id:
                    del campaign.by_phone[old]
                campaign.by_phone[key] = patch.contact_id
                row[PHONE] = patch.phone_number
            for index, value in ((NAME, patch.name), (EMAIL, patch.email), (EXTERNAL, patch.external_unique_id)):
                if value is not None:
                    row[index] = value
            row[UPDATED] = now_iso_millis()
            campaign.contacts[patch.contact_id] = updated = tuple(row)
            return contact_body(updated, cid)

    def delete_contact(self, raw_id: str, raw: bytes) -> dict[str, Any]:
        """``DELETE …/contact``: the one contact the body's identifiers name is removed; the seed's contact object answers."""
        self.check_campaign(raw_id)
        selector: ContactSelector = parsed_body(raw, CONTACT_SELECTOR)
        with self.ctx.lock:
            self._advance_jobs()
            cid, campaign = self._campaign(raw_id)
            ids: set[int] = set()
            given = 0
            if selector.contact_id is not None:
                given += 1
                if selector.contact_id in campaign.contacts:
                    ids.add(selector.contact_id)
            if selector.phone_number is not None:
                given += 1
                key = phone_key(selector.phone_number)
                holder = campaign.by_phone.get(key) if key else None
                if holder is not None:
                    ids.add(holder)
            if selector.external_unique_id is not None:
                given += 1
                ids.update(c[ID] for c in campaign.contacts.values() if c[EXTERNAL] == selector.external_unique_id)
            if not given:
                raise invalid("One of contact_id, phone_number or external_unique_id is required")
            # [A] several identifiers must all point at the same single contact
            if len(ids) != 1 or (given > 1 and not _all_match(campaign, ids, selector)):
                raise not_found("Contact")
            (contact_id,) = ids
            removed = campaign.contacts.pop(contact_id)
            key = phone_key(removed[PHONE])
            if key is not None and campaign.by_phone.get(key) == contact_id:
                del campaign.by_phone[key]
            campaign.statuses[removed[STATUS]] -= 1
            named = [
                f for f in ("contact_id", "phone_number", "external_unique_id") if getattr(selector, f) is not None
            ]
            self.removals.append({"campaign_id": cid, "contact_id": contact_id, "by": named})
            return contact_body(removed, cid)

    # -- import jobs ------------------------------------------------------------------------------

    @staticmethod
    def parse_import(raw: bytes) -> tuple[list[tuple[Any, ...]], int]:
        """Validate the file with one TypeAdapter call; keep valid rows as tuples, count invalid phones [A]."""
        if not raw.strip():
            raise invalid("The file is empty; it must hold a JSON array of contacts")
        try:
            items = NEW_CONTACTS.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            if first["type"] in {"list_type", "json_invalid"} and len(first["loc"]) == 0:
                raise invalid("The file must hold a JSON array of contact objects", field_errors(exc, 1)) from None
            raise invalid("Invalid contacts in the file", field_errors(exc)) from None
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        invalid_count = 0
        translate = str.translate
        # phone_key inlined: this loop runs once per contact of a file of up to a million
        for c in items:
            phone = c.phone_number
            key = translate(phone, PHONE_PUNCTUATION)
            digits = key[1:]
            if key[:1] == "+" and 8 <= len(digits) <= 15 and digits.isdigit() and digits.isascii():
                append((c.name, c.email, phone, c.outbound_number, c.external_unique_id, key))
            else:
                invalid_count += 1
        del items
        if len(rows) > 100_000:
            release_memory()
        return rows, invalid_count

    def start_import(self, cid: int, rows: list[tuple[Any, ...]], invalid_count: int) -> int:
        """A new ``in_progress`` job for the parsed file; its id. It finishes on its own clock."""
        with self.ctx.lock:
            job = ImportJob(self.next_job_id, cid, time.monotonic(), rows, invalid_count)
            self.next_job_id += 1
            self.jobs[job.id] = job
        self._finish_on_time(job)
        return job.id

    def _finish_on_time(self, job: ImportJob) -> None:
        """Finish ``job`` on its own clock, ``config.ujet_job_seconds`` after it was created, whether or not
        anything polls it (a real server imports in the background; reads only settle it earlier)."""

        def finish() -> None:
            with self.ctx.lock:
                if job.pending is None or self.jobs.get(job.id) is not job:
                    return  # settled by a read, or the emulator was reset
                self._advance_jobs()
                due = job.pending is not None
            if due:  # the loop's timer fired a hair early: try again shortly
                call_later(0.01, finish)

        call_later(max(0.0, float(self.config.ujet_job_seconds)), finish)

    def _advance_jobs(self) -> None:
        """Finish the import jobs whose ``config.ujet_job_seconds`` have passed (caller holds the lock).

        [A] A job is atomic: a phone repeated in the file or already in the campaign fails the whole job
        with the seed's error fields, and nothing of it is stored.
        """
        now = time.monotonic()
        delay = self.config.ujet_job_seconds
        for job in self.jobs.values():
            if job.pending is None or now - job.created < delay:
                continue
            rows, job.pending = job.pending, None
            campaign = self.campaigns.get(job.campaign_id)
            if campaign is None:  # pragma: no cover - campaigns are never deleted
                continue
            keys = [row[5] for row in rows]
            if len(set(keys)) != len(keys) or not campaign.by_phone.keys().isdisjoint(keys):
                job.status, job.type = "failed", JOB_START_IMPORT
                job.error_message, job.error_details = "Internal Error", DUPLICATE_PHONE
                continue
            del keys
            self._store(campaign, rows, now_iso_millis())
            job.status, job.stored = "completed", len(rows)
            self.ctx.recorder.leads_received("ujet.import", (row[2] for row in rows), f"campaign {job.campaign_id}")
            if len(rows) > 100_000:
                del rows
                release_memory()

    def job_public(self, raw_campaign_id: str, raw_job_id: str) -> dict[str, Any]:
        """Seed "Jobs": ``in_progress``, then ``completed`` or ``failed``."""
        with self.ctx.lock:
            self._advance_jobs()
            cid, _ = self._campaign(raw_campaign_id)
            job = self.jobs.get(int(raw_job_id)) if raw_job_id.isdigit() else None
            if job is None or job.campaign_id != cid:
                raise not_found("Job")
            return job.public()


def _all_match(campaign: Campaign, ids: set[int], selector: ContactSelector) -> bool:
    (contact_id,) = ids
    c = campaign.contacts[contact_id]
    if selector.contact_id is not None and selector.contact_id != contact_id:
        return False
    if selector.phone_number is not None and phone_key(selector.phone_number) != phone_key(c[PHONE]):
        return False
    return selector.external_unique_id is None or selector.external_unique_id == c[EXTERNAL]
