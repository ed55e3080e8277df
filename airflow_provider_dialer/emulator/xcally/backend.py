"""The XCALLY emulator's state and rules: contact lists and their agents, contacts, voice queue campaigns with their
lists, agents and hopper, and the CSV imports (``imports.py``).

Plain Python, no HTTP: ``routes.py`` reads the requests and calls these methods. Where Motion's
behaviour is not documented the choice is marked [A] (docs/vendors/xcally.md#wire-reference).
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from airflow_provider_dialer.emulator.state import EmulatorContext, VendorBackend, same_text
from airflow_provider_dialer.emulator.xcally.imports import CsvImports
from airflow_provider_dialer.emulator.xcally.wire import (
    BULK_CONTACTS,
    CUSTOM_FIELD_IDS,
    QUEUE_FIELDS,
    AgentsBody,
    IdsBody,
    as_text,
    matches_search,
    message,
    not_unique,
    pydantic_errors,
    validation,
)

#: seeded users: the seed adds agents 24, 26, 31 to a campaign
SEEDED_USERS = (
    {"id": 1, "name": "admin", "fullname": "Administrator", "role": "admin"},
    {"id": 24, "name": "agent24", "fullname": "Ana Agent", "role": "agent"},
    {"id": 26, "name": "agent26", "fullname": "Bruno Agent", "role": "agent"},
    {"id": 31, "name": "agent31", "fullname": "Carla Agent", "role": "agent"},
    {"id": 40, "name": "super40", "fullname": "Sam Supervisor", "role": "supervisor"},
)
#: a hopper row: (ContactId, phone, ListId, scheduledat, priority)
HopperRow = tuple[Any, ...]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _users(ids: Iterable[int]) -> list[dict[str, Any]]:
    wanted = set(ids)
    return [dict(u) for u in SEEDED_USERS if u["id"] in wanted]


class XCallyBackend(VendorBackend):
    """XCALLY Motion on one port: ``/api/cm/...``, ``/api/voice/queues...``, ``/api/users``, ``/api/realtime/agents``."""

    name = "xcally"

    def __init__(self, ctx: EmulatorContext) -> None:
        self.csv = CsvImports(ctx, self._store, self._list_contacts, lambda list_id: list_id in self.lists)
        super().__init__(ctx)

    def reset(self) -> None:
        with self.ctx.lock:
            self.lists: dict[int, dict[str, Any]] = {}
            self.list_users: dict[int, set[int]] = defaultdict(set)
            # contacts are kept as the validated wire dicts (no copy); contact id = index + 1
            self.contacts: list[dict[str, Any]] = []
            self._batches: list[tuple[int, str]] = []  # (first contact id, createdAt) per stored batch
            self.by_list: dict[int, array[int]] = defaultdict(lambda: array("q"))
            self.campaigns: dict[int, dict[str, Any]] = {}
            self.campaign_lists: dict[int, list[int]] = defaultdict(list)
            self.campaign_users: dict[int, dict[int, str]] = defaultdict(dict)
            # hopper: campaign -> rows; final stays empty (nothing is dialed)
            self.hopper: dict[int, list[HopperRow]] = defaultdict(list)
            self.hopper_phones: dict[int, set[str]] = defaultdict(set)
            self.final: dict[int, list[HopperRow]] = defaultdict(list)
            self.final_phones: dict[int, set[str]] = defaultdict(set)
            self.hopper_duplicates: dict[int, int] = defaultdict(int)
            self._next_list = 1
            self._next_campaign = 1
            self.csv.reset()

    def dump(self) -> dict[str, Any]:
        with self.ctx.lock:
            self.csv.advance()
            sample = self.contacts if len(self.contacts) <= 10_000 else self.contacts[:1000]
            return {
                "lists": [
                    {**lst, "contacts": len(self.by_list.get(lid, ())), "agents": sorted(self.list_users.get(lid, ()))}
                    for lid, lst in self.lists.items()
                ],
                "contacts_total": len(self.contacts),
                "contacts": [self._contact_dict(i) for i in range(len(sample))],
                "campaigns": [
                    {
                        **camp,
                        "lists": list(self.campaign_lists.get(cid, ())),
                        "agents": {str(k): v for k, v in self.campaign_users.get(cid, {}).items()},
                        "hopper": [
                            {"ContactId": h[0], "phone": h[1], "ListId": h[2], "scheduledat": h[3], "priority": h[4]}
                            for h in self.hopper.get(cid, ())[:1000]
                        ],
                        "hopper_count": len(self.hopper.get(cid, ())),
                        "final_count": len(self.final.get(cid, ())),
                        "hopper_duplicates_skipped": self.hopper_duplicates.get(cid, 0),
                    }
                    for cid, camp in self.campaigns.items()
                ],
                **self.csv.dump(),
            }

    # -- who may call -------------------------------------------------------------------------------

    def accepts_api_key(self, key: str) -> bool:
        return same_text(key, self.credentials.xcally_api_key)

    def accepts_user(self, user: str, password: str) -> bool:
        creds = self.credentials
        return same_text(user, creds.xcally_user) & same_text(password, creds.xcally_password)

    # -- storing contacts, and the hopper they feed -----------------------------------------------

    def _contact_dict(self, index: int) -> dict[str, Any]:
        """Contact ``index`` (id - 1) as Motion answers it: id, Motion's defaults, createdAt/updatedAt."""
        created = self._batches[bisect.bisect_right(self._batches, (index + 1, "\uffff")) - 1][1]
        return {
            "id": index + 1,
            "lastName": None,
            "phone": None,
            "email": None,
            "priority": 2,
            "scheduledat": None,
            **self.contacts[index],
            "createdAt": created,
            "updatedAt": created,
        }

    def _list_contacts(self, list_id: int) -> Iterator[dict[str, Any]]:
        return (self.contacts[i - 1] for i in self.by_list.get(list_id, ()))

    def _store(self, list_id: int, rows: list[dict[str, Any]], endpoint: str) -> range:
        """Append validated contact dicts (each with ``ListId``); the caller holds the lock."""
        first = len(self.contacts) + 1
        self._batches.append((first, _now_iso()))
        self.contacts.extend(rows)
        ids = range(first, first + len(rows))
        self.by_list[list_id].extend(ids)
        self.ctx.recorder.leads_received(endpoint, [p for p in (r.get("phone") for r in rows) if p], f"list {list_id}")
        for cid, attached in self.campaign_lists.items():
            if list_id in attached:
                self._load_hopper(cid, ids)
        return ids

    def _load_hopper(self, cid: int, contact_ids: Iterable[int]) -> None:
        """dialCheckDuplicateType: ``always`` checks hopper and final, ``onlyIfOpen`` the hopper only, ``never`` nothing."""
        mode = self.campaigns[cid]["dialCheckDuplicateType"]
        hopper, phones, final = self.hopper[cid], self.hopper_phones[cid], self.final_phones[cid]
        for contact_id in contact_ids:
            c = self.contacts[contact_id - 1]
            phone = c.get("phone")
            if not phone:
                continue
            if mode != "never" and (phone in phones or (mode == "always" and phone in final)):
                self.hopper_duplicates[cid] += 1
                continue
            hopper.append((contact_id, phone, c["ListId"], c.get("scheduledat"), c.get("priority") or 2))
            phones.add(phone)

    # -- lists --------------------------------------------------------------------------------------

    def _check_list(self, list_id: int) -> None:
        if list_id not in self.lists:
            raise message("List not found", 404)

    def lists_rows(self) -> list[dict[str, Any]]:
        with self.ctx.lock:
            return [dict(r) for r in self.lists.values()]

    def create_list(self, name: str, description: str | None) -> dict[str, Any]:
        with self.ctx.lock:
            if any(lst["name"] == name for lst in self.lists.values()):
                raise not_unique("name")
            now = _now_iso()
            list_id, self._next_list = self._next_list, self._next_list + 1
            lst = {"id": list_id, "name": name, "description": description, "updatedAt": now, "createdAt": now}
            self.lists[list_id] = lst
            return dict(lst)

    def list_public(self, list_id: int) -> dict[str, Any]:
        with self.ctx.lock:
            self._check_list(list_id)
            return dict(self.lists[list_id])

    def custom_fields(self) -> list[dict[str, Any]]:
        """The global custom fields, ``cf_1`` .. in the order ``config.xcally_custom_fields`` names them.

        The setting is a comma-separated text (``--set xcally_custom_fields=code,region``) or a JSON list
        (``PATCH /_emulator/config``); each name is both the field's ``name`` and its ``alias``.
        """
        raw = self.config.xcally_custom_fields
        names = raw.split(",") if isinstance(raw, str) else list(raw)
        names = [str(n).strip() for n in names if str(n).strip()][: len(CUSTOM_FIELD_IDS)]
        return [{"id": i, "name": n, "alias": n, "type": "text"} for i, n in enumerate(names, 1)]

    def list_fields(self, list_id: int, include_globals: bool) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_list(list_id)
        rows = [{**f, "ListId": None} for f in self.custom_fields()]
        return rows if include_globals else []

    def list_agents(self, list_id: int) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_list(list_id)
            return _users(self.list_users[list_id])

    def add_list_agents(self, list_id: int, data: IdsBody) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_list(list_id)
            _check_agents(data, list_id)
            self.list_users[list_id].update(data.ids)
            return _users(self.list_users[list_id])

    # -- contacts -----------------------------------------------------------------------------------

    def check_list(self, list_id: int) -> None:
        """404 unless the list exists (checked before a body is read)."""
        with self.ctx.lock:
            self._check_list(list_id)

    def add_bulk(self, list_id: int, raw: bytes) -> range:
        """``POST /api/cm/lists/{id}/contacts``: the JSON array validated in one pass and stored; the new ids."""
        if not raw:
            raise message("empty body", 400)
        try:
            items = BULK_CONTACTS.validate_json(raw)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise message(f"invalid JSON: {exc.errors()[0]['msg']}", 400) from None
            raise validation(pydantic_errors(exc)) from None
        for index, d in enumerate(items):
            got = d.setdefault("ListId", list_id)
            if got != list_id:
                problem = {
                    "message": f"[{index}].ListId {got} does not match the URL list {list_id}",
                    "path": "ListId",
                    "type": "Validation error",
                    "value": got,
                }
                raise validation([problem])
        with self.ctx.lock:
            self._check_list(list_id)
            self.csv.advance()
            return self._store(list_id, items, "xcally.contacts")

    def add_contact(self, data: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/cm/contacts``: one validated contact (``ListId`` must name a list); the stored contact."""
        with self.ctx.lock:
            lid = data["ListId"]
            if lid not in self.lists:
                problem = {
                    "message": f"ListId {lid} does not reference an existing list",
                    "path": "ListId",
                    "type": "foreign key",
                    "value": lid,
                }
                raise validation([problem])
            (cid,) = self._store(lid, [data], "xcally.contacts")
            return self._contact_dict(cid - 1)

    def contacts_page(
        self,
        list_id: int | None,
        offset: int,
        limit: int | None,
        filters: dict[str, list[str]],
        text: str | None,
        sort: str | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """``GET /api/cm/contacts``: one page of the (list's) contacts, filtered, searched, sorted; and the total."""
        with self.ctx.lock:
            self.csv.advance()
            ids: Any = self.by_list.get(list_id, ()) if list_id is not None else range(1, len(self.contacts) + 1)
            if not filters and not text and not sort:
                window = itertools.islice(ids, offset, None if limit is None else offset + limit)
                return [self._contact_dict(i - 1) for i in window], len(ids)
            matched = []
            for i in ids:
                c = self.contacts[i - 1]
                if all(as_text(c.get(k)) in v for k, v in filters.items()) and matches_search(c, text):
                    matched.append(self._contact_dict(i - 1))
            if sort:
                field, rev = (sort[1:], True) if sort.startswith("-") else (sort, False)
                matched.sort(key=lambda r: as_text(r.get(field)), reverse=rev)
            rows = matched[offset:] if limit is None else matched[offset : offset + limit]
            return rows, len(matched)

    # -- queue campaigns ----------------------------------------------------------------------------

    def _check_queue(self, qid: int) -> None:
        if qid not in self.campaigns:
            raise message("Queue not found", 404)

    def check_queue(self, qid: int) -> None:
        with self.ctx.lock:
            self._check_queue(qid)

    def queues_rows(self) -> list[dict[str, Any]]:
        with self.ctx.lock:
            return [dict(c) for c in self.campaigns.values()]

    def create_queue(self, data: dict[str, Any]) -> dict[str, Any]:
        with self.ctx.lock:
            if any(c["name"] == data["name"] for c in self.campaigns.values()):
                raise not_unique("name")
            now = _now_iso()
            camp = {"id": self._next_campaign, **data, "createdAt": now, "updatedAt": now}
            self.campaigns[camp["id"]] = camp
            self._next_campaign += 1
            return dict(camp)

    def queue_public(self, qid: int) -> dict[str, Any]:
        with self.ctx.lock:
            self._check_queue(qid)
            return dict(self.campaigns[qid])

    def update_queue(self, qid: int, changes: dict[str, Any]) -> dict[str, Any]:
        """The attributes ``changes`` names change; a required one cannot be set to null."""
        nulls = [k for k, v in changes.items() if v is None and QUEUE_FIELDS[k][1] is ...]
        if nulls:
            raise validation([{"message": f"{k} cannot be null", "path": k} for k in nulls])
        with self.ctx.lock:
            self._check_queue(qid)
            camp = self.campaigns[qid]
            if "name" in changes and any(c["name"] == changes["name"] and i != qid for i, c in self.campaigns.items()):
                raise not_unique("name")
            camp.update(changes)
            camp["updatedAt"] = _now_iso()
            return dict(camp)

    def queue_lists(self, qid: int) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_queue(qid)
            return [dict(self.lists[lid]) for lid in self.campaign_lists[qid]]

    def attach_lists(self, qid: int, data: IdsBody) -> list[dict[str, Any]]:
        """Attach lists to the queue; their contacts enter its hopper. The queue's lists after."""
        if data.id != qid:
            raise validation([{"message": f"id {data.id} does not match the URL id {qid}", "path": "id"}])
        with self.ctx.lock:
            self._check_queue(qid)
            attached = self.campaign_lists[qid]
            missing = [i for i in data.ids if i not in self.lists]
            if missing:
                raise message(f"List not found: {', '.join(map(str, missing))}", 404)
            self.csv.advance()
            for lid in data.ids:
                if lid not in attached:
                    attached.append(lid)
                    self._load_hopper(qid, self.by_list.get(lid, ()))
            return [dict(self.lists[lid]) for lid in attached]

    def detach_lists(self, qid: int, raw_ids: list[str]) -> list[dict[str, Any]]:
        """Detach lists (``?ids=``) from the queue; their contacts leave its hopper. The queue's lists after."""
        with self.ctx.lock:
            self._check_queue(qid)
            try:
                ids = {int(v) for v in raw_ids}
            except ValueError:
                raise message("ids must be integers", 400) from None
            if not ids:
                raise message("ids query parameter is required", 400)
            attached = self.campaign_lists[qid]
            attached[:] = [lid for lid in attached if lid not in ids]
            kept = [h for h in self.hopper[qid] if h[2] not in ids]
            self.hopper[qid] = kept
            self.hopper_phones[qid] = {h[1] for h in kept}
            return [dict(self.lists[lid]) for lid in attached]

    def _members(self, qid: int) -> list[dict[str, Any]]:
        members = self.campaign_users[qid]
        return [{**u, "penalty": members[u["id"]]} for u in SEEDED_USERS if u["id"] in members]

    def queue_agents(self, qid: int) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_queue(qid)
            return self._members(qid)

    def add_queue_agents(self, qid: int, data: AgentsBody) -> list[dict[str, Any]]:
        with self.ctx.lock:
            self._check_queue(qid)
            _check_agents(data, qid)
            for uid in data.ids:
                self.campaign_users[qid][uid] = str(data.penalty)
            return self._members(qid)

    def hopper_rows(self, qid: int, finals: bool = False) -> list[dict[str, Any]]:
        """The queue's hopper (or its finals: always empty, nothing is dialed) as Motion lists it."""
        table = self.final if finals else self.hopper
        with self.ctx.lock:
            self._check_queue(qid)
            self.csv.advance()
            return [
                {
                    "id": n + 1,
                    "ContactId": h[0],
                    "phone": h[1],
                    "ListId": h[2],
                    "scheduledat": h[3],
                    "priority": h[4],
                    "VoiceQueueId": qid,
                }
                for n, h in enumerate(table.get(qid, ()))
            ]

    # -- agents -------------------------------------------------------------------------------------

    @staticmethod
    def users() -> list[dict[str, Any]]:
        return [dict(u) for u in SEEDED_USERS]

    @staticmethod
    def realtime_agents() -> list[dict[str, Any]]:
        return [
            {**u, "online": False, "voiceStatus": "unavailable", "voicePause": False}
            for u in SEEDED_USERS
            if u["role"] == "agent"
        ]


def _check_agents(data: IdsBody, path_id: int) -> None:
    """The body's ``id`` is the URL's, and each of ``ids`` an existing agent."""
    if data.id != path_id:
        raise validation([{"message": f"id {data.id} does not match the URL id {path_id}", "path": "id"}])
    agents = {u["id"] for u in SEEDED_USERS if u["role"] == "agent"}
    unknown = [i for i in data.ids if i not in {u["id"] for u in SEEDED_USERS}]
    if unknown:
        raise message(f"User not found: {', '.join(map(str, unknown))}", 404)
    not_agents = [i for i in data.ids if i not in agents]
    if not_agents:
        raise validation([{"message": f"user {i} is not an agent", "path": "ids"} for i in not_agents])
