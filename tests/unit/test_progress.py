"""Progress lines at a steady cadence, on a fake clock: never two within ``every`` seconds, one as soon
as ``every`` passed and something moved, and each line's numbers those of that moment."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer import progress as progress_module
from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.progress import ProgressLog, duration

LINE = re.compile(
    r"read (?P<read>\d+)(?: of (?P<total>\d+) \((?P<share>[\d.]+)%\))?, prepared (?P<prepared>\d+), "
    r"rejected (?P<rejected>\d+), chunks sent (?P<chunks>\d+) \(accepted (?P<accepted>\d+), refused (?P<refused>\d+), "
    r"unknown (?P<unknown>\d+)\), (?P<rate>\d+) leads/s(?:, ETA (?P<eta>\S+))?$"
)


@dataclass
class Report:
    rows: int = 0
    prepared: int = 0
    rejected: int = 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Lines:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lines: list[tuple[float, str]] = []

    def info(self, fmt: str, *args: object) -> None:
        self.lines.append((self.clock.now, fmt % args))


# one step: the clock moves, then a lead is read (kept or rejected) or a chunk answers
steps = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=7, allow_nan=False),
        st.one_of(
            st.just(("lead", True)),
            st.just(("lead", False)),
            st.tuples(st.just("chunk"), st.integers(0, 50), st.integers(0, 3), st.integers(0, 3)),
        ),
    ),
    max_size=120,
)


@settings(max_examples=200, deadline=None)
@given(steps=steps, every=st.sampled_from([1.0, 5.0, 10.0]), known=st.booleans())
def test_lines_follow_the_cadence_and_say_the_counts_of_their_moment(steps, every, known):
    clock, report = Clock(), Report()
    leads_total = sum(1 for _, event in steps if event[0] == "lead")
    known = known and leads_total > 0
    log = Lines(clock)
    progress = ProgressLog(log, every, report, total=leads_total if known else None, clock=clock)
    counted = progress.on_outcome()
    start = clock.now
    # the test's own tally, and the moments a line is owed
    mine = {"read": 0, "prepared": 0, "rejected": 0, "chunks": 0, "accepted": 0, "refused": 0, "unknown": 0}
    expected: list[tuple[float, dict[str, int]]] = []
    last_at, last_seen = start, None

    def leads():
        for advance, event in steps:
            clock.now += advance
            if event[0] == "lead":
                report.rows += 1
                mine["read"] += 1
                if event[1]:
                    report.prepared += 1
                    mine["prepared"] += 1
                    yield object()
                else:
                    report.rejected += 1
                    mine["rejected"] += 1
                    tick_owed()  # a rejected row yields nothing: the next lead's tick sees it
            else:
                _, accepted, refused, unknown = event
                mine["chunks"] += 1
                mine["accepted"] += accepted
                mine["refused"] += refused
                mine["unknown"] += unknown
                counted("k", [], ChunkOutcome(accepted=accepted, refused=[{"row": 1}] * refused, unknown=[1] * unknown))
                owe()

    def tick_owed():
        pass

    def owe():
        nonlocal last_at, last_seen
        if clock.now - last_at >= every:
            last_at = clock.now
            if dict(mine) != last_seen:
                last_seen = dict(mine)
                expected.append((clock.now, dict(mine)))

    for _ in progress.watch(leads()):
        owe()

    assert [at for at, _ in log.lines] == [at for at, _ in expected]
    for (at, line), (_, counts) in zip(log.lines, expected, strict=True):
        match = LINE.search(line)
        assert match, line
        got = {k: int(match.group(k)) for k in counts}
        assert got == counts
        # leads/s: the leads handed on to be sent (here: every kept lead), per second since the start
        rate = counts["prepared"] / (at - start)
        assert abs(int(match.group("rate")) - rate) <= 0.5
        if known:
            assert int(match.group("total")) == leads_total
            remaining = leads_total - counts["prepared"] - counts["rejected"]
            assert match.group("eta") == (duration(remaining / rate) if rate > 0 else None)
        else:
            assert match.group("total") is None and match.group("eta") is None
    # never two lines closer than the cadence
    moments = [at for at, _ in log.lines]
    assert all(b - a >= every for a, b in zip(moments, moments[1:], strict=False))


def test_off_logs_nothing_and_passes_leads_through():
    clock = Clock()
    log = Lines(clock)
    progress = ProgressLog(log, 0, Report(), clock=clock)
    items = list(range(5))

    def slow():
        for item in items:
            clock.now += 100
            yield item

    assert list(progress.watch(slow())) == items
    assert log.lines == []


def test_durations():
    assert [duration(s) for s in (0, 59.4, 60, 190, 3599, 3600, 3725)] == [
        "0s",
        "59s",
        "1m00s",
        "3m10s",
        "59m59s",
        "1h00m",
        "1h02m",
    ]


# -- the operator logs them while it runs (emulator over HTTP, fake progress clock) ---------------


def test_upload_logs_progress_while_it_runs(fresh_dialer_emulator, monkeypatch, tmp_path, capfd):
    import datetime as dt

    from airflow_provider_dialer.operators import base as base_module
    from airflow_provider_dialer.operators.lists import UploadListOperator

    monkeypatch.setattr(base_module, "utcnow", lambda: dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC))
    ticks = {"now": 0.0}

    def fake_monotonic() -> float:  # one second per reading: the cadence comes from the reads, not wall time
        ticks["now"] += 1.0
        return ticks["now"]

    monkeypatch.setattr(progress_module, "monotonic", fake_monotonic)
    leads = [{"phones": [f"+1212555{i:04d}"], "timezone": "America/New_York"} for i in range(40)]
    leads.insert(7, {"phones": ["12"]})  # one reject
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        source=leads,
        progress=str(tmp_path / "p.json"),
        chunk_size=5,
        max_reject_ratio=0.1,
        progress_log_seconds=10,
    )
    capfd.readouterr()
    summary = op.execute({})
    out = capfd.readouterr()
    lines = re.findall(r"progress: (read .*?)(?: \[airflow| loc=|$)", out.out + out.err, re.M)
    assert len(lines) >= 3, lines
    parsed = [LINE.search(line.removesuffix(" (done)")) for line in lines]
    assert all(parsed), lines
    reads = [int(m.group("read")) for m in parsed]
    assert reads == sorted(reads) and all(int(m.group("total")) == 41 for m in parsed)
    last = parsed[-1]
    assert lines[-1].endswith("(done)")
    assert int(last.group("read")) == summary["read"] == 41
    assert int(last.group("rejected")) == summary["rejected"] == 1
    assert int(last.group("accepted")) == summary["accepted"] == 40
    assert int(last.group("chunks")) == summary["chunks"] == 8
    stored = fresh_dialer_emulator.leads("xcally", keys=True).get("xcally.contacts", {}).get("counts", {})
    assert sum(stored.values()) == 40
