"""Transport settings read from a connection: numbers and flags, TLS, the loopback rule, :class:`ConnectionSettings`."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from airflow_provider_dialer.exceptions import (
    DialerConfigError,
)
from airflow_provider_dialer.transport.retry import RetryPolicy

if TYPE_CHECKING:
    pass


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
