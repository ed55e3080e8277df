"""The uContact emulator's state and rules: Integra sessions and DialerTask records, Automation hubs, lists and fresh leads.

Plain Python, no HTTP: ``routes.py`` reads the requests and calls these methods. Written from the
vendor documents and the wire reference (docs/vendors/ucontact.md#wire-reference) alone; it never
imports the provider's hooks.
"""

from __future__ import annotations

import base64
import functools
import json
import time
import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from airflow_provider_dialer.emulator.state import Refused, VendorBackend, call_later, same_text
from airflow_provider_dialer.emulator.ucontact.wire import (
    CALL_KEYS,
    CALLDATE_FORMAT,
    FRESH_BODIES,
    KINDS,
    LIST_BODIES,
    Call,
    validation_message,
)

#: campaigns the emulated instance knows (names from the document and public samples, verbatim)
SEED_CAMPAIGNS = ("POWER<-", "AutomationDialerPD<-", "Ventas->")
#: hub name -> (channel, preview). Channels as the document lists them: telephony, email, SMS, WhatsApp.
SEED_HUBS: dict[str, tuple[str, bool]] = {
    "sales": ("telephony", False),
    "renewals": ("telephony", False),
    "hot_leads": ("telephony", False),
    "preview_sales": ("telephony", True),
    "mail": ("email", False),
    "sms": ("sms", False),
    "wa": ("whatsapp", False),
}
#: contacts of a list included in the admin dump (bigger lists show a sample)
DUMP_CONTACTS_MAX = 1000


class IntegraBackend(VendorBackend):
    """Integra: user tokens from ``getUserToken`` / ``UserLogin``, ended by ``EndSession``; ``DialerTask`` records."""

    name = "ucontact_integra"

    def reset(self) -> None:
        with self.ctx.lock:
            self.campaigns: set[str] = set(SEED_CAMPAIGNS)
            self.sessions: dict[str, str] = {}  # token -> user
            self.logins = 0
            self.failed_logins = 0
            self.sessions_ended = 0
            self.tasks: list[dict[str, Any]] = []
            self.rejected: list[dict[str, Any]] = []

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            return {
                "campaigns": sorted(self.campaigns),
                "open_sessions": sorted(self.sessions.values()),
                "logins": self.logins,
                "failed_logins": self.failed_logins,
                "sessions_ended": self.sessions_ended,
                "tasks": list(self.tasks),
                "rejected": list(self.rejected),
            }

    # -- sessions -----------------------------------------------------------------------------

    def login(self, user: str, password: str) -> str | None:
        """A new session token, base64("user:uuid"), or None for wrong credentials.

        Credentials are compared as UTF-8 bytes, so a non-ASCII password is checked like any other.
        """
        creds = self.credentials
        good = same_text(user, creds.ucontact_user) & same_text(password, creds.ucontact_password)
        with self.ctx.lock:
            if not good:
                self.failed_logins += 1
                return None
            token = base64.b64encode(f"{user}:{uuid.uuid4()}".encode()).decode()
            self.sessions[token] = user
            self.logins += 1
        return token

    def end_session(self, user: str, token: str) -> bool:
        """Invalidate ``token`` when it is ``user``'s session; False for an unknown pair."""
        with self.ctx.lock:
            if self.sessions.get(token) != user:
                return False
            del self.sessions[token]
            self.sessions_ended += 1
        return True

    def session_user(self, token: str | None) -> str | None:
        """The user a live session token belongs to, or None."""
        if token is None:
            return None
        with self.ctx.lock:
            return self.sessions.get(token)

    # -- DialerTask -----------------------------------------------------------------------------

    def _reject(self, reason: str, raw: str | None) -> bool:
        with self.ctx.lock:
            self.rejected.append({"reason": reason, "call": (raw or "")[:500]})
        return False

    def add_call(self, user: str, raw: str | None) -> bool:
        """Store the ``call`` record when it holds all nine keys with the documented types and a known campaign.

        False, with the reason kept in ``rejected``, for anything wrong with the record
        (docs/vendors/ucontact.md#decision-dialertask-success-is-the-text-1).
        """
        if not raw:
            return self._reject("missing form field 'call'", None)
        try:
            obj = json.loads(raw)
        except ValueError:
            return self._reject("call is not JSON", raw)
        if not isinstance(obj, dict):
            return self._reject("call is not a JSON object", raw)
        missing = [k for k in CALL_KEYS if k not in obj]
        if missing:
            return self._reject(f"missing keys {missing}", raw)
        try:
            call = Call.model_validate(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            return self._reject(f"{'.'.join(map(str, first['loc']))}: {first['msg']}", raw)
        calldate_utc = None
        if call.calldate is not None:
            try:
                local = datetime.strptime(call.calldate, CALLDATE_FORMAT)
            except ValueError:
                return self._reject("calldate is not 'YYYY-MM-DD HH:MM:SS'", raw)
            from zoneinfo import ZoneInfo

            zone = ZoneInfo(self.config.ucontact_instance_timezone)
            calldate_utc = local.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).strftime(CALLDATE_FORMAT)
        if not call.destination.strip():
            return self._reject("destination is empty", raw)
        with self.ctx.lock:
            if call.campaign not in self.campaigns:
                return self._reject(f"unknown campaign {call.campaign!r}", raw)
            record = call.model_dump()
            record.update(
                {"id": len(self.tasks) + 1, "user": user, "calldate_utc": calldate_utc, "received_at": time.time()}
            )
            self.tasks.append(record)
            self.ctx.recorder.leads_received("integra.dialertask", [call.destination], f"campaign {call.campaign}")
        return True


def _key(contact: dict[str, Any]) -> str:
    ids = contact.get("clientIds")
    return str(ids[0]) if ids else str(contact.get("clientId"))


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], "filename": entry["filename"], "status": entry["status"], "count": entry["count"]}


class AutomationBackend(VendorBackend):
    """Automation: outbound hubs, their lists (loaded asynchronously: ``loading`` -> ``inactive``) and fresh leads."""

    name = "ucontact_automation"

    def reset(self) -> None:
        with self.ctx.lock:
            self.hubs: dict[str, dict[str, Any]] = {
                name: {"channel": channel, "preview": preview} for name, (channel, preview) in SEED_HUBS.items()
            }
            # list id -> {"id", "hub", "filename", "status", "count", "raw", "keys", "ready_at", ...}; contacts are
            # kept as the request's raw JSON (the most compact form) and re-read only for the admin dump
            self.lists: dict[int, dict[str, Any]] = {}
            self.fresh: dict[str, list[dict[str, Any]]] = {name: [] for name in self.hubs}
            self.next_list_id = 1

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self._settle_all()
            lists = []
            for entry in self.lists.values():
                public = _public(entry)
                big = entry["count"] > DUMP_CONTACTS_MAX
                public["contacts"] = [] if big else json.loads(entry["raw"])["list"]
                public["contacts_truncated"] = big
                public["hub"] = entry["hub"]
                lists.append(public)
            return {"hubs": dict(self.hubs), "lists": lists, "fresh_leads": {k: list(v) for k, v in self.fresh.items()}}

    def accepts(self, token: str | None) -> bool:
        """Whether ``token`` is the instance's API token (the Bearer of every Automation call)."""
        return token is not None and same_text(token, self.credentials.ucontact_api_token)

    def check_hub(self, hub: str) -> None:
        if hub not in self.hubs:
            raise Refused(404, {"message": "Hub not found"})

    def _validated(self, hub: str, raw: bytes, bodies: dict[str, Any]) -> Any:
        """The body validated by the adapter for the hub's channel kind (telephony, text or email)."""
        self.check_hub(hub)
        try:
            return bodies[KINDS[self.hubs[hub]["channel"]]].validate_json(raw)
        except ValidationError as exc:
            raise Refused(400, validation_message(exc)) from None

    # -- asynchronous loading: loading -> inactive ----------------------------------------------

    def _finish_load(self, list_id: int, generation: object) -> None:
        with self.ctx.lock:
            entry = self.lists.get(list_id)
            if entry is None or entry["generation"] is not generation or entry["status"] != "loading":
                return  # reset since, or already settled by a read
            entry["status"] = "inactive"
            entry["loaded_at"] = time.time()
            keys, entry["keys"] = entry["keys"], None
            self.ctx.recorder.leads_received("automation.lists", keys, f"hub {entry['hub']}")

    def _settle_all(self) -> None:
        now = time.monotonic()
        for entry in list(self.lists.values()):
            if entry["status"] == "loading" and now >= entry["ready_at"]:
                self._finish_load(entry["id"], entry["generation"])

    # -- lists and fresh leads --------------------------------------------------------------------

    def add_list(self, hub: str, raw: bytes) -> dict[str, Any]:
        """ "Subir una lista": the new list in ``loading``; it turns ``inactive`` once "stored"."""
        body = self._validated(hub, raw, LIST_BODIES)
        contacts = body["list"]
        filename, count, keys = body["filename"], len(contacts), list(map(_key, contacts))
        del body, contacts  # the validated dicts are the bulky form; keep the raw JSON instead
        delay = max(0.0, float(self.config.ucontact_list_load_seconds))
        with self.ctx.lock:
            list_id = self.next_list_id
            self.next_list_id += 1
            generation = object()
            entry = {
                "id": list_id,
                "hub": hub,
                "filename": filename,
                "status": "loading",
                "count": count,
                "raw": raw,
                "keys": keys,
                "created_at": time.time(),
                "ready_at": time.monotonic() + delay,
                "generation": generation,
            }
            self.lists[list_id] = entry
            public = _public(entry)
        call_later(delay, functools.partial(self._finish_load, list_id, generation))
        return public

    def lists_of(self, hub: str) -> list[dict[str, Any]]:
        """Emulator-only read (docs/vendors/ucontact.md#decision-assumed-list-state-read): the hub's lists with their states."""
        self.check_hub(hub)
        with self.ctx.lock:
            self._settle_all()
            return [_public(e) for e in self.lists.values() if e["hub"] == hub]

    def list_of(self, hub: str, list_id: int) -> dict[str, Any]:
        """Emulator-only read (docs/vendors/ucontact.md#decision-assumed-list-state-read): one list's state."""
        self.check_hub(hub)
        with self.ctx.lock:
            self._settle_all()
            entry = self.lists.get(list_id)
            if entry is None or entry["hub"] != hub:
                raise Refused(404, {"message": "List not found"})
            return _public(entry)

    def add_fresh(self, hub: str, raw: bytes) -> int:
        """ "Fresh leads": synchronous; how many leads were stored (all of them, or a refusal)."""
        leads = self._validated(hub, raw, FRESH_BODIES)["leads"]
        with self.ctx.lock:
            self.fresh[hub].extend(leads)
            self.ctx.recorder.leads_received("automation.freshLeads", map(_key, leads), f"hub {hub}")
        return len(leads)
