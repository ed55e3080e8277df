"""The vendor's answer counts: a chunk refused for one lead is split until that lead is found, refused and
unknown leads count toward ``max_reject_ratio`` and reach the reject report, every summary counter is
true, progress that cannot be read stops the task, and no error text carries a full phone number.

The invariants are computed from the generated plan (which rows are bad, which answers are lost), never
from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.delivery import ChunkDelivery
from airflow_provider_dialer.exceptions import DialerDeliveryUnknownError, DialerHTTPError
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.pipeline.progress_store import FileProgressStore, MemoryProgressStore
from tests.fakes import FakeListHook, use_hook

NOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York


def phone_of(row: int) -> str:
    return f"+1212555{row:04d}"


def make_leads(rows: range) -> list[PreparedLead]:
    return [PreparedLead(row=r, phone=phone_of(r), timezone="America/New_York") for r in rows]


def chunks_of(leads: list[PreparedLead], size: int) -> list[tuple[str, list[PreparedLead]]]:
    return [(f"now#{i // size + 1}", leads[i : i + size]) for i in range(0, len(leads), size)]


class Killed(BaseException):
    """The worker dies (not an exception the delivery may catch)."""


class StrictVendor:
    """Refuses a whole batch with a 400 when any lead in it is bad, naming the bad lead's position and, like
    the worst vendors, repeating every phone of the batch in the body. Stores a good batch at once."""

    def __init__(self, bad: set[int], kill_at: int | None = None) -> None:
        self.bad = bad
        self.stored: list[int] = []
        self.requests = 0
        self.kill_at = kill_at

    def send(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        self.requests += 1
        bad = [i for i, lead in enumerate(chunk) if lead.row in self.bad]
        if bad:
            body = json.dumps(
                {
                    "message": f"[{bad[0]}].firstName: too long",
                    "errors": [{"path": "firstName", "message": f"[{bad[0]}].firstName: too long"}],
                    "echo": [lead.phone.lstrip("+") for lead in chunk],
                }
            )
            raise DialerHTTPError("Strict", "POST", "/contacts", 400, body)
        self.stored.extend(lead.row for lead in chunk)
        if self.kill_at is not None and self.requests >= self.kill_at:
            self.kill_at = None
            raise Killed()  # applied, but the answer never reached the task
        return ChunkOutcome(accepted=len(chunk))

    def resolve(self, key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        present = [lead.row for lead in chunk if lead.row in self.stored]
        return ChunkOutcome(accepted=len(present), missing=[lead.row for lead in chunk if lead.row not in self.stored])


def full_phones_in(text: str, rows: range) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [phone_of(r) for r in rows if phone_of(r).lstrip("+") in digits]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 120), size=st.integers(1, 40), seed=st.integers(0, 2**32 - 1), share=st.floats(0, 0.4))
def test_a_chunk_refused_for_some_leads_is_split_until_exactly_those_are_refused(n, size, seed, share):
    rng = random.Random(seed)
    rows = range(n)
    bad = {r for r in rows if rng.random() < share}
    vendor = StrictVendor(bad)
    report = ChunkDelivery(MemoryProgressStore(), vendor.send, vendor.resolve, concurrency=2).run(
        chunks_of(make_leads(rows), size)
    )
    assert sorted(vendor.stored) == sorted(set(rows) - bad)  # every good lead landed, once
    assert {e["row"] for e in report.refused_rows} == bad and len(report.refused_rows) == len(bad)
    assert all(
        e["reason"] == "vendor_refused" and "firstName: too long" in e["detail"] and e["field"] == "firstName"
        for e in report.refused_rows
    )
    assert report.accepted == n - len(bad) and report.unknown == 0
    refused_chunks = {i // size for i in bad}
    assert report.chunks_split == len(refused_chunks)
    for entry in report.refused_rows:
        assert not full_phones_in(entry["detail"], rows), entry


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 60), seed=st.integers(0, 2**32 - 1), kill=st.integers(2, 12))
def test_a_task_killed_while_splitting_resumes_without_sending_any_lead_twice(n, seed, kill, tmp_path_factory):
    rng = random.Random(seed)
    rows = range(n)
    bad = {r for r in rows if rng.random() < 0.2} or {rng.randrange(n)}
    chunks = chunks_of(make_leads(rows), n)  # one chunk: the whole split happens inside it
    store = FileProgressStore(tmp_path_factory.mktemp("p") / "progress.json")
    vendor = StrictVendor(bad, kill_at=kill)
    try:
        ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(chunks)
    except Killed:
        pass
    report = ChunkDelivery(store, vendor.send, vendor.resolve, concurrency=1).run(chunks)  # the retry
    assert sorted(vendor.stored) == sorted(set(rows) - bad)
    assert {e["row"] for e in report.refused_rows} == bad
    assert report.accepted + len(report.refused_rows) + report.unknown == n


def test_a_status_that_does_not_point_at_the_content_is_not_split():
    vendor = StrictVendor(set())
    calls: list[str] = []

    def send(key: str, chunk: list[PreparedLead]) -> ChunkOutcome:
        calls.append(key)
        raise DialerHTTPError("X", "POST", "/l", 404, "list not found")

    with pytest.raises(DialerHTTPError):
        ChunkDelivery(MemoryProgressStore(), send, vendor.resolve, concurrency=1).run(
            chunks_of(make_leads(range(8)), 8)
        )
    assert calls == ["now#1"]


@pytest.mark.parametrize(
    "text",
    [
        "+55 11 99999-0000",
        "5511999990000",
        '{"phone":"12125550001"}',
        "+1 (212) 555-0147",
    ],
)
def test_http_errors_never_carry_a_full_phone_number(text):
    from airflow_provider_dialer.exceptions import mask_phone_numbers

    exc = DialerHTTPError("X", "POST", "/l", 400, f"duplicate: {text}", f"hint {text}")
    digits = re.sub(r"\D", "", text)
    assert digits not in re.sub(r"\D", "", str(exc)) and digits[-4:] in str(exc)
    assert digits not in re.sub(r"\D", "", exc.body)
    assert mask_phone_numbers("id 42 at 2026-06-10T23:00:00Z") == "id 42 at 2026-06-10T23:00:00Z"


# -- through the operator: the threshold, the reject report, the summary ---------------------------------


class PlannedHook(FakeListHook):
    """A list vendor whose answer per row follows a plan: ``ok``, ``refused`` or ``lost`` (the answer is
    lost and the vendor's state cannot tell: unknown)."""

    vendor = "Planned"
    list_per_lead_schedule = True
    list_id = 1
    chunk_size = 3

    def __init__(self, plan: dict[int, str]) -> None:
        self.plan = plan
        self.sent: list[int] = []

    def push_list_chunk(self, target, key, leads):
        self.sent.extend(lead.row for lead in leads)
        if any(self.plan.get(lead.row) == "lost" for lead in leads):
            raise DialerDeliveryUnknownError("Planned", "POST", "/l", "dropped")
        refused = [
            {"row": lead.row, "reason": "vendor_refused", "detail": f"no: {lead.phone}"}
            for lead in leads
            if self.plan.get(lead.row) == "refused"
        ]
        return ChunkOutcome(accepted=len(leads) - len(refused), refused=refused)


def source(n: int, invalid: set[int]) -> list[dict[str, Any]]:
    return [
        {"phones": ["12"] if i + 1 in invalid else [phone_of(i + 1)], "timezone": "America/New_York"} for i in range(n)
    ]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), ratio=st.sampled_from([0.0, 0.05, 0.1, 0.25, 0.5, 1.0]))
def test_refused_and_unknown_leads_count_toward_the_threshold_and_reach_the_report(
    seed, n, ratio, tmp_path_factory, monkeypatch
):
    rng = random.Random(seed)
    monkeypatch.setattr(base_module, "utcnow", lambda: NOON)
    invalid = {r for r in range(1, n + 1) if rng.random() < 0.1}
    plan = {r: rng.choice(["ok", "ok", "ok", "refused", "lost"]) for r in range(1, n + 1) if r not in invalid}
    hook = PlannedHook(plan)
    use_hook(monkeypatch, hook)
    tmp = tmp_path_factory.mktemp("run")
    op = UploadListOperator(
        task_id="t",
        conn_id="c",
        list_name="l",
        source=source(n, invalid),
        chunk_size=3,
        progress=str(tmp / "p.json"),
        reject_report=str(tmp / "rejects.jsonl"),
        max_reject_ratio=ratio,
    )
    # the expected answer, from the plan: a chunk with a lost answer is unknown as a whole
    chunks = [sorted(r for r in range(1, n + 1) if r not in invalid)[i : i + 3] for i in range(0, n - len(invalid), 3)]
    unknown = {r for chunk in chunks if any(plan[r] == "lost" for r in chunk) for r in chunk}
    refused = {r for r, answer in plan.items() if answer == "refused" and r not in unknown}
    missed = len(invalid) + len(refused) + len(unknown)
    red = missed / n > ratio
    try:
        summary = op.execute({})
    except AirflowFailException as exc:
        assert red, f"red at {missed}/{n} <= {ratio}"
        message = str(exc)
        assert f"{missed} of {n} leads not delivered" in message
        assert not full_phones_in(message, range(1, n + 1))
        assert (tmp / "p.json").exists()  # a red task keeps its progress
    else:
        assert not red, f"green at {missed}/{n} > {ratio}"
        assert summary["unknown"] == len(unknown) and sum(summary["refused_by_vendor"].values()) == len(refused)
        assert not (tmp / "p.json").exists()  # a green task leaves no progress behind
    lines = [json.loads(line) for line in (tmp / "rejects.jsonl").read_text(encoding="utf-8").splitlines()]
    by_level: dict[str, set[int]] = {}
    for line in lines:
        by_level.setdefault(line["level"], set()).add(line["row"])
    assert by_level.get("error", set()) == invalid
    assert by_level.get("refused", set()) == refused
    assert by_level.get("unknown", set()) == unknown
    assert len(lines) == len(invalid) + len(refused) + len(unknown)  # one line per lead, no doubles


def test_every_summary_counter_is_true(tmp_path, monkeypatch):
    """One run that moves every counter, then a retry; each counter checked against what was staged."""
    monkeypatch.setattr(base_module, "utcnow", lambda: NOON)
    rows = [{"phones": [phone_of(i)], "timezone": "America/New_York", "first_name": f"L{i}"} for i in range(1, 13)]
    rows[1]["phones"] = ["12"]  # row 2: invalid_phone (rejected)
    rows[2]["phones"] = [phone_of(1)]  # row 3: duplicate of row 1 (rejected)
    rows[3]["phones"] = [phone_of(4), "77"]  # row 4: a bad alternative (a warning, kept)
    rows[4]["timezone"] = "Asia/Tokyo"  # row 5: 01:00 in Tokyo, held back (hold_back='defer' defers; here reject)
    stored: list[int] = []
    calls = {"n": 0}

    class Hook(PlannedHook):
        list_per_lead_schedule = False  # so row 5 is held back

        def push_list_chunk(self, target, key, leads):
            calls["n"] += 1
            if key == "now#1":  # rows 1, 4, 6: the answer is lost after the vendor applied it; resolved
                stored.extend(lead.row for lead in leads)
                raise DialerDeliveryUnknownError("Planned", "POST", "/l", "dropped")
            if any(lead.row == 7 for lead in leads):  # rows 7, 8, 9: refused as a whole for row 7; split
                raise DialerHTTPError("Planned", "POST", "/l", 422, '{"message": "row is bad"}')
            if key == "now#3" and calls.get("lose") is None:  # rows 10, 11, 12: lost, and unreadable
                calls["lose"] = True
                raise DialerDeliveryUnknownError("Planned", "POST", "/l", "dropped")
            stored.extend(lead.row for lead in leads)
            return ChunkOutcome(accepted=len(leads))

        def resolve_list_chunk(self, target, key, leads):
            if key == "now#1":
                return ChunkOutcome(accepted=sum(lead.row in stored for lead in leads))
            return None

    hook = Hook({})
    use_hook(monkeypatch, hook)
    op = UploadListOperator(
        task_id="t",
        conn_id="c",
        list_name="l",
        source=rows,
        chunk_size=3,
        hold_back="reject",
        progress=str(tmp_path / "p.json"),
        max_reject_ratio=1.0,
    )
    summary = op.execute({})
    assert summary["read"] == 12
    assert summary["rejected_by_reason"] == {"invalid_phone": 1, "duplicate_phone": 1, "outside_window": 1}
    assert summary["rejected"] == 3
    assert summary["prepared"] == 10  # 12 read - 2 rejected at preparation (the held one was prepared)
    assert summary["warnings"] == {"invalid_alternative": 1}
    assert summary["held_back"] == 1 and list(summary["held_back_until"].values()) == [1]
    assert summary["accepted"] == 3 + 2  # rows 1, 4, 6 (resolved) + rows 8, 9 (split)
    assert summary["refused_by_vendor"] == {"vendor_refused": 1} and summary["refused_samples"][0]["row"] == 7
    assert summary["unknown"] == 3 and summary["unknown_rows"] == [10, 11, 12]
    assert summary["chunks"] == 3 and summary["chunks_already_delivered"] == 0
    assert summary["chunks_resolved_after_unknown_fate"] == 1  # now#1 (now#3 could not be read: unknown)
    assert summary["chunks_split_after_refusal"] == 1
    assert sorted(stored) == [1, 4, 6, 8, 9]


def test_chunks_already_delivered_counts_the_chunks_a_failed_attempt_delivered(tmp_path, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: NOON)
    rows = [{"phones": [phone_of(i)], "timezone": "America/New_York"} for i in range(1, 10)]
    fail = {"now#3": True}

    class Hook(PlannedHook):
        def push_list_chunk(self, target, key, leads):
            if fail.pop(key, False):
                raise DialerHTTPError("Planned", "POST", "/l", 503, "busy")
            self.sent.extend(lead.row for lead in leads)
            return ChunkOutcome(accepted=len(leads))

    hook = Hook({})
    use_hook(monkeypatch, hook)

    def op() -> UploadListOperator:
        return UploadListOperator(
            task_id="t",
            conn_id="c",
            list_name="l",
            source=rows,
            chunk_size=3,
            concurrency=1,
            progress=str(tmp_path / "p.json"),
        )

    with pytest.raises(DialerHTTPError):
        op().execute({})
    summary = op().execute({})
    assert summary["chunks"] == 3 and summary["chunks_already_delivered"] == 2
    assert summary["accepted"] == 9 and sorted(hook.sent) == list(range(1, 10))


# -- progress that cannot be read ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe garbage", b""])
def test_unreadable_progress_file_fails_the_task_and_sends_nothing(tmp_path, monkeypatch, content):
    from airflow_provider_dialer.exceptions import DialerProgressError

    monkeypatch.setattr(base_module, "utcnow", lambda: NOON)
    hook = PlannedHook({})
    use_hook(monkeypatch, hook)
    (tmp_path / "p.json").write_bytes(content)
    op = UploadListOperator(
        task_id="t",
        conn_id="c",
        list_name="l",
        progress=str(tmp_path / "p.json"),
        source=[{"phones": [phone_of(1)], "timezone": "America/New_York"}],
    )
    with pytest.raises(DialerProgressError, match="cannot be read.*Way out: .*delete the file"):
        op.execute({})
    assert hook.sent == []
    assert (tmp_path / "p.json").read_bytes() == content  # left as found, for the operator to inspect
