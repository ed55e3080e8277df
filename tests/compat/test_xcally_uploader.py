"""An XCALLY list uploader (Python, requests) replayed against the emulator.

The client, as read: HTTP Basic auth and ``Accept: application/json`` on every call; collections read
100 at a time with ``limit``/``offset``/``sort=id``, stopping at ``count`` (or the ``Content-Range``
total, or a short page), and failing on a repeated or non-integer id; association reads answer a bare
array. Its campaign flow: read agents and outbound campaigns, check the campaign holds only its agent
and no team, pick a free list name, create the list, read its fields to bind CSV headers by alias, stage
the CSV (multipart with flow.js fields), bind it, poll the list's contact count, then swap the
campaign's lists: pause, detach the old lists (ids as query parameters), attach the new one, resume,
verifying each change by reading it back.
"""

from __future__ import annotations

import csv
import io
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Step, replay, shape_problems

pytestmark = [pytest.mark.integration]

PAGE = 100
ACCEPT = {"Accept": "application/json"}
USER = {"id": int, "name": str, "fullname": str, "role": str}
QUEUE = {"id": int, "name": str, "type": str, "dialActive": (bool, int)}
LIST = {"id": int, "name": str}


@pytest.fixture
def client(emu):
    creds = emu.credentials
    with httpx.Client(
        base_url=emu.base_url("xcally") + "/api", auth=(creds.xcally_user, creds.xcally_password), headers=ACCEPT
    ) as c:
        yield c


def collection(client: httpx.Client, endpoint: str, **params) -> list[dict]:
    """The client's paging loop over a collection, with its checks (ids integers and never repeated)."""
    rows_out: list[dict] = []
    seen: set[int] = set()
    offset = 0
    for _ in range(50):
        r = client.get(endpoint, params={**params, "limit": PAGE, "offset": offset, "sort": "id"})
        assert r.is_success, f"GET {endpoint} -> HTTP {r.status_code}: {r.text[:200]}"
        data = r.json()
        rows = data if isinstance(data, list) else data.get("rows") if isinstance(data, dict) else None
        assert isinstance(rows, list) and all(isinstance(row, dict) for row in rows), f"{endpoint}: not a collection"
        if not rows:
            return rows_out
        for row in rows:
            assert type(row.get("id")) is int and row["id"] not in seen, (
                f"{endpoint}: invalid or repeated id {row.get('id')}"
            )
            seen.add(row["id"])
        rows_out += rows
        offset += len(rows)
        count = data.get("count") if isinstance(data, dict) else None
        if count is None:
            count = r.headers.get("Content-Range", "").rsplit("/", 1)[-1]
        if str(count).isdigit() and offset >= int(count):
            return rows_out
        if count in (None, "") and len(rows) < PAGE:
            return rows_out
    raise AssertionError(f"{endpoint}: too many pages")


def list_ids(client: httpx.Client, queue_id: int) -> set[int]:
    return {row["id"] for row in collection(client, f"/voice/queues/{queue_id}/lists")}


def verify_agent(client: httpx.Client, queue_id: int, agent_id: int) -> None:
    members = collection(client, f"/voice/queues/{queue_id}/users")
    teams = collection(client, f"/voice/queues/{queue_id}/teams")
    assert {row["id"] for row in members} == {agent_id} and not teams


def admin_setup(client: httpx.Client, agent_id: int, old_lists: int) -> tuple[int, list[int]]:
    """What an administrator set up before the client runs: the agent's campaign with its old lists."""
    queue = client.post(
        "/voice/queues",
        json={"name": f"MX_AGENT_QUEUE_agent{agent_id}", "type": "outbound", "dialActive": True, "TrunkId": 12},
    ).json()["id"]
    client.post(f"/voice/queues/{queue}/users", json={"id": queue, "ids": [agent_id], "penalty": "0"})
    old = [client.post("/cm/lists", json={"name": f"old-{i}"}).json()["id"] for i in range(old_lists)]
    if old:
        client.post(f"/voice/queues/{queue}/lists", json={"id": queue, "ids": old})
    return queue, old


def contacts_csv(n: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["FIRST_NAME", "MOBILE_PHONE", "SEGMENT"])
    for i in range(n):
        writer.writerow([f"Name{i}", f"55{i:08d}", "gold" if i % 2 else "silver"])
    return out.getvalue().encode()


def upload_steps(list_name: str, csv_bytes: bytes) -> list[Step]:
    size = len(csv_bytes)
    flow = {
        "flowChunkNumber": "1",
        "flowChunkSize": "62914560",
        "flowCurrentChunkSize": str(size),
        "flowTotalSize": str(size),
        "flowIdentifier": f"{size}-upload",
        "flowFilename": f"{list_name}.csv",
        "flowRelativePath": f"{list_name}.csv",
        "flowTotalChunks": "1",
    }

    def binding(ctx):
        by_alias = {row.get("alias") or row.get("name"): row["id"] for row in ctx["fields"]}
        return {"firstName": "FIRST_NAME", "phone": "MOBILE_PHONE", f"cf_{by_alias['segment']}": "SEGMENT"}

    return [
        Step(
            "create the list",
            "POST",
            "/cm/lists",
            201,
            json={"name": list_name},
            answer={"id": int, "name": str},
            save=lambda r, ctx: {"list_id": int(r.json()["id"])},
        ),
        Step(
            "read the list's fields",
            "GET",
            lambda ctx: f"/cm/lists/{ctx['list_id']}/fields",
            params={"includeGlobals": "true"},
            answer={"rows": [{"id": int}]},
            save=lambda r, ctx: {"fields": r.json()["rows"]},
        ),
        Step(
            "stage the CSV",
            "POST",
            "/cm/contacts/upload",
            (200, 201),
            data=flow,
            headers={"Accept": "*/*"},
            files={"file": (f"{list_name}.csv", csv_bytes, "text/csv")},
            answer={"file": {"name": str}},
            save=lambda r, ctx: {"staged": r.json()["file"]["name"]},
        ),
        Step(
            "bind the staged file",
            "POST",
            lambda ctx: f"/cm/contacts/upload/{ctx['staged']}",
            json=lambda ctx: {
                "id": ctx["staged"],
                "ListId": ctx["list_id"],
                "binding": binding(ctx),
                "socket_timestamp": int(time.time()),
            },
            answer={"pid": int},
        ),
    ]


def wait_for_import(client: httpx.Client, list_id: int, expected: int) -> None:
    """The client's poll: the contacts collection's count (or Content-Range total) until it is exact."""
    deadline = time.monotonic() + 30
    while True:
        r = client.get("/cm/contacts", params={"ListId": list_id, "limit": 1, "fields": "id"})
        assert r.is_success
        count = r.json().get("count")
        if count is None:
            count = int(r.headers.get("Content-Range", "").rsplit("/", 1)[-1])
        assert type(count) is int and 0 <= count <= expected
        if count == expected:
            return
        assert time.monotonic() < deadline, f"import verification found {count} of {expected}"
        time.sleep(0.05)


def replace_campaign_list(client: httpx.Client, queue: int, new_id: int, agent_id: int, name: str) -> None:
    got = replay(
        client,
        [
            Step(
                "read the campaign",
                "GET",
                f"/voice/queues/{queue}",
                answer=QUEUE,
                save=lambda r, ctx: {"queue": r.json()},
            )
        ],
    )["queue"]
    assert got["id"] == queue and got["type"] == "outbound" and got["name"] == name
    verify_agent(client, queue, agent_id)
    original_active = got["dialActive"]
    assert original_active in (True, False, 0, 1)
    old = list_ids(client, queue)

    def set_active(active: bool) -> None:
        replay(
            client,
            [
                Step("pause/resume", "PUT", f"/voice/queues/{queue}", json={"dialActive": active}, answer=QUEUE),
                Step(
                    "verify the active flag",
                    "GET",
                    f"/voice/queues/{queue}",
                    answer={"dialActive": lambda v: v == active},
                ),
            ],
        )

    if original_active:
        set_active(False)
    assert list_ids(client, queue) == old
    detach = sorted(old - {new_id})
    if detach:
        r = client.request("DELETE", f"/voice/queues/{queue}/lists", params={"ids": detach})
        assert r.is_success, r.text
    assert list_ids(client, queue) == old & {new_id}
    replay(
        client,
        [
            Step(
                "attach the new list",
                "POST",
                f"/voice/queues/{queue}/lists",
                (200, 201),
                json={"id": queue, "ids": [new_id]},
                answer=list,
            )
        ],
    )
    assert list_ids(client, queue) == {new_id}
    if original_active:
        set_active(True)


@pytest.mark.parametrize("old_lists", [0, 1, 3])
def test_campaign_list_replacement_flow(emu, client, old_lists):
    queue, _old = admin_setup(client, agent_id=24, old_lists=old_lists)
    agents = collection(client, "/users", fields="id,name,fullname,role", role="agent")
    assert not [p for row in agents for p in shape_problems(row, USER)] and {a["role"] for a in agents} == {"agent"}
    by_id = {a["id"]: a for a in agents}
    campaigns = collection(
        client, "/voice/queues", fields="id,name,type,dialMethod,TrunkId,dialTimezone", type="outbound"
    )
    name = f"MX_AGENT_QUEUE_{by_id[24]['name']}"
    (campaign,) = [c for c in campaigns if c.get("type") == "outbound" and c["name"].casefold() == name.casefold()]
    verify_agent(client, campaign["id"], 24)
    list_name = "MX_20260105_june_Ana_Agent"
    existing = {row.get("name") for row in collection(client, "/cm/lists", fields="id,name", filter=list_name)}
    assert list_name not in existing
    csv_bytes = contacts_csv(7)
    ctx = replay(client, upload_steps(list_name, csv_bytes))
    wait_for_import(client, ctx["list_id"], 7)
    replace_campaign_list(client, queue, ctx["list_id"], 24, name)
    # what the client believes is what the server holds (read through the admin API)
    (camp,) = emu.state("xcally")["xcally"]["campaigns"]
    assert camp["lists"] == [ctx["list_id"]] and camp["dialActive"] is True and camp["hopper_count"] == 7
    stored = [c for c in emu.state("xcally")["xcally"]["contacts"] if c["ListId"] == ctx["list_id"]]
    assert sorted(c["cf_2"] for c in stored) == sorted("gold" if i % 2 else "silver" for i in range(7))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(PAGE - 1, PAGE + 45))
def test_list_ids_of_a_campaign_with_many_lists_page_without_repeats(emu, client, n):
    """More lists than one page: a server ignoring offset would hand the client the same rows again."""
    emu.reset()
    queue, old = admin_setup(client, agent_id=26, old_lists=n)
    assert list_ids(client, queue) == set(old)
