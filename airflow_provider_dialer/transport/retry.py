"""When and how long to wait before resending a request: :class:`RetryPolicy` and ``Retry-After``."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


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
