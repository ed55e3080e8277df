"""Helpers the integration suites share: the delivery invariant checked against the emulator's state, a fake task
instance, a task killed mid-upload, and a trigger run the way the triggerer runs it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest


def digits(phone: Any) -> str:
    return "".join(ch for ch in str(phone) if ch.isdigit())


def check_delivery(
    summary: Mapping[str, Any],
    source: Sequence[Mapping[str, Any]],
    stored: Mapping[str, int],
    report: str | Path | None = None,
) -> dict[str, set[int]]:
    """Every source row is accounted for once, and the vendor's state agrees with the summary.

    ``stored`` is what the emulator holds (phone -> times received). Rows are 1-based, as in the
    summary and the reject report. Checks: no phone landed twice; every accepted row landed
    exactly once; an ``unknown`` row landed at most once; a rejected or refused row did not land
    (unless a kept row has the same phone, e.g. the first of two duplicates); nothing landed that
    was not sent; accepted + unknown + refused + rejected = rows read. Returns the row sets.
    """
    phone_of = {row: digits(lead["phones"][0]) for row, lead in enumerate(source, start=1)}
    counts: Counter[str] = Counter()
    for key, times in stored.items():
        counts[digits(key)] += times
    assert not {k: n for k, n in counts.items() if n > 1}, f"leads landed more than once: {counts}"

    unknown = set(summary["unknown_rows"])
    assert len(unknown) == summary["unknown"], "every unknown row is listed (the tests stay under 100)"
    refused = {entry["row"] for entry in summary["refused_samples"]}
    assert len(refused) == sum(summary["refused_by_vendor"].values())
    if report is not None:
        lines = [json.loads(line) for line in Path(report).read_text(encoding="utf-8").splitlines() if line.strip()]
        rejected = {entry["row"] for entry in lines if entry["level"] == "error"}
    else:
        rejected = {entry["row"] for entry in summary["reject_samples"] if entry["level"] == "error"}
    assert len(rejected) == summary["rejected"]
    assert not (unknown & refused) and not (unknown & rejected) and not (refused & rejected)

    accepted = set(phone_of) - unknown - refused - rejected
    assert summary["accepted"] == len(accepted), (summary["accepted"], sorted(accepted))
    assert summary["read"] == len(phone_of)
    for row in sorted(accepted):
        assert counts[phone_of[row]] == 1, f"accepted row {row} ({phone_of[row]}) is not on the server once"
    kept = {phone_of[row] for row in accepted | unknown}
    for row in sorted(refused | rejected):
        assert phone_of[row] not in counts or phone_of[row] in kept, f"refused/rejected row {row} landed"
    assert set(counts) <= kept, f"the server holds leads that were never sent: {set(counts) - kept}"
    return {
        "accepted": accepted,
        "unknown": unknown,
        "refused": refused,
        "rejected": rejected,
        "landed_unknown": {row for row in unknown if counts[phone_of[row]]},
    }


@pytest.fixture
def delivery_check() -> Callable[..., dict[str, set[int]]]:
    """:func:`check_delivery`, as a fixture."""
    return check_delivery


class FakeTI:
    """The slice of a task instance the operators use outside Airflow: ``map_index`` and XCom push / pull."""

    map_index = -1

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: Any = None, key: str | None = None, map_indexes: Any = None) -> Any:
        return self.pushed.get(key)


@pytest.fixture
def fake_ti() -> Callable[[], FakeTI]:
    """Makes :class:`FakeTI` instances (one per simulated task attempt)."""
    return FakeTI


def dying_push(real: Callable[..., Any], dies: str) -> Callable[..., Any]:
    """``push_list_chunk`` of a task killed at its second chunk: ``after_the_vendor_applied`` it,
    ``before_the_request``, or ``while_resending`` (the chunk was lost before apply and the task died
    sending it again). The kill is a ``SystemExit``; the progress store then says the chunk was in flight."""
    calls = {"n": 0}

    def dying(self: Any, target: Any, key: str, chunk: Any) -> Any:
        calls["n"] += 1
        if dies == "while_resending":
            if key.endswith("/resend"):
                real(self, target, key, chunk)
                raise SystemExit("worker killed")
        elif calls["n"] == 2:
            if dies == "after_the_vendor_applied":
                real(self, target, key, chunk)
            raise SystemExit("worker killed")
        return real(self, target, key, chunk)

    return dying


@pytest.fixture
def task_dies() -> Callable[[Callable[..., Any], str], Callable[..., Any]]:
    """:func:`dying_push`, as a fixture."""
    return dying_push


def first_event(trigger: Any) -> Any:
    """Run a trigger like the triggerer does: take its first event, then close it in the same loop."""
    import asyncio

    async def run() -> Any:
        events = trigger.run()
        try:
            return await events.__anext__()
        finally:
            await events.aclose()

    return asyncio.run(run())


# -- set-up shared by the operator tests (test_operators_<vendor>.py) -------------------------------------------


def new_york_leads(n: int, start: int = 0) -> list[dict[str, Any]]:
    """``n`` valid New York leads, numbered from ``start`` (``+1212555<number>``, ``Lead<number>``)."""
    return [
        {"phones": [f"+1212555{i:04d}"], "first_name": f"Lead{i}", "timezone": "America/New_York"}
        for i in range(start, start + n)
    ]


def use_emulator_connection(emu: Any, monkeypatch: pytest.MonkeyPatch, vendor: str, conn_id: str) -> None:
    """Point ``conn_id`` at the emulator's ``vendor`` API, with a short retry backoff (a server's
    ``Retry-After`` still rules), so fault tests do not wait out the default backoff."""
    conn = emu.connection(vendor)
    conn["extra"] = {**conn["extra"], "retry_backoff_seconds": 0.01}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def lead_operator(cls: type[Any], tmp_path: Path, progress_name: str, **params: Any) -> Any:
    """``cls`` built with its progress in ``tmp_path / progress_name`` and chunks of 4, unless ``params`` say otherwise."""
    return cls(**{"progress": str(tmp_path / progress_name), "chunk_size": 4, **params})
