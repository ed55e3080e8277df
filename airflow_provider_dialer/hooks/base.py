"""DialerHook: the HTTP behaviour every vendor hook shares, written once.

A vendor hook describes each endpoint as a *flow*: a generator that yields :class:`Request` objects
and receives ``httpx.Response`` objects, then returns the parsed result. The flow is the one
implementation of request building and response parsing; :func:`api_call` turns it into a sync
method (``hook.create_list(...)``, for operators) and an async twin (``await hook.acreate_list(...)``,
for triggers). Only the transport call differs between the two.

Around every request this module applies, in one place: the base-URL and https rule, auth headers
(obtained by the vendor's own auth flow), the client-side rate limit, timeouts, retries with
exponential backoff and jitter honouring ``Retry-After``, the delivery rule for writes whose fate is
unknown, the exception family, and secret redaction.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import email.utils
import functools
import ipaddress
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Coroutine, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Concatenate, Generic, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import httpcore
import httpx
from airflow.sdk import BaseHook

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerError,
    DialerHTTPError,
    DialerRateLimitError,
    DialerTransportError,
)
from airflow_provider_dialer.link_templates import (
    ORIGIN,
    PLACEHOLDERS,
    TEMPLATE_EXTRAS,
    check_template,
    fill_template,
    one_id,
)

if TYPE_CHECKING:
    from types import FrameType

    from airflow.sdk import Connection
    from pydantic import JsonValue

T = TypeVar("T")
P = ParamSpec("P")

#: A flow yields requests, receives responses, and returns its result.
Flow = Generator["Request", httpx.Response, T]

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# --------------------------------------------------------------------------------------------
# Requests and flows
# --------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One HTTP request as a vendor flow describes it (path relative to the connection's base URL)."""

    method: str
    path: str
    params: Mapping[str, Any] | list[tuple[str, Any]] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    content: bytes | str | None = None
    files: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    #: send the vendor's auth headers (False for the token endpoints themselves)
    authenticated: bool = True
    #: which of the vendor's auth schemes applies (uContact has two APIs with two schemes)
    auth: str = "default"
    #: safe to resend when its fate is unknown; defaults to True for GET/HEAD/OPTIONS only
    idempotent: bool | None = None
    #: absolute URL overriding base URL + path (Voipex's token host)
    url: str | None = None
    #: statuses handed to the flow instead of raising (e.g. 404 for "does it exist?")
    accept_statuses: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        if self.idempotent is None:
            self.idempotent = self.method in IDEMPOTENT_METHODS


class ApiCall(Generic[P, T]):
    """What :func:`api_call` makes of a flow method, as type checkers see it: the sync method (called
    on an instance, without ``self``), and the flow behind it as ``.flow`` (called with the hook).

    The async twin ``a<name>`` is made at class creation under a computed name, which type checkers
    cannot follow; a hook that calls one declares it as an :data:`AsyncTwin` attribute.
    """

    flow: Callable[Concatenate[Any, P], Flow[T]]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        raise NotImplementedError  # never called: __set_name__ puts the real functions on the class


#: the async twin of an :func:`api_call` method, as a hook declares it for type checkers
AsyncTwin = Callable[P, Coroutine[Any, Any, T]]


def api_call(fn: Callable[Concatenate[Any, P], Flow[T]]) -> ApiCall[P, T]:
    """Turn a flow method into a sync method of the same name and an async twin named ``a<name>``."""

    class _Twin:
        def __set_name__(self, owner: type, name: str) -> None:
            @functools.wraps(fn)
            def sync(self_: DialerHook, *args: Any, **kwargs: Any) -> T:
                return self_.run_flow(fn(self_, *args, **kwargs))

            @functools.wraps(fn)
            async def asynchronous(self_: DialerHook, *args: Any, **kwargs: Any) -> T:
                return await self_.arun_flow(fn(self_, *args, **kwargs))

            asynchronous.__name__ = asynchronous.__qualname__ = f"a{name}"
            asynchronous.__doc__ = f"Async twin of :meth:`{name}` (same request, same parsing)."
            sync.flow = fn  # type: ignore[attr-defined]  # a function takes the attribute; ApiCall declares it
            setattr(owner, name, sync)
            setattr(owner, f"a{name}", asynchronous)

    # the descriptor replaces itself with the functions above when the class is made (__set_name__)
    return cast("ApiCall[P, T]", _Twin())


# --------------------------------------------------------------------------------------------
# Settings read from the connection
# --------------------------------------------------------------------------------------------


def as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


_as_bool = as_bool  # older spelling, kept for modules written against it


def _as_float(value: Any, default: float | None, name: str) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DialerConfigError(f"connection extra {name!r} must be a number, got {value!r}") from None


def tested_connection_id(conn_id: str) -> str:
    """The connection id a user asked to test, when ``conn_id`` is the temporary id Airflow's test
    endpoint gave a copy of it; else ``conn_id``.

    Airflow 3.3's ``POST /api/v2/connections/test`` (the UI's Test button) exports the connection under
    a random id (its local ``transient_conn_id``) and keeps the user's in ``test_body.connection_id``;
    neither reaches the hook. They are read from that function's frame, and only when its temporary
    id is exactly ``conn_id``; anything else (the CLI's ``airflow connections test``, a task) keeps
    ``conn_id``.
    """
    import sys

    frame: FrameType | None = sys._getframe(1)
    for _ in range(60):
        if frame is None:
            break
        local = frame.f_locals
        if local.get("transient_conn_id") == conn_id:
            asked = getattr(local.get("test_body"), "connection_id", None)
            if isinstance(asked, str) and asked:
                return asked
        frame = frame.f_back
    return conn_id


def json_array(encoded: Iterable[bytes]) -> bytes:
    """A JSON array of items each already encoded on its own (``pydantic_core.to_json``).

    The list paths encode each contact as soon as it is mapped, so its dict dies at once: a list of
    thousands of nested dicts kept alive for one big encode costs the garbage collector two to three
    times what the mapping itself costs (bytes are not tracked by the collector).
    """
    return b"[" + b",".join(encoded) + b"]"


def json_object(head: Mapping[str, Any], key: str, encoded: Iterable[bytes]) -> bytes:
    """``{**head, key: [items]}`` as JSON bytes, the items already encoded (see :func:`json_array`)."""
    from pydantic_core import to_json

    parts = [to_json(name) + b":" + to_json(value) for name, value in head.items()]
    parts.append(to_json(key) + b":" + json_array(encoded))
    return b"{" + b",".join(parts) + b"}"


def ssl_context(verify: bool | str) -> Any:
    """The SSL context for a ``verify`` setting (True, False or a CA bundle path), shared process-wide.

    Every client used to build its own: loading the CA bundle costs about 1 MB and 15 ms per
    context, which a triggerer running hundreds of deferred waits, or an event-driven DAG creating
    a hook per batch, pays again and again. Contexts are safe to share between clients and threads.
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` are honoured as httpx does.
    """
    import os

    return _ssl_context(verify, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))


@functools.lru_cache(maxsize=16)
def _ssl_context(verify: bool | str, cert_file: str | None, cert_dir: str | None) -> Any:
    import os
    import ssl

    if verify is True:
        return httpx.create_ssl_context(verify=True)  # certifi, or SSL_CERT_FILE / SSL_CERT_DIR
    if verify is False:
        return httpx.create_ssl_context(verify=False)
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before resending. Pure: unit-tested without a server."""

    max_attempts: int = 5
    total_seconds: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})
    #: statuses that prove the server did not apply a write, so any method may be resent
    unapplied_statuses: frozenset[int] = frozenset({429, 503})

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt that just failed."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return (rng or random).uniform(0, ceiling)

    def status_is_retryable(self, status: int, idempotent: bool) -> bool:
        if status not in self.retry_statuses:
            return False
        return idempotent or status in self.unapplied_statuses


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class RateLimiter:
    """When the requests of one hook may start: spaced to the rate, and held during a server's pause.

    Thread-safe; one instance is shared by the sync and async calls of a hook, whatever thread or
    event loop they run on.

    - **Spacing.** Two requests start at least ``1 / per_second`` apart, from the first request of a
      fresh hook on: there is no burst allowance, so in any half-open window of ``k / per_second``
      seconds at most ``k`` requests start. (A token bucket that starts full lets a fresh hook send
      a second's worth at once, which a vendor counting requests per second answers with 429s.)
    - **Pause.** :meth:`pause` (called on a 429) holds every request of the hook until the server's
      ``Retry-After`` has passed, including requests already waiting for their turn.

    ``per_second`` None or 0 means no spacing (the pause still applies). ``clock`` is injectable so
    tests can check the schedule without waiting.
    """

    def __init__(self, per_second: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_second if per_second and per_second > 0 else None
        self.interval = 1.0 / self.rate if self.rate else 0.0
        self._clock = clock
        self._next_start = -math.inf
        self._resume_at = -math.inf
        self._lock = threading.Lock()

    def acquire(self, waited_until: float = -math.inf) -> float:
        """Take the next start if it is due: return 0.0 (send now), else the seconds to wait before asking again.

        A caller that waited must ask again rather than send: a pause may have begun meanwhile.
        ``waited_until`` is the end of a pause the caller has already sat out itself (the request that
        got the 429 slept its Retry-After); a pause ending no later than that does not hold it twice.
        """
        with self._lock:
            now = self._clock()
            resume_at = self._resume_at if self._resume_at > waited_until else -math.inf
            ready = max(self._next_start, resume_at)
            # a nanosecond short is due: the float sum of a clock and a wait can land just below `ready`
            if now >= ready - 1e-9:
                # spacing counts from the real start, so a late waker never earns a shorter gap
                self._next_start = now + self.interval
                return 0.0
            return ready - now

    def pause(self, seconds: float) -> float:
        """Hold every request of the hook for ``seconds`` from now (a longer pause already running wins);
        return when this pause ends."""
        with self._lock:
            until = self._clock() + max(0.0, seconds)
            self._resume_at = max(self._resume_at, until)
            return until

    def pause_left(self, waited_until: float = -math.inf) -> float:
        """Seconds until a running pause ends (0.0 when none runs, or it ends by ``waited_until``)."""
        with self._lock:
            if self._resume_at <= waited_until:
                return 0.0
            return max(0.0, self._resume_at - self._clock())


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything transport-related a hook reads from its connection, validated once."""

    base_url: str
    verify: bool | str
    connect_timeout: float
    read_timeout: float
    retry: RetryPolicy
    rate_limit_per_second: float | None
    #: longest the vendor may still apply a request after the client gave up on it (a late write);
    #: a read that resolves an unknown fate settles this long before it calls leads absent
    late_write_seconds: float = 60.0


    #: the most one HTTP exchange may take, connect to the last byte of the answer (extra ``request_timeout``)
    request_timeout: float = 300.0


# --------------------------------------------------------------------------------------------
# Whole-request deadline
# --------------------------------------------------------------------------------------------

#: (monotonic instant, configured seconds) of the exchange running in this thread or task, if any
_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar("dialer_deadline", default=None)


def _deadline_message(seconds: float) -> str:
    """The reason an operation cut by the exchange's deadline (not its own timeout) reports."""
    return f"no complete answer within request_timeout={seconds:g}s"


def _time_left(timeout: float | None, error: type[Exception]) -> tuple[float | None, float | None]:
    """``timeout`` cut to what is left of the running exchange's deadline; and the deadline's seconds if it cut it.

    Raises ``error`` at once when the deadline has passed.
    """
    running = _DEADLINE.get()
    if running is None:
        return timeout, None
    deadline, seconds = running
    left = deadline - time.monotonic()
    if left <= 0:
        raise error(_deadline_message(seconds))
    if timeout is None or left < timeout:
        return left, seconds
    return timeout, None


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits no longer than the running exchange's deadline.

    httpx's timeouts apply to each socket operation: an answer that trickles a byte at a time never
    trips them. Cutting each operation to the time left bounds the whole exchange instead.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        cut, seconds = _time_left(timeout, httpcore.ReadTimeout)
        try:
            return self._inner.read(max_bytes, cut)
        except httpcore.ReadTimeout:
            if seconds is None:
                raise
            raise httpcore.ReadTimeout(_deadline_message(seconds)) from None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        cut, seconds = _time_left(timeout, httpcore.WriteTimeout)
        try:
            self._inner.write(buffer, cut)
        except httpcore.WriteTimeout:
            if seconds is None:
                raise
            raise httpcore.WriteTimeout(_deadline_message(seconds)) from None

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

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_tcp(host, port, cut, local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> httpcore.NetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, cut, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncDeadlineStream(httpcore.AsyncNetworkStream):
    """Async twin of :class:`_DeadlineStream`."""

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        cut, seconds = _time_left(timeout, httpcore.ReadTimeout)
        try:
            return await self._inner.read(max_bytes, cut)
        except httpcore.ReadTimeout:
            if seconds is None:
                raise
            raise httpcore.ReadTimeout(_deadline_message(seconds)) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        cut, seconds = _time_left(timeout, httpcore.WriteTimeout)
        try:
            await self._inner.write(buffer, cut)
        except httpcore.WriteTimeout:
            if seconds is None:
                raise
            raise httpcore.WriteTimeout(_deadline_message(seconds)) from None

    async def aclose(self) -> None:
        await self._inner.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.start_tls(ssl_context, server_hostname, cut))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _AsyncDeadlineBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                          socket_options: Any = None) -> httpcore.AsyncNetworkStream:
        cut, _ = _time_left(timeout, httpcore.ConnectTimeout)
        return _AsyncDeadlineStream(await self._inner.connect_tcp(host, port, cut, local_address, socket_options))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Any = None) -> httpcore.AsyncNetworkStream:
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


# --------------------------------------------------------------------------------------------
# Secret redaction (independent of Airflow's masker, which dag.test() and plain scripts lack)
# --------------------------------------------------------------------------------------------


class _SecretRegistry:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4:
            with self._lock:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        if not self._secrets or not text:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return text


SECRETS = _SecretRegistry()


class _RedactingFilter(logging.Filter):
    """Keeps httpx's request log lines (which carry full URLs, query strings included) clean."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is not ours to fix
            return True
        clean = SECRETS.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER_INSTALLED = False


def _install_log_filter() -> None:
    global _FILTER_INSTALLED
    if not _FILTER_INSTALLED:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(_RedactingFilter())
        _FILTER_INSTALLED = True


def secret_forms(value: str) -> set[str]:
    """Every spelling of ``value`` that may reach a log line, an error or a vendor's echo.

    Raw; JSON-escaped with and without ``ensure_ascii`` (``\\u00e9`` in lower- and upper-case hex,
    ``/`` also as ``\\/`` as PHP writes it, and escaped twice for JSON inside a JSON string);
    URL-encoded (``quote`` with and without ``/`` safe, ``quote_plus``; hex in both cases); HTML-escaped;
    and Python's ``repr``/``ascii`` spellings (a dict of headers formatted into a message).
    """
    import html
    import json
    import re
    from urllib.parse import quote, quote_plus

    forms = {value, repr(value)[1:-1], ascii(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    escaped = {json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1]}
    escaped |= {re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), form) for form in escaped}
    escaped |= {form.replace("/", "\\/") for form in escaped}
    escaped |= {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in escaped for ascii_only in (True, False)}
    forms |= escaped
    urls = {quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")}
    forms |= urls | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in urls}
    return forms


def secret_text(value: Any, where: str) -> str | None:
    """The text a secret from a connection's extras is sent as: a string as is, a JSON number as written.

    A number is a secret too (``{"api_key": 12345678}`` is sent as ``12345678``); a boolean, object or
    list is no credential any vendor issues, and registering ``True`` would mask every ``True`` in
    the logs, so those raise :class:`DialerConfigError` (naming the extra, not its value).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    kind = {bool: "boolean", dict: "object", list: "array"}.get(type(value), type(value).__name__)
    raise DialerConfigError(f"{where} must be a string, got a JSON {kind}")


def register_secret(value: str | None) -> None:
    """Redact ``value``, in every spelling :func:`secret_forms` lists, from our errors, logs and XCom
    values, and register those spellings with Airflow's masker (one call: one message to the supervisor).

    httpx logs query strings percent-encoded, vendors echo request bodies JSON-escaped: matching the
    raw value alone lets an XCALLY api key holding ``+``, ``/`` or ``=`` or a password holding ``é``
    or ``"`` through.
    """
    if not value:
        return
    forms = secret_forms(value)
    for form in forms:
        SECRETS.add(form)
    try:
        from airflow.sdk.log import mask_secret

        every_form: list[JsonValue] = [*sorted(forms)]  # typed so: list is invariant, mask_secret takes JSON
        mask_secret(every_form)
    except Exception:  # noqa: BLE001 - masking is best effort outside a task (plain scripts)
        pass


def redact_value(value: Any) -> Any:
    """``value`` with every registered secret replaced by ``***`` in its strings (dict keys included),
    for what leaves the task as XCom. Lists, tuples and dicts are rebuilt; other values are returned as is."""
    if isinstance(value, str):
        return SECRETS.redact(value)
    if isinstance(value, dict):
        return {redact_value(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value


# --------------------------------------------------------------------------------------------
# The hook
# --------------------------------------------------------------------------------------------


class DialerHook(BaseHook):
    """Base of the four vendor hooks. Subclasses set the class attributes and their auth flow.

    :param conn_id: the Airflow connection id (also accepted under the vendor's own keyword,
        e.g. ``xcally_conn_id``, which is what ``BaseHook.get_hook`` passes).
    :param transport: an ``httpx.BaseTransport`` to use instead of the network (tests).
    :param async_transport: an ``httpx.AsyncBaseTransport`` for the async twin (tests).
    """

    conn_name_attr: ClassVar[str] = "dialer_conn_id"
    default_conn_name: ClassVar[str] = "dialer_default"
    conn_type: ClassVar[str] = "dialer"
    hook_name: ClassVar[str] = "Dialer"
    #: display name used in messages
    vendor: ClassVar[str] = "dialer"
    #: extra fields that hold secrets (besides the password)
    secret_extras: ClassVar[tuple[str, ...]] = ()
    #: default client-side rate limit when the connection sets none
    default_rate_limit: ClassVar[float | None] = None
    #: whether the vendor can take a per-lead call time (see the leads docs)
    supports_per_lead_schedule: ClassVar[bool] = False

    def __init__(
        self,
        conn_id: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        named = kwargs.pop(self.conn_name_attr, None)
        super().__init__(**kwargs)
        self.conn_id: str = conn_id or named or self.default_conn_name
        setattr(self, self.conn_name_attr, self.conn_id)
        self._transport = transport
        self._async_transport = async_transport
        self._conn: Connection | None = None
        self._extras: dict[str, Any] | None = None
        self._settings: ConnectionSettings | None = None
        self._client: httpx.Client | None = None
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_loop: asyncio.AbstractEventLoop | None = None
        self._limiter: RateLimiter | None = None
        self._auth_lock = threading.Lock()
        self._aauth_lock: asyncio.Lock | None = None
        self._aauth_lock_loop: asyncio.AbstractEventLoop | None = None
        self._rng = random.Random()
        _install_log_filter()

    # -- connection ------------------------------------------------------------------------

    def adopt_connection(self, conn: Connection, extras: dict[str, Any]) -> None:
        """Use ``conn`` (its extras already parsed) as this hook's connection: secrets registered, settings built."""
        self._conn = conn
        self._extras = dict(extras or {})
        register_secret(conn.password)
        if conn.login and conn.password:
            # the HTTP Basic value of login:password, whichever vendor builds it
            register_secret(base64.b64encode(f"{conn.login}:{conn.password}".encode()).decode("ascii"))
        for key in self.secret_extras:
            register_secret(secret_text(self._extras.get(key), f"connection {self.conn_id!r} extra {key!r}"))
        self._settings = self._build_settings(conn, self._extras)
        # always a limiter: without a rate it still holds every request through a server's Retry-After
        # the clock is looked up on each call, so a test that swaps this module's clock drives the limiter too
        self._limiter = RateLimiter(self._settings.rate_limit_per_second, lambda: time.monotonic())

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            conn = self.get_connection(self.conn_id)
            self.adopt_connection(conn, conn.extra_dejson)
        assert self._conn is not None
        return self._conn

    async def aload_connection(self) -> Connection:
        if self._conn is None:
            conn = await self.aget_connection(self.conn_id)
            extras = await conn.aextra_dejson() if hasattr(conn, "aextra_dejson") else conn.extra_dejson
            self.adopt_connection(conn, extras)
        assert self._conn is not None
        return self._conn

    @property
    def extras(self) -> dict[str, Any]:
        self.connection  # noqa: B018 - loads extras
        assert self._extras is not None
        return self._extras

    @property
    def settings(self) -> ConnectionSettings:
        self.connection  # noqa: B018 - builds the settings
        assert self._settings is not None
        return self._settings

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    # -- base URL ------------------------------------------------------------------------------

    def expand_host(self, host: str, extras: Mapping[str, Any]) -> str:
        """Turn a bare instance/subdomain name into the vendor's documented host. Default: as is."""
        return host

    default_host: ClassVar[str | None] = None

    def _build_settings(self, conn: Connection, extras: Mapping[str, Any]) -> ConnectionSettings:
        host = (conn.host or "").strip() or (self.default_host or "")
        if not host:
            raise DialerConfigError(f"connection {self.conn_id!r} ({self.vendor}) has no host")
        if "://" in host:
            parts = urlsplit(host)
            scheme = parts.scheme.lower()
            hostname = parts.hostname or ""
            port = parts.port or conn.port
            prefix = parts.path.rstrip("/")
        else:
            host_part, _, path = host.partition("/")
            scheme = (conn.schema or "https").strip().lower() or "https"
            hostname = self.expand_host(host_part, extras)
            port = conn.port
            prefix = ("/" + path).rstrip("/") if path else ""
        if scheme not in {"http", "https"}:
            raise DialerConfigError(
                f"connection {self.conn_id!r}: scheme must be http or https, got {scheme!r} "
                "(the Schema field holds the URL scheme for dialer connections)"
            )
        if scheme == "http" and not is_loopback(hostname) and not as_bool(extras.get("allow_insecure_http"), False):
            raise DialerConfigError(
                f"connection {self.conn_id!r}: refusing plain http:// to {hostname!r}; credentials would "
                "cross the network unencrypted. Use https, or set the extra allow_insecure_http=true "
                "if this host is on a trusted network."
            )
        netloc = f"[{hostname}]" if ":" in hostname else hostname
        if port:
            netloc += f":{port}"
        base_url = f"{scheme}://{netloc}{prefix}"

        ca_bundle = extras.get("ca_bundle")
        verify: bool | str = ca_bundle if ca_bundle else as_bool(extras.get("verify_ssl"), True)
        max_attempts = int(_as_float(extras.get("max_attempts"), 5, "max_attempts") or 1)
        retry = RetryPolicy(
            max_attempts=max(1, max_attempts),
            total_seconds=_as_float(extras.get("retry_max_seconds"), 120.0, "retry_max_seconds") or 0.0,
            backoff_base=_as_float(extras.get("retry_backoff_seconds"), 0.5, "retry_backoff_seconds") or 0.0,
        )
        rate = _as_float(extras.get("rate_limit_per_second"), self.default_rate_limit, "rate_limit_per_second")
        read_timeout = _as_float(extras.get("read_timeout"), 60.0, "read_timeout") or 60.0
        # by default a server is assumed to give up on a request within the client's own read timeout
        late_write = _as_float(extras.get("late_write_seconds"), read_timeout, "late_write_seconds")


        request_timeout = _as_float(extras.get("request_timeout"), 300.0, "request_timeout")
        if request_timeout is None or request_timeout <= 0:
            raise DialerConfigError(
                f"connection {self.conn_id!r}: request_timeout must be a positive number of seconds, got {request_timeout!r}"
            )
        return ConnectionSettings(
            base_url=base_url,
            verify=verify,
            connect_timeout=_as_float(extras.get("connect_timeout"), 10.0, "connect_timeout") or 10.0,
            read_timeout=read_timeout,
            retry=retry,
            rate_limit_per_second=rate if rate and rate > 0 else None,
            late_write_seconds=max(0.0, late_write if late_write is not None else read_timeout),


            request_timeout=request_timeout,
        )

    # -- clients ------------------------------------------------------------------------------

    def _timeout(self) -> httpx.Timeout:
        s = self.settings
        return httpx.Timeout(s.read_timeout, connect=s.connect_timeout)

    def _exchange_timeout(self) -> httpx.Timeout:
        """Per-operation timeouts of one exchange, none longer than its deadline (this also bounds the
        wait for a pooled connection, which no socket operation covers)."""
        s = self.settings
        cap = s.request_timeout
        return httpx.Timeout(
            min(s.read_timeout, cap), connect=min(s.connect_timeout, cap), pool=min(s.read_timeout, cap)
        )

    def _deadline(self) -> tuple[float, float]:
        seconds = self.settings.request_timeout
        return time.monotonic() + seconds, seconds

    def get_conn(self) -> httpx.Client:
        """The sync httpx client (created on first use, reused for the hook's life)."""
        if self._client is None:
            s = self.settings
            self._client = httpx.Client(
                verify=ssl_context(s.verify), timeout=self._timeout(), transport=self._transport, follow_redirects=False
            )
            guard_deadlines(self._client)
        return self._client

    def _get_async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._aclient is None or self._aclient_loop is not loop:
            s = self.settings
            self._aclient = httpx.AsyncClient(
                verify=ssl_context(s.verify),
                timeout=self._timeout(),
                transport=self._async_transport,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
            )
            guard_deadlines(self._aclient)
            self._aclient_loop = loop
        return self._aclient

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        if self._aclient is not None:
            await self._aclient.aclose()
            self._aclient = None

    def __enter__(self) -> DialerHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- auth (vendors override) ------------------------------------------------------------

    def auth_flow(self, scheme: str = "default") -> Flow[dict[str, str]]:
        """Return the auth headers for the next request of ``scheme``, fetching a token if needed."""
        return {}
        yield  # pragma: no cover - makes this a generator

    def auth_params(self, scheme: str = "default") -> dict[str, str]:
        """Query parameters that carry auth (XCALLY ``apikey``). Default: none."""
        return {}

    def invalidate_auth(self, scheme: str = "default") -> bool:
        """Called after a 401 on ``scheme``. Return True when fetching credentials again may help."""
        return False

    # -- error texts ----------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        return SECRETS.redact(text)

    def http_error(self, request: Request, response: httpx.Response, hint: str = "") -> DialerHTTPError:
        body = self.redact(response.text if response.content else "")
        cls: type[DialerHTTPError] = DialerHTTPError
        if response.status_code in (401, 403):
            cls = DialerAuthError
            hint = hint or f"check the credentials of connection {self.conn_id!r}"
        elif response.status_code == 429:
            cls = DialerRateLimitError
        return cls(self.vendor, request.method, request.path, response.status_code, body, hint)

    def check_response(self, request: Request, response: httpx.Response) -> None:
        """Raise for an error status; vendors may extend it (e.g. Integra's ``0`` body)."""
        if response.is_success or response.status_code in request.accept_statuses:
            return
        raise self.http_error(request, response)

    # -- one request with retries: the shared decision logic ----------------------------------

    def _build(self, request: Request, auth_headers: Mapping[str, str]) -> dict[str, Any]:
        url = request.url or f"{self.settings.base_url}{request.path}"
        params: Any = request.params
        extra_params = self.auth_params(request.auth) if request.authenticated else {}
        if extra_params:
            if params is None:
                params = dict(extra_params)
            elif isinstance(params, Mapping):
                params = {**params, **extra_params}
            else:
                params = list(params) + list(extra_params.items())
        headers = {**request.headers, **(auth_headers if request.authenticated else {})}
        return {
            "method": request.method,
            "url": url,
            "params": params,
            "json": request.json,
            "data": request.data,
            "content": request.content,
            "files": request.files,
            "headers": headers,
        }

    def _transport_decision(
        self, request: Request, exc: httpx.HTTPError, attempt: int, started: float
    ) -> tuple[float | None, DialerError]:
        """Map a transport exception to (seconds to wait before retrying, or None) and the error to raise."""
        reason = self.redact(f"{type(exc).__name__}: {exc}")
        policy = self.settings.retry
        sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        tls = "CERTIFICATE_VERIFY_FAILED" in str(exc) or "SSL" in type(getattr(exc, "__cause__", None) or exc).__name__
        if tls:
            error: DialerError = DialerTransportError(
                self.vendor, request.method, request.path,
                f"TLS verification failed ({reason}); set the connection's ca_bundle extra to your CA file, "
                "or verify_ssl=false for a self-signed server you trust",
            )
            return None, error
        if sent and not request.idempotent:
            return None, DialerDeliveryUnknownError(
                self.vendor, request.method, request.path,
                f"{reason}; the request was sent but no answer came back, so it is not resent",
            )
        error = DialerTransportError(self.vendor, request.method, request.path, reason)
        return self._wait_or_stop(attempt, started, None, policy), error

    def _status_decision(
        self, request: Request, response: httpx.Response, attempt: int, started: float
    ) -> tuple[float | None, float]:
        """(seconds to wait before retrying, or None to stop; the end of a hook-wide pause this answer began
        that the retry wait sits out, or -inf)."""
        policy = self.settings.retry
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        wait: float | None = None
        if policy.status_is_retryable(response.status_code, bool(request.idempotent)):
            wait = self._wait_or_stop(attempt, started, retry_after, policy)
        pause = self._server_pause(response.status_code, retry_after, wait)
        if not pause or self._limiter is None:
            return wait, -math.inf
        # the quota is the server's, not this request's: every request of the hook waits it out
        paused_until = self._limiter.pause(pause)
        return wait, (paused_until if wait is not None and wait >= pause else -math.inf)

    @staticmethod
    def _server_pause(status: int, retry_after: float | None, wait: float | None) -> float:
        """How long a server's answer holds every request of the hook: a 429 for its ``Retry-After``
        (or this request's backoff when it names none), a 503 only when it names a ``Retry-After``."""
        if status == 429:
            return retry_after if retry_after is not None else (wait or 0.0)
        if status == 503 and retry_after is not None:
            return retry_after
        return 0.0

    def _wait_or_stop(
        self, attempt: int, started: float, retry_after: float | None, policy: RetryPolicy
    ) -> float | None:
        if attempt >= policy.max_attempts:
            return None
        wait = retry_after if retry_after is not None else policy.backoff(attempt, self._rng)
        if time.monotonic() - started + wait > policy.total_seconds:
            return None
        return wait

    def _log_retry(self, request: Request, what: str, attempt: int, wait: float) -> None:
        self.log.warning(
            "%s %s %s: %s; retry %d/%d in %.2fs",
            self.vendor, request.method, request.path, what, attempt, self.settings.retry.max_attempts - 1, wait,
        )

    # -- sync driver -------------------------------------------------------------------------

    def _sync_auth(self, scheme: str) -> dict[str, str]:
        with self._auth_lock:
            return self._drive(self.auth_flow(scheme))

    def _exchange(self, request: Request) -> Generator[tuple[str, Any], Any, httpx.Response]:
        """One request with auth, rate limit and retries, as steps the sync and async drivers perform.

        Yields ``("auth", scheme)`` (answer: headers), ``("sleep", seconds)`` (answer: None) and
        ``("send", kwargs)`` (answer: the ``httpx.Response``, or the ``httpx.HTTPError`` raised);
        returns the final response or raises the family's error. Every decision lives here once.
        """
        started = time.monotonic()
        attempt = 0
        reauthed = False
        sat_out = -math.inf
        while True:
            attempt += 1
            auth = (yield ("auth", request.auth)) if request.authenticated else {}
            yield from self._wait_turn(request, started, sat_out)
            outcome = yield ("send", self._build(request, auth))
            if isinstance(outcome, httpx.HTTPError):
                wait, error = self._transport_decision(request, outcome, attempt, started)
                if wait is None:
                    raise error from None
                self._log_retry(request, str(error), attempt, wait)
                yield ("sleep", wait)
                continue
            response: httpx.Response = outcome
            if response.status_code == 401 and request.authenticated and not reauthed and self.invalidate_auth(request.auth):
                reauthed = True
                attempt -= 1
                continue
            wait, sat_out = self._status_decision(request, response, attempt, started)
            if wait is None:
                self.check_response(request, response)
                return response
            self._log_retry(request, f"HTTP {response.status_code}", attempt, wait)
            yield ("sleep", wait)

    def _wait_turn(self, request: Request, started: float, sat_out: float) -> Generator[tuple[str, Any], Any, None]:
        """Wait until the limiter lets this request start (asked again after every wait: a pause may
        have begun meanwhile). A server's pause that would outlast the retry budget fails at once.
        ``sat_out``: the end of the pause this request's own retry wait already covered."""
        if self._limiter is None:
            return
        policy = self.settings.retry
        while delay := self._limiter.acquire(sat_out):
            paused = self._limiter.pause_left(sat_out)
            if paused and time.monotonic() - started + paused > policy.total_seconds:
                raise DialerRateLimitError(
                    self.vendor, request.method, request.path, 429, "",
                    f"the server asked every request of this connection to wait {paused:.1f}s more (Retry-After), "
                    f"beyond retry_max_seconds={policy.total_seconds:g}; not sent",
                )
            yield ("sleep", delay)

    def send(self, request: Request) -> httpx.Response:
        """Send one request with auth, rate limit and retries; raise the family's errors."""
        self.connection  # noqa: B018 - settings must exist
        client = self.get_conn()
        steps = self._exchange(request)
        answer: Any = None
        try:
            while True:
                kind, arg = steps.send(answer)
                if kind == "auth":
                    answer = self._sync_auth(arg)
                elif kind == "sleep":
                    time.sleep(arg)
                    answer = None
                else:
                    running = _DEADLINE.set(self._deadline())
                    try:
                        answer = client.request(**arg, timeout=self._exchange_timeout())
                    except httpx.HTTPError as exc:
                        answer = exc
                    finally:
                        _DEADLINE.reset(running)
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    def _drive(self, flow: Flow[T]) -> T:
        try:
            request = next(flow)
            while True:
                try:
                    response = self.send(request)
                except DialerError as exc:
                    request = flow.throw(exc)
                    continue
                request = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    def run_flow(self, flow: Flow[T]) -> T:
        """Run a flow synchronously (what every sync endpoint method does)."""
        return self._drive(flow)

    # -- async driver (same decisions, async transport) -----------------------------------

    async def _async_auth(self, scheme: str) -> dict[str, str]:
        # one token fetch at a time per event loop, so concurrent uploads share the first token
        loop = asyncio.get_running_loop()
        if self._aauth_lock is None or self._aauth_lock_loop is not loop:
            self._aauth_lock, self._aauth_lock_loop = asyncio.Lock(), loop
        async with self._aauth_lock:
            return await self._adrive(self.auth_flow(scheme))

    async def asend(self, request: Request) -> httpx.Response:
        """Async twin of :meth:`send`: the same steps, awaited."""
        await self.aload_connection()
        client = self._get_async_client()
        steps = self._exchange(request)
        answer: Any = None
        try:
            while True:
                kind, arg = steps.send(answer)
                if kind == "auth":
                    answer = await self._async_auth(arg)
                elif kind == "sleep":
                    await asyncio.sleep(arg)
                    answer = None
                else:
                    running = _DEADLINE.set(self._deadline())
                    try:
                        answer = await client.request(**arg, timeout=self._exchange_timeout())
                    except httpx.HTTPError as exc:
                        answer = exc
                    finally:
                        _DEADLINE.reset(running)
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    async def _adrive(self, flow: Flow[T]) -> T:
        try:
            request = next(flow)
            while True:
                try:
                    response = await self.asend(request)
                except DialerError as exc:
                    request = flow.throw(exc)
                    continue
                request = flow.send(response)
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def arun_flow(self, flow: Flow[T]) -> T:
        """Run a flow on the async client (what every ``a<name>`` method does)."""
        return await self._adrive(flow)

    # -- links to the vendor's web UI (LinkBuilder) ------------------------------------------

    #: link kind (``campaign``, ``list``) -> the placeholders its template may name besides ``{origin}``;
    #: a kind missing here has no link on this vendor
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {}
    #: link kind -> the template used when the connection sets none. Only for a vendor that documents
    #: the address of its campaign or list pages; none of the four does, so every hook leaves it empty.
    default_link_templates: ClassVar[Mapping[str, str]] = {}

    def link_template(self, kind: str) -> str | None:
        """The connection's template for ``kind`` (extra ``campaign_link_template`` / ``list_link_template``), or the default."""
        value = self.extras.get(TEMPLATE_EXTRAS[kind])
        if isinstance(value, str) and value.strip():
            return value.strip()
        return self.default_link_templates.get(kind)

    def check_link_templates(self, kinds: Iterable[str]) -> None:
        """Raise :class:`DialerConfigError` when a template for one of ``kinds`` names a placeholder this
        vendor cannot fill (``{password}`` included: no secret is a placeholder) or makes no http(s) URL."""
        for kind in kinds:
            template = self.link_template(kind)
            if template is None:
                continue
            where = f"connection {self.conn_id!r} extra {TEMPLATE_EXTRAS[kind]!r}"
            allowed = self.link_placeholders.get(kind)
            if allowed is None:
                raise DialerConfigError(f"{where}: {self.vendor} has no {kind} links; remove the extra")
            check_template(template, allowed | {ORIGIN}, where)

    def ui_link(self, kind: str, values: Mapping[str, Any]) -> str | None:
        """The URL of a campaign or list in the vendor's UI, or None: no template, or a placeholder whose
        value the task does not know. The URL carries no user name, password, credential-named query
        parameter or secret of the connection. Never raises.

        :param kind: ``campaign`` or ``list``.
        :param values: placeholder -> value (``campaign_id``, ``list_id``, ``list_name``, ``hub``, ``job_id``, ...).
        """
        try:
            template = self.link_template(kind)
            allowed = self.link_placeholders.get(kind)
            if template is None or allowed is None:
                return None
            origin = urlsplit(self.settings.base_url)
            known = {key: value for key, value in values.items() if key in allowed}
            url = fill_template(template, {**known, ORIGIN: f"{origin.scheme}://{origin.netloc}"})
        except Exception as exc:  # noqa: BLE001 - a link is never worth failing a task that did its work
            self.log.warning("no %s link for connection %r: %s", kind, self.conn_id, self.redact(str(exc)))
            return None
        if url is not None and self.redact(url) != url:
            self.log.warning("no %s link for connection %r: the URL would carry a secret of a connection", kind, self.conn_id)
            return None
        return url

    def target_link_values(self, target: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
        """The placeholder values a lead upload knows: the target's ``campaign_id``, ``list_id``,
        ``list_name``, ``hub``, and the first of each id list its chunks reported (``list_ids`` ->
        ``list_id``, ``job_ids`` -> ``job_id``). A vendor whose ids are named otherwise overrides this."""
        values = {key: value for key, value in target.items() if key in PLACEHOLDERS}
        for key, value in ids.items():
            single = key[:-4] + "_id" if key.endswith("_ids") else None
            if single in PLACEHOLDERS and values.get(single) in (None, ""):
                values[single] = one_id(value)
        return values

    # -- test_connection -----------------------------------------------------------------------

    def probe(self) -> Flow[str]:
        """A cheap authenticated call; returns a short description of what was reached."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: a cheap authenticated call, with a message a user can act on.

        The message names the connection the user typed. The web UI's Test button and
        ``POST /api/v2/connections/test`` test a copy under a random temporary id, which would mean
        nothing to the user; that id is replaced by the one in the request.
        """
        ok, message = self._test_connection()
        shown = tested_connection_id(self.conn_id)
        if shown != self.conn_id:
            message = message.replace(repr(self.conn_id), repr(shown))
        return ok, message

    def _test_connection(self) -> tuple[bool, str]:
        try:
            what = self.run_flow(self.probe())
        except DialerConfigError as exc:
            return False, f"Configuration error: {exc}"
        except DialerAuthError as exc:
            return False, (
                f"Authentication failed: {self.vendor} answered HTTP {exc.status} to {exc.method} {exc.path}. "
                f"Check the login and password (or token) of connection {self.conn_id!r}."
            )
        except DialerTransportError as exc:
            return False, f"Cannot reach {self.vendor} at {self._safe_base_url()}: {self._explain(exc)}"
        except DialerHTTPError as exc:
            return False, f"{self.vendor} answered an error: {exc}"
        except Exception as exc:  # noqa: BLE001 - the test button must answer, not crash
            return False, self.redact(f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            self.close()
        return True, f"Connection {self.conn_id!r}: connected to {self.vendor} at {self._safe_base_url()}: {what}"

    def _safe_base_url(self) -> str:
        try:
            return self.settings.base_url
        except DialerError:
            return "(invalid URL)"

    @staticmethod
    def _explain(exc: DialerTransportError) -> str:
        reason = exc.reason
        low = reason.lower()
        if "tls verification failed" in low:
            return reason
        if "refused" in low:
            return f"connection refused; check host and port ({reason})"
        if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low:
            return f"host name not found; check the host field ({reason})"
        if "timeout" in low:
            return f"timed out; check the host, port and firewall ({reason})"
        return reason
