"""Voipex's own documentation snippets replayed against the emulator, request by request.

No public dialer client was found, so the sequence is the vendor's "Dialer" guide and its auth guide:
an OAuth2 password grant (form ``grant_type=password``, ``client_id=api``, ``username``, ``password``)
answering ``access_token``/``expires_in``/``refresh_token``; then with ``Authorization: Bearer``:
``POST /dialer/call-lists`` (the guide's body, answer ``id``/``message``/``numbersCount``), ``GET /ivr``
(an array, ``id`` a string), ``POST /dialer/campaigns`` (the guide's body with the ids from the two
earlier answers, answer ``id``/``message``) and ``PUT /dialer/campaigns/:id/control`` with each
command the guide lists; and the refresh grant.
"""

from __future__ import annotations

import httpx
import pytest

from .conftest import Step, replay

pytestmark = [pytest.mark.integration]


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url("voipex")) as c:
        yield c


def bearer(ctx) -> dict[str, str]:
    return {"Authorization": f"Bearer {ctx['access_token']}", "Content-Type": "application/json"}


def test_dialer_guide(emu, client):
    creds = emu.credentials
    ctx = replay(
        client,
        [
            Step(
                "token",
                "POST",
                "/token",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data={
                    "grant_type": "password",
                    "client_id": "api",
                    "username": creds.voipex_user,
                    "password": creds.voipex_password,
                },
                answer={
                    "access_token": str,
                    "expires_in": int,
                    "refresh_expires_in": int,
                    "refresh_token": str,
                    "token_type": "Bearer",
                },
                save=lambda r, ctx: {
                    "access_token": r.json()["access_token"],
                    "refresh_token": r.json()["refresh_token"],
                },
            ),
        ],
    )
    steps = [
        Step(
            "1. create call list",
            "POST",
            "/dialer/call-lists",
            json={"name": "call-list-name", "numbers": [{"number": "123456789", "attributes": []}]},
            answer={"id": int, "message": "Call list successfully created", "numbersCount": 1},
            save=lambda r, ctx: {"call_list": r.json()["id"]},
        ),
        Step(
            "2. get IVR applications",
            "GET",
            "/ivr",
            answer=[{"id": str, "name": str, "routing": list}],
            save=lambda r, ctx: {"ivr": r.json()[0]["id"]},
        ),
        Step(
            "3. create campaign",
            "POST",
            "/dialer/campaigns",
            json=lambda ctx: {
                "name": "campaign",
                "callerId": "123456789",
                "activePeriod": {"startTime": "09:00", "endTime": "17:00", "weekDays": [1, 2, 3, 4, 5, 6, 7]},
                "callLists": [ctx["call_list"]],
                "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 15, "maxAttempts": 1}],
                "ivr": ctx["ivr"],
                "endpoint": {"type": "queue", "boostFactor": 1.1, "maxWaitingCalls": 2, "queue": "green"},
            },
            answer={"id": int, "message": "Campaign successfully created"},
            save=lambda r, ctx: {"campaign": r.json()["id"]},
        ),
    ]
    for step in steps:
        step.headers = bearer(ctx)
        replay(client, [step], ctx)
    for command in ("start", "pause", "unpause", "reload", "remove"):
        replay(
            client,
            [
                Step(
                    f"4. control {command}",
                    "PUT",
                    f"/dialer/campaigns/{ctx['campaign']}/control",
                    headers=bearer(ctx),
                    json={"command": command},
                )
            ],
            ctx,
        )
    replay(
        client,
        [
            Step(
                "refresh",
                "POST",
                "/token",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data={"grant_type": "refresh_token", "client_id": "api", "refresh_token": ctx["refresh_token"]},
                answer={"access_token": str},
            )
        ],
        ctx,
    )
    state = emu.state("voipex")
    state = state.get("voipex", state)
    assert [c["name"] for c in state["call_lists"]] == ["call-list-name"]
