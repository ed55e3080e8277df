"""LeadsOperator logic with a fake vendor: hold-back and resume, dry run, reject ratio, capability check."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.exceptions import UnsupportedCapabilityError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from tests.fakes import FakeListHook, use_hook

UTC = dt.UTC
# 2026-06-10 12:00 UTC: 08:00 in New York (open), 21:00 in Tokyo (closed), 17:30 in Kolkata (open)
NOON = dt.datetime(2026, 6, 10, 12, 0, tzinfo=UTC)

LEADS = [
    {"phones": ["+12125550147"], "first_name": "Noah", "timezone": "America/New_York"},
    {"phones": ["+81312345678"], "first_name": "Yui", "timezone": "Asia/Tokyo"},
    {"phones": ["+919876543210"], "first_name": "Priya", "timezone": "Asia/Kolkata"},
    {"phones": ["12"], "first_name": "Bad"},
]


class PushRecordingHook(FakeListHook):
    """Takes every lead, recording each chunk's key, phones and times."""

    def __init__(self) -> None:
        self.pushed: list[tuple[str, list[str], list[Any]]] = []

    def push_list_chunk(self, target, key, leads):
        self.pushed.append((key, [lead.phone for lead in leads], [lead.call_at for lead in leads]))
        return ChunkOutcome(accepted=len(leads), ids={"list_ids": [target["list_id"]]})


@pytest.fixture
def fake_hook(monkeypatch):
    return use_hook(monkeypatch, PushRecordingHook())


def at(monkeypatch, when: dt.datetime) -> None:
    monkeypatch.setattr(base_module, "utcnow", lambda: when)


def make(tmp_path, **kwargs) -> UploadListOperator:
    defaults = dict(
        task_id="upload",
        conn_id="fake",
        source=LEADS,
        list_name="l",
        progress=str(tmp_path / "p.json"),
        max_reject_ratio=0.5,
    )
    defaults.update(kwargs)
    return UploadListOperator(**defaults)


def test_leads_outside_their_window_are_held_back_then_pushed(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    op = make(tmp_path)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({})
    moment = deferred.value.trigger.moment
    # Tokyo opens at 08:00 JST = 23:00 UTC the same day
    assert moment == dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    assert deferred.value.method_name == "resume_after_hold"
    assert [phones for _, phones, _ in fake_hook.pushed] == [["+12125550147", "+919876543210"]]

    at(monkeypatch, dt.datetime(2026, 6, 10, 23, 1, tzinfo=UTC))
    summary = op.resume_after_hold({}, None)
    pushed = [phone for _, phones, _ in fake_hook.pushed for phone in phones]
    assert pushed == ["+12125550147", "+919876543210", "+81312345678"]  # each exactly once
    assert summary["accepted"] == 3 and summary["chunks_already_delivered"] == 1
    assert summary["rejected_by_reason"] == {"invalid_phone": 1}
    assert summary["scheduled_by_timezone"]["Asia/Tokyo"]["first_local"].startswith("2026-06-11T08:00:00+09:00")


def test_hold_back_reject_rejects_instead_of_waiting(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    summary = make(tmp_path, hold_back="reject").execute({})
    assert summary["rejected_by_reason"] == {"invalid_phone": 1, "outside_window": 1}
    assert summary["accepted"] == 2


def test_per_lead_schedule_vendor_gets_every_lead_now_with_its_time(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    fake_hook.list_per_lead_schedule = True
    summary = make(tmp_path).execute({})
    assert summary["held_back"] == 0 and summary["accepted"] == 3
    times = {phone: when for _, phones, whens in fake_hook.pushed for phone, when in zip(phones, whens, strict=True)}
    assert times["+12125550147"] is None
    assert times["+81312345678"] == dt.datetime(2026, 6, 10, 23, 0, tzinfo=UTC)


def test_dry_run_sends_nothing(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    summary = make(tmp_path, dry_run=True, hold_back="reject").execute({})
    assert fake_hook.pushed == []
    assert summary["dry_run"] is True and summary["would_send"] == 2


def test_reject_ratio_fails_only_after_valid_leads_went_out(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    with pytest.raises(AirflowFailException, match="2 of 4 leads not delivered"):
        make(tmp_path, max_reject_ratio=0.0, hold_back="reject").execute({})
    assert len(fake_hook.pushed) == 1 and len(fake_hook.pushed[0][1]) == 2


def test_success_removes_the_progress_so_a_cleared_task_is_a_new_delivery(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    make(tmp_path, hold_back="reject", max_reject_ratio=1).execute({})
    first = len(fake_hook.pushed)
    assert first and not (tmp_path / "p.json").exists()  # nothing left behind by a task that succeeded
    summary = make(tmp_path, hold_back="reject", max_reject_ratio=1).execute({})
    assert len(fake_hook.pushed) == 2 * first  # documented: clearing a successful task sends again
    assert summary["accepted"] == 2 and summary["chunks_already_delivered"] == 0


def test_a_failed_task_keeps_its_progress_so_a_retry_sends_nothing_twice(tmp_path, monkeypatch, fake_hook):
    at(monkeypatch, NOON)
    with pytest.raises(AirflowFailException):
        make(tmp_path, hold_back="reject", max_reject_ratio=0).execute({})  # red: 2 of 4 rejected
    first = len(fake_hook.pushed)
    assert (tmp_path / "p.json").exists()
    with pytest.raises(AirflowFailException):
        make(tmp_path, hold_back="reject", max_reject_ratio=0).execute({})
    assert len(fake_hook.pushed) == first


def test_missing_capability_fails_before_reading_the_source(tmp_path, monkeypatch, fake_hook):
    op = AddToDialerTaskOperator(
        task_id="t", conn_id="fake", campaign="X", source="/does/not/exist.csv", progress=str(tmp_path / "p.json")
    )
    with pytest.raises(UnsupportedCapabilityError, match="FakeDialer does not support DialerTask"):
        op.execute({})


def test_bad_policy_names_fail_at_definition():
    from airflow_provider_dialer.exceptions import DialerConfigError

    with pytest.raises(DialerConfigError, match="hold_back"):
        UploadListOperator(task_id="x", conn_id="c", source=[], list_name="l", hold_back="later")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"tel,first_name\n+12125550147,Noah\n", "'phones or phone'"),  # no phone column
        (b"+12125550147,Noah\n", "looks like a lead, not a header"),  # no header row
        (b"\x00\xd8" * 100, "cannot tell the encoding"),
    ],
)
def test_a_source_that_cannot_be_read_fails_before_the_target_is_opened(
    tmp_path, monkeypatch, fake_hook, content, message
):
    from airflow_provider_dialer.exceptions import DialerConfigError

    at(monkeypatch, NOON)
    f = tmp_path / "leads.csv"
    f.write_bytes(content)
    opened: list[str] = []
    monkeypatch.setattr(fake_hook, "open_list_target", lambda name, settings: opened.append(name) or {"list_id": 5})
    with pytest.raises(DialerConfigError, match=message):
        make(tmp_path, source=str(f)).execute({})
    assert opened == [] and fake_hook.pushed == []  # nothing was created or sent at the vendor
