"""A retry after the calling window closed, against the emulators over real HTTP: XCALLY, uContact and UJET.

The first attempt prepares at 20:50 in New York and dies part-way; its retry runs at 21:05, when the
window (08:00-21:00 local) has closed in New York but is still open in Los Angeles (18:05). What each
emulator stored is read through its admin API, and for every stored lead the instant it would be dialed
(its time on the wire when ahead of the send, else the send itself) is checked with ``zoneinfo`` to read
08:00-21:00 on the lead's own clock. Then the usual delivery check: each lead landed exactly once.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_dialer.exceptions import DialerHTTPError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.pipeline.progress_store import FileProgressStore

pytestmark = pytest.mark.integration
UTC = dt.UTC
NY, LA = "America/New_York", "America/Los_Angeles"
AT_2050 = dt.datetime(2027, 6, 11, 0, 50, tzinfo=UTC)  # 20:50 EDT on June 10
AT_2105 = dt.datetime(2027, 6, 11, 1, 5, tzinfo=UTC)  # 21:05 EDT, 18:05 PDT
NEXT_0800 = dt.datetime(2027, 6, 11, 12, 0, tzinfo=UTC)  # 08:00 EDT on June 11
# rows 1-3 and 5-7 in New York, rows 4 and 8 in Los Angeles; chunks of 4
SOURCE = [
    {
        "phones": [f"+1212555{i:04d}" if i % 4 != 3 else f"+1310555{i:04d}"],
        "first_name": f"Lead{i}",
        "external_id": f"EXT-{i}",
        "timezone": NY if i % 4 != 3 else LA,
    }
    for i in range(12)
]


def digits(phone: object) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())


ZONE_OF = {digits(lead["phones"][0]): lead["timezone"] for lead in SOURCE}


class Clock:
    def __init__(self) -> None:
        self.now = AT_2050

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(fresh_dialer_emulator, monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(base_module, "utcnow", clock)
    return clock


def inside_ny_hours(dial: dt.datetime, zone: str) -> bool:
    local = dial.astimezone(ZoneInfo(zone))
    return dt.time(8) <= local.time() < dt.time(21)


def check_dialed_inside(phases: list[tuple[dt.datetime, dict[str, dt.datetime | None]]]) -> int:
    """``phases``: (the clock of an attempt, {phone: time on the wire} for the leads new after it). Returns how many."""
    seen: set[str] = set()
    for sent_at, stored in phases:
        for phone, on_wire in stored.items():
            if phone in seen:
                continue
            seen.add(phone)
            dial = on_wire if on_wire is not None and on_wire > sent_at else sent_at
            zone = ZONE_OF[phone]
            assert inside_ny_hours(dial, zone), f"{phone[-4:]} dialed at {dial.astimezone(ZoneInfo(zone))} ({zone})"
    return len(seen)


def attempt_settings(tmp_path) -> dict[str, Any]:
    """What every attempt of a test's task is built with: the same source, progress file and chunks."""
    return {"source": SOURCE, "progress": str(tmp_path / "p.json"), "chunk_size": 4, "concurrency": 1}


def upload(tmp_path, conn_id: str, **kwargs: Any) -> UploadListOperator:
    return UploadListOperator(task_id="upload", conn_id=conn_id, **attempt_settings(tmp_path), **kwargs)


def first_attempt_dies_before_a_request(monkeypatch, task_dies, hook_cls: type, op: Any) -> None:
    """Run ``op()`` once with ``hook_cls.push_list_chunk`` killing the task before one of its requests."""
    real = hook_cls.push_list_chunk
    monkeypatch.setattr(hook_cls, "push_list_chunk", task_dies(real, "before_the_request"))
    with pytest.raises(SystemExit):
        op().execute({})
    monkeypatch.setattr(hook_cls, "push_list_chunk", real)


def test_xcally_retry_at_2105_schedules_new_york_leads_for_the_next_morning(
    clock, fresh_dialer_emulator, monkeypatch, tmp_path, task_dies, delivery_check
):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    emu = fresh_dialer_emulator

    def stored() -> dict[str, dt.datetime | None]:
        dump = emu.state("xcally")
        contacts = dump.get("xcally", dump)["contacts"]
        return {
            digits(c["phone"]): dt.datetime.fromisoformat(c["scheduledat"].replace("Z", "+00:00"))
            if c["scheduledat"]
            else None
            for c in contacts
        }

    def op() -> UploadListOperator:
        return upload(tmp_path, "xcally_default", list_name="leads")

    first_attempt_dies_before_a_request(monkeypatch, task_dies, XCallyHook, op)
    first = stored()
    clock.now = AT_2105
    summary = op().execute({})
    after = stored()
    assert set(first) == {digits(SOURCE[i]["phones"][0]) for i in range(4)}
    assert all(first[p] is None for p in first)  # 20:50: called now
    late = {p: after[p] for p in set(after) - set(first)}
    assert {p: w for p, w in late.items() if ZONE_OF[p] == NY} == {p: NEXT_0800 for p in late if ZONE_OF[p] == NY}
    assert [w for p, w in late.items() if ZONE_OF[p] == LA] == [None, None]  # 18:05 there: called now
    assert check_dialed_inside([(AT_2050, first), (AT_2105, after)]) == 12
    delivery_check(summary, SOURCE, emu.leads("xcally", keys=True)["xcally.contacts"]["counts"])
    assert summary["accepted"] == 12 and summary["rescheduled_at_send"] == 6


def test_ucontact_fresh_leads_retry_at_2105_carry_a_schedule_in_the_leads_own_zone(
    clock, fresh_dialer_emulator, monkeypatch, tmp_path, delivery_check
):
    emu = fresh_dialer_emulator
    conn = emu.connection("ucontact")
    conn["extra"] = {**conn["extra"], "retry_backoff_seconds": 0.01}
    monkeypatch.setenv("AIRFLOW_CONN_UCONTACT_DEFAULT", json.dumps(conn))
    fresh_path = r"^/api/dialer/id/sales/freshLeads$"
    # the second chunk is refused (not applied; 409, which is not split): the task fails and its retry
    # sends that chunk again
    emu.set_faults(
        "ucontact", [{"kind": "status", "status": 409, "path": fresh_path, "method": "POST", "after": 1, "times": 1}]
    )

    def stored() -> dict[str, dt.datetime | None]:
        out = {}
        for lead in emu.state("ucontact")["ucontact_automation"]["fresh_leads"]["sales"]:
            phone = digits(lead["clientIds"][0])
            assert lead["timezone"] == ZONE_OF[phone]  # the zone on the wire is the lead's own
            when = lead.get("scheduleDate")
            out[phone] = (
                dt.datetime.strptime(when, "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo(lead["timezone"]))
                if when
                else None
            )
        return out

    def op() -> PushFreshLeadsOperator:
        return PushFreshLeadsOperator(
            task_id="fresh", conn_id="ucontact_default", settings={"hub": "sales"}, **attempt_settings(tmp_path)
        )

    with pytest.raises(DialerHTTPError):
        op().execute({})
    first = stored()
    clock.now = AT_2105
    summary = op().execute({})
    after = stored()
    assert len(first) == 4 and all(w is None for w in first.values())
    late = {p: after[p] for p in set(after) - set(first)}
    assert {p for p, w in late.items() if w is not None} == {p for p in late if ZONE_OF[p] == NY}
    assert {w.astimezone(UTC) for p, w in late.items() if w is not None} == {NEXT_0800}
    assert check_dialed_inside([(AT_2050, first), (AT_2105, after)]) == 12
    counts = emu.leads("ucontact", keys=True)["automation.freshLeads"]["counts"]
    delivery_check(summary, SOURCE, counts)
    assert summary["accepted"] == 12


def test_ujet_retry_at_2105_holds_new_york_leads_until_0800_then_sends_each_once(
    clock, fresh_dialer_emulator, monkeypatch, tmp_path, task_dies, delivery_check
):
    from airflow_provider_dialer.hooks.ujet import UjetHook

    emu = fresh_dialer_emulator
    emu.configure(ujet_rate_limit=0, ujet_job_seconds=0.0)

    def stored() -> dict[str, dt.datetime | None]:
        emu.state("ujet")  # settles the import jobs
        return {digits(p): None for p in emu.leads("ujet", keys=True).get("ujet.import", {}).get("counts", {})}

    def op() -> UploadListOperator:
        return upload(tmp_path, "ujet_default", list_name="l", settings={"campaign_id": 6})

    first_attempt_dies_before_a_request(monkeypatch, task_dies, UjetHook, op)
    first = stored()
    clock.now = AT_2105
    with pytest.raises(TaskDeferred) as deferred:
        op().execute({})
    at_2105 = stored()
    assert deferred.value.trigger.moment == NEXT_0800  # released on the grid, inside the window
    assert {ZONE_OF[p] for p in set(at_2105) - set(first)} == {LA}  # New York waits
    state = FileProgressStore(tmp_path / "p.json").load()  # read while deferred: success removes the file
    assert sorted(state["window"], key=int) == ["5", "6", "7", "9", "10", "11"]
    clock.now = NEXT_0800 + dt.timedelta(seconds=30)
    summary = op().resume_after_hold({}, None)
    after = stored()
    assert check_dialed_inside([(AT_2050, first), (AT_2105, at_2105), (clock.now, after)]) == 12
    delivery_check(summary, SOURCE, emu.leads("ujet", keys=True)["ujet.import"]["counts"])
    assert summary["accepted"] == 12 and summary["held_back"] == 0
