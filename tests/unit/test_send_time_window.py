"""The calling-hours guard at the moment of sending: retries, late resumes and slow chunks never dial a lead
outside its window, and a lead re-planned at send time lands in exactly one later send (or is rejected).

The invariant is computed here with ``zoneinfo`` alone, never with ``CallingWindow``: for every lead that
went out, the instant it would be dialed (its time on the wire when still ahead, else the moment of the
send) reads, in each of its zones, a wall-clock time inside ``[start, end)`` on a day the window is open.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import types
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pytest
from airflow.sdk.exceptions import TaskDeferred
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.exceptions import DialerHTTPError
from airflow_provider_dialer.leads import prepare_leads
from airflow_provider_dialer.leads.window import CallingWindow
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.pipeline.progress_store import FileProgressStore
from airflow_provider_dialer.pipeline.waves import release_wave
from tests.fakes import FakeListHook, use_hook

UTC = dt.UTC
NY = "America/New_York"
ZONES = sorted(z for z in available_timezones() if z not in {"localtime", "Factory"})
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Killed(Exception):
    """The task dying mid-chunk (not a DialerError: delivery does not handle it, the chunk stays ``sending``)."""


class Clock:
    """The injected clock: ``base.utcnow`` returns ``now`` and moves it on by ``step`` (time passing while
    chunks go out). No test sleeps."""

    def __init__(self, now: dt.datetime, step: dt.timedelta = dt.timedelta(0)) -> None:
        self.now, self.step, self.last = now, step, now

    def __call__(self) -> dt.datetime:
        self.last = self.now
        self.now += self.step
        return self.last


class RecordingHook(FakeListHook):
    """A list vendor that records every lead it receives with the clock of the send; its state can be read
    back (like XCALLY or UJET), so a chunk in flight when the task died is resolved, not blindly resent."""

    chunk_size = 3
    # it applies a write before answering or never: no late write to settle for (no real sleeps)
    settings = types.SimpleNamespace(late_write_seconds=0.0)

    def __init__(self, clock: Clock, per_lead: bool) -> None:
        self.clock = clock
        self.list_per_lead_schedule = per_lead
        self.sent: list[dict[str, Any]] = []
        self.stored: Counter[int] = Counter()
        self.kill_at: int | None = None  # the n-th push dies after the vendor applied it
        self.kill_before_at: int | None = None  # the n-th push dies before its request (a read finds it missing)
        self.refuse_at: int | None = None  # the n-th push is refused with 503 (not applied)
        self.pushes = 0

    def push_list_chunk(self, target, key, leads):
        self.pushes += 1
        if self.pushes == self.refuse_at:
            raise DialerHTTPError("FakeDialer", "POST", "/contacts", 503, "busy")
        if self.pushes == self.kill_before_at:
            raise Killed(f"killed before chunk {key} went out")
        for lead in leads:
            self.sent.append(
                {
                    "row": lead.row,
                    "zones": lead.zones,
                    "timezone": lead.timezone,
                    "call_at": lead.call_at,
                    "sent_at": self.clock.last,
                    "key": key,
                }
            )
            self.stored[lead.row] += 1
        if self.pushes == self.kill_at:
            raise Killed(f"killed after chunk {key} was applied")
        return ChunkOutcome(accepted=len(leads), ids={"list_ids": [5]})

    def resolve_list_chunk(self, target, key, leads):
        present = [lead.row for lead in leads if self.stored[lead.row]]
        return ChunkOutcome(
            accepted=len(present), missing=[lead.row for lead in leads if not self.stored[lead.row]], how="resolved"
        )


# -- the independent window ------------------------------------------------------------------------


def inside(at: dt.datetime, zone: str, start: int, end: int, closed_weekday: int | None) -> bool:
    """Whether ``at`` reads a wall-clock time in ``[start, end)`` (seconds after midnight) on an open day, in ``zone``."""
    local = at.astimezone(ZoneInfo(zone))
    seconds = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
    return local.weekday() != closed_weekday and start <= seconds < end


def dial_instant(entry: dict[str, Any], per_lead: bool) -> dt.datetime:
    """When the vendor dials a lead: its time on the wire when still ahead (per-lead vendors), else at once."""
    call_at = entry["call_at"] if per_lead else None
    return call_at if call_at is not None and call_at > entry["sent_at"] else entry["sent_at"]


def hhmmss(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


@cache
def dst_days(zone: str) -> tuple[dt.date, ...]:
    """Local dates of 2027 and 2028 on which ``zone``'s UTC offset changes (computed with zoneinfo)."""
    tz = ZoneInfo(zone)
    days, day = [], dt.date(2027, 1, 1)
    while day <= dt.date(2028, 12, 31):
        after = day + dt.timedelta(days=1)
        if (
            dt.datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
            != dt.datetime(after.year, after.month, after.day, tzinfo=tz).utcoffset()
        ):
            days.append(day)
        day = after
    return tuple(days)


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=4))
    start = draw(st.integers(0, 22 * 60)) * 60
    end = draw(st.integers(start // 60 + 30, 24 * 60)) * 60
    closed_weekday = draw(st.none() | st.integers(0, 6))
    anchor = zones[0]
    days = dst_days(anchor)
    if days and draw(st.booleans()):
        day = draw(st.sampled_from(days))
    else:
        day = draw(st.dates(dt.date(2027, 1, 1), dt.date(2028, 12, 31)))
    # the first attempt prepares shortly before the window closes in the first lead's zone, or anywhere
    before_end = draw(st.integers(0, 45 * 60))
    local_secs = max(0, end - before_end) if draw(st.booleans()) else draw(st.integers(0, 86399))
    local = dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(anchor)) + dt.timedelta(
        seconds=min(local_secs, 86399)
    )
    prepared_at = local.astimezone(UTC)
    leads = []
    for i, zone in enumerate(zones):
        lead: dict[str, Any] = {"phones": [f"+1212555{i:04d}"], "timezone": zone, "external_id": f"x{i}"}
        if draw(st.booleans()):
            lead["schedule"] = (prepared_at + dt.timedelta(seconds=draw(st.integers(-3600, 36 * 3600)))).isoformat()
        leads.append(lead)
    return {
        "leads": leads,
        "start": start,
        "end": end,
        "closed_weekday": closed_weekday,
        "prepared_at": prepared_at,
        "retry_after": dt.timedelta(seconds=draw(st.integers(1, 30 * 3600))),
        # time passing per clock read, and the triggerer's delay: bounded so that a 30-minute window can
        # still be met (with larger ones every opening is missed and the lead is, correctly, held forever)
        "step": dt.timedelta(seconds=draw(st.integers(0, 120))),
        "latency": dt.timedelta(seconds=draw(st.integers(0, 600))),
        "per_lead": draw(st.booleans()),
        "fault": draw(st.sampled_from(["kill_after_apply", "kill_before_request", "refuse", "none"])),
        "fault_at": draw(st.integers(1, 3)),
        "outside_window": draw(st.sampled_from(["defer", "defer", "reject"])),
        "hold_back": draw(st.sampled_from(["defer", "defer", "reject"])),
    }


def run_to_the_end(
    sc: dict[str, Any], monkeypatch: pytest.MonkeyPatch, progress: Path
) -> tuple[RecordingHook, dict[str, Any]]:
    clock = Clock(sc["prepared_at"], sc["step"])
    hook = RecordingHook(clock, sc["per_lead"])
    if sc["fault"] == "kill_after_apply":
        hook.kill_at = sc["fault_at"]
    elif sc["fault"] == "kill_before_request":
        hook.kill_before_at = sc["fault_at"]
    elif sc["fault"] == "refuse":
        hook.refuse_at = sc["fault_at"]
    use_hook(monkeypatch, hook)
    monkeypatch.setattr(base_module, "utcnow", clock)
    weekly = {WEEKDAYS[sc["closed_weekday"]]: None} if sc["closed_weekday"] is not None else None
    window = {
        "start": hhmmss(sc["start"]),
        "end": hhmmss(sc["end"]) if sc["end"] < 86400 else "24:00",
        "weekly": weekly,
    }

    def operator() -> UploadListOperator:
        return UploadListOperator(
            task_id="upload",
            conn_id="fake",
            source=sc["leads"],
            list_name="l",
            progress=str(progress),
            calling_window=window,
            max_reject_ratio=1.0,
            outside_window=sc["outside_window"],
            hold_back=sc["hold_back"],
            concurrency=2,
        )

    run = operator().execute
    for _ in range(60):
        try:
            return hook, run({})
        except TaskDeferred as deferred:
            clock.now = dt.datetime.fromtimestamp(deferred.trigger.moment.timestamp(), UTC) + sc["latency"]
            run = lambda ctx: operator().resume_after_hold(ctx, None)  # noqa: E731 - a one-line step
        except (Killed, DialerHTTPError):
            clock.now = clock.now + sc["retry_after"]  # the retry comes later: maybe after the window closed
            run = operator().execute
    raise AssertionError("the task never finished")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(sc=scenarios())
@example(  # found by hypothesis: chunk 1 checked at 00:29:08, another chunk's check, then chunk 1 out at 00:30:09
    sc={
        "leads": [
            {"phones": [f"+1212555000{i}"], "timezone": "Africa/Abidjan", "external_id": f"x{i}"} for i in range(4)
        ],
        "start": 0,
        "end": 1800,
        "closed_weekday": None,
        "prepared_at": dt.datetime(2027, 1, 1, 0, 27, 6, tzinfo=UTC),
        "retry_after": dt.timedelta(seconds=1),
        "step": dt.timedelta(seconds=61),
        "latency": dt.timedelta(0),
        "per_lead": False,
        "fault": "kill_after_apply",
        "fault_at": 1,
        "outside_window": "defer",
        "hold_back": "defer",
    }
)
def test_every_lead_that_goes_out_is_dialed_inside_its_window_and_lands_once(sc: dict[str, Any], monkeypatch) -> None:
    with tempfile.TemporaryDirectory() as tmp, monkeypatch.context() as mp:
        hook, summary = run_to_the_end(sc, mp, Path(tmp) / "progress.json")
    for entry in hook.sent:
        dial = dial_instant(entry, sc["per_lead"])
        for zone in entry["zones"]:
            assert inside(dial, zone, sc["start"], sc["end"], sc["closed_weekday"]), (
                f"row {entry['row']} dialed at {dial.astimezone(ZoneInfo(zone)).isoformat()} in {zone}, outside "
                f"{hhmmss(sc['start'])}-{hhmmss(sc['end'])} (sent at {entry['sent_at'].isoformat()}, chunk {entry['key']})"
            )
        assert entry["timezone"] in entry["zones"]
    # exactly once, and nothing silently lost: every row landed once or was rejected with a reason
    assert all(n == 1 for n in hook.stored.values()), hook.stored
    not_sent = {r for r in range(1, len(sc["leads"]) + 1) if not hook.stored[r]}
    rejected = {r["row"] for r in summary["reject_samples"] if r["level"] == "error"}
    assert summary["rejected"] == len(not_sent) == sum(summary["rejected_by_reason"].values())
    assert set(summary["rejected_by_reason"]) <= {"outside_window"}
    assert summary["accepted"] == len(hook.stored) and summary["unknown"] == 0
    if sc["hold_back"] == "defer":
        assert rejected == not_sent and summary["held_back"] == 0
        assert summary["read"] == summary["prepared"] + summary["rejected"]
    else:  # leads held at preparation are counted as rejected without a sample (as before this change)
        assert rejected <= not_sent


# -- the case, step by step ----------------------------------------------------------------

# 2027-06-10 20:50 in New York (EDT, UTC-4) = 00:50Z on the 11th; 21:05 local = 01:05Z
AT_2050 = dt.datetime(2027, 6, 11, 0, 50, tzinfo=UTC)
AT_2105 = dt.datetime(2027, 6, 11, 1, 5, tzinfo=UTC)
NEXT_0800 = dt.datetime(2027, 6, 11, 12, 0, tzinfo=UTC)
SIX_NY = [{"phones": [f"+1212555{i:04d}"], "timezone": NY} for i in range(6)]


def first_attempt_dies_then_retry_at_2105(monkeypatch, tmp_path, per_lead: bool, **kwargs: Any):
    clock = Clock(AT_2050)
    hook = RecordingHook(clock, per_lead)
    hook.kill_at = 1  # the first chunk is applied, then the task dies before recording it
    use_hook(monkeypatch, hook)
    monkeypatch.setattr(base_module, "utcnow", clock)

    def operator() -> UploadListOperator:
        params = dict(
            task_id="upload",
            conn_id="fake",
            source=SIX_NY,
            list_name="l",
            progress=str(tmp_path / "p.json"),
            concurrency=1,
            max_reject_ratio=1.0,
        )
        params.update(kwargs)
        return UploadListOperator(**params)

    with pytest.raises(Killed):
        operator().execute({})
    clock.now = AT_2105
    return hook, clock, operator


def test_retry_at_2105_gives_a_per_lead_vendor_the_next_opening_not_an_immediate_dial(monkeypatch, tmp_path):
    hook, clock, operator = first_attempt_dies_then_retry_at_2105(monkeypatch, tmp_path, per_lead=True)
    summary = operator().execute({})
    first = [e for e in hook.sent if e["sent_at"] == AT_2050]
    later = [e for e in hook.sent if e["sent_at"] == AT_2105]
    assert [e["row"] for e in first] == [1, 2, 3] and all(e["call_at"] is None for e in first)
    assert [e["row"] for e in later] == [4, 5, 6] and all(e["call_at"] == NEXT_0800 for e in later)
    assert (
        summary["accepted"] == 6
        and summary["rescheduled_at_send"] == 3
        and summary["chunks_resolved_after_unknown_fate"] == 1
    )


def test_retry_at_2105_holds_leads_for_a_vendor_without_a_time_and_releases_them_once_inside(monkeypatch, tmp_path):
    hook, clock, operator = first_attempt_dies_then_retry_at_2105(monkeypatch, tmp_path, per_lead=False)
    with pytest.raises(TaskDeferred) as deferred:
        operator().execute({})
    assert [e["row"] for e in hook.sent] == [1, 2, 3]  # nothing went out at 21:05
    assert deferred.value.trigger.moment == NEXT_0800
    state = FileProgressStore(tmp_path / "p.json").load()
    assert state["window"] == {str(r): {"hold": "2027-06-11T12:00:00Z"} for r in (4, 5, 6)}
    for _ in range(2):  # a second retry before the opening changes nothing and sends nothing
        clock.now = AT_2105 + dt.timedelta(hours=3)
        with pytest.raises(TaskDeferred):
            operator().execute({})
    assert len(hook.sent) == 3
    clock.now = NEXT_0800 + dt.timedelta(seconds=40)
    summary = operator().resume_after_hold({}, None)
    assert [e["row"] for e in hook.sent] == [1, 2, 3, 4, 5, 6] and hook.sent[-1]["key"] == "2027-06-11T12:00:00Z<now#2"
    assert summary["accepted"] == 6 and summary["held_back"] == 0
    # success: a local progress file is removed (the Variable default is kept for the retention, and a
    # cleared task then sends nothing again: tests/integration/test_progress_variable.py)
    assert not (tmp_path / "p.json").exists()


def test_retry_at_2105_rejects_by_policy_with_reason_and_row(monkeypatch, tmp_path):
    hook, clock, operator = first_attempt_dies_then_retry_at_2105(
        monkeypatch, tmp_path, per_lead=False, hold_back="reject"
    )
    summary = operator().execute({})
    assert [e["row"] for e in hook.sent] == [1, 2, 3]
    assert summary["rejected_by_reason"] == {"outside_window": 3} and summary["rejected"] == 3
    assert summary["prepared"] == 3 and summary["read"] == 6
    rows = [(r["row"], r["reason"]) for r in summary["reject_samples"]]
    assert rows == [(4, "outside_window"), (5, "outside_window"), (6, "outside_window")]


def test_a_slow_upload_that_crosses_the_closing_time_keeps_back_the_chunks_sent_after_it(monkeypatch, tmp_path):
    clock = Clock(
        dt.datetime(2027, 6, 11, 0, 59, 58, tzinfo=UTC), dt.timedelta(seconds=1)
    )  # 20:59:58 local, 1 s per read
    hook = RecordingHook(clock, per_lead=True)
    use_hook(monkeypatch, hook)
    monkeypatch.setattr(base_module, "utcnow", clock)
    summary = UploadListOperator(
        task_id="u", conn_id="fake", source=SIX_NY, list_name="l", concurrency=1, progress=str(tmp_path / "p.json")
    ).execute({})
    for entry in hook.sent:
        assert inside(dial_instant(entry, True), NY, 8 * 3600, 21 * 3600, None)
    assert summary["rescheduled_at_send"] >= 3 and summary["accepted"] == 6


# -- releases on the grid --------------------------------------------------------------------------


def test_a_lead_allowed_from_2058_is_released_at_2058_not_at_the_2100_grid_point() -> None:
    at = dt.datetime(2027, 6, 11, 0, 58, tzinfo=UTC)  # 20:58 in New York
    assert release_wave(at, (NY,), CallingWindow()) == "2027-06-11T00:58:00Z"
    assert release_wave(at, (NY,)) == "2027-06-11T01:00:00Z"  # the bare grid point: 21:00, closed


@settings(max_examples=400, deadline=None)
@given(
    zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=3),
    day=st.dates(dt.date(2027, 1, 1), dt.date(2028, 12, 31)),
    start=st.integers(0, 23 * 60 - 1),
    length=st.integers(1, 12 * 60),
    offset=st.integers(0, 86399),
)
def test_every_release_on_the_grid_is_strictly_inside_the_window(zones, day, start, length, offset) -> None:
    end = min(start + length, 24 * 60)
    window = CallingWindow(start=hhmmss(start * 60), end=hhmmss(end * 60) if end < 24 * 60 else "24:00")
    base = dt.datetime(day.year, day.month, day.day, tzinfo=UTC) + dt.timedelta(seconds=offset)
    opening = window.next_open(base, zones)
    if opening is None:
        return
    wave = dt.datetime.strptime(release_wave(opening, zones, window), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert wave >= opening - dt.timedelta(seconds=1)
    for zone in zones:
        assert inside(wave, zone, start * 60, end * 60, None), (zone, wave.astimezone(ZoneInfo(zone)))


def transition(zone: str, day: dt.date) -> dt.datetime:
    """The UTC instant on local ``day`` at which ``zone``'s offset changes (bisection with zoneinfo)."""
    tz = ZoneInfo(zone)
    lo = dt.datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC) - dt.timedelta(hours=2)
    hi = lo + dt.timedelta(hours=30)
    offset = lo.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        lo, hi = (mid, hi) if mid.astimezone(tz).utcoffset() == offset else (lo, mid)
    return hi.replace(microsecond=0)


DST_ZONES = [z for z in ZONES if dst_days(z)]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), zone=st.sampled_from(DST_ZONES))
def test_window_open_means_the_wall_clock_reads_inside_on_dst_days(data, zone) -> None:
    """Window boundaries placed around the wall-clock readings of a real DST transition of 2027-2028."""
    day = data.draw(st.sampled_from(dst_days(zone)))
    jump = transition(zone, day)
    tz = ZoneInfo(zone)
    readings = [(jump - dt.timedelta(seconds=1)).astimezone(tz), jump.astimezone(tz)]
    marks = sorted({r.hour * 3600 + r.minute * 60 + (60 if r.second else 0) for r in readings})

    def boundary() -> int:
        return min(86400, max(0, data.draw(st.sampled_from(marks)) + data.draw(st.integers(-8, 8)) * 900))

    start, end = sorted((boundary(), boundary()))
    if start == end or start == 86400:
        return
    window = CallingWindow(start=hhmmss(start), end=hhmmss(end) if end < 86400 else "24:00")
    at = jump + dt.timedelta(seconds=data.draw(st.integers(-4 * 3600, 4 * 3600)))
    if window.is_open(at, [zone]):
        assert inside(at, zone, start, end, None), (hhmmss(start), hhmmss(end), at.astimezone(tz).isoformat())
    opening = window.next_open(at, [zone])
    if opening is not None:
        assert inside(opening, zone, start, end, None), (hhmmss(start), hhmmss(end), opening.astimezone(tz).isoformat())


# -- the zone a number is called in ----------------------------------------------------------------


@pytest.mark.parametrize(("default", "expected"), [(NY, NY), ("Europe/London", None), (None, None)])
def test_default_timezone_applies_only_when_it_is_one_of_the_numbers_zones(default, expected) -> None:
    from airflow_provider_dialer.hooks.ucontact.wire import automation_contact

    # a US toll-free number: dozens of candidate zones, New York among them, London not
    (lead,) = prepare_leads(
        [{"phones": ["+18005551234"]}], default_timezone=default, now=AT_2050, calling_window=CallingWindow.always()
    )
    assert len(lead.window_zones) > 1 and NY in lead.window_zones and "Europe/London" not in lead.window_zones
    assert lead.timezone in lead.window_zones
    assert lead.timezone == (expected or lead.window_zones[0])
    wire = automation_contact(lead, fresh=True)
    assert wire["timezone"] == lead.timezone  # the zone on the wire is the lead's own


# -- the send margin: a window closing just after the check ------------------------------------------

AT_2057 = dt.datetime(2027, 6, 11, 0, 57, tzinfo=UTC)  # 20:57 in New York


@pytest.mark.parametrize("per_lead", [True, False])
def test_a_window_closing_within_the_send_margin_is_treated_as_closed(monkeypatch, tmp_path, per_lead):
    """At 20:57 with a 300 s margin the 21:00 close is too near: a per-lead vendor gets the next opening,
    the others hold the leads until it; with the margin at 0 they go out at once."""
    for margin, expect_now in ((300.0, False), (0.0, True)):
        clock = Clock(AT_2057)
        hook = RecordingHook(clock, per_lead)
        use_hook(monkeypatch, hook)
        monkeypatch.setattr(base_module, "utcnow", clock)
        op = UploadListOperator(
            task_id="upload",
            conn_id="fake",
            source=SIX_NY[:2],
            list_name="l",
            progress=str(tmp_path / f"p-{margin}-{per_lead}.json"),
            send_margin=margin,
        )
        if expect_now or per_lead:
            summary = op.execute({})
            assert summary["accepted"] == 2
            call_at = {e["call_at"] for e in hook.sent}
            assert call_at == ({None} if expect_now else {NEXT_0800}), (margin, call_at)
        else:
            with pytest.raises(TaskDeferred) as deferred:
                op.execute({})
            assert hook.sent == [] and deferred.value.trigger.moment == NEXT_0800


@settings(max_examples=300, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 23 * 60).map(lambda m: m * 60),
    length=st.integers(1, 24 * 60).map(lambda m: m * 60),
    day=st.dates(dt.date(2027, 1, 1), dt.date(2028, 12, 31)),
    offset=st.integers(0, 86399),
    margin=st.integers(0, 900),
)
def test_open_through_agrees_with_every_second_read_in_the_zone(zone, start, length, day, offset, margin):
    """``open_through`` against the window read second by second with zoneinfo (the ``inside`` above). Days on
    which the zone's offset changes are left out: in a repeated hour the wall clock reads a time twice, and the
    window's bound is one instant of the two (the tests above cover those days through the operator)."""
    assume(day not in dst_days(zone) and day - dt.timedelta(days=1) not in dst_days(zone))
    end = min(start + length, 86400)
    window = CallingWindow(start=hhmmss(start), end=hhmmss(end) if end < 86400 else "24:00")
    at = (dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)) + dt.timedelta(seconds=offset)).astimezone(
        UTC
    )
    expected = all(inside(at + dt.timedelta(seconds=k), zone, start, end, None) for k in range(margin + 1))
    assert window.open_through(at, at + dt.timedelta(seconds=margin), zone) is expected


def test_send_margin_is_checked():
    for bad in (-1, 3601, "300", True, None):
        with pytest.raises(Exception, match="send_margin"):
            UploadListOperator(task_id="u", conn_id="fake", source=[], list_name="l", send_margin=bad)
