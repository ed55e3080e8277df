"""The provider's one exception family: every error a hook, operator or sensor raises on purpose.

Messages carry what a user needs to act (vendor, method, path, HTTP status, the vendor's body) and
never a credential: bodies pass through the hook's redaction before they get here, and URLs are
reported as paths without their query string (XCALLY's ``apikey`` lives there).
"""

from __future__ import annotations


class DialerError(Exception):
    """Base class of every error raised by airflow-provider-dialer."""


class DialerConfigError(DialerError):
    """The connection or the operator arguments are wrong (missing host, plain http off loopback, ...)."""


class UnsupportedCapabilityError(DialerError):
    """The connection's vendor has no API for the asked verb.

    Raised before any request is sent, naming the vendor, the verb and what to use instead.
    """

    def __init__(self, vendor: str, capability: str, instead: str = "") -> None:
        self.vendor = vendor
        self.capability = capability
        self.instead = instead
        msg = f"{vendor} does not support {capability}"
        if instead:
            msg += f"; {instead}"
        super().__init__(msg)


class DialerTransportError(DialerError):
    """The request could not be completed at the transport level (refused, TLS, timeout)."""

    def __init__(self, vendor: str, method: str, path: str, reason: str) -> None:
        self.vendor = vendor
        self.method = method
        self.path = path
        self.reason = reason
        super().__init__(f"{vendor} {method} {path}: {reason}")


class DialerDeliveryUnknownError(DialerTransportError):
    """A write was sent but no answer came back: the server may or may not have applied it.

    It is never resent blindly; operators resolve it by reading the vendor's state where the vendor
    lets them, and otherwise report the affected leads as ``unknown``.
    """


class DialerHTTPError(DialerError):
    """The vendor answered with an error status (or a success status with an error body)."""

    def __init__(
        self,
        vendor: str,
        method: str,
        path: str,
        status: int,
        body: str,
        hint: str = "",
    ) -> None:
        self.vendor = vendor
        self.method = method
        self.path = path
        self.status = status
        self.body = body
        text = body if len(body) <= 2000 else body[:2000] + f"... ({len(body)} chars)"
        msg = f"{vendor} {method} {path} -> HTTP {status}: {text!r}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


class DialerAuthError(DialerHTTPError):
    """The vendor refused the credentials (401/403, or an auth endpoint's error body)."""


class DialerRateLimitError(DialerHTTPError):
    """The vendor kept answering 429 beyond the retry budget."""


class DialerRejectedError(DialerHTTPError):
    """The vendor answered 2xx with a body that says the request failed (for example Integra's ``0``)."""


class DialerJobFailedError(DialerError):
    """An asynchronous vendor job (import, list load) ended in a failed state."""

    def __init__(self, vendor: str, job: str, status: str, detail: str = "") -> None:
        self.vendor = vendor
        self.job = job
        self.status = status
        self.detail = detail
        msg = f"{vendor} {job} ended {status}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class DialerNotFoundError(DialerError):
    """What a task names is not on the dialer, found by reading it (not by an error status): e.g. no
    contact of the campaign has the phone a removal was asked for."""
