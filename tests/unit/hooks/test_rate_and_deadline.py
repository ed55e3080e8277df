"""Quotas and time limits: the rate limit from a fresh hook, a 429 holding every request of the hook, and the
whole-request deadline (``request_timeout``) against answers that trickle.

The schedule tests run on virtual time: the hook module's clock and sleep are swapped for a scheduler that
lets one thread run at a time and jumps the clock to the next wake-up, so "no request started in this
window" is exact and does not depend on how fast the machine is. The deadline tests use a real socket
server that sends its answer a byte at a time.
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import json
import socket
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import (
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerRateLimitError,
    DialerTransportError,
)
from airflow_provider_dialer.hooks import base as base_module
from airflow_provider_dialer.hooks.base import DialerHook
from airflow_provider_dialer.transport import deadline as deadline_module
from airflow_provider_dialer.transport import retry as retry_module
from airflow_provider_dialer.transport.deadline import guard_deadlines
from airflow_provider_dialer.transport.ratelimit import RateLimiter
from airflow_provider_dialer.transport.requests import Flow, Request, api_call

EPS = 2e-9  # the limiter treats a nanosecond short as due (float rounding)


class DemoHook(DialerHook):
    conn_name_attr = "demo_conn_id"
    default_conn_name = "demo_default"
    conn_type = "demo"
    hook_name = "Demo"
    vendor = "Demo"

    @api_call
    def get_thing(self, thing_id: int) -> Flow[dict[str, Any]]:
        response = yield Request("GET", f"/things/{thing_id}")
        return response.json()

    @api_call
    def create_thing(self, name: str) -> Flow[dict[str, Any]]:
        response = yield Request("POST", "/things", json={"name": name})
        return response.json()


def set_conn(monkeypatch: pytest.MonkeyPatch, port: int = 9, **extra: Any) -> None:
    conn = {
        "conn_type": "demo",
        "host": "127.0.0.1",
        "port": port,
        "schema": "http",
        "login": "bob",
        "password": "pw-123456",
        "extra": {"retry_backoff_seconds": 0.001, **extra},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DEMO_DEFAULT", json.dumps(conn))


# --------------------------------------------------------------------------------------------
# Virtual time: one thread runs at a time; the clock jumps to the earliest wake-up
# --------------------------------------------------------------------------------------------


class VirtualTime:
    """A cooperative scheduler for threads that only wait through :meth:`sleep`."""

    def __init__(self) -> None:
        self.now = 0.0
        self._cond = threading.Condition()
        self._queue: list[tuple[float, int]] = []
        self._seq = itertools.count()
        self._turn: int | None = None

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_800_000_000.0 + self.now

    def _push(self, when: float) -> int:
        seq = next(self._seq)
        heapq.heappush(self._queue, (when, seq))
        return seq

    def _hand_over(self) -> None:
        if self._queue:
            when, seq = heapq.heappop(self._queue)
            self.now = max(self.now, when)
            self._turn = seq
        else:
            self._turn = None
        self._cond.notify_all()

    def _wait_turn(self, seq: int) -> None:
        while self._turn != seq:
            self._cond.wait()

    def sleep(self, seconds: float) -> None:
        with self._cond:
            seq = self._push(self.now + max(0.0, seconds))
            self._hand_over()
            self._wait_turn(seq)

    def run(self, jobs: list[Any], timeout: float = 60) -> list[BaseException | None]:
        """Run each job in its own thread, all starting at virtual time 0; return what each raised."""
        errors: list[BaseException | None] = [None] * len(jobs)
        with self._cond:
            seqs = [self._push(self.now) for _ in jobs]

        def worker(i: int) -> None:
            with self._cond:
                self._wait_turn(seqs[i])
            try:
                jobs[i]()
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                errors[i] = exc
            finally:
                with self._cond:
                    self._hand_over()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(jobs))]
        for thread in threads:
            thread.start()
        with self._cond:
            self._hand_over()
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a virtual-time thread is stuck"
        return errors


@pytest.fixture
def virtual(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    """``time`` replaced by virtual time (monotonic, sleep, time) in the hook and the transport modules it uses."""
    vt = VirtualTime()
    clock = types.SimpleNamespace(monotonic=vt.monotonic, sleep=vt.sleep, time=vt.time)
    for module in (base_module, deadline_module, retry_module):
        monkeypatch.setattr(module, "time", clock)
    return vt


def recording_transport(vt: VirtualTime, answer: Any) -> tuple[httpx.MockTransport, list[tuple[float, int]]]:
    """A transport that stamps each request with the virtual time it went out and answers ``answer(n)``."""
    seen: list[tuple[float, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        n = len(seen)
        response = answer(n)
        seen.append((vt.now, response.status_code))
        return response

    return httpx.MockTransport(handler), seen


def starts_in(starts: list[float], lo: float, hi: float) -> int:
    """How many of the sorted ``starts`` fall in [lo, hi) (the upper end shaved by a rounding error's worth)."""
    return max(0, bisect.bisect_left(starts, hi - EPS) - bisect.bisect_left(starts, lo))


# --------------------------------------------------------------------------------------------
# The limiter alone: a discrete-event simulation over arbitrary arrivals, oversleeps and pauses
# --------------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    rate=st.one_of(st.none(), st.floats(0.2, 500)),
    arrivals=st.lists(st.floats(0, 5), min_size=1, max_size=40),
    oversleeps=st.lists(st.floats(0, 0.2), min_size=1, max_size=10),
    pauses=st.lists(st.tuples(st.floats(0, 6), st.floats(0, 3)), max_size=4),
)
def test_limiter_never_lets_a_window_hold_more_than_its_share_nor_a_start_into_a_pause(
    rate, arrivals, oversleeps, pauses
):
    """Requests ask at arbitrary times, sleep what they are told (plus a random oversleep) and ask again.

    Invariants, computed from the grant times alone: in every half-open window of ``k / rate`` seconds
    at most ``k`` requests start (no burst, a fresh limiter included); no request starts inside a pause
    window; every request starts eventually.
    """
    clock = {"now": 0.0}
    limiter = RateLimiter(rate, clock=lambda: clock["now"])
    events: list[tuple[float, int, int, Any]] = []  # (time, priority: pauses first, seq, payload)
    seq = itertools.count()
    for at, seconds in pauses:
        heapq.heappush(events, (at, 0, next(seq), ("pause", seconds)))
    for i, at in enumerate(arrivals):
        heapq.heappush(events, (at, 1, next(seq), ("ask", i)))
    late = itertools.cycle(oversleeps)
    grants: list[float] = []
    windows: list[tuple[float, float]] = []
    while events:
        at, _, _, (kind, value) = heapq.heappop(events)
        clock["now"] = at
        if kind == "pause":
            limiter.pause(value)
            windows.append((at, at + value))
            continue
        delay = limiter.acquire()
        if delay == 0.0:
            grants.append(at)
        else:
            assert delay > 0
            heapq.heappush(events, (at + delay + next(late), 1, next(seq), ("ask", value)))
    assert len(grants) == len(arrivals)
    grants.sort()
    for lo, hi in windows:
        assert starts_in(grants, lo, hi) == 0, (lo, hi, grants)
    if rate:
        gap = 1.0 / rate
        for i, start in enumerate(grants):
            for k in range(1, len(grants) - i + 1):
                assert starts_in(grants, start, start + k * gap) <= k, (k, start, grants)


# --------------------------------------------------------------------------------------------
# The hook on virtual time: many threads, one hook
# --------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    threads=st.integers(2, 5),
    per_thread=st.integers(1, 4),
    rate=st.one_of(st.none(), st.sampled_from([2.0, 10.0, 33.0])),
    refused=st.integers(0, 6),
    retry_after=st.sampled_from([0.05, 0.4, 1.0, 2.5]),
)
def test_a_429_holds_every_thread_of_the_hook_until_retry_after(
    monkeypatch, threads, per_thread, rate, refused, retry_after
):
    """One request among many concurrent ones is answered 429 with Retry-After: no request of the hook, from
    any thread, goes out before it has passed; and from the first request on, starts are spaced by the rate."""
    vt = VirtualTime()
    monkeypatch.setattr(
        base_module, "time", types.SimpleNamespace(monotonic=vt.monotonic, sleep=vt.sleep, time=vt.time)
    )
    extra = {"rate_limit_per_second": rate} if rate else {}
    set_conn(monkeypatch, **extra)
    refused = min(refused, threads * per_thread - 1)

    def answer(n: int) -> httpx.Response:
        if n == refused:
            return httpx.Response(429, headers={"Retry-After": repr(retry_after)}, json={"message": "slow down"})
        return httpx.Response(200, json={"n": n})

    transport, seen = recording_transport(vt, answer)
    hook = DemoHook(transport=transport)
    jobs = [lambda t=t: [hook.get_thing(t * 100 + i) for i in range(per_thread)] for t in range(threads)]
    assert vt.run(jobs) == [None] * threads
    assert len(seen) == threads * per_thread + 1
    at_429 = seen[refused][0]
    after = [at for at, _ in seen[refused + 1 :]]
    assert all(at >= at_429 + retry_after - EPS for at in after), (at_429, retry_after, seen)
    if rate:
        starts = [at for at, _ in seen]
        assert all(b - a >= 1 / rate - EPS for a, b in itertools.pairwise(starts)), (rate, starts)


def test_a_fresh_hook_sends_no_burst(monkeypatch, virtual):
    """The issue's case: UJET's 10 requests/s from a fresh hook. At most 2 requests in the first 0.2 s
    (at 0.0 and 0.1), where a bucket that starts full sent 12."""
    set_conn(monkeypatch, rate_limit_per_second=10)
    transport, seen = recording_transport(virtual, lambda n: httpx.Response(200, json={}))
    hook = DemoHook(transport=transport)
    assert virtual.run([lambda t=t: [hook.get_thing(t * 10 + i) for i in range(5)] for t in range(4)]) == [None] * 4
    starts = sorted(at for at, _ in seen)
    assert starts_in(starts, 0.0, 0.2) == 2
    assert starts_in(starts, 0.0, 1.0) == 10
    assert starts[-1] == pytest.approx(1.9)


def test_a_pause_beyond_the_retry_budget_fails_the_waiting_requests_without_sending_them(monkeypatch, virtual):
    """Retry-After: 600 with retry_max_seconds=5: the refused request and every other request of the hook
    fail at once with DialerRateLimitError; none is sent during the pause, none waits ten minutes."""
    set_conn(monkeypatch, retry_max_seconds=5)

    def answer(n: int) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "600"}) if n == 0 else httpx.Response(200, json={})

    transport, seen = recording_transport(virtual, answer)
    hook = DemoHook(transport=transport)

    def slow_caller() -> None:
        base_module.time.sleep(0.5)  # asks after the 429 came back
        hook.get_thing(2)

    errors = virtual.run([lambda: hook.get_thing(1), slow_caller])
    assert [type(e) for e in errors] == [DialerRateLimitError, DialerRateLimitError]
    assert "Retry-After" in str(errors[1]) and "not sent" in str(errors[1])
    assert len(seen) == 1 and virtual.now < 1.0


# --------------------------------------------------------------------------------------------
# request_timeout: a real socket server that answers slowly
# --------------------------------------------------------------------------------------------

BODY = json.dumps({"thing": "x" * 400}).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n"

#: how the server sends its answer: a list of (bytes, seconds to wait after them)
PLANS: dict[str, list[tuple[bytes, float]]] = {
    "status line a byte at a time": [(HEAD[i : i + 1], 0.05) for i in range(len(HEAD))] + [(BODY, 0)],
    "headers a byte at a time": [(HEAD[:17], 0)]
    + [(HEAD[i : i + 1], 0.05) for i in range(17, len(HEAD))]
    + [(BODY, 0)],
    "body a byte at a time": [(HEAD, 0)] + [(BODY[i : i + 1], 0.05) for i in range(len(BODY))],
    "silence, then the body a byte at a time": [(HEAD, 0.3)] + [(BODY[i : i + 1], 0.05) for i in range(len(BODY))],
    "no answer at all": [(b"", 60)],
}


class SlowServer:
    """Answers every request on a connection with ``plan``; ``fast`` answers at once (keep-alive)."""

    def __init__(self, plans: list[list[tuple[bytes, float]]]) -> None:
        self.plans = list(plans)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            try:
                while True:
                    while b"\r\n\r\n" not in buffer:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    head, _, buffer = buffer.partition(b"\r\n\r\n")
                    length = next(
                        (
                            int(line.split(b":")[1])
                            for line in head.split(b"\r\n")
                            if line.lower().startswith(b"content-length:")
                        ),
                        0,
                    )
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                    buffer = buffer[length:]
                    plan = self.plans[min(self.requests, len(self.plans) - 1)]
                    self.requests += 1
                    for data, pause in plan:
                        if data:
                            conn.sendall(data)
                        time.sleep(pause)
            except OSError:
                return  # the client hung up: its deadline

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def slow_server() -> Iterator[Any]:
    servers: list[SlowServer] = []

    def make(*plans: list[tuple[bytes, float]]) -> SlowServer:
        servers.append(SlowServer(list(plans)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _call(hook: DemoHook, mode: str, write: bool) -> Any:
    if mode == "sync":
        return hook.create_thing("x") if write else hook.get_thing(1)

    async def run() -> Any:
        try:
            return await (hook.acreate_thing("x") if write else hook.aget_thing(1))
        finally:
            await hook.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("plan", list(PLANS))
def test_request_timeout_bounds_an_answer_that_trickles_or_stalls(monkeypatch, slow_server, plan, mode):
    """Each answer keeps every single read well under read_timeout (30 s) and would take 10-20 s in all
    (or never come): the exchange is cut at request_timeout=0.5 s, reported as such, and not retried."""
    server = slow_server(PLANS[plan])
    set_conn(monkeypatch, port=server.port, request_timeout=0.5, read_timeout=30, max_attempts=1)
    hook = DemoHook()
    started = time.monotonic()
    with pytest.raises(DialerTransportError) as info:
        _call(hook, mode, write=False)
    elapsed = time.monotonic() - started
    hook.close()
    assert "request_timeout=0.5s" in str(info.value)
    assert 0.5 <= elapsed < 5, elapsed  # a 10 s trickle cut near 0.5 s; the slack is for a loaded machine


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_write_cut_by_the_deadline_has_an_unknown_fate_and_is_not_resent(monkeypatch, slow_server, mode):
    server = slow_server(PLANS["body a byte at a time"])
    set_conn(monkeypatch, port=server.port, request_timeout=0.5, read_timeout=30)
    hook = DemoHook()
    with pytest.raises(DialerDeliveryUnknownError, match="request_timeout=0.5s.*not resent"):
        _call(hook, mode, write=True)
    hook.close()
    assert server.requests == 1


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_the_deadline_is_per_exchange_not_per_connection(monkeypatch, slow_server, mode):
    """Three answers of ~0.4 s each on one keep-alive connection, request_timeout=1 s: each gets its own second."""
    slowish = [(HEAD, 0.2), (BODY[:10], 0.2), (BODY[10:], 0)]
    server = slow_server(slowish)
    set_conn(monkeypatch, port=server.port, request_timeout=1, max_attempts=1)
    hook = DemoHook()

    if mode == "sync":
        results = [hook.get_thing(i) for i in range(3)]
        hook.close()
    else:

        async def run() -> list[Any]:
            try:
                return [await hook.aget_thing(i) for i in range(3)]
            finally:
                await hook.aclose()

        results = asyncio.run(run())
    assert results == [json.loads(BODY)] * 3 and server.requests == 3


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_request_timeout_must_be_a_positive_number(monkeypatch, value):
    set_conn(monkeypatch, request_timeout=value)
    with pytest.raises(DialerConfigError, match="request_timeout"):
        DemoHook().settings


def test_every_pool_of_the_clients_is_guarded_proxies_from_the_environment_included(monkeypatch):
    """Pins the httpx internals the deadline relies on: an httpx release that moves them fails here."""
    set_conn(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    hook = DemoHook()
    assert guard_deadlines(hook.get_conn()) >= 2  # the direct pool and the proxy's
    hook.close()

    async def guarded() -> int:
        try:
            return guard_deadlines(hook._get_async_client())
        finally:
            await hook.aclose()

    assert asyncio.run(guarded()) >= 2
    assert guard_deadlines(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))) == 0
