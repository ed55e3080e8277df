"""A CCAI Platform outbound-dialer app (Node/Express, axios) replayed against the emulator.

The client, as read: HTTP Basic auth (credential name and key) with ``Accept: application/json`` on
every call. It lists the manager API's campaigns (an array; each item's ``campaign_id`` or ``id``,
``name``, ``status``, ``created_at``, ``updated_at``) and reads one (``id``, ``name``, ``status``,
``mode``, ``created_at``, and ``contact_stats`` when present). It reads a campaign's contacts (an
array: ``id``, ``name``, ``external_unique_id``, ``status``, ``created_at``) and, to clear them,
deletes each with ``DELETE …/contact`` and the JSON body ``{"contact_id": Number(id)}``. It imports
contacts as a multipart ``file`` named ``contacts.json`` (``application/json``) holding
``[{name, phone_number (+E.164), external_unique_id}]`` and takes the job id from the body's
``job_id``/``id``, an ``x-job-id`` header, or the ``Location`` header ending in ``/jobs/<digits>``.
It also adds a single contact with a JSON ``POST …/contacts``. The job is then read as the vendor
document gives it (``GET …/contacts/jobs/{id}``); the app itself does not poll.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from airflow_provider_dialer.emulator.app import wait_until

from .conftest import Step, replay

pytestmark = [pytest.mark.integration]

MANAGER = "/manager/api/v1/outbound_dialer/campaigns"
APPS = "/apps/api/v1/outbound_dialer/campaigns"
CAMPAIGN_ITEM = {"name": str, "status": str, "created_at": str, "updated_at": str}
CONTACT = {
    "id": int,
    "name": (str, type(None)),
    "external_unique_id": (str, type(None)),
    "status": str,
    "created_at": str,
}


@pytest.fixture
def client(emu):
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0.05)
    creds = emu.credentials
    with httpx.Client(
        base_url=emu.base_url("ujet"), auth=(creds.ujet_user, creds.ujet_token), headers={"Accept": "application/json"}
    ) as c:
        yield c


def job_id_of(response: httpx.Response) -> int | None:
    """The app's job id discovery, in its order."""
    body = response.json() if response.content else {}
    job = (body or {}).get("job_id") or (body or {}).get("id") or response.headers.get("x-job-id")
    if not job and response.headers.get("location"):
        found = re.search(r"/jobs/(\d+)$", response.headers["location"])
        job = int(found.group(1)) if found else None
    return job


def import_steps(campaign_id: int, contacts: list[dict]) -> list[Step]:
    return [
        Step(
            "import contacts",
            "POST",
            f"{APPS}/{campaign_id}/contacts/import",
            (200, 201, 202),
            files={"file": ("contacts.json", json.dumps(contacts, indent=2).encode(), "application/json")},
            save=lambda r, ctx: {"job_id": job_id_of(r)},
        ),
    ]


def test_campaign_reads_clear_and_import(emu, client):
    campaign_id = 6
    ctx = replay(
        client,
        [
            Step(
                "list campaigns",
                "GET",
                MANAGER,
                answer=[CAMPAIGN_ITEM],
                save=lambda r, ctx: {"ids": [str(c.get("campaign_id") or c["id"]) for c in r.json()]},
            ),
            Step(
                "read one campaign",
                "GET",
                f"{MANAGER}/{campaign_id}",
                answer={"id": int, "name": str, "status": str, "mode": str, "created_at": str},
            ),
            Step(
                "add one contact",
                "POST",
                f"{APPS}/{campaign_id}/contacts",
                json={"name": "Walk-in", "phone_number": "+12125550999", "email": "w@example.com"},
                headers={"Content-Type": "application/json"},
                answer=dict,
            ),
        ],
    )
    assert str(campaign_id) in ctx["ids"]
    # clearing: read the contacts, delete each by Number(id)
    existing = replay(
        client,
        [
            Step(
                "read contacts",
                "GET",
                f"{APPS}/{campaign_id}/contacts",
                answer=[CONTACT],
                save=lambda r, ctx: {"contacts": r.json()},
            )
        ],
    )["contacts"]
    assert len(existing) == 1
    replay(
        client,
        [
            Step(
                "delete contact",
                "DELETE",
                f"{APPS}/{campaign_id}/contact",
                (200, 204),
                json={"contact_id": int(c["id"])},
                headers={"Content-Type": "application/json"},
            )
            for c in existing
        ],
    )
    # import: E.164 phones, deduplicated by the app before sending
    contacts = [
        {"name": f"Customer {i}", "phone_number": f"+4479460{i:05d}", "external_unique_id": f"C{i}"} for i in range(5)
    ]
    ctx = replay(client, import_steps(campaign_id, contacts))
    assert isinstance(ctx["job_id"], int), "the app finds no job id in the answer"
    replay(
        client,
        [
            Step(
                "read the job",
                "GET",
                f"{APPS}/{campaign_id}/contacts/jobs/{ctx['job_id']}",
                answer={"id": int, "status": lambda s: s in {"in_progress", "completed", "failed"}},
            )
        ],
    )

    # the job finishes without being polled (the app never polls): the contacts appear
    def listed():
        return client.get(f"{APPS}/{campaign_id}/contacts").json()

    assert wait_until(lambda: len(listed()) == 5, timeout=15)
    assert sorted(c["external_unique_id"] for c in listed()) == [f"C{i}" for i in range(5)]


def test_a_phone_in_two_campaigns_is_two_leads(emu, client):
    contact = [{"name": "Ana", "phone_number": "+447946000001", "external_unique_id": "A"}]
    for campaign_id in (1, 6):
        ctx = replay(client, import_steps(campaign_id, contact))
        assert wait_until(
            lambda cid=campaign_id, job=ctx["job_id"]: (
                client.get(f"{APPS}/{cid}/contacts/jobs/{job}").json()["status"] == "completed"
            ),
            timeout=15,
        )
    report = emu.leads("ujet", keys=True)["ujet.import"]
    assert report["duplicates"] == {} and report["cross_scope"] == {"+447946000001": 2}
