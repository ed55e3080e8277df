"""Progress of a running upload in the task log, at a steady cadence.

A million-lead upload takes a minute or more; without this its log says nothing between "started"
and the summary. :class:`ProgressLog` watches the prepared-lead stream and every chunk answer, and
logs one line at most every ``every`` seconds, whenever there is something new::

    progress: read 240000 of 1000000 (24.0%), prepared 239100, rejected 900, chunks sent 239 (accepted 238600,
    refused 12, unknown 0), 4000 leads/s, ETA 3m10s

``read`` / ``prepared`` / ``rejected`` are the preparation's counts (it may read ahead of the
sending); ``leads/s`` is the leads handed on to be sent per second since the attempt started (the
dialer pulls the stream chunk by chunk, so this is the pace of the whole run); the ETA is the rows
not yet handed on or rejected at that pace, given only when the source's size is known (a list: an
XCom, ``dag_run.conf``). The clock is injectable, so the cadence is tested without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any


def monotonic() -> float:
    """The progress clock (tests replace it)."""
    return time.monotonic()


def source_size(source: Any) -> int | None:
    """How many rows a source holds when that is known without reading it (an in-memory list), else None."""
    if isinstance(source, (list, tuple)):
        return len(source)
    return None


def duration(seconds: float) -> str:
    """``3m10s``, ``1h02m``, ``45s``: short and whole, as an ETA needs no more."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressLog:
    """Counts of one attempt, logged every ``every`` seconds as they change.

    :param log: a logger (the operator's ``self.log``).
    :param every: seconds between two lines; 0 or less logs nothing.
    :param report: the preparation report, whose ``rows`` / ``prepared`` / ``rejected`` grow as the stream is read.
    :param total: rows in the source when known (gives the share read and the ETA).
    :param clock: seconds, monotonic; default :func:`monotonic` (tests pass or patch a fake one).
    """

    def __init__(
        self,
        log: Any,
        every: float,
        report: Any,
        total: int | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.log = log
        self.every = float(every or 0)
        self.report = report
        self.total = total or None  # an empty source has nothing to estimate
        self.clock = clock or monotonic
        self.started = self.clock()
        self._last = self.started
        self._last_state: tuple[int, ...] | None = None
        self._lock = threading.Lock()
        self.passed = 0
        self.chunks = 0
        self.accepted = 0
        self.refused = 0
        self.unknown = 0
        self.lines = 0

    @property
    def enabled(self) -> bool:
        return self.every > 0

    def watch(self, leads: Iterable[Any]) -> Iterator[Any]:
        """``leads`` unchanged, with a tick after each (a clock read; a line when one is due)."""
        if not self.enabled:
            yield from leads
            return
        tick = self.tick
        for lead in leads:
            self.passed += 1
            yield lead
            tick()

    def on_outcome(self, then: Callable[..., None] | None = None) -> Callable[..., None]:
        """A ``ChunkDelivery`` ``on_outcome`` callback that counts the chunk's answer, then calls ``then``."""

        def counted(key: str, leads: Any, outcome: Any) -> None:
            with self._lock:
                self.chunks += 1
                self.accepted += int(outcome.accepted)
                self.refused += len(outcome.refused)
                self.unknown += len(outcome.unknown)
            self.tick()
            if then is not None:
                then(key, leads, outcome)

        return counted

    def state(self) -> tuple[int, ...]:
        report = self.report
        return (
            report.rows,
            report.prepared,
            report.rejected,
            self.chunks,
            self.accepted,
            self.refused,
            self.unknown,
            self.passed,
        )

    def tick(self) -> None:
        """Log a line when ``every`` seconds passed since the last one and something changed."""
        if not self.enabled:
            return
        now = self.clock()
        if now - self._last < self.every:
            return
        with self._lock:
            if now - self._last < self.every:
                return
            self._last = now
            state = self.state()
            if state == self._last_state:
                return
            self._last_state = state
            self.lines += 1
            self.log.info("progress: %s", self.line(now))

    def line(self, now: float | None = None) -> str:
        """The progress line at ``now`` (default: the clock)."""
        now = self.clock() if now is None else now
        read, prepared, rejected, chunks, accepted, refused, unknown, passed = self.state()
        elapsed = max(now - self.started, 1e-9)
        rate = passed / elapsed
        share = f" of {self.total} ({read / self.total:.1%})" if self.total else ""
        text = (
            f"read {read}{share}, prepared {prepared}, rejected {rejected}, chunks sent {chunks} "
            f"(accepted {accepted}, refused {refused}, unknown {unknown}), {rate:.0f} leads/s"
        )
        if self.total is not None and rate > 0:
            text += f", ETA {duration(max(self.total - passed - rejected, 0) / rate)}"
        return text
