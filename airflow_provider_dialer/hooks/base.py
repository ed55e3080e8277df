"""DialerHook: what every vendor hook shares, on top of the HTTP behaviour in ``transport/``.

A vendor hook describes each endpoint as a *flow* (``transport.requests``): a generator that yields
:class:`Request` objects and receives ``httpx.Response`` objects, then returns the parsed result;
:func:`api_call` turns it into a sync method (for operators) and an async twin (for triggers).

This module reads the connection into :class:`ConnectionSettings`, builds the sync and async
clients, and drives flows through them, applying in one place: the base-URL and https rule, auth
headers (obtained by the vendor's own auth flow), the client-side rate limit, the whole-request
deadline, retries with backoff honouring ``Retry-After``, the delivery rule for writes whose fate is
unknown, the exception family and secret redaction. It also holds ``test_connection`` and the links'
URL templates.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Generator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

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
from airflow_provider_dialer.transport.settings import (
    ConnectionSettings,
    as_bool,
    as_float,
    refuse_plain_http,
    ssl_context,
)

if TYPE_CHECKING:
    from types import FrameType

    from airflow.sdk import Connection

T = TypeVar("T")


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
        refuse_plain_http(scheme, hostname, extras, self.conn_id)
        netloc = f"[{hostname}]" if ":" in hostname else hostname
        if port:
            netloc += f":{port}"
        base_url = f"{scheme}://{netloc}{prefix}"

        ca_bundle = extras.get("ca_bundle")
        verify: bool | str = ca_bundle if ca_bundle else as_bool(extras.get("verify_ssl"), True)
        max_attempts = int(as_float(extras.get("max_attempts"), 5, "max_attempts") or 1)
        retry = RetryPolicy(
            max_attempts=max(1, max_attempts),
            total_seconds=as_float(extras.get("retry_max_seconds"), 120.0, "retry_max_seconds") or 0.0,
            backoff_base=as_float(extras.get("retry_backoff_seconds"), 0.5, "retry_backoff_seconds") or 0.0,
        )
        rate = as_float(extras.get("rate_limit_per_second"), self.default_rate_limit, "rate_limit_per_second")
        read_timeout = as_float(extras.get("read_timeout"), 60.0, "read_timeout") or 60.0
        # by default a server is assumed to give up on a request within the client's own read timeout
        late_write = as_float(extras.get("late_write_seconds"), read_timeout, "late_write_seconds")

        request_timeout = as_float(extras.get("request_timeout"), 300.0, "request_timeout")
        if request_timeout is None or request_timeout <= 0:
            raise DialerConfigError(
                f"connection {self.conn_id!r}: request_timeout must be a positive number of seconds, got {request_timeout!r}"
            )
        return ConnectionSettings(
            base_url=base_url,
            verify=verify,
            connect_timeout=as_float(extras.get("connect_timeout"), 10.0, "connect_timeout") or 10.0,
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
            outcome = yield ("send", self._build(request, auth))
            if isinstance(outcome, httpx.HTTPError):
                wait, error = self._transport_decision(request, outcome, attempt, started)
                if wait is None:
                    raise error from None
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
                    self.vendor,
                    request.method,
                    request.path,
                    429,
                    "",
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
            self.log.warning(
                "no %s link for connection %r: the URL would carry a secret of a connection", kind, self.conn_id
            )
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
