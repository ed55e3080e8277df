"""The client-side rate limit shared by every request of one hook: :class:`RateLimiter`."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


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
