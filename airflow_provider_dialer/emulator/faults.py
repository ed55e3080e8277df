"""Fault injection for the emulator, in one place: rules, a seeded decision, and the ASGI middleware that applies them.

Kinds:

- ``status``: answer ``status`` (default 503) without applying the request; ``retry_after`` adds the header.
- ``latency``: wait ``delay`` seconds, then handle the request normally.
- ``drop_before``: abort the TCP connection before the request is applied (nothing stored).
- ``drop_after``: apply the request, then abort the connection instead of answering.
- ``trickle``: apply the request, then send the answer in ``chunk_bytes`` pieces ``delay`` seconds apart
  (``chunk_bytes: 1`` sends it a byte at a time); it stops when the client hangs up.
- ``late_apply``: read the request, abort the connection (the client gives up: its fate is unknown),
  then apply it ``delay`` seconds later, as a server does that finishes a request its client stopped
  waiting for. ``GET /_emulator/faults`` counts the applies still due (``late_pending``); a reset
  cancels them.
- ``rate_limit``: a quota of ``rate`` requests/s (a token bucket holding ``burst``, full at start). A request
  over it is answered 429 without being applied, with ``Retry-After: retry_after`` (default: until the
  next token), and for that long every matching request is answered 429 too, counted in ``early`` with
  its delay after that 429 in ``early_after``: a client that honours Retry-After sends none then, except
  what was already on its way (within milliseconds).

A rule matches on ``method`` (or ``*``) and a ``path`` regular expression (searched); it fires with
``probability`` (decided by a ``random.Random`` seeded once, so a run is reproducible), skips its
first ``after`` matches, and fires at most ``times`` times (unlimited when null).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

KINDS = ("status", "latency", "drop_before", "drop_after", "trickle", "late_apply", "rate_limit")


@dataclass
class FaultRule:
    kind: str
    path: str = ".*"
    method: str = "*"
    status: int = 503
    retry_after: float | None = None
    delay: float = 0.0
    chunk_bytes: int = 16
    probability: float = 1.0
    after: int = 0
    times: int | None = None
    body: Any = None
    #: rate_limit: requests per second, and how many the bucket holds
    rate: float = 1.0
    burst: float = 1.0
    # bookkeeping
    matched: int = 0
    fired: int = 0
    #: rate_limit: requests that came while a Retry-After it had sent was still running, and how many
    #: seconds after that 429 each came (arrival times: a client's in-flight requests come within milliseconds)
    early: int = 0
    early_after: list[float] = field(default_factory=list)
    _pattern: re.Pattern[str] | None = field(default=None, repr=False, compare=False)
    _bucket: list[float] | None = field(default=None, repr=False, compare=False)
    #: rate_limit: the Retry-After of the request just refused
    announced: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        self.method = self.method.upper()
        self._pattern = re.compile(self.path)
        if self.kind == "rate_limit" and not (self.rate > 0 and self.burst >= 1):
            raise ValueError("a rate_limit fault needs rate > 0 and burst >= 1")
        self.status = 429 if self.kind == "rate_limit" else self.status

    def over_quota(self, now: float) -> bool:
        """rate_limit: whether this request is refused; sets ``announced`` to the Retry-After its 429 carries."""
        if self._bucket is None:
            # tokens, last refill, start and end of the announced pause
            self._bucket = [self.burst, now, -1.0, -1.0]
        tokens, stamp, quiet_from, quiet_until = self._bucket
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if now < quiet_until:
            self.early += 1
            self.early_after.append(round(now - quiet_from, 4))
            self._bucket = [tokens, now, quiet_from, quiet_until]
            self.announced = quiet_until - now
            return True
        if tokens >= 1.0:
            self._bucket = [tokens - 1.0, now, quiet_from, quiet_until]
            return False
        wait = self.retry_after if self.retry_after is not None else (1.0 - tokens) / self.rate
        self.announced = math.ceil(wait * 1000) / 1000
        self._bucket = [tokens, now, now, now + self.announced]
        return True

    def matches(self, method: str, path: str) -> bool:
        assert self._pattern is not None
        return (self.method == "*" or self.method == method) and bool(self._pattern.search(path))

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        for private in [key for key in data if key.startswith("_") or key == "announced"]:
            data.pop(private)
        return data


class FaultInjector:
    """The rules of one vendor port, and the seeded decision of which request a rule hits."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.rules: list[FaultRule] = []
        self.seed = seed
        self._rng = random.Random(seed)
        #: late applies still due: their tasks and the loop they run on (a reset cancels them)
        self.late: set[tuple[asyncio.AbstractEventLoop, asyncio.Task[None]]] = set()

    def set(self, rules: list[dict[str, Any]], seed: int | None = None) -> None:
        parsed = [
            FaultRule(**{k: v for k, v in r.items() if k not in {"matched", "fired", "early", "early_after"}})
            for r in rules
        ]
        with self._lock:
            self.rules = parsed
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)

    def add(self, rule: dict[str, Any]) -> None:
        parsed = FaultRule(**rule)
        with self._lock:
            self.rules.append(parsed)

    def clear(self) -> None:
        with self._lock:
            self.rules = []
            self._rng = random.Random(self.seed)
            late, self.late = self.late, set()
        for loop, task in late:  # a late write of one test must not land in the next one's state
            loop.call_soon_threadsafe(task.cancel)

    def pick(self, method: str, path: str) -> FaultRule | None:
        if not self.rules:
            return None
        with self._lock:
            for rule in self.rules:
                if not rule.matches(method, path):
                    continue
                rule.matched += 1
                if rule.matched <= rule.after:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.probability < 1.0 and self._rng.random() >= rule.probability:
                    continue
                if rule.kind == "rate_limit" and not rule.over_quota(time.monotonic()):
                    continue
                rule.fired += 1
                return rule
        return None

    def public(self) -> dict[str, Any]:
        with self._lock:
            return {"seed": self.seed, "rules": [r.public() for r in self.rules], "late_pending": len(self.late)}


# Connections by client address, so a fault can abort the socket an ASGI request came on.
TRANSPORTS: dict[tuple[str, int], asyncio.Transport] = {}


def droppable_protocol() -> type:
    """A uvicorn HTTP protocol class that remembers its transport (httptools when present, else h11)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Base
    except ImportError:  # pragma: no cover - httptools is part of uvicorn[standard]
        from uvicorn.protocols.http.h11_impl import H11Protocol as Base  # type: ignore[assignment]  # the other base

    class DroppableProtocol(Base):
        # uvicorn types the argument as BaseTransport; a TCP server always passes a Transport
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            # Nagle plus the client's delayed ACK would stall every request on a reused keep-alive
            # connection by ~40 ms; vendors' front ends answer without that delay
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:  # pragma: no cover - not a TCP socket
                    pass
            super().connection_made(transport)
            peer = transport.get_extra_info("peername")
            if peer:
                self._peer_key = (peer[0], peer[1])
                TRANSPORTS[self._peer_key] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            TRANSPORTS.pop(getattr(self, "_peer_key", None), None)  # type: ignore[arg-type]  # None pops nothing
            super().connection_lost(exc)

    return DroppableProtocol


class _QuietDrops(logging.Filter):
    """uvicorn reports an aborted exchange as an app error; for an injected drop that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without starting response" not in record.getMessage()


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


def _abort(scope: Scope) -> None:
    client = scope.get("client")
    transport = TRANSPORTS.get((client[0], client[1])) if client else None
    if transport is not None:
        transport.abort()


def _hung_up(scope: Scope) -> bool:
    client = scope.get("client")
    transport = TRANSPORTS.get((client[0], client[1])) if client else None
    return transport is not None and transport.is_closing()


class FaultMiddleware:
    """Applies the injector's rules to every request except the admin API."""

    def __init__(self, app: ASGIApp, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        rule = self.injector.pick(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
            return
        scope["dialer_fault"] = rule.kind
        # read before the first await: another request may move the rate_limit rule's pause meanwhile
        retry_after = rule.announced if rule.kind == "rate_limit" else rule.retry_after
        if rule.kind == "latency":
            await asyncio.sleep(rule.delay)
            await self.app(scope, receive, send)
        elif rule.kind in ("status", "rate_limit"):
            await self._drain(receive)
            body = rule.body if rule.body is not None else {"message": f"injected fault: HTTP {rule.status}"}
            payload = json.dumps(body).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            if retry_after is not None:
                # whole milliseconds, rounded up: a client waiting what it is told is never early
                text = f"{math.ceil(retry_after * 1000 - 1e-6) / 1000:.3f}".rstrip("0").rstrip(".")
                headers.append((b"retry-after", text.encode() or b"0"))
            await send({"type": "http.response.start", "status": rule.status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
        elif rule.kind == "drop_before":
            await self._drain(receive)
            _abort(scope)
        elif rule.kind == "drop_after":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
            _abort(scope)
        elif rule.kind == "trickle":
            await self.app(scope, receive, self._trickling(send, rule, scope))
        elif rule.kind == "late_apply":
            body = await self._body(receive)
            _abort(scope)
            loop = asyncio.get_running_loop()
            task = loop.create_task(self._apply_later(scope, body, rule.delay))
            with self.injector._lock:
                self.injector.late.add((loop, task))

    async def _apply_later(self, scope: Scope, body: bytes, delay: float) -> None:
        """Apply a request whose client is gone: its body replayed, its answer swallowed."""
        try:
            await asyncio.sleep(delay)
            replayed = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> Message:
                return replayed.pop() if replayed else {"type": "http.disconnect"}

            async def swallow(message: Message) -> None:
                return None

            await self.app(dict(scope), receive, swallow)
        finally:
            with self.injector._lock:
                self.injector.late.discard((asyncio.get_running_loop(), asyncio.current_task()))

    @staticmethod
    async def _body(receive: Receive) -> bytes:
        parts: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            more = message.get("more_body", False)
        return b"".join(parts)

    @staticmethod
    async def _drain(receive: Receive) -> None:
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False) and message["type"] == "http.request"

    @staticmethod
    def _trickling(send: Send, rule: FaultRule, scope: Scope) -> Send:
        async def trickle(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more = message.get("more_body", False)
            step = max(1, rule.chunk_bytes)
            for start in range(0, len(body), step):
                last = start + step >= len(body)
                if _hung_up(scope):
                    return  # the client gave up (its deadline): stop instead of trickling into the void
                await send(
                    {"type": "http.response.body", "body": body[start : start + step], "more_body": more or not last}
                )
                if not last:
                    await asyncio.sleep(rule.delay)
            if not body:
                await send(message)

        return trickle
