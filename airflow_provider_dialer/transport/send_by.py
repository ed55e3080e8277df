"""The latest instant a chunk's writes may leave: the calling-window check's promise, kept by the transport.

Delivery checks each lead's calling window just before its chunk goes out, and asks the window to
stay open ``send_margin`` seconds past that check. Between the check and the request sit the rate
limiter's waits, a server's ``Retry-After`` and the retries of a refused attempt; any of them can
outlast the margin. Delivery opens a :func:`send_by` scope right after its check; every write sent
inside it (a request that is not idempotent) is refused before it leaves once the scope's instant
has passed (and a wait that would carry it past is not waited), so nothing is dialed on a check that
no longer holds. Reads are never refused: they dial nobody.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class SendBy:
    """One scope: the latest monotonic instant a write may leave, and how many writes went out in it."""

    instant: float
    writes_sent: int = 0

    def seconds_late(self, wait: float = 0.0) -> float:
        """How far past the instant a write would leave after ``wait`` more seconds (0 when in time)."""
        return max(0.0, time.monotonic() + wait - self.instant)


#: the scope of the chunk being sent in this thread or task, if any
SEND_BY: contextvars.ContextVar[SendBy | None] = contextvars.ContextVar("dialer_send_by", default=None)


@contextlib.contextmanager
def send_by(instant: float) -> Iterator[SendBy]:
    """Refuse this thread's (or task's) writes that would leave after ``instant`` (``time.monotonic``)."""
    scope = SendBy(instant)
    token = SEND_BY.set(scope)
    try:
        yield scope
    finally:
        SEND_BY.reset(token)
