"""Operators against the uContact emulator over real HTTP, under injected faults: Automation hub lists
(resolved by list name), fresh leads and Integra DialerTask (no read: a lost answer is reported unknown).

After each fault the emulator's state is checked with ``delivery_check``: every accepted lead landed
exactly once, an unknown one at most once, a rejected or refused one not at all, and nothing was lost.
"""

from __future__ import annotations

import datetime as dt

import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

from .conftest import lead_operator, use_emulator_connection
from .conftest import new_york_leads as leads

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York, inside the default calling hours
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
LISTS = r"^/api/dialer/id/sales/lists$"
FRESH = r"^/api/dialer/id/sales/freshLeads$"
TASK = r"^/Integra/resources/Dialers/DialerTask$"


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    use_emulator_connection(fresh_dialer_emulator, monkeypatch, "ucontact", "ucontact_default")
    fresh_dialer_emulator.configure(ucontact_list_load_seconds=0.0)
    return fresh_dialer_emulator


HUB = {"conn_id": "ucontact_default", "settings": {"hub": "sales"}}


def upload(tmp_path, source, name="progress.json", **kwargs) -> UploadListOperator:
    return lead_operator(
        UploadListOperator,
        tmp_path,
        name,
        **{"task_id": "upload", "list_name": "june", **HUB, "source": source, **kwargs},
    )


def fresh(tmp_path, source, name="fresh.json", **kwargs) -> PushFreshLeadsOperator:
    return lead_operator(
        PushFreshLeadsOperator, tmp_path, name, **{"task_id": "fresh", **HUB, "source": source, **kwargs}
    )


def dialer_task(tmp_path, source, name="task.json", **kwargs) -> AddToDialerTaskOperator:
    return lead_operator(
        AddToDialerTaskOperator,
        tmp_path,
        name,
        **{"task_id": "task", "conn_id": "ucontact_default", "campaign": "POWER<-", "source": source, **kwargs},
    )


def stored(emu, endpoint: str) -> dict[str, int]:
    emu.state("ucontact")  # settles lists whose loading time has passed
    return emu.leads("ucontact", keys=True).get(endpoint, {}).get("counts", {})


def lists(emu) -> list[dict]:
    return emu.state("ucontact")["ucontact_automation"]["lists"]


def posts(emu, pattern: str) -> list[dict]:
    import re

    return [r for r in emu.requests("ucontact") if r["method"] == "POST" and re.search(pattern, r["path"])]


def rows(first: int, last: int) -> set[int]:
    return set(range(first, last + 1))


# -- Automation hub lists: resolved by list name ----------------------------------------------------


def test_429_storm_with_retry_after_lands_every_list_once(emu, tmp_path, delivery_check):
    emu.set_faults(
        "ucontact", [{"kind": "status", "status": 429, "retry_after": 0.1, "times": 6, "path": LISTS, "method": "POST"}]
    )
    source = leads(12)
    summary = upload(tmp_path, source).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    statuses = [r["status"] for r in posts(emu, LISTS)]
    assert statuses.count(429) == 6 and statuses.count(202) == 3
    assert sorted(entry["filename"] for entry in lists(emu)) == ["june", "june (now#2)", "june (now#3)"]
    times = [r["ts"] for r in posts(emu, LISTS)]
    assert times[-1] - times[0] >= 0.2  # each chunk waited out Retry-After twice


def test_random_5xx_on_chunks_never_duplicates_or_loses_a_lead(emu, tmp_path, delivery_check):
    # 503 is retried in place; 500 and 502 may have been applied, so the hub's lists are read by name first
    emu.set_faults(
        "ucontact",
        [
            {"kind": "status", "status": 503, "probability": 0.25, "path": LISTS, "method": "POST"},
            {"kind": "status", "status": 500, "probability": 0.2, "path": LISTS, "method": "POST"},
            {"kind": "status", "status": 502, "probability": 0.2, "path": LISTS, "method": "POST"},
        ],
        seed=8,
    )
    source = leads(40)
    # one chunk at a time: the seeded draws then meet the requests in one order on any machine (with
    # several in flight, a loaded machine may deal one chunk five 503s in a row, which fails the task)
    summary = upload(tmp_path, source, max_reject_ratio=1, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    statuses = [r["status"] for r in posts(emu, LISTS)]
    assert {500, 502, 503} <= set(statuses), statuses  # the seed makes every kind fire
    # a lead is only unknown when a resend of its chunk failed too; the read proved it did not land
    assert checked["landed_unknown"] == set()
    assert summary["accepted"] + summary["unknown"] == 40
    assert len(lists(emu)) == statuses.count(202)


def test_drop_before_apply_is_read_back_and_resent_once(emu, tmp_path, delivery_check):
    emu.set_faults("ucontact", [{"kind": "drop_before", "path": LISTS, "method": "POST", "after": 1, "times": 1}])
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    assert len(posts(emu, LISTS)) == 4  # three chunks and the resend of the dropped one
    assert sorted(entry["filename"] for entry in lists(emu)) == ["june", "june (now#2/resend)", "june (now#3)"]


def test_drop_after_apply_is_resolved_by_list_name_not_resent(emu, tmp_path, delivery_check):
    emu.set_faults("ucontact", [{"kind": "drop_after", "path": LISTS, "method": "POST", "after": 1, "times": 1}])
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    assert checked["accepted"] == rows(1, 12) and summary["unknown"] == 0
    assert len(posts(emu, LISTS)) == 3
    by_name = {entry["filename"]: entry["id"] for entry in lists(emu)}
    assert sorted(summary["ids"]["list_ids"]) == sorted(by_name.values())  # the lost answer's list id was learnt


@pytest.mark.parametrize("kind", ["drop_after", "drop_before"])
def test_lost_answer_without_the_list_read_is_reported_unknown(emu, tmp_path, delivery_check, kind):
    # a tenant without the assumed list read (docs/vendors/ucontact.md#decision-assumed-list-state-read): the chunk's fate cannot be learnt, so it is not resent
    emu.set_faults(
        "ucontact",
        [
            {"kind": kind, "path": LISTS, "method": "POST", "after": 1, "times": 1},
            {"kind": "status", "status": 404, "path": LISTS, "method": "GET", "body": {"message": "Not Found"}},
        ],
    )
    source = leads(12)
    summary = upload(tmp_path, source, concurrency=1, max_reject_ratio=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    assert checked["unknown"] == rows(5, 8) and summary["unknown_rows"] == [5, 6, 7, 8]
    assert checked["landed_unknown"] == (rows(5, 8) if kind == "drop_after" else set())
    assert len(posts(emu, LISTS)) == 3  # never resent


@pytest.mark.parametrize("dies", ["after_the_vendor_applied", "before_the_request", "while_resending"])
def test_task_killed_mid_upload_then_retried_leaves_each_lead_once(
    emu, tmp_path, monkeypatch, delivery_check, task_dies, dies
):
    from airflow_provider_dialer.hooks.ucontact import UContactHook

    real = UContactHook.push_list_chunk
    dying = task_dies(real, dies)

    if dies == "while_resending":
        emu.set_faults("ucontact", [{"kind": "drop_before", "path": LISTS, "method": "POST", "after": 1, "times": 1}])

    source = leads(12)
    monkeypatch.setattr(UContactHook, "push_list_chunk", dying)
    with pytest.raises(SystemExit):
        upload(tmp_path, source, concurrency=1).execute({})
    monkeypatch.setattr(UContactHook, "push_list_chunk", real)
    summary = upload(tmp_path, source, concurrency=1).execute({})  # the retry, same progress file
    assert summary["chunks_already_delivered"] == 1 and summary["chunks_resolved_after_unknown_fate"] == 1
    checked = delivery_check(summary, source, stored(emu, "automation.lists"))
    assert checked["accepted"] == rows(1, 12)
    assert len(lists(emu)) == 3


def test_reject_report_agrees_with_what_landed(emu, tmp_path, delivery_check):
    source = leads(10)
    source[2]["phones"] = ["+1212555"]  # row 3: too short
    source[5]["phones"] = ["+12125550001"]  # row 6: the phone of row 2
    source[7]["timezone"] = "Mars/Olympus"  # row 8: no such zone
    report = tmp_path / "rejects.jsonl"
    emu.set_faults("ucontact", [{"kind": "status", "status": 503, "times": 2, "path": LISTS, "method": "POST"}])
    summary = upload(
        tmp_path,
        source,
        reject_report=str(report),
        dnc_source=["+12125550009"],  # row 10
        max_reject_ratio=0.5,
    ).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.lists"), report=report)
    assert checked["rejected"] == {3, 6, 8, 10}
    assert summary["rejected_by_reason"] == {
        "do_not_call": 1,
        "duplicate_phone": 1,
        "invalid_phone": 1,
        "unknown_timezone": 1,
    }
    assert checked["accepted"] == {1, 2, 4, 5, 7, 9}


# -- fresh leads: synchronous, no read -------------------------------------------------------------------


def test_fresh_leads_429_storm_and_503s_land_once(emu, tmp_path, delivery_check):
    emu.set_faults(
        "ucontact",
        [
            {"kind": "status", "status": 429, "retry_after": 0.05, "times": 3, "path": FRESH, "method": "POST"},
            {"kind": "status", "status": 503, "probability": 0.3, "path": FRESH, "method": "POST"},
        ],
        seed=3,
    )
    source = leads(12)
    summary = fresh(tmp_path, source, concurrency=1).execute({})  # seeded draws in one order on any machine
    checked = delivery_check(summary, source, stored(emu, "automation.freshLeads"))
    assert checked["accepted"] == rows(1, 12)


@pytest.mark.parametrize("kind", ["drop_after", "drop_before", "status_500"])
def test_fresh_leads_lost_answer_is_reported_unknown_never_resent(emu, tmp_path, delivery_check, kind):
    rule = {"kind": kind, "path": FRESH, "method": "POST", "after": 1, "times": 1}
    if kind == "status_500":
        rule.update(kind="status", status=500)
    emu.set_faults("ucontact", [rule])
    source = leads(12)
    summary = fresh(tmp_path, source, concurrency=1, max_reject_ratio=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "automation.freshLeads"))
    assert checked["unknown"] == rows(5, 8)
    assert checked["landed_unknown"] == (rows(5, 8) if kind == "drop_after" else set())
    assert len(posts(emu, FRESH)) == 3


def test_fresh_leads_refused_rows_do_not_land(emu, tmp_path, delivery_check):
    source = [dict(lead, email=f"l{i}@example.com") for i, lead in enumerate(leads(6))]
    del source[1]["email"], source[4]["email"]  # rows 2 and 5: an email hub cannot take them
    summary = fresh(tmp_path, source, settings={"hub": "mail", "channel": "email"}, max_reject_ratio=1).execute({})
    keys = emu.leads("ucontact", keys=True)["automation.freshLeads"]["counts"]
    assert set(keys) == {f"l{i}@example.com" for i in (0, 2, 3, 5)}  # email hubs are keyed by address
    phones = {source[i]["phones"][0]: 1 for i in (0, 2, 3, 5)}
    checked = delivery_check(summary, source, phones)
    assert checked["refused"] == {2, 5} and summary["refused_by_vendor"] == {"missing_email": 2}


@pytest.mark.parametrize(
    ("hub", "channel"), [("sms", "sms"), ("wa", "whatsapp"), ("mail", "email"), ("preview_sales", "telephony")]
)
def test_agent_goes_only_to_preview_telephony_hubs(emu, tmp_path, hub, channel):
    """The document lists ``agent`` only under the preview properties: a text hub's contact never has it."""
    source = [dict(lead, email=f"l{i}@example.com", agent="my_best_agent") for i, lead in enumerate(leads(3))]
    summary = fresh(tmp_path, source, settings={"hub": hub, "channel": channel}).execute({})
    assert summary["accepted"] == 3
    sent = emu.state("ucontact")["ucontact_automation"]["fresh_leads"][hub]
    assert len(sent) == 3
    assert all(("agent" in c) == (channel == "telephony") for c in sent)
    if channel == "telephony":
        assert {c["agent"] for c in sent} == {"my_best_agent"}


# -- Integra DialerTask: one record per request, no read ------------------------------------------------


def test_dialer_task_429_storm_lands_every_record_once(emu, tmp_path, delivery_check):
    emu.set_faults("ucontact", [{"kind": "status", "status": 429, "retry_after": 0.05, "times": 5, "path": TASK}])
    source = leads(8)
    summary = dialer_task(tmp_path, source).execute({})
    checked = delivery_check(summary, source, stored(emu, "integra.dialertask"))
    assert checked["accepted"] == rows(1, 8)
    assert len(emu.state("ucontact")["ucontact_integra"]["tasks"]) == 8


@pytest.mark.parametrize("kind", ["drop_after", "drop_before"])
def test_dialer_task_lost_answer_is_reported_unknown_never_resent(emu, tmp_path, delivery_check, kind):
    emu.set_faults("ucontact", [{"kind": kind, "path": TASK, "after": 2, "times": 1}])
    source = leads(8)
    summary = dialer_task(tmp_path, source, concurrency=1, max_reject_ratio=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "integra.dialertask"))
    assert checked["unknown"] == {3}
    assert checked["landed_unknown"] == ({3} if kind == "drop_after" else set())
    assert len(posts(emu, TASK)) == 8


def test_dialer_task_random_5xx_never_duplicates_or_loses_a_lead(emu, tmp_path, delivery_check):
    emu.set_faults(
        "ucontact",
        [
            {"kind": "status", "status": 503, "probability": 0.2, "path": TASK},
            {"kind": "status", "status": 502, "probability": 0.15, "path": TASK},
        ],
        seed=5,
    )
    source = leads(16)
    summary = dialer_task(tmp_path, source, max_reject_ratio=1, concurrency=1).execute({})  # seeded draws in one order
    checked = delivery_check(summary, source, stored(emu, "integra.dialertask"))
    statuses = [r["status"] for r in posts(emu, TASK)]
    assert {502, 503} <= set(statuses), statuses
    # a 502 may have been applied, so that record is unknown; the other records of its chunk are not
    assert len(checked["unknown"]) == statuses.count(502)
    assert summary["accepted"] == 16 - statuses.count(502)


def test_dialer_task_killed_mid_chunk_reports_the_chunk_unknown_and_sends_the_rest_once(
    emu, tmp_path, monkeypatch, delivery_check
):
    from airflow_provider_dialer.hooks.ucontact import UContactHook

    real = UContactHook.add_dialer_task_lead
    calls = {"n": 0}

    def dying(self, lead, settings):
        calls["n"] += 1
        if calls["n"] == 3:
            real(self, lead, settings)
            raise SystemExit("worker killed")
        return real(self, lead, settings)

    source = leads(8)
    monkeypatch.setattr(UContactHook, "add_dialer_task_lead", dying)
    with pytest.raises(SystemExit):
        dialer_task(tmp_path, source, concurrency=1).execute({})
    monkeypatch.setattr(UContactHook, "add_dialer_task_lead", real)
    summary = dialer_task(tmp_path, source, concurrency=1, max_reject_ratio=1).execute({})
    checked = delivery_check(summary, source, stored(emu, "integra.dialertask"))
    # Integra cannot be asked which records of the interrupted chunk landed: all four are unknown, none resent
    assert checked["unknown"] == rows(1, 4) and checked["landed_unknown"] == rows(1, 3)
    assert checked["accepted"] == rows(5, 8)
    assert len(posts(emu, TASK)) == 7


def test_dialer_task_refused_mid_chunk_then_retried_sends_only_what_did_not_land(emu, tmp_path, delivery_check):
    # record 3 meets 503 on every attempt: the task fails; records 1-2 landed, so the retry must not resend them
    emu.set_faults("ucontact", [{"kind": "status", "status": 503, "path": TASK, "after": 2, "times": 5}])
    source = leads(8)
    from airflow_provider_dialer.exceptions import DialerHTTPError

    with pytest.raises(DialerHTTPError, match="503"):
        dialer_task(tmp_path, source, concurrency=1).execute({})
    assert set(stored(emu, "integra.dialertask")) == {"12125550000", "12125550001"}
    summary = dialer_task(tmp_path, source, concurrency=1).execute({})  # the retry
    checked = delivery_check(summary, source, stored(emu, "integra.dialertask"))
    assert checked["accepted"] == rows(1, 8) and summary["unknown"] == 0
