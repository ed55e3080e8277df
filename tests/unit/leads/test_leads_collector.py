"""While leads are prepared the collector's young threshold is raised, and it comes back afterwards.

The invariant is read from ``gc.get_threshold()`` itself, never from the module's own bookkeeping:
while any preparation stream is open the young threshold is at least ``YOUNG_THRESHOLD``; once every
stream has ended (exhausted, closed, or dropped) the thresholds are what they were before, and a
threshold someone else set is never lowered or overwritten.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads import parallel, prepare_leads
from airflow_provider_dialer.leads.collector import YOUNG_THRESHOLD

NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)


def _stream(rows: int) -> Iterator[object]:
    leads = [{"phone": f"+1212555{1000 + i:04d}", "timezone": "America/New_York"} for i in range(rows)]
    return iter(prepare_leads(leads, now=NOW, calling_window={"start": "00:00", "end": "24:00"}, chunk_rows=2))


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def test_raised_while_streaming_and_restored_after() -> None:
    stream = _stream(5)
    assert gc.get_threshold() == (700, 10, 10)  # nothing read yet: nothing changed
    next(stream)
    assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
    assert gc.get_threshold()[1:] == (10, 10)
    assert len(list(stream)) == 4
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_is_kept_and_a_change_during_the_run_is_not_undone() -> None:
    gc.set_threshold(50_000, 20, 20)
    stream = _stream(3)
    next(stream)
    assert gc.get_threshold() == (50_000, 20, 20)
    list(stream)
    assert gc.get_threshold() == (50_000, 20, 20)

    gc.set_threshold(700, 10, 10)
    stream = _stream(3)
    next(stream)
    gc.set_threshold(1_234, 5, 5)  # the user's, while the run streams
    list(stream)
    assert gc.get_threshold() == (1_234, 5, 5)


@settings(max_examples=60, deadline=None)
@given(
    plan=st.lists(
        st.tuples(st.sampled_from(["open", "step", "finish", "close", "drop"]), st.integers(0, 3)),
        min_size=1,
        max_size=30,
    )
)
def test_any_interleaving_of_runs(plan: list[tuple[str, int]]) -> None:
    """Several runs opened and ended in any order (exhausted, closed, dropped): raised while any is open."""
    gc.set_threshold(700, 10, 10)
    open_runs: list[Iterator[object]] = []
    started: set[int] = set()
    for action, which in plan:
        if action == "open":
            open_runs.append(_stream(3))
            continue
        if not open_runs:
            continue
        stream = open_runs[which % len(open_runs)]
        if action == "step":
            if next(stream, None) is None:
                open_runs.remove(stream)
                started.discard(id(stream))
            else:
                started.add(id(stream))
        elif action == "finish":
            list(stream)
            open_runs.remove(stream)
            started.discard(id(stream))
        elif action == "close":
            stream.close()  # type: ignore[attr-defined]
            open_runs.remove(stream)
            started.discard(id(stream))
        else:  # dropped without closing: the generator's finally runs when it is collected
            open_runs.remove(stream)
            started.discard(id(stream))
            del stream
            gc.collect()
        if started:
            assert gc.get_threshold()[0] >= YOUNG_THRESHOLD
        else:
            assert gc.get_threshold() == (700, 10, 10)
    for stream in open_runs:
        stream.close()  # type: ignore[attr-defined]
    assert gc.get_threshold() == (700, 10, 10)


def test_preparation_workers_run_with_the_raised_threshold(monkeypatch) -> None:
    seen: list[tuple[int, ...]] = []
    real_start = parallel.start_pool

    def start(run):  # the real pool; ask one of its workers for its thresholds
        pool = real_start(run)
        seen.append(pool.submit(gc.get_threshold).result())
        return pool

    monkeypatch.setattr(parallel, "start_pool", start)
    leads = [{"phone": f"+1212555{1000 + i:04d}", "timezone": "America/New_York"} for i in range(50)]
    result = prepare_leads(leads, now=NOW, workers=2, parallel_after_rows=0, chunk_rows=10)
    assert len(list(result)) == 50
    assert seen and seen[0][0] >= YOUNG_THRESHOLD
