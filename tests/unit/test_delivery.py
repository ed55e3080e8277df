"""ChunkDelivery: progress before and after each send, resume after a retry, the unknown-fate rule."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import ChunkOutcome, ListUploader, require
from airflow_provider_dialer.delivery import ChunkDelivery, ChunkInterruptedError
from airflow_provider_dialer.exceptions import (
    DialerDeliveryUnknownError,
    DialerHTTPError,
    UnsupportedCapabilityError,
)
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline.progress_store import FileProgressStore, MemoryProgressStore


def leads(start: int, n: int) -> list[PreparedLead]:
    return [PreparedLead(row=i, phone=f"+1202555{i:04d}", timezone="America/New_York") for i in range(start, start + n)]


CHUNKS = [(f"now#{i + 1}", leads(i * 3, 3)) for i in range(4)]


class FakeVendor:
    """Stores leads by row; can fail chosen chunks in chosen ways."""

    def __init__(self) -> None:
        self.stored: list[int] = []
        self.sends: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.apply_before_fail: set[str] = set()
        self.lock = threading.Lock()

    def send(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        with self.lock:
            self.sends.append(key)
            if key in self.fail:
                if key in self.apply_before_fail:
                    self.stored.extend(lead.row for lead in chunk)
                raise self.fail.pop(key)
            self.stored.extend(lead.row for lead in chunk)
        return ChunkOutcome(accepted=len(chunk), ids={"list_ids": [7]})

    def resolve(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome | None:
        present = [lead.row for lead in chunk if lead.row in self.stored]
        return ChunkOutcome(accepted=len(present))


def test_all_chunks_delivered_once_and_progress_recorded():
    vendor, store = FakeVendor(), MemoryProgressStore()
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=2).run(CHUNKS)
    assert report.accepted == 12 and report.chunks == 4 and report.ids == {"list_ids": [7]}
    assert sorted(vendor.stored) == list(range(12))
    assert {k: v["status"] for k, v in store.state["chunks"].items()} == {k: "done" for k, _ in CHUNKS}


def test_retry_skips_done_chunks():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#3"] = DialerHTTPError("X", "POST", "/l", 429, "slow down")
    with pytest.raises(DialerHTTPError):
        ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(CHUNKS)
    assert store.state["chunks"]["now#3"]["status"] == "failed"
    sends_before = list(vendor.sends)
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(CHUNKS)
    assert report.accepted == 12 and report.chunks_skipped >= 2
    assert sorted(vendor.stored) == list(range(12))  # each lead exactly once
    assert "now#1" not in vendor.sends[len(sends_before) :]


def test_lost_answer_is_resolved_not_resent():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#2"] = DialerDeliveryUnknownError("X", "POST", "/l", "dropped")
    vendor.apply_before_fail.add("now#2")
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(CHUNKS)
    assert vendor.sends.count("now#2") == 1
    assert sorted(vendor.stored) == list(range(12))
    assert report.accepted == 12 and report.unknown == 0
    assert store.state["chunks"]["now#2"]["outcome"]["how"] == "resolved"


def test_unresolvable_chunk_is_reported_unknown():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#4"] = DialerDeliveryUnknownError("X", "POST", "/l", "dropped")
    report = ChunkDelivery(store, vendor.send, lambda key, chunk: None, concurrency=1).run(CHUNKS)
    assert report.unknown == 3 and report.unknown_rows == [9, 10, 11]
    assert vendor.sends.count("now#4") == 1


def test_chunk_in_flight_when_the_task_died_is_resolved_on_retry(tmp_path):
    vendor = FakeVendor()
    store = FileProgressStore(tmp_path / "progress.json")
    # a previous attempt applied chunk 1 then died before recording it as done
    vendor.stored.extend(lead.row for lead in CHUNKS[0][1])
    store.save({"chunks": {"now#1": {"status": "sending"}}})
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=2).run(CHUNKS)
    assert "now#1" not in vendor.sends
    assert report.chunks_resolved == 1
    assert sorted(vendor.stored) == list(range(12))


def test_500_on_a_write_is_treated_as_unknown_fate():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#1"] = DialerHTTPError("X", "POST", "/l", 500, "oops")
    vendor.apply_before_fail.add("now#1")
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(CHUNKS)
    assert vendor.sends.count("now#1") == 1 and report.accepted == 12


def test_missing_capability_names_vendor_verb_and_alternative():
    class NoLists:
        vendor = "uContact"

    with pytest.raises(UnsupportedCapabilityError) as info:
        require(NoLists(), ListUploader, "list upload")
    text = str(info.value)
    assert "uContact does not support list upload" in text
    assert "PushFreshLeadsOperator" in text


def test_leads_proved_missing_are_sent_once_more():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#2"] = DialerDeliveryUnknownError("X", "POST", "/l", "dropped before apply")

    def resolve(key, chunk):
        present = [lead.row for lead in chunk if lead.row in vendor.stored]
        return ChunkOutcome(
            accepted=len(present), missing=[lead.row for lead in chunk if lead.row not in vendor.stored]
        )

    report = ChunkDelivery(store, vendor.send, resolve, concurrency=1).run(CHUNKS)
    assert sorted(vendor.stored) == list(range(12))
    assert vendor.sends.count("now#2") == 1 and vendor.sends.count("now#2/resend") == 1
    assert report.accepted == 12 and report.unknown == 0


class RecordByRecordVendor:
    """Takes a chunk one record at a time (like Integra DialerTask); can refuse chosen rows, once each."""

    def __init__(self, refuse: set[int] | None = None) -> None:
        self.stored: list[int] = []
        self.refuse = set(refuse or ())

    def send(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        for index, lead in enumerate(chunk):
            if lead.row in self.refuse:
                self.refuse.discard(lead.row)
                cause = DialerHTTPError("X", "POST", "/task", 503, "unavailable")
                raise ChunkInterruptedError(outcome, [later.row for later in chunk[index:]], cause)
            self.stored.append(lead.row)
            outcome.accepted += 1
        return outcome


def test_chunk_stopped_part_way_resumes_after_its_last_applied_record():
    vendor, store = RecordByRecordVendor(refuse={4}), MemoryProgressStore()
    with pytest.raises(DialerHTTPError, match="503"):
        ChunkDelivery(store, vendor.send, lambda key, chunk: None, concurrency=1).run(CHUNKS)
    entry = store.state["chunks"]["now#2"]
    assert (entry["status"], entry["pending"], entry["outcome"]["accepted"]) == ("partial", [4, 5], 1)
    report = ChunkDelivery(store, vendor.send, lambda key, chunk: None, concurrency=1).run(CHUNKS)
    assert sorted(vendor.stored) == list(range(12)) and len(vendor.stored) == 12  # row 3 not sent twice
    assert report.accepted == 12 and report.unknown == 0
    assert store.state["chunks"]["now#2"] == {"status": "done", "outcome": {**entry["outcome"], "accepted": 3}}


def test_chunk_stopped_at_its_first_record_is_simply_failed():
    vendor, store = RecordByRecordVendor(refuse={3}), MemoryProgressStore()
    with pytest.raises(DialerHTTPError):
        ChunkDelivery(store, vendor.send, lambda key, chunk: None, concurrency=1).run(CHUNKS)
    assert store.state["chunks"]["now#2"] == {"status": "failed"}


def test_task_dying_while_the_rest_of_a_partial_chunk_is_sent_keeps_what_is_known():
    vendor, store = RecordByRecordVendor(), MemoryProgressStore()
    vendor.stored.extend([0, 1, 2, 3])  # chunk 1, and row 3 before chunk 2 stopped; the retry died with 4-5 in flight
    store.save(
        {
            "chunks": {
                "now#1": {"status": "done", "outcome": ChunkOutcome(accepted=3).as_dict()},
                "now#2": {"status": "sending", "outcome": ChunkOutcome(accepted=1).as_dict(), "pending": [4, 5]},
            }
        }
    )
    report = ChunkDelivery(store, vendor.send, lambda key, chunk: None, concurrency=1).run(CHUNKS)
    # no read: only the two rows in flight are unknown; row 3 stays accepted; nothing is resent
    assert report.unknown_rows == [4, 5] and report.accepted == 1 + 3 + 6
    assert sorted(vendor.stored) == [0, 1, 2, 3, *range(6, 12)]


def test_task_dying_while_resending_missing_leads_reads_that_resend_on_retry():
    """A vendor resolved by name (one list per key): the resend's own name must be read before sending again."""
    named: dict[str, list[int]] = {}
    sends: list[str] = []

    def send(key, chunk):
        sends.append(key)
        named[key] = [lead.row for lead in chunk]
        return ChunkOutcome(accepted=len(chunk))

    def resolve(key, chunk):
        return ChunkOutcome(accepted=len(chunk)) if key in named else ChunkOutcome(missing=[lead.row for lead in chunk])

    store = MemoryProgressStore()
    # the attempt that ended: chunk 2 dropped before apply, resent as now#2/resend, died before recording it
    named.update({"now#1": [0, 1, 2], "now#2/resend": [3, 4, 5]})
    store.save(
        {
            "chunks": {
                "now#1": {"status": "done", "outcome": ChunkOutcome(accepted=3).as_dict()},
                "now#2": {"status": "sending", "resending": True},
            }
        }
    )
    report = ChunkDelivery(store, send, resolve, concurrency=1).run(CHUNKS)
    assert sends == ["now#3", "now#4"]  # now#2's leads were found under the resend's name: not sent again
    assert report.accepted == 12 and report.unknown == 0


def test_the_resend_is_recorded_before_it_is_sent():
    vendor, store = FakeVendor(), MemoryProgressStore()
    vendor.fail["now#2"] = DialerDeliveryUnknownError("X", "POST", "/l", "dropped before apply")
    seen = {}

    def resolve(key, chunk):
        return ChunkOutcome(missing=[lead.row for lead in chunk if lead.row not in vendor.stored])

    def send(key, chunk):
        if key.endswith("/resend"):
            seen["entry"] = dict(store.state["chunks"]["now#2"])
        return vendor.send(key, chunk)

    ChunkDelivery(store, send, resolve, concurrency=1).run(CHUNKS)
    assert seen["entry"] == {"status": "sending", "resending": True}
    assert store.state["chunks"]["now#2"]["status"] == "done"


class SaveLog(MemoryProgressStore):
    """Remembers every saved state, and what the vendor held at that moment."""

    def __init__(self, vendor: FakeVendor) -> None:
        super().__init__()
        self.vendor, self.saves = vendor, []

    def save(self, state):
        super().save(state)
        self.saves.append((self.load(), set(self.vendor.stored)))


def test_done_marks_ride_with_the_next_save_but_every_send_is_guarded_first():
    vendor = FakeVendor()
    store = SaveLog(vendor)
    chunks = [(f"now#{i + 1}", leads(i * 3, 3)) for i in range(20)]
    ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(chunks)
    # one save per chunk (its "sending" mark carries the previous chunk's "done") plus the final flush
    assert len(store.saves) == 21
    for key, chunk in chunks:
        # the chunk was marked before its leads reached the vendor: a crash can never resend it blindly
        first = next(state for state, _ in store.saves if key in state["chunks"])
        assert first["chunks"][key]["status"] == "sending"
        assert not {lead.row for lead in chunk} & next(held for state, held in store.saves if key in state["chunks"])
    assert {v["status"] for v in store.state["chunks"].values()} == {"done"}


def test_an_old_save_makes_a_done_mark_durable_at_once():
    vendor = FakeVendor()
    store = SaveLog(vendor)
    delivery = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1)
    delivery.flush_seconds = 0.0
    delivery.run(CHUNKS)
    assert len(store.saves) == 2 * len(CHUNKS)  # sending and done, each written at once
    assert [state["chunks"][key]["status"] for (state, _), (key, _) in zip(store.saves[1::2], CHUNKS, strict=True)] == [
        "done"
    ] * 4


def test_unsaved_done_marks_are_written_when_a_chunk_fails():
    vendor = FakeVendor()
    store = SaveLog(vendor)
    vendor.fail["now#3"] = DialerHTTPError("Demo", "POST", "/x", 409, "conflict", "")
    with pytest.raises(DialerHTTPError):
        ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(CHUNKS)
    statuses = {k: v["status"] for k, v in store.saves[-1][0]["chunks"].items()}
    assert statuses == {"now#1": "done", "now#2": "done", "now#3": "failed"}


@pytest.mark.parametrize(
    "outcome",
    [
        ChunkOutcome(accepted=1000),
        ChunkOutcome(
            accepted=2,
            refused=[{"row": 3, "reason": "invalid_contact", "detail": "x"}],
            unknown=[4],
            missing=[5],
            ids={"pids": ["p"]},
            how="resolved",
        ),
        ChunkOutcome(),
    ],
)
def test_chunk_outcomes_round_trip_and_store_only_what_differs_from_the_defaults(outcome):
    import json

    stored = json.loads(json.dumps(outcome.as_dict()))
    assert ChunkOutcome.from_dict(stored) == outcome
    assert set(stored) == {"accepted"} | {
        k for k in ("refused", "unknown", "missing", "ids") if getattr(outcome, k)
    } | ({"how"} if outcome.how != "sent" else set())


def test_a_done_mark_is_written_within_flush_seconds_even_when_no_other_save_comes():
    import time

    vendor = FakeVendor()
    store = SaveLog(vendor)
    delivery = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1)
    delivery.flush_seconds = 0.05

    def slow_source():
        yield CHUNKS[0]
        time.sleep(0.4)  # preparing the next chunk takes a while
        yield CHUNKS[1]

    delivery.run(slow_source())
    # chunk 1's done mark reached the store on its own, before chunk 2 was even marked
    assert any(
        state["chunks"].get("now#1", {}).get("status") == "done" and "now#2" not in state["chunks"]
        for state, _ in store.saves
    )
    assert {v["status"] for v in store.state["chunks"].values()} == {"done"}


# -- late writes: the settling rule on a virtual clock ---------------------------------------------


class LateVendor:
    """A vendor that may apply a write whose answer was lost ``delay`` (virtual) seconds later.

    ``fates[chunk]`` lists, send by send (the chunk, then its resends), ``("late", delay)``,
    ``("never",)`` or ``("ok",)``. Time is virtual: it moves only when delivery sleeps.
    """

    def __init__(self, fates: dict[str, list[tuple]]) -> None:
        self.now = 0.0
        self.fates = {key: list(value) for key, value in fates.items()}
        self.stored: list[int] = []
        self.due: list[tuple[float, list[int]]] = []

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self._land()

    def _land(self, until: float | None = None) -> None:
        until = self.now if until is None else until
        for entry in [d for d in self.due if d[0] <= until]:
            self.due.remove(entry)
            self.stored.extend(entry[1])

    def send(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        self._land()
        pending = self.fates.get(key.split("/")[0])
        fate = pending.pop(0) if pending else ("ok",)
        rows = [lead.row for lead in chunk]
        if fate[0] == "ok":
            self.stored.extend(rows)
            return ChunkOutcome(accepted=len(rows))
        if fate[0] == "late":
            self.due.append((self.now + fate[1], rows))
        raise DialerDeliveryUnknownError("X", "POST", "/l", "no answer came back")

    def resolve(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        self._land()
        present = [lead.row for lead in chunk if lead.row in self.stored]
        return ChunkOutcome(accepted=len(present), missing=[lead.row for lead in chunk if lead.row not in self.stored])


SETTLE = 5.0
FATE = st.one_of(st.just(("never",)), st.tuples(st.just("late"), st.floats(0.0, SETTLE * 0.999)))


@settings(max_examples=150, deadline=None)
@given(fates=st.dictionaries(st.sampled_from([key for key, _ in CHUNKS]), st.lists(FATE, min_size=1, max_size=3)))
def test_a_write_applied_within_the_settle_window_is_never_doubled_nor_left_unknown(fates):
    """Lost answers whose writes land up to ``settle_seconds`` later (or never), on the chunk and its resends."""
    from airflow_provider_dialer import delivery as delivery_module

    vendor = LateVendor(fates)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            delivery_module,
            "time",
            type("T", (), {"sleep": staticmethod(vendor.sleep), "monotonic": staticmethod(lambda: vendor.now)}),
        )
        report = ChunkDelivery(
            MemoryProgressStore(), vendor.send, vendor.resolve, concurrency=1, settle_seconds=SETTLE
        ).run(CHUNKS)
    vendor._land(until=float("inf"))  # every late write lands, however late
    assert sorted(vendor.stored) == list(range(12)), f"stored: {sorted(vendor.stored)}"
    assert report.accepted == 12 and report.unknown == 0


def test_without_settling_a_late_write_is_resent_and_doubled(monkeypatch):
    """The failure the settling rule removes: read at once, resend, and the late write lands too."""
    from airflow_provider_dialer import delivery as delivery_module

    vendor = LateVendor({"now#2": [("late", 1.0)]})
    monkeypatch.setattr(
        delivery_module,
        "time",
        type("T", (), {"sleep": staticmethod(vendor.sleep), "monotonic": staticmethod(lambda: vendor.now)}),
    )
    ChunkDelivery(MemoryProgressStore(), vendor.send, vendor.resolve, concurrency=1, settle_seconds=0).run(CHUNKS)
    vendor._land(until=float("inf"))
    assert sorted(vendor.stored).count(3) == 2  # row 3 (chunk 2) stored twice


def test_reads_that_keep_changing_leave_the_leads_unknown(monkeypatch):
    """A vendor whose state changes at every read never settles: its missing leads are reported unknown, not resent."""
    from airflow_provider_dialer import delivery as delivery_module

    sends: list[str] = []
    reads = iter(range(100))

    def send(key, chunk):
        sends.append(key)
        raise DialerDeliveryUnknownError("X", "POST", "/l", "no answer came back")

    def resolve(key, chunk):
        n = next(reads) % len(chunk)  # a different lead missing at every read
        return ChunkOutcome(accepted=len(chunk) - 1, missing=[chunk[n].row])

    monkeypatch.setattr(
        delivery_module,
        "time",
        type("T", (), {"sleep": staticmethod(lambda s: None), "monotonic": staticmethod(lambda: 0.0)}),
    )
    report = ChunkDelivery(MemoryProgressStore(), send, resolve, concurrency=1, settle_seconds=1.0).run(CHUNKS[:1])
    assert sends == ["now#1"] and report.unknown == 1 and report.accepted == 2
