"""Operators against the Voipex emulator over real HTTP, under injected faults: call lists (a lost answer
is resolved by the call list's name), campaigns created and controlled across a lost answer, and
OAuth2 tokens that expire in the middle of an upload.

After each fault the emulator's state is checked with ``delivery_check``: every accepted lead landed
exactly once, an unknown one at most once, a rejected one not at all, and nothing was lost.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

from .conftest import lead_operator, use_emulator_connection
from .conftest import new_york_leads as leads

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York, inside the default calling hours
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
CALL_LISTS = r"^/dialer/call-lists$"
CAMPAIGNS = r"^/dialer/campaigns$"


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    use_emulator_connection(fresh_dialer_emulator, monkeypatch, "voipex", "voipex_default")
    return fresh_dialer_emulator


def upload(tmp_path, source, name="progress.json", **kwargs) -> UploadListOperator:
    return lead_operator(
        UploadListOperator,
        tmp_path,
        name,
        **{"task_id": "upload", "conn_id": "voipex_default", "list_name": "june", "source": source, **kwargs},
    )


def state(emu) -> dict:
    return emu.state("voipex")["voipex"]


def stored(emu) -> dict[str, int]:
    return emu.leads("voipex", keys=True).get("voipex.call-lists", {}).get("counts", {})


def call_list_names(emu) -> list[str]:
    return sorted(entry["name"] for entry in state(emu)["call_lists"])


def requests(emu, method: str, pattern: str) -> list[dict]:
    return [r for r in emu.requests("voipex") if r["method"] == method and re.search(pattern, r["path"])]


def rows(first: int, last: int) -> set[int]:
    return set(range(first, last + 1))


# -- UploadListOperator: one call list per chunk, resolved by name ----------------------------------------


def test_429_storm_with_retry_after_lands_every_call_list_once(emu, tmp_path, delivery_check):
    emu.set_faults(
        "voipex",
        [{"kind": "status", "status": 429, "retry_after": 0.1, "times": 6, "path": CALL_LISTS, "method": "POST"}],
    )
    source = leads(12)
    summary = upload(tmp_path, source).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    posts = requests(emu, "POST", CALL_LISTS)
    statuses = [r["status"] for r in posts]
    assert statuses.count(429) == 6 and statuses.count(200) == 3
    assert posts[-1]["ts"] - posts[0]["ts"] >= 0.2  # each chunk waited out Retry-After twice
    assert call_list_names(emu) == ["june", "june now#2", "june now#3"]
    assert sorted(summary["ids"]["call_list_ids"]) == [1, 2, 3]


def test_random_5xx_on_chunks_never_duplicates_or_loses_a_lead(emu, tmp_path, delivery_check):
    # 503 is retried in place; 500 and 502 may have been applied, so the call lists are read by name first
    emu.set_faults(
        "voipex",
        [
            {"kind": "status", "status": 503, "probability": 0.25, "path": CALL_LISTS, "method": "POST"},
            {"kind": "status", "status": 500, "probability": 0.2, "path": CALL_LISTS, "method": "POST"},
            {"kind": "status", "status": 502, "probability": 0.2, "path": CALL_LISTS, "method": "POST"},
        ],
        seed=8,
    )
    source = leads(40)
    # one chunk at a time, so the seeded draws meet the requests in one order on any machine
    summary = upload(tmp_path, source, max_reject_ratio=1, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    statuses = [r["status"] for r in requests(emu, "POST", CALL_LISTS)]
    assert {500, 502, 503} <= set(statuses), statuses  # the seed makes every kind fire
    assert checked["landed_unknown"] == set()  # unknown only when the resend failed too: the read proved it absent
    assert summary["accepted"] + summary["unknown"] == 40
    assert len(state(emu)["call_lists"]) == statuses.count(200)


def test_drop_before_apply_is_read_back_and_resent_once(emu, tmp_path, delivery_check):
    emu.set_faults("voipex", [{"kind": "drop_before", "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1}])
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    # absence is settled: two reads late_write_seconds apart agree before the resend
    assert len(requests(emu, "POST", CALL_LISTS)) == 4 and len(requests(emu, "GET", CALL_LISTS)) == 2
    assert call_list_names(emu) == ["june", "june now#2/resend", "june now#3"]


def test_drop_after_apply_is_resolved_by_call_list_name_not_resent(emu, tmp_path, delivery_check):
    emu.set_faults("voipex", [{"kind": "drop_after", "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1}])
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    assert len(requests(emu, "POST", CALL_LISTS)) == 3
    assert call_list_names(emu) == ["june", "june now#2", "june now#3"]
    assert sorted(summary["ids"]["call_list_ids"]) == [1, 2, 3]  # the lost answer's id was learnt by name


@pytest.mark.parametrize("kind", ["drop_after", "drop_before"])
def test_lost_answer_without_the_call_list_read_is_reported_unknown(emu, tmp_path, delivery_check, kind):
    # a tenant without the assumed call-list read: the chunk's fate cannot be learnt, so it is not resent
    emu.set_faults(
        "voipex",
        [
            {"kind": kind, "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1},
            {
                "kind": "status",
                "status": 404,
                "path": CALL_LISTS,
                "method": "GET",
                "body": {"statusCode": 404, "error": "Not Found", "message": "Not Found"},
            },
        ],
    )
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1, max_reject_ratio=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["unknown"] == rows(5, 8) and summary["unknown_rows"] == [5, 6, 7, 8]
    assert checked["landed_unknown"] == (rows(5, 8) if kind == "drop_after" else set())
    assert len(requests(emu, "POST", CALL_LISTS)) == 3


@pytest.mark.parametrize("dies", ["after_the_vendor_applied", "before_the_request", "while_resending"])
def test_task_killed_mid_upload_then_retried_leaves_each_lead_once(
    emu, tmp_path, monkeypatch, delivery_check, task_dies, dies
):
    from airflow_provider_dialer.hooks.voipex import VoipexHook

    real = VoipexHook.push_list_chunk
    dying = task_dies(real, dies)

    if dies == "while_resending":
        emu.set_faults(
            "voipex", [{"kind": "drop_before", "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1}]
        )

    source = leads(12)
    monkeypatch.setattr(VoipexHook, "push_list_chunk", dying)
    with pytest.raises(SystemExit):
        upload(tmp_path, source, concurrency=1).execute({})
    monkeypatch.setattr(VoipexHook, "push_list_chunk", real)
    summary = upload(tmp_path, source, concurrency=1).execute({})  # the retry, same progress file
    assert summary["chunks_already_delivered"] == 1 and summary["chunks_resolved_after_unknown_fate"] == 1
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 12)
    assert len(state(emu)["call_lists"]) == 3 and len(summary["ids"]["call_list_ids"]) == 3


def test_reject_report_agrees_with_what_landed(emu, tmp_path, delivery_check):
    source = leads(10)
    source[1]["phones"] = ["not a phone"]  # row 2
    source[4]["phones"] = ["+12125550000"]  # row 5: the phone of row 1
    source[6]["timezone"] = "Mars/Olympus"  # row 7
    report = tmp_path / "rejects.jsonl"
    emu.set_faults("voipex", [{"kind": "drop_after", "path": CALL_LISTS, "method": "POST", "times": 1}])
    summary = upload(
        tmp_path,
        source,
        reject_report=str(report),
        dnc_source=["+1 212 555 0008"],  # row 9
        max_reject_ratio=0.5,
    ).execute({})
    checked = delivery_check(summary, source, stored(emu), report=report)
    assert checked["rejected"] == {2, 5, 7, 9}
    assert checked["accepted"] == {1, 3, 4, 6, 8, 10}
    numbers = [n["number"] for entry in state(emu)["call_lists"] for n in entry["numbers"]]
    assert sorted(numbers) == sorted(f"1212555{i:04d}" for i in (0, 2, 3, 5, 7, 9))


# -- tokens expiring in the middle of an upload -----------------------------------------------------------


def token_requests(emu) -> list[dict]:
    """The token endpoint calls in the emulator's record of received requests."""
    return requests(emu, "POST", r"^/token$")


def test_access_token_expiring_mid_upload_is_refreshed_and_no_lead_is_lost(emu, tmp_path, delivery_check):
    emu.configure(voipex_token_lifetime=0.5, voipex_refresh_lifetime=30)
    # the 2nd call list is held 0.6 s inside the server before its token is checked: it arrives expired
    # (401, refreshed, sent again); the later chunks cross the lifetime again and are refreshed
    emu.set_faults(
        "voipex",
        [
            {"kind": "latency", "delay": 0.6, "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1},
            {"kind": "latency", "delay": 0.1, "path": CALL_LISTS, "method": "POST"},
        ],
    )
    source = leads(32)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 32) and summary["unknown"] == 0
    assert call_list_names(emu) == ["june"] + [f"june now#{i}" for i in range(2, 9)]
    tokens = state(emu)["tokens"]
    assert tokens["grants"]["password"] == 1 and tokens["grants"]["refresh_token"] >= 2
    posts = [r["status"] for r in requests(emu, "POST", CALL_LISTS)]
    assert posts[:3] == [200, 401, 200] and posts.count(200) == 8
    assert tokens["refused_api_calls"] == posts.count(401)  # each expired call was sent again once, and landed once
    assert [r["status"] for r in token_requests(emu)] == [200] * (1 + tokens["grants"]["refresh_token"])


def test_refresh_token_expired_mid_upload_forces_a_new_login(emu, tmp_path, delivery_check):
    # lifetimes of seconds, not fractions: on a loaded machine only the held request outlasts its token
    emu.configure(voipex_token_lifetime=1.5, voipex_refresh_lifetime=2.5)
    # the 2nd call list is held 3.5 s: its access token and the refresh token both expire meanwhile
    emu.set_faults(
        "voipex", [{"kind": "latency", "delay": 3.5, "path": CALL_LISTS, "method": "POST", "after": 1, "times": 1}]
    )
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu))
    assert checked["accepted"] == rows(1, 12)
    tokens = state(emu)["tokens"]
    # a very slow machine may outlast a token once more and log in again: bounds, and exact refusals
    assert tokens["grants"]["password"] >= 2  # logged in again...
    assert tokens["refused_grants"] == 0  # ...without first sending the expired refresh token
    assert len(token_requests(emu)) == sum(tokens["grants"].values())
    posts = [r["status"] for r in requests(emu, "POST", CALL_LISTS)]
    assert posts[:2] == [200, 401] and posts.count(200) == 3
    assert tokens["refused_api_calls"] == posts.count(401)  # each refused call was sent again once


# -- CreateCampaignOperator / ControlCampaignOperator across a lost answer ---------------------------------


def campaign(list_ids, **kwargs) -> CreateCampaignOperator:
    params = dict(
        task_id="campaign",
        conn_id="voipex_default",
        name="june",
        calling_hours="09:00-17:00",
        weekdays=[1, 2, 3, 4, 5],
        lists=list_ids,
        settings={"callerId": "420228881234", "ivr_name": "IVR-app-name"},
    )
    params.update(kwargs)
    return CreateCampaignOperator(**params)


@pytest.mark.parametrize("kind", ["drop_after", "drop_before"])
def test_campaign_creation_answer_lost_then_retried_creates_it_once(emu, tmp_path, kind):
    list_ids = upload(tmp_path, leads(3)).execute({})["ids"]["call_list_ids"]
    emu.set_faults("voipex", [{"kind": kind, "path": CAMPAIGNS, "method": "POST", "times": 1}])
    with pytest.raises(DialerDeliveryUnknownError):
        campaign(list_ids).execute({})  # not resent blindly: the task fails
    campaign_id = campaign(list_ids).execute({})  # the retry looks the campaign up by name first
    live = state(emu)["campaigns"]
    assert [(c["id"], c["name"], c["callLists"]) for c in live] == [(campaign_id, "june", list_ids)]
    assert len(requests(emu, "POST", CAMPAIGNS)) == (1 if kind == "drop_after" else 2)


def test_campaign_creation_through_a_429_storm_creates_it_once(emu, tmp_path):
    list_ids = upload(tmp_path, leads(3)).execute({})["ids"]["call_list_ids"]
    emu.set_faults(
        "voipex",
        [{"kind": "status", "status": 429, "retry_after": 0.05, "times": 3, "path": CAMPAIGNS, "method": "POST"}],
    )
    campaign_id = campaign(list_ids).execute({})
    assert [c["id"] for c in state(emu)["campaigns"]] == [campaign_id]
    assert [r["status"] for r in requests(emu, "POST", CAMPAIGNS)] == [429, 429, 429, 200]


def test_campaign_start_answer_lost_is_resolved_by_reading_the_campaign(emu, tmp_path):
    list_ids = upload(tmp_path, leads(3)).execute({})["ids"]["call_list_ids"]
    campaign_id = campaign(list_ids).execute({})

    def start() -> dict:
        return ControlCampaignOperator(
            task_id="start", conn_id="voipex_default", campaign_id=campaign_id, command="start"
        ).execute({})

    emu.set_faults("voipex", [{"kind": "drop_after", "path": r"/control$", "method": "PUT", "times": 1}])
    done = {"id": campaign_id, "message": "Campaign is already running", "state": "running"}
    assert start() == done  # the campaign reads as running: the lost command was applied
    assert start() == done  # a retry meets 409 "already running" and reads the same
    (stored_campaign,) = state(emu)["campaigns"]
    assert stored_campaign["state"] == "running" and stored_campaign["commands"] == ["start"]  # applied once
    assert [r["status"] for r in requests(emu, "PUT", r"/control$")] == [0, 409]


def test_campaign_command_lost_before_apply_fails_then_the_retry_applies_it_once(emu, tmp_path):
    list_ids = upload(tmp_path, leads(3)).execute({})["ids"]["call_list_ids"]
    campaign_id = campaign(list_ids).execute({})

    def control(command: str) -> dict:
        return ControlCampaignOperator(
            task_id=command, conn_id="voipex_default", campaign_id=campaign_id, command=command
        ).execute({})

    with pytest.raises(DialerHTTPError, match="409"):
        control("pause")  # a real conflict (the campaign is not running) still fails
    control("start")
    emu.set_faults("voipex", [{"kind": "drop_before", "path": r"/control$", "method": "PUT", "times": 1}])
    with pytest.raises(DialerDeliveryUnknownError):
        control("pause")  # still running when read back: not applied, and not resent blindly
    assert control("pause")["state"] == "paused"
    (stored_campaign,) = state(emu)["campaigns"]
    assert stored_campaign["commands"] == ["start", "pause"]
    assert [r["status"] for r in requests(emu, "PUT", r"/control$")] == [409, 200, 0, 200]
