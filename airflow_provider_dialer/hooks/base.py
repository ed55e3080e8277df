"""DialerHook: what every vendor hook shares, on top of the HTTP behaviour in ``transport/``.

A vendor hook describes each endpoint as a *flow* (``transport.requests``): a generator that yields
:class:`Request` objects and receives ``httpx.Response`` objects, then returns the parsed result;
:func:`api_call` turns it into a sync method (for operators) and an async twin (for triggers).

This module reads the connection into :class:`ConnectionSettings`, builds the sync and async
clients, and drives flows through them, applying in one place: the base-URL and https rule, auth
headers (obtained by the vendor's own auth flow), the client-side rate limit, the whole-request
deadline, retries with backoff honouring ``Retry-After``, the delivery rule for writes whose fate is
unknown, the exception family and secret redaction. ``test_connection`` comes from
``hooks/connection_test.py`` and the links' URL templates from ``hooks/ui_links.py``, both mixed in.

Over 500 lines because the hook's two drivers (sync and async) and the decisions they share
(``_exchange``) read and write the same per-hook state: settings, clients, auth locks, rate limiter.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
import warnings
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx
from airflow.sdk import BaseHook
from pydantic import ValidationError

from airflow_provider_dialer.exceptions import (
    DialerAnswerError,
    DialerAuthError,
    DialerConfigError,
    DialerDeliveryUnknownError,
    DialerError,
    DialerHTTPError,
    DialerRateLimitError,
    DialerSendTooLateError,
    DialerTransportError,
    DialerValueError,
)
from airflow_provider_dialer.hooks.connection_test import ConnectionTest
from airflow_provider_dialer.hooks.ui_links import UILinks
from airflow_provider_dialer.transport.auth import basic_authorization
from airflow_provider_dialer.transport.deadline import DEADLINE, guard_deadlines
from airflow_provider_dialer.transport.ratelimit import RateLimiter
from airflow_provider_dialer.transport.redaction import (
    SECRETS,
    install_log_filter,
    register_secret,
    secret_text,
)
from airflow_provider_dialer.transport.requests import (
    Flow,
    Request,
)
from airflow_provider_dialer.transport.retry import RetryPolicy, parse_retry_after
from airflow_provider_dialer.transport.send_by import SEND_BY
from airflow_provider_dialer.transport.settings import (
    ConnectionSettings,
    connection_settings,
    ssl_context,
)

if TYPE_CHECKING:
    from airflow.sdk import Connection

T = TypeVar("T")


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as ``field: rule`` pairs (the first five): never the input, which may hold a phone or a token."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'the value'}: {error['msg']}"
        for error in exc.errors(include_url=False, include_input=False, include_context=False)[:5]
    )


class DialerHook(ConnectionTest, UILinks, BaseHook):
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
    #: whether a list upload's wire carries each lead's call time, so no lead is held back for its
    #: window (a target may say otherwise in its ``per_lead_schedule``); fresh leads: ``fresh_per_lead_schedule``
    list_per_lead_schedule: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "supports_per_lead_schedule" in cls.__dict__:
            # the attribute's earlier name, kept working for hooks written outside this package
            warnings.warn(
                f"{cls.__name__}.supports_per_lead_schedule is deprecated; set list_per_lead_schedule",
                DeprecationWarning,
                stacklevel=2,
            )
            cls.list_per_lead_schedule = bool(cls.__dict__["supports_per_lead_schedule"])

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
        install_log_filter()

    # -- connection ------------------------------------------------------------------------

    def adopt_connection(self, conn: Connection, extras: dict[str, Any]) -> None:
        """Use ``conn`` (its extras already parsed) as this hook's connection: secrets registered, settings built."""
        self._conn = conn
        self._extras = dict(extras or {})
        register_secret(conn.password)
        if conn.login and conn.password:
            # the HTTP Basic value of login:password, registered whichever vendor builds it
            basic_authorization(conn.login, conn.password)
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

    def check_settings(self, settings: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
        """Refuse an operator's ``settings`` key this vendor's verb does not read (a typo would be ignored)."""
        unknown = sorted(set(settings) - allowed)
        if unknown:
            raise DialerConfigError(f"{self.vendor} {what}: unknown settings {unknown}; allowed: {sorted(allowed)}")

    # -- base URL ------------------------------------------------------------------------------

    def expand_host(self, host: str, extras: Mapping[str, Any]) -> str:
        """Turn a bare instance/subdomain name into the vendor's documented host. Default: as is."""
        return host

    default_host: ClassVar[str | None] = None

    def _build_settings(self, conn: Connection, extras: Mapping[str, Any]) -> ConnectionSettings:
        host = (conn.host or "").strip() or (self.default_host or "")
        if not host:
            raise DialerConfigError(f"connection {self.conn_id!r} ({self.vendor}) has no host")
        return connection_settings(
            host,
            conn.schema,
            conn.port,
            extras,
            conn_id=self.conn_id,
            expand_host=lambda bare: self.expand_host(bare, extras),
            default_rate_limit=self.default_rate_limit,
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
                self.vendor,
                request.method,
                request.path,
                f"TLS verification failed ({reason}); set the connection's ca_bundle extra to your CA file, "
                "or verify_ssl=false for a self-signed server you trust",
            )
            return None, error
        if sent and not request.idempotent:
            return None, DialerDeliveryUnknownError(
                self.vendor,
                request.method,
                request.path,
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
            self.vendor,
            request.method,
            request.path,
            what,
            attempt,
            self.settings.retry.max_attempts - 1,
            wait,
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
            self._check_send_by(request)
            outcome = yield ("send", self._build(request, auth))
            if isinstance(outcome, httpx.HTTPError):
                wait, error = self._transport_decision(request, outcome, attempt, started)
                if wait is None:
                    raise error from None
                self._check_send_by(request, wait)
                self._log_retry(request, str(error), attempt, wait)
                yield ("sleep", wait)
                continue
            response: httpx.Response = outcome
            if (
                response.status_code == 401
                and request.authenticated
                and not reauthed
                and self.invalidate_auth(request.auth)
            ):
                reauthed = True
                attempt -= 1
                continue
            wait, sat_out = self._status_decision(request, response, attempt, started)
            if wait is None:
                self.check_response(request, response)
                scope = SEND_BY.get()
                if scope is not None and not request.idempotent:
                    scope.writes_sent += 1  # applied: a later write of the chunk refused as too late is not all of it
                return response
            self._check_send_by(request, wait)
            self._log_retry(request, f"HTTP {response.status_code}", attempt, wait)
            yield ("sleep", wait)

    def _check_send_by(self, request: Request, wait: float = 0.0) -> None:
        """Refuse a write that would leave (after ``wait`` more seconds) past its chunk's send-by instant.

        The instant is the one delivery's calling-window check allowed (``transport/send_by.py``); reads
        and requests outside a chunk's scope always go.
        """
        scope = SEND_BY.get()
        if scope is None or request.idempotent:
            return
        late = scope.seconds_late(wait)
        if late > 0:
            raise DialerSendTooLateError(self.vendor, request.method, request.path, late, scope.writes_sent, wait)

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
                    self.vendor,
                    request.method,
                    request.path,
                    429,
                    "",
                    f"the server asked every request of this connection to wait {paused:.1f}s more (Retry-After), "
                    f"beyond retry_max_seconds={policy.total_seconds:g}; not sent",
                )
            self._check_send_by(request, delay)
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
                    running = DEADLINE.set(self._deadline())
                    try:
                        answer = client.request(**arg, timeout=self._exchange_timeout())
                    except httpx.HTTPError as exc:
                        answer = exc
                    finally:
                        DEADLINE.reset(running)
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    def _drive(self, flow: Flow[T]) -> T:
        request: Request | None = None
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
        except ValidationError as exc:
            raise self.unreadable(exc, request) from None

    def unreadable(self, exc: ValidationError, request: Request | None) -> DialerError:
        """A flow's pydantic error as one of the family: before its first request it read the caller's
        arguments (``DialerValueError``); after, the vendor's answer (``DialerAnswerError``). The text
        names fields and rules only: pydantic's own text quotes the input, which may hold a phone or a token."""
        problems = validation_problems(exc)
        if request is None:
            return DialerValueError(f"{self.vendor}: the arguments cannot be sent: {problems}")
        return DialerAnswerError(
            f"{self.vendor} {request.method} {request.path}: the answer does not read as documented ({problems}); "
            "check in the dialer what the request did before sending it again"
        )

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
                    running = DEADLINE.set(self._deadline())
                    try:
                        answer = await client.request(**arg, timeout=self._exchange_timeout())
                    except httpx.HTTPError as exc:
                        answer = exc
                    finally:
                        DEADLINE.reset(running)
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    async def _adrive(self, flow: Flow[T]) -> T:
        request: Request | None = None
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
        except ValidationError as exc:
            raise self.unreadable(exc, request) from None

    async def arun_flow(self, flow: Flow[T]) -> T:
        """Run a flow on the async client (what every ``a<name>`` method does)."""
        return await self._adrive(flow)
