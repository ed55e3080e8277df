"""Fault suite, transport part: an answer that trickles a byte at a time and a burst of 429s, against the emulator
over real HTTP, for the lead operators. Every lead is accounted for (none lost, none landed twice: the
emulator's own per-phone receipt counts), and the timing is read from the emulator's request log:
what the server saw, not what the client believes it did.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from airflow_provider_dialer.emulator.app import wait_until
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

from .conftest import check_delivery

pytestmark = pytest.mark.integration
# 16:00 UTC: 12:00 in New York, so every lead may be called now
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)

#: vendor -> (upload path, operator settings, emulator endpoint whose receipt counts prove delivery)
UPLOADS: dict[str, tuple[str, dict[str, Any], str]] = {
    "ucontact": (r"^/api/dialer/id/sales/lists$", {"hub": "sales"}, "automation.lists"),
    "xcally": (r"^/api/cm/lists/\d+/contacts$", {}, "xcally.contacts"),
    "voipex": (r"^/dialer/call-lists$", {}, "voipex.call-lists"),
    "ujet": (r"/contacts/import$", {"campaign_id": 6}, "ujet.import"),
}


def leads(n: int) -> list[dict[str, Any]]:
    return [
        {
            "phones": [f"+1212555{i:04d}"],
            "first_name": f"Lead{i}",
            "external_id": f"EXT-{i}",
            "timezone": "America/New_York",
        }
        for i in range(n)
    ]


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    fresh_dialer_emulator.configure(ujet_rate_limit=0, ujet_job_seconds=0.0, ucontact_list_load_seconds=0.0)
    return fresh_dialer_emulator


def connect(emu, monkeypatch, vendor: str, **extra: Any) -> str:
    conn = emu.connection(vendor)
    conn["extra"] = {**conn["extra"], "retry_backoff_seconds": 0.01, **extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{vendor.upper()}_DEFAULT", json.dumps(conn))
    return f"{vendor}_default"


def stored(emu, vendor: str, endpoint: str, expected: int) -> dict[str, int]:
    """The emulator's per-phone receipt counts, once ``expected`` phones landed (imports apply a moment later)."""

    def read() -> dict[str, int]:
        emu.state(vendor)  # settles what has finished loading
        return emu.leads(vendor, keys=True).get(endpoint, {}).get("counts", {})

    wait_until(lambda: len(read()) >= expected, timeout=5)
    return read()


@pytest.mark.parametrize("vendor", list(UPLOADS))
def test_an_upload_answer_that_trickles_is_cut_by_request_timeout_and_no_lead_is_lost_or_doubled(
    emu, monkeypatch, tmp_path, vendor
):
    """The second chunk's answer comes a byte a second (read_timeout never trips); request_timeout=1 s cuts
    it, the chunk's fate is unknown (it was applied), and the operator resolves it by reading the vendor's
    state instead of sending it again."""
    path, settings, endpoint = UPLOADS[vendor]
    conn_id = connect(emu, monkeypatch, vendor, request_timeout=1)
    emu.set_faults(
        vendor,
        [{"kind": "trickle", "chunk_bytes": 1, "delay": 1.0, "path": path, "method": "POST", "after": 1, "times": 1}],
    )
    source = leads(12)
    started = time.monotonic()
    summary = UploadListOperator(
        task_id="up",
        conn_id=conn_id,
        list_name="june",
        settings=settings,
        source=source,
        progress=str(tmp_path / "p.json"),
        chunk_size=4,
        concurrency=1,
    ).execute({})
    elapsed = time.monotonic() - started
    rule = emu.admin(vendor, "GET", "faults")["rules"][0]
    assert rule["fired"] == 1  # the trickle happened...
    checked = check_delivery(summary, source, stored(emu, vendor, endpoint, 12 - summary["unknown"]))
    assert len(checked["accepted"]) + len(checked["unknown"]) == 12  # ...and every lead is accounted for
    assert elapsed < 8, elapsed  # the answer alone (tens of bytes, one a second) takes far longer


@pytest.mark.parametrize("vendor", ["xcally", "ucontact"])
def test_a_429_burst_holds_every_chunk_until_retry_after_and_no_lead_is_lost_or_doubled(
    emu, monkeypatch, tmp_path, vendor
):
    """The server allows 2 uploads/s and says ``Retry-After: 1`` when over; the connection is set to 3/s and
    four chunks go at once. After each 429 the server sees nothing more for the announced second, except what
    was already on the wire (it arrives within the first 0.2 s), and every lead lands once."""
    path, settings, endpoint = UPLOADS[vendor]
    conn_id = connect(emu, monkeypatch, vendor, rate_limit_per_second=3, max_attempts=8)
    emu.set_faults(
        vendor, [{"kind": "rate_limit", "rate": 2, "burst": 1, "retry_after": 1.0, "path": path, "method": "POST"}]
    )
    source = leads(12)
    summary = UploadListOperator(
        task_id="up",
        conn_id=conn_id,
        list_name="june",
        settings=settings,
        source=source,
        progress=str(tmp_path / "p.json"),
        chunk_size=2,
        concurrency=4,
    ).execute({})
    checked = check_delivery(summary, source, stored(emu, vendor, endpoint, 12))
    assert checked["accepted"] == set(range(1, 13)) and summary["unknown"] == 0

    rule = emu.admin(vendor, "GET", "faults")["rules"][0]
    assert rule["fired"] > 0, "the burst never happened"
    # arrival times, by the server's clock: what came in during an announced pause came within 0.2 s of its
    # 429 (it was on the wire already); a client that let its other chunks go on would show 0.33 s, 0.67 s...
    assert all(after < 0.2 for after in rule["early_after"]), rule["early_after"]


def test_a_fresh_ujet_hook_sends_no_burst_above_ten_per_second(emu, monkeypatch, tmp_path):
    """The vendor's quota is 10 requests/s; a fresh task pushes 25 leads one request each, four at a time.
    In every window of one second the server sees at most 11 requests (10, plus one for network jitter),
    and no 429: where a bucket that starts full sent 12 in the first 0.2 s."""
    emu.configure(ujet_rate_limit=10)
    conn_id = connect(emu, monkeypatch, "ujet")
    source = leads(25)
    summary = PushFreshLeadsOperator(
        task_id="fresh",
        conn_id=conn_id,
        settings={"campaign_id": 6},
        source=source,
        progress=str(tmp_path / "p.json"),
        concurrency=4,
        chunk_size=1,
    ).execute({})
    assert summary["accepted"] == 25
    seen = sorted(r["ts"] for r in emu.requests("ujet") if r["method"] == "POST")
    statuses = [r["status"] for r in emu.requests("ujet") if r["method"] == "POST"]
    assert statuses.count(429) == 0, statuses
    busiest = max(sum(1 for ts in seen if start <= ts < start + 1.0) for start in seen)
    assert busiest <= 11, busiest
    assert sum(1 for ts in seen if ts < seen[0] + 0.2) <= 3
