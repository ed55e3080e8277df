"""The calling-window check's margin is kept on the wire: a write that would leave after it is not sent.

The task checks each chunk's leads against their window just before sending, asking the window to stay
open ``send_margin`` seconds more. Then the rate limiter, a server's ``Retry-After`` or a retry may wait
longer than that. Here XCALLY (the emulator, over real HTTP) answers the first ``times`` bulk adds with
429 and a ``Retry-After`` drawn per case, while the leads' window (08:00-21:00 New York) closes a few
seconds after the task starts, on a task clock that runs with the wall clock.

The invariant is read from the emulator alone: its request log gives each accepted bulk add's arrival
(wall time, turned into the task's clock), its state gives each stored contact's ``scheduledat``; a
lead is dialed at its ``scheduledat`` when that is after its arrival, else on arrival, and that instant
must read 08:00-21:00 in New York by ``zoneinfo``. One lead per chunk, one chunk at a time: the n-th
accepted add is the n-th stored contact. Each lead lands once.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator

pytestmark = pytest.mark.integration
NY = ZoneInfo("America/New_York")
CLOSE = dt.datetime(2027, 6, 10, 21, 0, tzinfo=NY)  # the window's close on the task's clock
ADDS = re.compile(r"^/api/cm/lists/\d+/contacts$")


def case(seed: int) -> dict[str, Any]:
    """A draw of the class: how soon the window closes, the margin, the server's wait and how often it asks."""
    rng = random.Random(seed)
    close_in = rng.uniform(1.0, 2.5)
    return {
        "close_in": close_in,
        "margin": rng.uniform(0.3, close_in - 0.4),
        "retry_after": rng.choice([rng.uniform(0.2, 1.0), rng.uniform(1.0, 3.5)]),
        "times": rng.choice([1, 2]),
        "leads": rng.randint(2, 4),
    }


# seeds drawn once so that the waits straddle both the margin and the close (checked below)
SEEDS = [3, 11, 17, 23, 42, 57]


def test_the_seeds_cover_waits_past_the_close_and_waits_within_the_margin() -> None:
    cases = [case(seed) for seed in SEEDS]
    assert any(c["retry_after"] > c["close_in"] for c in cases)
    assert any(c["retry_after"] < c["margin"] for c in cases)


@pytest.mark.parametrize("seed", SEEDS)
def test_no_lead_is_dialed_after_its_window_closed_however_long_the_server_makes_it_wait(
    seed, fresh_dialer_emulator, monkeypatch, tmp_path, delivery_check
) -> None:
    c = case(seed)
    emu = fresh_dialer_emulator
    conn = emu.connection("xcally")
    monkeypatch.setenv(
        "AIRFLOW_CONN_XCALLY_DEFAULT",
        __import__("json").dumps({**conn, "extra": {**conn["extra"], "rate_limit_per_second": 0}}),
    )
    emu.set_faults(
        "xcally",
        [
            {
                "kind": "status",
                "status": 429,
                "retry_after": round(c["retry_after"], 2),
                "times": c["times"],
                "path": ADDS.pattern,
                "method": "POST",
            }
        ],
    )
    source = [
        {"phones": [f"+1212555{i:04d}"], "external_id": f"E{i}", "timezone": "America/New_York"}
        for i in range(c["leads"])
    ]
    start = CLOSE - dt.timedelta(seconds=c["close_in"])
    wall0 = time.time()
    # the task's clock runs with the wall clock, from a few seconds before the window closes
    monkeypatch.setattr(
        base_module, "utcnow", lambda: (start + dt.timedelta(seconds=time.time() - wall0)).astimezone(dt.UTC)
    )
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        source=source,
        list_name="leads",
        progress=str(tmp_path / "p.json"),
        chunk_size=1,
        concurrency=1,
        send_margin=c["margin"],
    )
    summary = op.execute({})

    accepted = sorted(r["ts"] for r in emu.requests("xcally") if ADDS.match(r["path"]) and 200 <= r["status"] < 300)
    dump = emu.state("xcally")
    contacts = sorted(dump.get("xcally", dump)["contacts"], key=lambda contact: contact["id"])
    assert len(accepted) == len(contacts) == c["leads"], (c, accepted, contacts)
    for arrived_wall, contact in zip(accepted, contacts, strict=True):
        arrived = start + dt.timedelta(seconds=arrived_wall - wall0)
        scheduled = contact["scheduledat"]
        when = dt.datetime.fromisoformat(scheduled.replace("Z", "+00:00")) if scheduled else None
        dial = when if when is not None and when > arrived else arrived
        local = dial.astimezone(NY)
        assert dt.time(8) <= local.time() < dt.time(21), (
            f"case {c}: {contact['phone'][-4:]} dialed at {local:%H:%M:%S.%f} New York (arrived {arrived.astimezone(NY):%H:%M:%S.%f})"
        )
    delivery_check(summary, source, emu.leads("xcally", keys=True)["xcally.contacts"]["counts"])
    assert summary["accepted"] == c["leads"]
