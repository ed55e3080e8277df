"""The Voipex emulator's state and rules: OAuth2 tokens, call lists, IVR applications, campaigns and their state machine.

Plain Python, no HTTP: ``routes.py`` reads the requests and calls these methods. What the guide
leaves open is marked [A] here and listed in ``docs/vendors/voipex.md``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from pydantic import ValidationError

from airflow_provider_dialer.emulator.state import VendorBackend, now_iso_millis, release_memory
from airflow_provider_dialer.emulator.voipex.wire import (
    CALL_LIST_BODY,
    CampaignBody,
    ControlBody,
    bad_field,
    boom,
    invalid,
    oauth_error,
)

#: call-list numbers listed per list in the admin state dump (a million would make the dump useless)
DUMP_NUMBERS_LIMIT = 10_000
#: the OAuth2 client the guide's auth section names
CLIENT_ID = "api"
#: pagination (the rest of the Voipex API: page default 1, pageSize default 100, max 5000)
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 100, 5000
COMMANDS = ("start", "pause", "unpause", "reload", "remove")
#: [A] state machine of the control commands: command -> {state it applies in: state after}
TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {"created": "running"},
    "pause": {"running": "paused"},
    "unpause": {"paused": "running"},
    "reload": {"created": "created", "running": "running", "paused": "paused"},
    "remove": {"created": "removed", "running": "removed", "paused": "removed"},
}
CONTROL_MESSAGES = {
    "start": "Campaign started",
    "pause": "Campaign paused",
    "unpause": "Campaign unpaused",
    "reload": "Campaign reloaded",
    "remove": "Campaign removed",
}

#: the IVR applications a fresh emulator holds: the guide's example plus one more [A]
SEED_IVRS: tuple[dict[str, Any], ...] = (
    {
        "id": "TUxw53xCBf",
        "name": "IVR-app-name",
        "description": "",
        "createdAt": "2024-03-01T08:00:00.000Z",
        "updatedAt": "2024-03-01T08:00:00.000Z",
        "createdBy": {"id": "u-1", "email": "admin@example.com"},
        "updatedBy": {"id": "u-1", "email": "admin@example.com"},
        "routing": [{"exten": "500", "ddi": "420228881234"}],
    },
    {
        "id": "Qm8vK2pLxa",
        "name": "Outage announcement",
        "description": "Plays the outage message, then hangs up",
        "createdAt": "2024-05-10T12:30:00.000Z",
        "updatedAt": "2024-06-02T09:15:00.000Z",
        "createdBy": {"id": "u-2", "email": "noc@example.com"},
        "updatedBy": {"id": "u-2", "email": "noc@example.com"},
        "routing": [{"exten": "501", "ddi": "420228881235"}],
    },
)


def paginate(items: list[dict[str, Any]], page_text: str, size_text: str, path: str) -> dict[str, Any]:
    """The API's pagination envelope [A for the dialer's lists] (docs/vendors/voipex.md#decision-assumed-reads-and-pagination)."""
    try:
        page, size = int(page_text), int(size_text)
    except ValueError:
        raise boom(400, "Bad Request", '"page" and "pageSize" must be numbers') from None
    if page < 1 or not 1 <= size <= PAGE_SIZE_MAX:
        raise boom(400, "Bad Request", f'"page" must be >= 1 and "pageSize" 1..{PAGE_SIZE_MAX}')
    total = len(items)
    pages = max(1, -(-total // size))
    chunk = items[(page - 1) * size : page * size]
    links = [{"rel": "self", "href": f"{path}?page={page}&pageSize={size}", "method": "GET"}]
    if page < pages:
        links.append({"rel": "next", "href": f"{path}?page={page + 1}&pageSize={size}", "method": "GET"})
    if page > 1:
        links.append({"rel": "prev", "href": f"{path}?page={page - 1}&pageSize={size}", "method": "GET"})
    return {"items": chunk, "links": links, "currentPage": page, "totalPages": pages, "totalResults": total}


def _call_list_public(c: dict[str, Any]) -> dict[str, Any]:
    return {"id": c["id"], "name": c["name"], "numbersCount": len(c["numbers"]), "createdAt": c["createdAt"]}


class VoipexBackend(VendorBackend):
    """Tokens from ``POST /token``, ``/dialer/call-lists``, ``/ivr``, ``/dialer/campaigns`` and their control."""

    name = "voipex"

    def reset(self) -> None:
        with self.ctx.lock:
            #: access token -> monotonic expiry; refresh token -> monotonic expiry
            self.access_tokens: dict[str, float] = {}
            self.refresh_tokens: dict[str, float] = {}
            self.grants: dict[str, int] = {"password": 0, "refresh_token": 0}
            self.refused_grants = 0
            self.refused_api_calls = 0
            #: id -> {"id", "name", "createdAt", "numbers": [str], "attributes": {index: [...]}}
            self.call_lists: dict[int, dict[str, Any]] = {}
            self.next_call_list_id = 1
            self.ivrs: list[dict[str, Any]] = [dict(ivr) for ivr in SEED_IVRS]
            #: id -> the stored body plus "id", "state", "createdAt", "updatedAt"; emulator-only keys below
            self.campaigns: dict[int, dict[str, Any]] = {}
            self.campaign_log: dict[int, dict[str, Any]] = {}
            self.next_campaign_id = 1

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            now = time.monotonic()
            lists = []
            for c in self.call_lists.values():
                entry = _call_list_public(c)
                if len(c["numbers"]) <= DUMP_NUMBERS_LIMIT:
                    attrs = c["attributes"]
                    entry["numbers"] = [
                        {"number": n, "attributes": attrs.get(i, [])} for i, n in enumerate(c["numbers"])
                    ]
                else:
                    entry["numbers_truncated"] = True
                lists.append(entry)
            return {
                "tokens": {
                    "grants": dict(self.grants),
                    "refused_grants": self.refused_grants,
                    "refused_api_calls": self.refused_api_calls,
                    "live_access_tokens": sum(1 for t in self.access_tokens.values() if t > now),
                },
                "call_lists": lists,
                "ivrs": [dict(i) for i in self.ivrs],
                "campaigns": [{**c, **self.campaign_log[cid]} for cid, c in self.campaigns.items()],
            }

    # -- tokens (docs/vendors/voipex.md#decision-oauth2-password-grant-with-refresh) ---------------

    def _issue(self, grant: str) -> dict[str, Any]:
        now = time.monotonic()
        life, refresh_life = self.config.voipex_token_lifetime, self.config.voipex_refresh_lifetime
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access_tokens = {t: e for t, e in self.access_tokens.items() if e > now}
        self.refresh_tokens = {t: e for t, e in self.refresh_tokens.items() if e > now}
        self.access_tokens[access] = now + life
        self.refresh_tokens[refresh] = now + refresh_life
        self.grants[grant] += 1

        def seconds(value: float) -> float | int:
            return int(value) if float(value).is_integer() else value

        return {
            "access_token": access,
            "expires_in": seconds(life),
            "refresh_expires_in": seconds(refresh_life),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": str(uuid.uuid4()),
            "scope": "profile email",
        }

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """Keycloak-shaped password and refresh-token grants (Voipex's auth guide): the token answer."""
        grant = form.get("grant_type")
        with self.ctx.lock:
            if form.get("client_id") != CLIENT_ID:
                self.refused_grants += 1
                raise oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
            if grant == "password":
                if not form.get("username") or not form.get("password"):
                    self.refused_grants += 1
                    raise oauth_error(400, "invalid_request", "Missing parameter: username or password")
                creds = self.credentials
                if form["username"] != creds.voipex_user or form["password"] != creds.voipex_password:
                    self.refused_grants += 1
                    raise oauth_error(401, "invalid_grant", "Invalid user credentials")
                return self._issue("password")
            if grant == "refresh_token":
                expiry = self.refresh_tokens.get(form.get("refresh_token", ""))
                if expiry is None or expiry <= time.monotonic():
                    self.refused_grants += 1
                    raise oauth_error(400, "invalid_grant", "Token is not active")
                return self._issue("refresh_token")
            self.refused_grants += 1
            raise oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}")

    def check_access(self, token: str | None) -> None:
        """Refuse (401) unless ``token`` is a live access token."""
        expiry = None
        if token is None:
            message = "Missing authentication"
        else:
            with self.ctx.lock:
                expiry = self.access_tokens.get(token)
                if expiry is not None and expiry > time.monotonic():
                    return
            message = "Token expired" if expiry is not None else "Invalid token"
        with self.ctx.lock:
            self.refused_api_calls += 1
        raise boom(401, "Unauthorized", message, attributes={"error": message})

    # -- call lists (guide step 1) ----------------------------------------------------------------

    @staticmethod
    def parse_call_list(raw: bytes) -> tuple[str, list[str], dict[int, list[Any]]]:
        """One TypeAdapter call over the whole body; numbers kept as plain strings, attributes only where non-empty."""
        try:
            body = CALL_LIST_BODY.validate_json(raw)
        except ValidationError as exc:
            raise invalid(exc) from None
        name = body["name"]
        if not name.strip():
            raise bad_field('"name" is not allowed to be empty', "name")
        items = body["numbers"]
        numbers: list[str] = []
        append = numbers.append
        attributes: dict[int, list[Any]] = {}
        for index, item in enumerate(items):
            number = item["number"]
            digits = number[1:] if number[:1] == "+" else number
            if not (3 <= len(digits) <= 20 and digits.isdigit() and digits.isascii()):
                raise bad_field(
                    f'"numbers[{index}].number" must be a phone number of digits, got {number!r}',
                    f"numbers.{index}.number",
                )
            append(number)
            extra = item.get("attributes")
            if extra:
                attributes[index] = extra
        del body, items
        if len(numbers) > 100_000:
            release_memory()
        if not numbers:
            raise bad_field('"numbers" must contain at least 1 items', "numbers")
        return name, numbers, attributes

    def add_call_list(self, name: str, numbers: list[str], attributes: dict[int, list[Any]]) -> int:
        """Store a parsed call list; its id."""
        with self.ctx.lock:
            list_id = self.next_call_list_id
            self.next_call_list_id += 1
            self.call_lists[list_id] = {
                "id": list_id,
                "name": name,
                "createdAt": now_iso_millis(),
                "numbers": numbers,
                "attributes": attributes,
            }
        self.ctx.recorder.leads_received("voipex.call-lists", numbers)
        return list_id

    def call_lists_public(self) -> list[dict[str, Any]]:
        """[A] The lists without their numbers."""
        with self.ctx.lock:
            return [_call_list_public(c) for c in self.call_lists.values()]

    def call_list_public(self, list_id: int | None) -> dict[str, Any]:
        with self.ctx.lock:
            found = self.call_lists.get(list_id) if list_id is not None else None
            if found is None:
                raise boom(404, "Not Found", "Call list not found")
            return _call_list_public(found)

    # -- IVR (guide step 2) -----------------------------------------------------------------------

    def ivrs_public(self) -> list[dict[str, Any]]:
        with self.ctx.lock:
            return [dict(i) for i in self.ivrs]

    # -- campaigns (guide steps 3-4) --------------------------------------------------------------

    def _check_campaign(self, raw: bytes) -> CampaignBody:
        try:
            body = CampaignBody.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid(exc) from None
        days = body.activePeriod.weekDays
        bad = [d for d in days if not 1 <= d <= 7]
        if bad or len(set(days)) != len(days):
            raise bad_field(
                f'"activePeriod.weekDays" must hold distinct days 1 (Mo) .. 7 (Su), got {days}',
                "activePeriod.weekDays",
            )
        if body.activePeriod.startTime >= body.activePeriod.endTime:
            raise bad_field(
                '"activePeriod.endTime" must be later than "activePeriod.startTime"', "activePeriod.endTime"
            )
        if body.endpoint.type == "queue" and not body.endpoint.queue:
            raise bad_field('"endpoint.queue" is required when "endpoint.type" is queue', "endpoint.queue")
        with self.ctx.lock:
            missing = [i for i in body.callLists if i not in self.call_lists]
            if missing:
                raise boom(404, "Not Found", f'Call list {missing[0]} not found ("callLists")')
            if not any(i["id"] == body.ivr for i in self.ivrs):
                raise boom(404, "Not Found", f'IVR application {body.ivr!r} not found ("ivr")')
        return body

    def _live_campaign(self, campaign_id: int | None) -> dict[str, Any]:
        found = self.campaigns.get(campaign_id) if campaign_id is not None else None
        if found is None or found["state"] == "removed":
            raise boom(404, "Not Found", "Campaign not found")
        return found

    def create_campaign(self, raw: bytes) -> int:
        checked = self._check_campaign(raw)
        stamp = now_iso_millis()
        with self.ctx.lock:
            campaign_id = self.next_campaign_id
            self.next_campaign_id += 1
            self.campaigns[campaign_id] = {
                "id": campaign_id,
                **checked.model_dump(exclude_none=True),
                "state": "created",
                "createdAt": stamp,
                "updatedAt": stamp,
            }
            self.campaign_log[campaign_id] = {"reloads": 0, "commands": [], "updates": 0}
        return campaign_id

    def campaigns_public(self) -> list[dict[str, Any]]:
        """[A] The guide's "campaign list": removed campaigns are not listed."""
        with self.ctx.lock:
            return [dict(c) for c in self.campaigns.values() if c["state"] != "removed"]

    def campaign_public(self, campaign_id: int | None) -> dict[str, Any]:
        with self.ctx.lock:
            return dict(self._live_campaign(campaign_id))

    def update_campaign(self, campaign_id: int | None, raw: bytes) -> int:
        """[A] The guide's "editing a campaign": the create body replaces the campaign's settings, not its state."""
        with self.ctx.lock:
            self._live_campaign(campaign_id)
        checked = self._check_campaign(raw)
        with self.ctx.lock:
            current = self._live_campaign(campaign_id)
            assert campaign_id is not None, "a live campaign has an id"
            self.campaigns[campaign_id] = {
                "id": campaign_id,
                **checked.model_dump(exclude_none=True),
                "state": current["state"],
                "createdAt": current["createdAt"],
                "updatedAt": now_iso_millis(),
            }
            self.campaign_log[campaign_id]["updates"] += 1
        return campaign_id

    def control(self, campaign_id: int | None, raw: bytes) -> dict[str, Any]:
        """The five commands, a state machine, 409 on a wrong transition [A]: the answer."""
        try:
            body = ControlBody.model_validate_json(raw)
        except ValidationError as exc:
            raise invalid(exc) from None
        if body.command not in COMMANDS:
            raise bad_field(f'"command" must be one of [{", ".join(COMMANDS)}]', "command")
        with self.ctx.lock:
            campaign = self._live_campaign(campaign_id)
            assert campaign_id is not None, "a live campaign has an id"
            state = campaign["state"]
            after = TRANSITIONS[body.command].get(state)
            if after is None:
                raise boom(409, "Conflict", f"Cannot {body.command} a campaign that is {state}")
            campaign["state"] = after
            campaign["updatedAt"] = now_iso_millis()
            log = self.campaign_log[campaign_id]
            log["commands"].append(body.command)
            if body.command == "reload":
                log["reloads"] += 1
        return {"id": campaign_id, "message": CONTROL_MESSAGES[body.command], "state": after}
