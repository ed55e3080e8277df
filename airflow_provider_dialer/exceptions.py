"""The provider's one exception family: every error a hook, operator or sensor raises on purpose.

Messages carry what a user needs to act (vendor, method, path, HTTP status, the vendor's body) and
never a credential: bodies pass through the hook's redaction before they get here, and URLs are
reported as paths without their query string (XCALLY's ``apikey`` lives there).
"""

from __future__ import annotations

import re

#: a phone number as it may appear in a vendor's answer: 7+ digits in a row, or ``+`` then digits
#: with spaces, hyphens or parentheses
_PHONE_LIKE = re.compile(r"\+\d[\d \-()]{5,}\d|\d{7,}")


def mask_phone_numbers(text: str) -> str:
    """``text`` with every phone-like run reduced to its last four digits (``5511999990000`` ->
    ``*********0000``): a vendor's error body may repeat the numbers of a whole chunk, and error
    texts end up in logs and task failure messages. Longer ids are masked alike (the price of
    never printing a number)."""

    def mask(match: re.Match[str]) -> str:
        run = match.group(0)
        digits = sum(ch.isdigit() for ch in run)
        if digits < 7:
            return run
        keep = 4
        out = []
        for ch in reversed(run):
            if ch.isdigit():
                out.append(ch if keep > 0 else "*")
                keep -= 1
            else:
                out.append(ch)
        return "".join(reversed(out))

    return _PHONE_LIKE.sub(mask, text)


class DialerError(Exception):
    """Base class of every error raised by airflow-provider-dialer."""


class DialerConfigError(DialerError):
    """The connection or the operator arguments are wrong (missing host, plain http off loopback, ...)."""


class DialerValueError(DialerConfigError, ValueError):
    """An argument has a value the provider cannot use (a chunk size below 1, a calling window that
    never opens for a lead). Also a ``ValueError``, so callers written against the built-in still catch it."""


class DialerUsageError(DialerError, RuntimeError):
    """A provider object was used out of order: prepared leads iterated twice, a report's ratio checked
    before its run ended. Also a ``RuntimeError``, so callers written against the built-in still catch it."""


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


class DialerSendTooLateError(DialerTransportError):
    """A write was not sent: it would have left after the instant its chunk's calling-window check allowed.

    ``writes_sent`` counts the writes of the same chunk that went out before it (0: nothing of the
    chunk was applied, it can be checked against the window again and sent); ``wait`` is how long the
    request was asked to wait (rate limit, ``Retry-After``, backoff) before it could go: the check
    against the window is made again after that wait, not before it.
    """

    def __init__(
        self, vendor: str, method: str, path: str, seconds_late: float, writes_sent: int, wait: float = 0.0
    ) -> None:
        self.seconds_late = seconds_late
        self.writes_sent = writes_sent
        self.wait = wait
        super().__init__(
            vendor,
            method,
            path,
            f"not sent: it would leave {seconds_late:.1f}s after the send_margin its calling-window check allowed "
            "(rate limit, Retry-After or retries waited that long)",
        )


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
        body = mask_phone_numbers(body)
        hint = mask_phone_numbers(hint)
        self.body = body
        text = body if len(body) <= 2000 else body[:2000] + f"... ({len(body)} chars)"
        msg = f"{vendor} {method} {path} -> HTTP {status}: {text!r}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)

    def as_auth_error(self, hint: str) -> DialerAuthError:
        """This answer to a login as the refusal of the connection's credentials: the same request,
        status and body, with ``hint`` (what the user checks) in place of this error's."""
        return DialerAuthError(self.vendor, self.method, self.path, self.status, self.body, hint)


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
        detail = mask_phone_numbers(detail)
        self.detail = detail
        msg = f"{vendor} {job} ended {status}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class DialerAnswerError(DialerError):
    """The vendor answered a success the provider cannot act on safely: a status value its documents do
    not list, an accepted import with no job id to follow. The message says what to check before resending."""


class DialerProgressError(DialerError):
    """The task's delivery progress exists but cannot be read (corrupt JSON, a value the Fernet key
    cannot decrypt). Starting over could send every lead again, so the task fails instead; the
    message names the progress and the way out."""


class DialerNotFoundError(DialerError):
    """What a task names is not on the dialer, found by reading it (not by an error status): e.g. no
    contact of the campaign has the phone a removal was asked for."""
