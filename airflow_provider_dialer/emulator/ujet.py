"""Emulated UJET / Google Cloud CCAI Platform outbound dialer: Apps API campaign contacts and jobs, manager API campaigns.

Written from the vendor's outbound dialer document and the wire reference (docs/vendors/ujet.md#wire-reference),
never from the provider's hook: request bodies are validated with this module's own models, so a
misreading on either side fails a test. Behaviour the documents leave open is marked [A] here and
in ``docs/vendors/ujet.md``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import ctypes
import hmac
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from airflow_provider_dialer.emulator.state import EmulatorContext, VendorAPI, json_response

APPS = "/apps/api/v1/outbound_dialer/campaigns"
MANAGER = "/manager/api/v1/outbound_dialer/campaigns"

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

#: contacts listed per campaign in the admin state dump (a million would make the dump useless)
DUMP_CONTACTS_LIMIT = 10_000

_PHONE_PUNCTUATION = str.maketrans("", "", " -()")


def phone_key(raw: str) -> str | None:
    """The number a UJET phone stands for, or None when it is not a plausible international number.

    [A] Spaces, dashes and parentheses are dropped (the seed writes ``+1 111-111-1111``); what is left
    must be ``+`` and 8 to 15 digits (E.164 allows at most 15).
    """
    key = raw.translate(_PHONE_PUNCTUATION)
    digits = key[1:]
    if key[:1] == "+" and 8 <= len(digits) <= 15 and digits.isdigit() and digits.isascii():
        return key
    return None


# --------------------------------------------------------------------------------------------
# The emulator's own wire models (from the seed, not from the hook)
# --------------------------------------------------------------------------------------------


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

# A stored contact is one tuple (a million of them must stay small):
ID, NAME, EMAIL, PHONE, OUTBOUND, EXTERNAL, STATUS, CREATED, UPDATED = range(9)


def _now_iso() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _release_memory() -> None:
    """Hand the parser's freed buffers back to the OS after a big import (glibc only; best effort)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


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


class UjetAPI(VendorAPI):
    """The CCAI Platform outbound dialer endpoints, with Basic auth and a per-customer rate limit."""

    name = "ujet"

    def __init__(self, ctx: EmulatorContext) -> None:
        super().__init__(ctx)
        self._bucket_lock = threading.Lock()
        self.reset()

    # -- state ------------------------------------------------------------------------------

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
            created = "2024-08-01T12:00:00.000Z"
            # one campaign per example DAG that imports contacts, so examples enabled together never share one
            for cid, name, mode, status in (
                (1, "Emulator campaign", "predictive", "created"),
                (6, "Renewals", "preview", "dialing"),
                (7, "Contacts launch", "progressive", "dialing"),
                (8, "Daily sync", "preview", "dialing"),
                (9, "Large list", "progressive", "dialing"),
            ):
                self.campaigns[cid] = Campaign(
                    meta={
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
                )

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self._advance_jobs()
            campaigns = {}
            for cid, campaign in self.campaigns.items():
                contacts = list(campaign.contacts.values())
                campaigns[str(cid)] = {
                    **self._campaign_body(campaign),
                    "contact_count": len(contacts),
                    "contacts": [self._list_body(c, cid) for c in contacts[:DUMP_CONTACTS_LIMIT]],
                    "contacts_truncated": len(contacts) > DUMP_CONTACTS_LIMIT,
                }
            jobs = {
                str(j.id): {**j.public(), "campaign_id": j.campaign_id, "stored": j.stored} for j in self.jobs.values()
            }
            return {"campaigns": campaigns, "jobs": jobs, "removals": list(self.removals)}

    # -- wire shapes ----------------------------------------------------------------------------

    @staticmethod
    def _list_body(c: tuple[Any, ...], cid: int) -> dict[str, Any]:
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

    @staticmethod
    def _contact_body(c: tuple[Any, ...], cid: int) -> dict[str, Any]:
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

    @staticmethod
    def _campaign_body(campaign: Campaign) -> dict[str, Any]:
        stats: dict[str, Any] = dict.fromkeys(CONTACT_STATS_KEYS, 0)
        total = sum(campaign.statuses.values())
        for status, count in campaign.statuses.items():
            if status in stats:
                stats[status] = count
        upcoming = campaign.statuses.get(UPCOMING, 0)
        stats.update({"Contacts": total, "Remaining": upcoming, "Not yet reached": upcoming})
        return {**campaign.meta, "contact_stats": stats}

    # -- request plumbing -----------------------------------------------------------------------

    def _refuse(self, request: Request) -> Response | None:
        """401 unless Basic credentials carry the configured token (any username); then the rate limit (docs/vendors/ujet.md#decision-rate-limit-10-per-second)."""
        header = request.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        ok = False
        if scheme.lower() == "basic" and encoded:
            try:
                user, sep, token = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                user, sep, token = "", "", ""
            ok = bool(user) and bool(sep) and hmac.compare_digest(token.encode(), self.credentials.ujet_token.encode())
        if not ok:
            return json_response({"message": "Unauthorized"}, 401, {"WWW-Authenticate": 'Basic realm="API"'})
        if not self._take_token():
            return json_response(
                {"message": "Rate limit exceeded: too many requests per second for this customer"},
                429,
                {"Retry-After": "1"},
            )
        return None

    def _take_token(self) -> bool:
        """Token bucket of ``config.ujet_rate_limit`` requests/s per customer (capacity: one second's worth)."""
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

    @staticmethod
    def _not_found(what: str) -> Response:
        return json_response({"message": f"{what} not found"}, 404)

    @staticmethod
    def _invalid(message: str, errors: list[str] | None = None) -> Response:
        body: dict[str, Any] = {"message": message}
        if errors:
            body["errors"] = errors
        return json_response(body, 422)

    @staticmethod
    def _errors(exc: ValidationError, limit: int = 10) -> list[str]:
        out = []
        for err in exc.errors(include_url=False)[:limit]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            out.append(f"{where}: {err['msg']}")
        return out

    def _campaign(self, raw: str) -> tuple[int, Campaign] | None:
        if not raw.isdigit():
            return None
        cid = int(raw)
        campaign = self.campaigns.get(cid)
        return (cid, campaign) if campaign is not None else None

    async def _json_body(self, request: Request, adapter: TypeAdapter[Any]) -> tuple[Any, Response | None]:
        raw = await request.body()
        if not raw:
            return None, self._invalid("Request body is empty")
        try:
            return adapter.validate_json(raw), None
        except ValidationError as exc:
            return None, self._invalid("Invalid contact parameters", self._errors(exc))

    # -- Apps API -----------------------------------------------------------------------------

    async def contacts(self, request: Request) -> Response:
        """POST: add one contact (seed "Adicionar um único contato"); GET: the campaign's contacts as an array."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        if request.method == "GET":
            with self.ctx.lock:
                self._advance_jobs()
                found = self._campaign(request.path_params["campaign_id"])
                if found is None:
                    return self._not_found("Campaign")
                cid, campaign = found
                return json_response([self._list_body(c, cid) for c in campaign.contacts.values()])
        with self.ctx.lock:
            if self._campaign(request.path_params["campaign_id"]) is None:
                return self._not_found("Campaign")
        contact, error = await self._json_body(request, NEW_CONTACT)
        if error is not None:
            return error
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
            found = self._campaign(request.path_params["campaign_id"])
            if found is None:
                return self._not_found("Campaign")
            cid, campaign = found
            key = phone_key(contact.phone_number)
            if key is None:
                return json_response(
                    {
                        "valid_contacts": [],
                        "invalid_contacts": [
                            {**echoed, "errors": ["phone_number is not a valid international phone number"]}
                        ],
                    }
                )
            if key in campaign.by_phone:
                return json_response(
                    {
                        "valid_contacts": [],
                        "invalid_contacts": [
                            {**echoed, "errors": ["phone_number has already been taken in this campaign"]}
                        ],
                    }
                )
            stamp = _now_iso()
            self._store(
                campaign,
                [
                    (
                        contact.name,
                        contact.email,
                        contact.phone_number,
                        contact.outbound_number,
                        contact.external_unique_id,
                        key,
                    )
                ],
                stamp,
            )
        self.ctx.recorder.leads_received("ujet.contacts", [contact.phone_number], f"campaign {cid}")
        return json_response({"valid_contacts": [echoed], "invalid_contacts": []})

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

    async def import_contacts(self, request: Request) -> Response:
        """Multipart ``file`` holding a JSON array (seed "Importar vários contatos"): 202, empty body, Location (docs/vendors/ujet.md#decision-import-job-id-discovery)."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            found = self._campaign(request.path_params["campaign_id"])
        if found is None:
            return self._not_found("Campaign")
        cid = found[0]
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            return json_response({"message": "Content-Type must be multipart/form-data with a 'file' part"}, 415)
        try:
            form = await request.form(max_files=4, max_fields=16)
        except Exception as exc:  # noqa: BLE001 - a malformed multipart body is the client's error
            return json_response({"message": f"Malformed multipart body: {exc}"}, 400)
        upload = form.get("file")
        try:
            if upload is None or isinstance(upload, str):
                return json_response({"message": "param is missing or the value is empty: file"}, 400)
            raw = await upload.read()
        finally:
            await form.close()
        outcome = await run_in_threadpool(self._parse_import, raw)
        del raw
        if isinstance(outcome, Response):
            return outcome
        rows, invalid = outcome
        with self.ctx.lock:
            job = ImportJob(self.next_job_id, cid, time.monotonic(), rows, invalid)
            self.next_job_id += 1
            self.jobs[job.id] = job
        self._finish_on_time(job)
        location = f"{APPS}/{cid}/contacts/jobs/{job.id}"
        headers = {"Location": location}
        if self.config.ujet_link_header:
            headers["Link"] = f'<{location}>; rel="status"'
        return Response(status_code=202, headers=headers)

    def _parse_import(self, raw: bytes) -> tuple[list[tuple[Any, ...]], int] | Response:
        """Validate the file with one TypeAdapter call; keep valid rows as tuples, count invalid phones [A]."""
        if not raw.strip():
            return self._invalid("The file is empty; it must hold a JSON array of contacts")
        try:
            items = NEW_CONTACTS.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            if first["type"] in {"list_type", "json_invalid"} and len(first["loc"]) == 0:
                return self._invalid("The file must hold a JSON array of contact objects", self._errors(exc, 1))
            return self._invalid("Invalid contacts in the file", self._errors(exc))
        rows: list[tuple[Any, ...]] = []
        append = rows.append
        invalid = 0
        translate = str.translate
        for c in items:
            phone = c.phone_number
            key = translate(phone, _PHONE_PUNCTUATION)
            digits = key[1:]
            if key[:1] == "+" and 8 <= len(digits) <= 15 and digits.isdigit() and digits.isascii():
                append((c.name, c.email, phone, c.outbound_number, c.external_unique_id, key))
            else:
                invalid += 1
        del items
        if len(rows) > 100_000:
            _release_memory()
        return rows, invalid

    def _finish_on_time(self, job: ImportJob) -> None:
        """Finish ``job`` on its own clock, ``config.ujet_job_seconds`` after it was created, whether or not
        anything polls it (a real server imports in the background; reads only settle it earlier)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - handlers always run in the server's loop
            return

        def finish() -> None:
            with self.ctx.lock:
                if job.pending is None or self.jobs.get(job.id) is not job:
                    return  # settled by a read, or the emulator was reset
                self._advance_jobs()
                due = job.pending is not None
            if due:  # the loop's timer fired a hair early: try again shortly
                loop.call_later(0.01, finish)

        loop.call_later(max(0.0, float(self.config.ujet_job_seconds)), finish)

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
            self._store(campaign, rows, _now_iso())
            job.status, job.stored = "completed", len(rows)
            self.ctx.recorder.leads_received("ujet.import", (row[2] for row in rows), f"campaign {job.campaign_id}")
            if len(rows) > 100_000:
                del rows
                _release_memory()

    async def job(self, request: Request) -> Response:
        """``GET …/contacts/jobs/{job_id}``: ``in_progress``, then ``completed`` or ``failed`` (seed "Jobs")."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            self._advance_jobs()
            found = self._campaign(request.path_params["campaign_id"])
            if found is None:
                return self._not_found("Campaign")
            raw_id = request.path_params["job_id"]
            job = self.jobs.get(int(raw_id)) if raw_id.isdigit() else None
            if job is None or job.campaign_id != found[0]:
                return self._not_found("Job")
            return json_response(job.public())

    async def contact(self, request: Request) -> Response:
        """PATCH / DELETE the singular ``…/contact`` with a JSON body; both answer the seed's contact object."""
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            if self._campaign(request.path_params["campaign_id"]) is None:
                return self._not_found("Campaign")
        adapter = CONTACT_PATCH if request.method == "PATCH" else CONTACT_SELECTOR
        body, error = await self._json_body(request, adapter)
        if error is not None:
            return error
        with self.ctx.lock:
            self._advance_jobs()
            found = self._campaign(request.path_params["campaign_id"])
            if found is None:
                return self._not_found("Campaign")
            cid, campaign = found
            if request.method == "PATCH":
                return self._patch(cid, campaign, body)
            return self._delete(cid, campaign, body)

    def _patch(self, cid: int, campaign: Campaign, patch: ContactPatch) -> Response:
        current = campaign.contacts.get(patch.contact_id)
        if current is None:
            return self._not_found("Contact")
        row = list(current)
        if patch.phone_number is not None:
            key = phone_key(patch.phone_number)
            if key is None:
                return self._invalid(
                    "Invalid contact parameters", ["phone_number: is not a valid international phone number"]
                )
            holder = campaign.by_phone.get(key)
            if holder is not None and holder != patch.contact_id:
                return self._invalid(
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
        row[UPDATED] = _now_iso()
        campaign.contacts[patch.contact_id] = updated = tuple(row)
        return json_response(self._contact_body(updated, cid))

    def _delete(self, cid: int, campaign: Campaign, selector: ContactSelector) -> Response:
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
            return self._invalid("One of contact_id, phone_number or external_unique_id is required")
        # [A] several identifiers must all point at the same single contact
        if len(ids) != 1 or (given > 1 and not self._all_match(campaign, ids, selector)):
            return self._not_found("Contact")
        (contact_id,) = ids
        removed = campaign.contacts.pop(contact_id)
        key = phone_key(removed[PHONE])
        if key is not None and campaign.by_phone.get(key) == contact_id:
            del campaign.by_phone[key]
        campaign.statuses[removed[STATUS]] -= 1
        named = [f for f in ("contact_id", "phone_number", "external_unique_id") if getattr(selector, f) is not None]
        self.removals.append({"campaign_id": cid, "contact_id": contact_id, "by": named})
        return json_response(self._contact_body(removed, cid))

    @staticmethod
    def _all_match(campaign: Campaign, ids: set[int], selector: ContactSelector) -> bool:
        (contact_id,) = ids
        c = campaign.contacts[contact_id]
        if selector.contact_id is not None and selector.contact_id != contact_id:
            return False
        if selector.phone_number is not None and phone_key(selector.phone_number) != phone_key(c[PHONE]):
            return False
        return selector.external_unique_id is None or selector.external_unique_id == c[EXTERNAL]

    # -- manager API --------------------------------------------------------------------------

    async def manager_campaigns(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            self._advance_jobs()
            return json_response([self._campaign_body(c) for c in self.campaigns.values()])

    async def manager_campaign(self, request: Request) -> Response:
        refused = self._refuse(request)
        if refused is not None:
            return refused
        with self.ctx.lock:
            self._advance_jobs()
            found = self._campaign(request.path_params["campaign_id"])
            if found is None:
                return self._not_found("Campaign")
            return json_response(self._campaign_body(found[1]))

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{APPS}/{{campaign_id}}/contacts", self.contacts, methods=["GET", "POST"]),
            Route(f"{APPS}/{{campaign_id}}/contacts/import", self.import_contacts, methods=["POST"]),
            Route(f"{APPS}/{{campaign_id}}/contacts/jobs/{{job_id}}", self.job, methods=["GET"]),
            Route(f"{APPS}/{{campaign_id}}/contact", self.contact, methods=["PATCH", "DELETE"]),
            Route(MANAGER, self.manager_campaigns, methods=["GET"]),
            Route(f"{MANAGER}/{{campaign_id}}", self.manager_campaign, methods=["GET"]),
        ]
