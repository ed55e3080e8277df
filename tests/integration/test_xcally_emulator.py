"""The XCALLY emulator over real HTTP with plain httpx: the document's own examples, validation, auth, async import."""

from __future__ import annotations

import httpx
import pytest

from airflow_provider_dialer.emulator.app import wait_until

pytestmark = pytest.mark.integration

SEED_CAMPAIGN = (
    '{"dialActive":true,"type":"outbound","dialCheckDuplicateType":"always","dialCutDigit":0,"autopause":"no",'
    '"ringinuse":"no","timeoutrestart":"no","setinterfacevar":"no","setqueuevar":"no","setqueueentryvar":"no",'
    '"dialOrderByScheduledAt":"ASC","dialGlobalInterval":"07:00-22:00,*,*,*","dialAMDInitialSilence":2500,'
    '"dialAMDGreeting":1500,"dialAMDAfterGreetingSilence":800,"dialAMDTotalAnalysisTime":5000,"dialAMDMinWordLength":100,'
    '"dialAMDBetweenWordsSilence":50,"dialAMDMaximumNumberOfWords":3,"dialAMDSilenceThreshold":256,'
    '"dialAMDMaximumWordLength":5000,"dialMethod":"progressive","dialPowerLevel":1,"dialPredictiveOptimization":"dropRate",'
    '"dialPredictiveOptimizationPercentage":3,"dialPredictiveInterval":10,"dialLimitQueue":0,'
    '"dialRandomLastDigitCallerIdNumber":0,"dialOriginateTimeout":30,"dialQueueOptions":"tTxX","dialQueueTimeout":3,'
    '"strategy":"rrmemory","timeout":3,"retry":3,"weight":1,"dialGlobalMaxRetry":4,"dialCongestionMaxRetry":3,'
    '"dialCongestionRetryFrequency":150,"dialBusyMaxRetry":3,"dialBusyRetryFrequency":150,"dialNoAnswerMaxRetry":3,'
    '"dialNoAnswerRetryFrequency":150,"name":"TestCampaign","TrunkId":12,"IntervalId":11}'
)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


@pytest.fixture
def client(emu):
    creds = emu.credentials
    with httpx.Client(base_url=emu.base_url("xcally"), auth=(creds.xcally_user, creds.xcally_password)) as c:
        yield c


def test_document_examples_succeed(emu, client):
    r = client.post(
        "/api/cm/lists", content='{"name": "list1", "description": "A brief description of my list"}', headers=JSON
    )
    assert r.status_code == 201
    lst = r.json()
    assert set(lst) == {"id", "name", "description", "updatedAt", "createdAt"} and lst["createdAt"].endswith("Z")
    lid = lst["id"]
    r = client.post(
        "/api/cm/contacts",
        content=f'{{"firstName": "John", "lastName": "doe", "phone": "1234567890", "ListId": {lid}, "cf_1": "some text", "cf_3": "some other text"}}',
    )
    assert r.status_code == 201 and r.json()["cf_3"] == "some other text" and r.json()["priority"] == 2
    r = client.post(
        f"/api/cm/lists/{lid}/contacts",
        content=f'[{{"ListId":{lid},"firstName":"test1","lastName":"asdasd","phone":"123456789","cf_1":"qwertyuio"}},{{"ListId":{lid},"firstName":"test2","lastName":"asdasd","phone":"098765432","cf_3":"asdfghjk"}}]',
        headers=JSON,
    )
    assert r.status_code == 201 and len(r.json()) == 2
    r = client.post(f"/api/cm/lists/{lid}/users", content=f'{{"id":{lid},"ids":[24,26,31]}}', headers=JSON)
    assert r.status_code == 201
    r = client.post("/api/voice/queues", content=SEED_CAMPAIGN, headers=JSON)
    assert r.status_code == 201 and r.json()["id"] and r.json()["dialCheckDuplicateType"] == "always"
    qid = r.json()["id"]
    assert (
        client.post(f"/api/voice/queues/{qid}/lists", content=f'{{"id":{qid},"ids":[{lid}]}}', headers=JSON).status_code
        == 201
    )
    assert (
        client.post(
            f"/api/voice/queues/{qid}/users", content=f'{{"id":{qid},"ids":[24,26,31],"penalty":"0"}}', headers=JSON
        ).status_code
        == 201
    )
    state = emu.state("xcally")["xcally"]
    assert state["lists"][0]["contacts"] == 3 and state["campaigns"][0]["hopper_count"] == 3
    assert emu.leads("xcally")["xcally.contacts"]["distinct"] == 3


def test_collections_filters_and_content_range(client):
    for name in ("alpha", "beta", "alphabet"):
        client.post("/api/cm/lists", json={"name": name})
    r = client.get("/api/cm/lists", params={"filter": "alpha", "fields": "id,name", "sort": "-id", "limit": 1})
    assert r.json() == {"count": 2, "rows": [{"id": 3, "name": "alphabet"}]}
    assert r.headers["Content-Range"] == "0-1/2"
    r = client.get("/api/users", params={"role": "agent", "fields": "id"})
    assert r.json() == {"count": 3, "rows": [{"id": 24}, {"id": 26}, {"id": 31}]}


@pytest.mark.parametrize(
    ("path", "body", "status", "fragment"),
    [
        ("/api/cm/contacts", {"lastName": "x", "phone": "1", "ListId": 1}, 400, "firstName cannot be null"),
        ("/api/cm/contacts", {"firstName": "a", "phone": "1"}, 400, "ListId cannot be null"),
        ("/api/cm/contacts", {"firstName": "a", "ListId": 99}, 400, "does not reference an existing list"),
        ("/api/cm/contacts", {"firstName": "a", "ListId": 1, "listid": 1}, 400, "listid is not an attribute"),
        ("/api/cm/contacts", {"firstName": "a", "ListId": 1, "priority": 0}, 400, "priority"),
        ("/api/cm/lists/1/contacts", [{"firstName": "a"}, {"phone": "2"}], 400, "[1].firstName cannot be null"),
        ("/api/cm/lists/1/contacts", [{"firstName": "a", "ListId": 2}], 400, "does not match the URL list"),
        ("/api/cm/lists/77/contacts", [{"firstName": "a"}], 404, "List not found"),
        ("/api/voice/queues", {"name": "q", "dialMethod": "robocall"}, 400, "dialMethod"),
        ("/api/voice/queues", {"name": "q", "dialCheckDuplicateType": "sometimes"}, 400, "dialCheckDuplicateType"),
        ("/api/voice/queues", {"name": "q", "dialOrderByScheduledAt": "UP"}, 400, "dialOrderByScheduledAt"),
        ("/api/voice/queues", {"name": "q", "strategy": "roundrobin"}, 400, "strategy"),
        ("/api/voice/queues/9/lists", {"id": 9, "ids": [1]}, 404, "Queue not found"),
    ],
)
def test_validation_failures_are_sequelize_shaped(client, path, body, status, fragment):
    client.post("/api/cm/lists", json={"name": "base"})
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    payload = r.json()
    assert fragment in payload["message"]
    if status == 400 and "errors" in payload:
        assert payload["name"] == "SequelizeValidationError" and payload["errors"][0]["path"]


def test_auth_failures_are_401(emu):
    url = emu.base_url("xcally")
    assert httpx.get(f"{url}/api/cm/lists").status_code == 401
    r = httpx.get(f"{url}/api/cm/lists", auth=("admin", "nope"))
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}
    assert httpx.get(f"{url}/api/cm/lists", params={"apikey": "bad"}).status_code == 401
    assert httpx.get(f"{url}/api/cm/lists", params={"apikey": emu.credentials.xcally_api_key}).status_code == 200


def test_csv_raw_upload_as_in_the_document_imports_progressively(emu, client):
    emu.configure(xcally_import_rate=100)
    lid = client.post("/api/cm/lists", json={"name": "TestList"}).json()["id"]
    rows = "".join(f"N{i},55{i:04d}\n" for i in range(20)) + "dup,550001\n,550099\n"
    staged = client.post(
        "/api/cm/contacts/upload",
        content=("Nome, telefono\n" + rows).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert staged.status_code == 201
    name = staged.json()["file"]["name"]
    r = client.post(
        f"/api/cm/contacts/upload/{name}",
        json={
            "id": "file.csv",
            "binding": {"firstName": "Nome", "phone": " telefono"},
            "ListId": lid,
            "duplicates": ["phone"],
        },
    )
    assert r.status_code == 200 and isinstance(r.json()["pid"], int)

    def count() -> int:
        return client.get("/api/cm/contacts", params={"ListId": lid, "limit": 1, "fields": "id"}).json()["count"]

    assert count() < 20
    assert wait_until(lambda: count() == 20, timeout=5)
    job = emu.state("xcally")["xcally"]["imports"][0]
    assert wait_until(lambda: emu.state("xcally")["xcally"]["imports"][0]["status"] == "done", timeout=5)
    job = emu.state("xcally")["xcally"]["imports"][0]
    assert (job["stored"], job["skipped_duplicates"], job["invalid"]) == (20, 1, 1)
    assert emu.leads("xcally")["xcally.csv"]["distinct"] == 20
    assert name not in emu.state("xcally")["xcally"]["staged"]


def test_csv_step_two_validation(client):
    lid = client.post("/api/cm/lists", json={"name": "L"}).json()["id"]
    name = client.post(
        "/api/cm/contacts/upload",
        files={"file": ("a.csv", b"first,phone\na,1\n")},
        data={"flowTotalChunks": "1", "flowTotalSize": "16"},
    ).json()["file"]["name"]
    r = client.post(
        f"/api/cm/contacts/upload/{name}", json={"id": name, "ListId": lid, "binding": {"firstName": "nome"}}
    )
    assert r.status_code == 400 and "is not in the CSV header" in r.json()["message"]
    r = client.post(f"/api/cm/contacts/upload/{name}", json={"id": name, "ListId": lid, "binding": {"phone": "phone"}})
    assert r.status_code == 400 and "firstName" in r.json()["message"]
    r = client.post(
        "/api/cm/contacts/upload/missing.csv", json={"id": "x", "ListId": lid, "binding": {"firstName": "first"}}
    )
    assert r.status_code == 404
    r = client.post("/api/cm/contacts/upload", files={"file": ("a.csv", b"x")}, data={"flowTotalChunks": "2"})
    assert r.status_code == 400 and "chunked" in r.json()["message"]


@pytest.mark.parametrize(("mode", "hopper", "skipped"), [("always", 2, 1), ("onlyIfOpen", 2, 1), ("never", 3, 0)])
def test_duplicate_check_modes(emu, client, mode, hopper, skipped):
    lid = client.post("/api/cm/lists", json={"name": "L"}).json()["id"]
    client.post(
        f"/api/cm/lists/{lid}/contacts",
        json=[{"firstName": "a", "phone": "1"}, {"firstName": "b", "phone": "1"}, {"firstName": "c", "phone": "2"}],
    )
    qid = client.post(
        "/api/voice/queues", json={"name": "q", "type": "outbound", "dialCheckDuplicateType": mode}
    ).json()["id"]
    client.post(f"/api/voice/queues/{qid}/lists", json={"id": qid, "ids": [lid]})
    camp = emu.state("xcally")["xcally"]["campaigns"][0]
    assert (camp["hopper_count"], camp["hopper_duplicates_skipped"]) == (hopper, skipped)
    r = client.put(f"/api/voice/queues/{qid}", json={"dialActive": True})
    assert r.status_code == 200 and r.json()["dialActive"] is True
    assert client.get(f"/api/voice/queues/{qid}/hopper_histories").json() == {"count": 0, "rows": []}
    r = client.delete(f"/api/voice/queues/{qid}/lists", params=[("ids", lid)])
    assert r.status_code == 200 and r.json() == []
