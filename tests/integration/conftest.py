"""Helpers the fault-injection suites share: the delivery invariant checked against the emulator's state."""

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
    return {"accepted": accepted, "unknown": unknown, "refused": refused, "rejected": rejected,
            "landed_unknown": {row for row in unknown if counts[phone_of[row]]}}


@pytest.fixture
def delivery_check() -> Callable[..., dict[str, set[int]]]:
    """:func:`check_delivery`, for test modules (which pytest imports without a package)."""
    return check_delivery
