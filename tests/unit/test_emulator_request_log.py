"""The emulator logs a request before its client can have the answer.

Tests read the request log right after a client got its answer, and the next test resets the log:
a request logged only after its answer was sent could land in the next test's log (seen in CI: a
poke of the previous test in a test that asserts no request was made). Driven at the ASGI level
with the emulator's own app, so the moment the answer leaves is observed exactly.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from airflow_provider_dialer.emulator.app import build_port
from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig

CASES = [
    ("GET", "/api/cm/contacts", None, 401),  # no credentials: the vendor's refusal
    ("GET", "/api/cm/contacts", {"kind": "status", "status": 429, "retry_after": 1, "path": ".*"}, 429),
    ("POST", "/api/cm/lists", {"kind": "status", "status": 503, "path": ".*"}, 503),
    ("GET", "/api/no/such/route", None, 404),
    ("POST", "/api/cm/contacts", {"kind": "drop_before", "path": ".*"}, 0),  # no answer at all
]


def _drive(port: Any, method: str, path: str) -> list[tuple[str, int]]:
    """Send one request through the port's app; for each message the client would get, how many
    requests the log held at that moment."""
    seen: list[tuple[str, int]] = []
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "scheme": "http",
        "http_version": "1.1",
        "root_path": "",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"{}", "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        seen.append((message["type"], len(port.ctx.recorder.requests)))

    asyncio.run(port.app(scope, receive, send))
    return seen


@pytest.mark.parametrize(("method", "path", "fault", "status"), CASES)
def test_a_request_is_in_the_log_before_its_answer_leaves(method, path, fault, status) -> None:
    port = build_port("xcally", EmulatorConfig(), Credentials())
    if fault is not None:
        port.faults.set([{**fault, "times": 1}])
    seen = _drive(port, method, path)
    # every message the client gets finds the request logged already
    assert all(count == 1 for _, count in seen), seen
    assert (not seen) == (status == 0)
    (logged,) = port.ctx.recorder.requests
    assert (logged["method"], logged["path"], logged["status"]) == (method, path, status)
    assert ("fault" in logged) == (fault is not None)
