"""A deadline on each whole HTTP exchange (extra ``request_timeout``), enforced under httpx's per-read timeouts."""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from typing import Any

import httpcore
import httpx

#: (monotonic instant, configured seconds) of the exchange running in this thread or task, if any
DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("dialer_deadline", default=None)


def _deadline_message(seconds: float) -> str:
    """The reason an operation cut by the exchange's deadline (not its own timeout) reports."""
    return f"no complete answer within request_timeout={seconds:g}s"


def _time_left(timeout: float | None, error: type[Exception]) -> tuple[float | None, float | None]:
    """``timeout`` cut to what is left of the running exchange's deadline; and the deadline's seconds if it cut it.

    Raises ``error`` at once when the deadline has passed.
    """
    running = DEADLINE.get()
    if running is None:
        return timeout, None
    deadline, seconds = running
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(_deadline_message(seconds))
    if timeout is None or left < timeout:
        return left, seconds
    return timeout, None


@contextlib.contextmanager
def _cut_to_deadline(timeout: float | None, error: type[Exception]) -> Iterator[float | None]:
    """Yield ``timeout`` cut to the running exchange's deadline; a timeout the cut caused is re-raised
    as ``error`` naming the deadline, so the message says which limit was hit."""
    cut, seconds = _time_left(timeout, error)
    try:
        yield cut
    except error:
        if seconds is None:
            raise
        raise error(_deadline_message(seconds)) from None


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits no longer than the running exchange's deadline.

    httpx's timeouts apply to each socket operation: an answer that trickles a byte at a time never
    trips them. Cutting each operation to the time left bounds the whole exchange instead.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _cut_to_deadline(timeout, httpcore.ReadTimeout) as cut:
            return self._inner.read(max_bytes, cut)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _cut_to_deadline(timeout, httpcore.WriteTimeout) as cut:
            self._inner.write(buffer, cut)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, cut, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, cut, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    """Async twin of :class:`_DeadlineStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _cut_to_deadline(timeout, httpcore.ReadTimeout) as cut:
            return await self._inner.read(max_bytes, cut)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _cut_to_deadline(timeout, httpcore.WriteTimeout) as cut:
            await self._inner.write(buffer, cut)

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_tcp(host, port, cut, local_address, socket_options))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.AsyncNetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_unix_socket(path, cut, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guard_deadlines(client: httpx.Client | httpx.AsyncClient) -> int:
    """Put every connection pool of ``client`` (proxies from the environment included) under the deadline.

    httpx offers no public way to hand its default transport a network backend, so this swaps the
    backend of the pools httpx built; connections made afterwards use it. Returns how many pools it
    guarded (0 for a client on a test transport, which has no network). A test pins these names,
    so an httpx release that moves them fails the suite instead of silently dropping the deadline.
    """
    guarded = 0
    for transport in [client._transport, *client._mounts.values()]:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is None:
            continue
        if not isinstance(backend, (_DeadlineBackend, _AsyncDeadlineBackend)):
            wrapper = _AsyncDeadlineBackend if isinstance(client, httpx.AsyncClient) else _DeadlineBackend
            pool._network_backend = wrapper(backend)  # type: ignore[union-attr]  # httpcore's private hook, read above
        guarded += 1
    return guarded
