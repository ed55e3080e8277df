"""Gaps public clients found in the emulator, each checked over real HTTP with plain httpx.

Every test reads the emulator's answer or its admin API, never the provider's hooks: what a user's DAG
test sees is what a real client would see.
"""

from __future__ import annotations

import csv
import io
import json
import re

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.emulator.app import run_emulator, wait_until
from airflow_provider_dialer.emulator.state import Credentials

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}
FIXTURE_OK = [HealthCheck.function_scoped_fixture]
CAMPAIGN = {"name": "Gaps", "type": "outbound", "dialActive": True, "TrunkId": 12}


@pytest.fixture
def emu(fresh_dialer_emulator):
    return fresh_dialer_emulator


@pytest.fixture
def xcally(emu):
    creds = emu.credentials
    with httpx.Client(base_url=emu.base_url("xcally"), auth=(creds.xcally_user, creds.xcally_password)) as c:
        yield c


@pytest.fixture
def ujet(emu):
    creds = emu.credentials
    with httpx.Client(base_url=emu.base_url("ujet"), auth=(creds.ujet_user, creds.ujet_token)) as c:
        yield c


def _queue(client: httpx.Client, name: str = "Gaps", **extra) -> int:
    r = client.post("/api/voice/queues", json={**CAMPAIGN, "name": name, **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _list(client: httpx.Client, name: str) -> int:
    r = client.post("/api/cm/lists", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


# -- 1. XCALLY: the queue reads public clients use -------------------------------------------------------


def test_queue_users_and_teams_reads_answer_collections(xcally):
    qid = _queue(xcally)
    assert (
        xcally.post(f"/api/voice/queues/{qid}/users", json={"id": qid, "ids": [26, 24], "penalty": "0"}).status_code
        == 201
    )
    users = xcally.get(f"/api/voice/queues/{qid}/users", params={"limit": 100, "offset": 0, "sort": "id"})
    assert users.status_code == 200
    assert [u["id"] for u in users.json()["rows"]] == [24, 26] and users.json()["count"] == 2
    teams = xcally.get(f"/api/voice/queues/{qid}/teams", params={"limit": 100, "offset": 0, "sort": "id"})
    assert teams.status_code == 200 and teams.json() == {"count": 0, "rows": []}
    assert teams.headers["Content-Range"] == "0-0/0"
    assert xcally.get(f"/api/voice/queues/{qid + 99}/teams").status_code == 404


# -- 2. XCALLY: boolean equality filters -----------------------------------------------------------------


def _spellings(word: str) -> st.SearchStrategy[str]:
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda upper: "".join(ch.upper() if u else ch for ch, u in zip(word, upper, strict=False))
    )


TRUE_FORMS = st.one_of(_spellings("true"), st.just("1"))
FALSE_FORMS = st.one_of(_spellings("false"), st.just("0"))


@settings(max_examples=25, deadline=None, suppress_health_check=FIXTURE_OK)
@given(actives=st.lists(st.booleans(), min_size=1, max_size=6), data=st.data())
def test_boolean_filters_accept_what_sequelize_accepts_or_answer_400(emu, xcally, actives, data):
    emu.reset()
    for i, active in enumerate(actives):
        _queue(xcally, f"q{i}", dialActive=active)
    want = data.draw(st.booleans())
    spelled = data.draw(TRUE_FORMS if want else FALSE_FORMS)
    page = xcally.get("/api/voice/queues", params={"dialActive": spelled, "fields": "id,name,dialActive"})
    assert page.status_code == 200
    expected = sorted(f"q{i}" for i, active in enumerate(actives) if active is want)
    assert sorted(r["name"] for r in page.json()["rows"]) == expected
    nonsense = data.draw(
        st.text(min_size=1, max_size=6).filter(lambda t: t.strip().lower() not in {"true", "false", "1", "0"})
    )
    refused = xcally.get("/api/voice/queues", params={"dialActive": nonsense})
    assert refused.status_code == 400 and "dialActive" in refused.json()["message"]


# -- 3. XCALLY: association reads honour limit/offset, bare array kept -----------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=FIXTURE_OK)
@given(n_lists=st.integers(1, 12), limit=st.integers(1, 5))
def test_queue_lists_page_without_repeats(emu, xcally, n_lists, limit):
    emu.reset()
    qid = _queue(xcally)
    ids = [_list(xcally, f"l{i}") for i in range(n_lists)]
    assert xcally.post(f"/api/voice/queues/{qid}/lists", json={"id": qid, "ids": ids}).status_code == 201
    seen: list[int] = []
    while True:
        r = xcally.get(f"/api/voice/queues/{qid}/lists", params={"limit": limit, "offset": len(seen), "sort": "id"})
        assert r.status_code == 200 and isinstance(r.json(), list)  # still a bare array
        assert r.headers["Content-Range"].endswith(f"/{n_lists}")
        if not r.json():
            break
        assert len(r.json()) <= limit
        seen += [row["id"] for row in r.json()]
    assert seen == ids  # every list once, none again
    everything = xcally.get(f"/api/voice/queues/{qid}/lists").json()
    assert [row["id"] for row in everything] == ids  # no limit: the whole association, as before


def test_list_users_page(xcally):
    lid = _list(xcally, "agents")
    assert xcally.post(f"/api/cm/lists/{lid}/users", json={"id": lid, "ids": [24, 26, 31]}).status_code == 201
    pages = [xcally.get(f"/api/cm/lists/{lid}/users", params={"limit": 2, "offset": o}).json() for o in (0, 2, 4)]
    assert [[u["id"] for u in p["rows"]] for p in pages] == [[24, 26], [31], []]


# -- 4. uContact Integra: UserLogin, non-ASCII passwords, EndSession's header -----------------------------

NON_ASCII_PASSWORD = "contraseña-ñandú-密码-🔑"


@pytest.fixture(scope="module")
def integra_url():
    creds = Credentials(ucontact_password=NON_ASCII_PASSWORD)
    with run_emulator(vendors=("ucontact",), credentials=creds) as emulator:
        yield emulator.base_url("ucontact") + "/Integra/resources"


def _login(url: str, path: str, password: str) -> httpx.Response:
    return httpx.post(f"{url}/auth/{path}", data={"user": "supervisor", "password": password}, headers=FORM)


def _dial(url: str, token: str) -> httpx.Response:
    call = {
        "calldate": None,
        "campaign": "POWER<-",
        "destination": "0123456789",
        "alternatives": "",
        "agent": "",
        "data": "idcustomer=7",
        "source": "source",
        "bulk": False,
        "automatic": True,
    }
    return httpx.post(
        f"{url}/Dialers/DialerTask",
        data={"call": json.dumps(call)},
        headers={**FORM, "Authorization": f"Basic {token}"},
    )


@pytest.mark.parametrize("path", ["getUserToken", "UserLogin"])
def test_login_with_a_non_ascii_password_issues_a_working_token(integra_url, path):
    r = _login(integra_url, path, NON_ASCII_PASSWORD)
    assert r.status_code == 200
    body = r.json()
    assert isinstance(body, list) and body[2] == body[-1]  # UserLogin clients read index 2, the hook the last
    assert _dial(integra_url, body[2]).text == "1"


@settings(max_examples=40, deadline=None)
@given(password=st.text(min_size=1, max_size=30).filter(lambda p: p != NON_ASCII_PASSWORD))
def test_any_wrong_password_is_refused_with_0_never_a_500(integra_url, password):
    for path in ("getUserToken", "UserLogin"):
        r = _login(integra_url, path, password)
        assert (r.status_code, r.text) == (200, "0")


def test_end_session_reads_the_authorization_header(integra_url):
    def session() -> str:
        return _login(integra_url, "UserLogin", NON_ASCII_PASSWORD).json()[2]

    # the public client's form: user + token in the form, the same token in the header
    token = session()
    r = httpx.post(
        f"{integra_url}/auth/EndSession",
        data={"user": "supervisor", "token": token},
        headers={**FORM, "Authorization": f"Basic {token}"},
    )
    assert r.text == "1" and _dial(integra_url, token).status_code == 401
    # the header alone names the session
    token = session()
    r = httpx.post(
        f"{integra_url}/auth/EndSession",
        data={"user": "supervisor"},
        headers={**FORM, "Authorization": f"Basic {token}"},
    )
    assert r.text == "1" and _dial(integra_url, token).status_code == 401
    # a header naming another session than the form's token ends nothing
    first, second = session(), session()
    r = httpx.post(
        f"{integra_url}/auth/EndSession",
        data={"user": "supervisor", "token": first},
        headers={**FORM, "Authorization": f"Basic {second}"},
    )
    assert r.text == "0"
    assert _dial(integra_url, first).text == "1" and _dial(integra_url, second).text == "1"


# -- 5. UJET: jobs complete on their own clock; duplicates are counted per campaign ----------------------


def _import(client: httpx.Client, campaign_id: int, contacts: list[dict]) -> str:
    r = client.post(
        f"/apps/api/v1/outbound_dialer/campaigns/{campaign_id}/contacts/import",
        files={"file": ("contacts.json", json.dumps(contacts).encode(), "application/json")},
    )
    assert r.status_code == 202, r.text
    return r.headers["Location"]


def test_import_job_completes_without_anyone_polling(emu, ujet):
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0.2)
    contacts = [{"name": f"c{i}", "phone_number": f"+1212555{i:04d}"} for i in range(5)]
    _import(ujet, 6, contacts)
    # the lead report does not settle jobs (a state read would): only the job's own clock can fill it
    landed = wait_until(lambda: emu.leads("ujet", keys=True).get("ujet.import", {}).get("counts"), timeout=15)
    assert landed == {c["phone_number"]: 1 for c in contacts}


def test_same_phone_in_two_campaigns_is_not_a_duplicate(emu, ujet, xcally):
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0)
    phone = "+12125550100"
    for campaign_id in (1, 6):
        location = _import(ujet, campaign_id, [{"name": "Ana", "phone_number": phone}])
        assert ujet.get(location).json()["status"] == "completed"
    report = emu.leads("ujet", keys=True)["ujet.import"]
    assert report["duplicates"] == {} and report["cross_scope"] == {phone: 2}
    assert set(report["scopes"]) == {"campaign 1", "campaign 6"}
    # within one scope a repeat is still a duplicate (XCALLY: the same phone twice in one list)
    one, two = _list(xcally, "one"), _list(xcally, "two")
    for lid in (one, one, two):
        xcally.post(f"/api/cm/lists/{lid}/contacts", json=[{"firstName": "A", "phone": "555"}])
    report = emu.leads("xcally", keys=True)["xcally.contacts"]
    assert report["duplicates"] == {"555": 2} and report["scopes"][f"list {two}"]["duplicates"] == {}


# -- 6. XCALLY CSV import: a cell over 128 KiB ------------------------------------------------------------


def _stage(client: httpx.Client, text: str, name: str = "big.csv") -> str:
    r = client.post(
        "/api/cm/contacts/upload",
        files={"file": (name, text.encode(), "text/csv")},
        data={"flowTotalChunks": "1", "flowFilename": name},
    )
    assert r.status_code == 201, r.text
    return r.json()["file"]["name"]


@settings(max_examples=6, deadline=None, suppress_health_check=FIXTURE_OK)
@given(rows=st.integers(2, 30), data=st.data())
def test_huge_cell_makes_one_invalid_row_and_the_import_finishes(emu, xcally, rows, data):
    emu.reset()
    big = data.draw(st.sets(st.integers(0, rows - 1), min_size=1, max_size=min(3, rows - 1)))  # >= 1 good row
    size = data.draw(st.integers(128 * 1024 + 1, 300 * 1024))
    body = io.StringIO()
    writer = csv.writer(body)
    writer.writerow(["Nome", "telefono", "notes"])
    for i in range(rows):
        writer.writerow([f"n{i}", f"5550{i:04d}", "x" * size if i in big else "ok"])
    lid = _list(xcally, "big")
    staged = _stage(xcally, body.getvalue())
    r = xcally.post(
        f"/api/cm/contacts/upload/{staged}",
        json={"id": staged, "ListId": lid, "binding": {"firstName": "Nome", "phone": "telefono", "cf_3": "notes"}},
    )
    assert r.status_code == 200
    # counted with the leads report (it does not advance imports): the background import finishes alone
    stored = wait_until(lambda: emu.leads("xcally").get("xcally.csv", {}).get("total") == rows - len(big), timeout=20)
    assert stored
    count = xcally.get("/api/cm/contacts", params={"ListId": lid, "limit": 1, "fields": "id"})
    assert count.status_code == 200 and count.json()["count"] == rows - len(big)
    (job,) = emu.state("xcally")["xcally"]["imports"]
    assert (job["status"], job["read"], job["stored"], job["invalid"]) == ("done", rows, rows - len(big), len(big))


# -- 7. decisions: binding without firstName, the document's literal step 2, numeric contact ids, custom fields


def test_binding_without_first_name_fails_at_bind(xcally):
    lid = _list(xcally, "nofirst")
    staged = _stage(xcally, "Nome,telefono\nA,1\n")
    r = xcally.post(
        f"/api/cm/contacts/upload/{staged}", json={"id": staged, "ListId": lid, "binding": {"phone": "telefono"}}
    )
    assert r.status_code == 400 and "firstName" in r.json()["message"]
    assert r.json()["name"] == "SequelizeValidationError"


def test_document_literal_step_two_names_a_file_that_was_never_staged(xcally):
    lid = _list(xcally, "literal")
    staged = xcally.post(
        "/api/cm/contacts/upload",
        content=b"Nome, telefono\nA,1\n",
        headers={"content-type": "application/x-www-form-urlencoded"},
    ).json()["file"]["name"]
    body = {
        "id": "file.csv",
        "binding": {"firstName": "Nome", "phone": " telefono"},
        "ListId": lid,
        "duplicates": ["phone"],
    }
    literal = xcally.post("/api/cm/contacts/upload/mylist.csv", json=body)
    assert literal.status_code == 404 and "file.name" in literal.json()["message"]
    # the staged name in the URL works, whatever the body's "id" says (the document's own example differs)
    assert isinstance(xcally.post(f"/api/cm/contacts/upload/{staged}", json=body).json()["pid"], int)


@pytest.mark.parametrize("contact_id", ["7", "abc", 7.5, True])
def test_ujet_contact_id_must_be_an_integer(emu, ujet, contact_id):
    emu.configure(ujet_rate_limit=0)
    r = ujet.request("DELETE", "/apps/api/v1/outbound_dialer/campaigns/6/contact", json={"contact_id": contact_id})
    # refused as invalid, never a 404 (which a removal would count as "already gone")
    assert r.status_code == 422 and "contact_id" in r.text


@settings(max_examples=10, deadline=None, suppress_health_check=FIXTURE_OK)
@given(names=st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True), min_size=1, max_size=5, unique=True))
def test_custom_fields_come_from_the_configuration_and_bind_by_header(emu, xcally, names):
    emu.reset()
    emu.configure(xcally_custom_fields=",".join(names))
    lid = _list(xcally, "custom")
    fields = xcally.get(f"/api/cm/lists/{lid}/fields", params={"includeGlobals": "true"}).json()["rows"]
    assert [(f["id"], f["alias"]) for f in fields] == list(enumerate(names, 1))
    header = ["Nome", "telefono", *names]
    text = ",".join(header) + "\n" + ",".join(["A", "1", *(f"v-{n}" for n in names)]) + "\n"
    staged = _stage(xcally, text, "custom.csv")
    binding = {"firstName": "Nome", "phone": "telefono", **{f"cf_{f['id']}": f["alias"] for f in fields}}
    assert (
        xcally.post(
            f"/api/cm/contacts/upload/{staged}", json={"id": staged, "ListId": lid, "binding": binding}
        ).status_code
        == 200
    )
    assert wait_until(lambda: xcally.get("/api/cm/contacts", params={"ListId": lid}).json()["count"] == 1)
    (contact,) = xcally.get("/api/cm/contacts", params={"ListId": lid}).json()["rows"]
    assert {k: v for k, v in contact.items() if re.fullmatch(r"cf_\d+", k)} == {
        f"cf_{i}": f"v-{n}" for i, n in enumerate(names, 1)
    }
