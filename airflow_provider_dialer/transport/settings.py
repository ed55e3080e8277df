"""Transport settings read from a connection: numbers and flags, TLS, the loopback rule, :class:`ConnectionSettings`
and ``connection_settings`` building them from a connection's fields."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from airflow_provider_dialer.exceptions import (
    DialerConfigError,
)
from airflow_provider_dialer.transport.retry import RetryPolicy

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def as_bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def as_float(value: Any, default: float | None, name: str) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DialerConfigError(f"connection extra {name!r} must be a number, got {value!r}") from None


def ssl_context(verify: bool | str) -> Any:
    """The SSL context for a ``verify`` setting (True, False or a CA bundle path), shared process-wide.

    Loading the CA bundle costs about 1 MB and 15 ms per context, which a triggerer running hundreds of deferred waits, or an event-driven DAG creating
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


def refuse_plain_http(
    scheme: str,
    hostname: str,
    extras: Mapping[str, Any],
    conn_id: str | None,
    *,
    what: str = "credentials",
    host_label: str = "",
) -> None:
    """The https rule, for the API host and any other host a connection sends a secret to (a token URL):
    plain ``http`` only to a loopback host, or where the extra ``allow_insecure_http`` is on.

    :param what: what would cross the network unencrypted, for the message (``the password``).
    :param host_label: what the host is, for the message (``token host``).
    """
    if scheme == "http" and not is_loopback(hostname) and not as_bool(extras.get("allow_insecure_http"), False):
        raise DialerConfigError(
            f"connection {conn_id!r}: refusing plain http:// to {host_label}{hostname!r}; {what} would "
            "cross the network unencrypted. Use https, or set the extra allow_insecure_http=true "
            "if this host is on a trusted network."
        )


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


def connection_settings(
    host: str,
    schema: str | None,
    port: int | None,
    extras: Mapping[str, Any],
    *,
    conn_id: str,
    expand_host: Callable[[str], str],
    default_rate_limit: float | None,
) -> ConnectionSettings:
    """Read a connection's host, schema, port and extras into validated :class:`ConnectionSettings`.

    ``host`` is a full URL (``https://host:port/prefix``) or a bare host with an optional path, whose
    scheme is ``schema`` (default https); a bare host goes through ``expand_host`` (a vendor turns an
    instance name into its documented host). The https rule applies to the result.
    """
    if "://" in host:
        parts = urlsplit(host)
        scheme = parts.scheme.lower()
        hostname = parts.hostname or ""
        port = parts.port or port
        prefix = parts.path.rstrip("/")
    else:
        host_part, _, path = host.partition("/")
        scheme = (schema or "https").strip().lower() or "https"
        hostname = expand_host(host_part)
        prefix = ("/" + path).rstrip("/") if path else ""
    if scheme not in {"http", "https"}:
        raise DialerConfigError(
            f"connection {conn_id!r}: scheme must be http or https, got {scheme!r} "
            "(the Schema field holds the URL scheme for dialer connections)"
        )
    refuse_plain_http(scheme, hostname, extras, conn_id)
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
    rate = as_float(extras.get("rate_limit_per_second"), default_rate_limit, "rate_limit_per_second")
    read_timeout = as_float(extras.get("read_timeout"), 60.0, "read_timeout") or 60.0
    # by default a server is assumed to give up on a request within the client's own read timeout
    late_write = as_float(extras.get("late_write_seconds"), read_timeout, "late_write_seconds")

    request_timeout = as_float(extras.get("request_timeout"), 300.0, "request_timeout")
    if request_timeout is None or request_timeout <= 0:
        raise DialerConfigError(
            f"connection {conn_id!r}: request_timeout must be a positive number of seconds, got {request_timeout!r}"
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
