"""The progress file as a journal: a worker killed at any byte of any write resumes sending every lead once.

Each test records a real delivery into ``FileProgressStore`` write by write: the file before the
write, the bytes the write adds, what the fake vendor held when the write began, and the chunks
whose ``done`` mark was acknowledged (their save returned). A kill inside a write leaves the file
with any prefix of those bytes (an append) or the old file whole (a snapshot is renamed into
place); the vendor then holds what it held when that write began. From every such state a new
attempt runs to the end, and the vendor's own list of stored rows (not the progress reader) must
hold every lead exactly once, while no chunk acknowledged as done is sent or read again.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.delivery import ChunkDelivery
from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerProgressError
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline import progress_store
from airflow_provider_dialer.pipeline.progress_store import JOURNAL_FORMAT, FileProgressStore

ROWS_PER_CHUNK = 3
N_CHUNKS = 6
CHUNKS = [
    (
        f"now#{c + 1}",
        [
            PreparedLead(row=r, phone=f"+1202555{r:04d}", timezone="America/New_York")
            for r in range(c * ROWS_PER_CHUNK, (c + 1) * ROWS_PER_CHUNK)
        ],
    )
    for c in range(N_CHUNKS)
]
ALL_ROWS = list(range(N_CHUNKS * ROWS_PER_CHUNK))


class Vendor:
    """Stores rows; answers a read with the rows it holds. ``lose`` drops the answer of chosen chunks
    (applied, then ``DialerDeliveryUnknownError``), so some chunks are resolved instead of marked at once."""

    def __init__(self, stored: list[int] | None = None, lose: frozenset[str] = frozenset()) -> None:
        self.stored = list(stored or [])
        self.lose = set(lose)
        self.sent: list[str] = []
        self.read: list[str] = []
        self.lock = threading.Lock()

    def send(self, key: str, leads: list[PreparedLead]) -> ChunkOutcome:
        with self.lock:
            self.sent.append(key)
            self.stored.extend(lead.row for lead in leads)
            if key in self.lose:
                self.lose.discard(key)
                raise DialerDeliveryUnknownError("X", "POST", "/l", "answer lost")
        return ChunkOutcome(accepted=len(leads))

    def resolve(self, key: str, leads: list[PreparedLead]) -> ChunkOutcome:
        with self.lock:
            self.read.append(key)
            held = set(self.stored)
        present = [lead.row for lead in leads if lead.row in held]
        missing = [lead.row for lead in leads if lead.row not in held]
        return ChunkOutcome(accepted=len(present), missing=missing)


class KillPoint:
    """The state a kill leaves: the progress file's bytes (None: no file), the rows the vendor held,
    and the chunks acknowledged as done."""

    def __init__(self, content: bytes | None, stored: list[int], acked: frozenset[str]) -> None:
        self.content, self.stored, self.acked = content, stored, acked


class Recording(FileProgressStore):
    """A FileProgressStore that notes, for every write, each state a kill during it can leave."""

    def __init__(self, path: Path, vendor: Vendor) -> None:
        super().__init__(path)
        self.vendor = vendor
        self.points: list[KillPoint] = []
        self.acked: frozenset[str] = frozenset()

    def _before(self) -> tuple[bytes | None, list[int]]:
        return (self.path.read_bytes() if self.path.exists() else None), list(self.vendor.stored)

    def _after(self, before: bytes | None, stored: list[int], state: dict[str, Any], appended: bool) -> None:
        after = self.path.read_bytes()
        if appended:
            assert before is not None and after.startswith(before)
            # torn anywhere inside the appended line (a cut at 0 is "killed before the write")
            for cut in range(len(after) - len(before)):
                self.points.append(KillPoint(before + after[len(before) : len(before) + cut], stored, self.acked))
        else:
            self.points.append(KillPoint(before, stored, self.acked))  # the rename did not happen
        self.acked = frozenset(k for k, v in state.get("chunks", {}).items() if v.get("status") == "done")
        self.points.append(KillPoint(after, list(self.vendor.stored), self.acked))  # killed after this write

    #: inside save_changes (which may write a snapshot through save: recorded once, as that save_changes)
    _nested = False

    def save(self, state: dict[str, Any]) -> None:
        if self._nested:
            super().save(state)
            return
        before, stored = self._before()
        super().save(state)
        self._after(before, stored, state, appended=False)

    def save_changes(self, state: dict[str, Any], changed: Any) -> None:
        before, stored = self._before()
        self._nested, snapshots = True, self._snapshot_bytes
        written = self._journal_bytes
        try:
            super().save_changes(state, changed)
        finally:
            self._nested = False
        appended = self._journal_bytes > written and self._snapshot_bytes == snapshots
        self._after(before, stored, state, appended=appended)


def record_run(tmp_path: Path, lose: frozenset[str], flush_seconds: float) -> Recording:
    vendor = Vendor(lose=lose)
    (tmp_path / "recorded.json").unlink(missing_ok=True)  # a fresh run (hypothesis reuses the directory)
    store = Recording(tmp_path / "recorded.json", vendor)
    delivery = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1)
    delivery.flush_seconds = flush_seconds
    delivery.run(CHUNKS)
    assert sorted(vendor.stored) == ALL_ROWS
    return store


def resume(path: Path, point: KillPoint, concurrency: int = 2) -> Vendor:
    if point.content is None:
        path.unlink(missing_ok=True)
    else:
        path.write_bytes(point.content)
    vendor = Vendor(stored=point.stored)
    ChunkDelivery(FileProgressStore(path), vendor.send, vendor.resolve, concurrency=concurrency).run(CHUNKS)
    return vendor


LOST = frozenset({"now#2", "now#5"})


@pytest.mark.parametrize(
    ("compact_at", "lose", "flush_seconds"),
    [
        pytest.param(None, frozenset(), 0.0, id="journal-answered-done-at-once"),
        pytest.param(None, LOST, 60.0, id="journal-answers-lost-done-with-next-mark"),
        pytest.param(120, frozenset(), 60.0, id="compacting-answered-done-with-next-mark"),
        pytest.param(120, LOST, 0.0, id="compacting-answers-lost-done-at-once"),
    ],
)
def test_a_kill_at_every_byte_of_every_write_resumes_with_each_lead_once(
    tmp_path, monkeypatch, compact_at, lose, flush_seconds
):
    if compact_at is not None:
        monkeypatch.setattr(progress_store, "COMPACT_MIN_BYTES", compact_at)
    recorded = record_run(tmp_path, lose, flush_seconds)
    assert len(recorded.points) > 200  # every byte of every append: the sweep is real
    target = tmp_path / "resumed.json"
    for number, point in enumerate(recorded.points):
        vendor = resume(target, point)
        where = f"kill point {number}: file {point.content!r}"
        assert Counter(vendor.stored) == Counter(ALL_ROWS), where
        assert not point.acked & set(vendor.sent + vendor.read), where  # an acknowledged done is final
        # and what the resumed attempt left is read whole by the next one: every chunk done
        after = FileProgressStore(target).load() or {}
        assert {k: v["status"] for k, v in after.get("chunks", {}).items()} == {k: "done" for k, _ in CHUNKS}, where


def test_an_older_reader_never_mistakes_a_journal_for_usable_progress(tmp_path):
    """The reader before the journal parsed the file as one JSON object: at every point it fails
    (so it stops and sends nothing) rather than reading a state that lacks the chunks."""
    recorded = record_run(tmp_path, frozenset({"now#3"}), 0.0)
    for point in recorded.points:
        if not point.content:
            continue
        try:
            old = json.loads(point.content.decode("utf-8"))
        except ValueError:
            continue
        assert not isinstance(old, dict), point.content


def finished_journal(tmp_path: Path) -> bytes:
    recorded = record_run(tmp_path, frozenset({"now#4"}), 0.0)
    content = recorded.path.read_bytes()
    assert content.count(b"\n") > 8 and json.loads(content.split(b"\n")[0])[0] == JOURNAL_FORMAT
    return content


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_record_written_twice_changes_nothing(tmp_path, data):
    content = finished_journal(tmp_path)
    lines = content.split(b"\n")[:-1]
    original = read(tmp_path / "a.json", content)
    record = data.draw(st.integers(1, len(lines) - 1), label="record")
    at = data.draw(st.integers(record + 1, len(lines)), label="copied to")
    copied = lines[:at] + [lines[record]] + lines[at:]
    assert read(tmp_path / "b.json", b"\n".join(copied) + b"\n") == original


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_lost_or_garbled_record_before_the_last_line_is_unreadable_not_shorter(tmp_path, data):
    content = finished_journal(tmp_path)
    lines = content.split(b"\n")[:-1]
    record = data.draw(st.integers(1, len(lines) - 2), label="record")
    damage = data.draw(st.sampled_from(["drop", "garble", "swap"]), label="damage")
    if damage == "drop":
        damaged = lines[:record] + lines[record + 1 :]
    elif damage == "garble":
        cut = data.draw(st.integers(0, len(lines[record]) - 1), label="cut")
        damaged = lines[:record] + [lines[record][:cut]] + lines[record + 1 :]
    else:
        damaged = lines[:record] + [lines[record + 1], lines[record]] + lines[record + 2 :]
    path = tmp_path / "damaged.json"
    path.write_bytes(b"\n".join(damaged) + b"\n")
    vendor = Vendor(stored=ALL_ROWS)
    with pytest.raises(DialerProgressError, match="cannot be read"):
        ChunkDelivery(FileProgressStore(path), vendor.send, vendor.resolve).run(CHUNKS)
    assert vendor.sent == [] and vendor.read == []


def read(path: Path, content: bytes) -> dict[str, Any] | None:
    path.write_bytes(content)
    return FileProgressStore(path).load()


def test_progress_written_before_the_journal_resumes_and_becomes_a_journal(tmp_path):
    # the older format: the whole state as one JSON object; chunks 1-2 done, chunk 3 in flight and applied
    path = tmp_path / "old.json"
    state = {
        "prepared_at": "2026-01-05T12:00:00+00:00",
        "target": {"list_id": 7},
        "chunks": {
            "now#1": {"status": "done", "outcome": {"accepted": 3}},
            "now#2": {"status": "done", "outcome": {"accepted": 3}},
            "now#3": {"status": "sending"},
        },
    }
    path.write_text(json.dumps(state), encoding="utf-8")
    assert FileProgressStore(path).load() == state
    vendor = Vendor(stored=list(range(9)))
    report = ChunkDelivery(FileProgressStore(path), vendor.send, vendor.resolve).run(CHUNKS)
    assert Counter(vendor.stored) == Counter(ALL_ROWS)
    assert sorted(vendor.sent) == ["now#4", "now#5", "now#6"] and vendor.read == ["now#3"]  # sent 4 at a time
    assert report.accepted == len(ALL_ROWS) and report.chunks_skipped == 2
    first = json.loads(path.read_bytes().split(b"\n")[0])
    assert first[0] == JOURNAL_FORMAT and first[2]["target"] == {"list_id": 7}


def test_a_save_appends_one_line_however_large_the_state(tmp_path):
    """The cost of a save does not grow with the progress: the 1,001st mark appends as little as the 2nd."""
    store = FileProgressStore(tmp_path / "p.json")
    state: dict[str, Any] = {"chunks": {}}
    store.save(state)
    sizes = []
    for i in range(1001):
        state["chunks"][f"now#{i}"] = {"status": "done", "outcome": {"accepted": 1000}}
        before = store.path.stat().st_size
        store.save_changes(state, [("chunks", f"now#{i}")])
        sizes.append(store.path.stat().st_size - before)
    assert max(sizes[1:]) < 128 and sizes[1000] <= sizes[1] + 6  # the key and seq grow by 3 digits each
    assert FileProgressStore(store.path).load() == state


def test_the_first_change_saved_after_a_torn_line_is_read_back_whole(tmp_path):
    """An attempt that finds a torn last line must not append after it (the torn bytes would then sit
    inside the file): whatever its first save is, the next reader reads it, and the torn change stays out."""
    path = tmp_path / "p.json"
    store = FileProgressStore(path)
    state: dict[str, Any] = {"chunks": {"now#1": {"status": "sending"}}}
    store.save(state)
    state["chunks"]["now#1"] = {"status": "done", "outcome": {"accepted": 3}}
    store.save_changes(state, [("chunks", "now#1")])
    whole = path.read_bytes()
    last = whole[whole.rindex(b"\n", 0, len(whole) - 1) + 1 :]
    for cut in range(1, len(last)):
        path.write_bytes(whole[: len(whole) - len(last) + cut])
        resumed = FileProgressStore(path)
        loaded = resumed.load()
        assert loaded == {"chunks": {"now#1": {"status": "sending"}}}, cut
        loaded["chunks"]["now#2"] = {"status": "sending"}
        resumed.save_changes(loaded, [("chunks", "now#2")])
        assert FileProgressStore(path).load() == loaded, cut
