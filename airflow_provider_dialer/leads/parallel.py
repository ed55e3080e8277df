"""The row-local part of ``prepare_leads`` on several processes (``workers > 1``).

Phone parsing dominates preparation and is CPU-bound, so a large list is prepared faster on several
cores. Only row-local work moves (``RowBuilder.outcomes``: phones, zone, schedule, window): the calling
process reads the source, hands chunks of raw rows to worker processes, and takes their outcomes back
**in source order**; de-duplication, do-not-call and the report stay in the calling process. A run
with workers therefore yields exactly what a run without them yields. From a CSV file the workers
get physical lines, read and checked by the calling process, and cut the records themselves
(``csv_source.LineChunk``): the calling process only reads lines.

- Workers start only after the first ``parallel_after_rows`` rows, so small inputs never pay for them.
- At most ``2 * workers`` chunks are in flight: memory stays bounded by the chunk size, not the input.
- Processes come from a ``forkserver`` (``spawn`` where there is none): never ``fork`` of a process
  that runs threads, and never a re-import of the task's main module.
- A worker that dies (OOM killer, a crash in a C extension) costs nothing: its chunks and every chunk
  after it are prepared in this process, with a warning.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from itertools import islice
from typing import Any, Protocol

log = logging.getLogger(__name__)


class ParallelRun(Protocol):
    """What this module needs of a preparation run; the run's class builds each worker's own copy.

    Defined here, not imported, so that this module imports nothing of the preparation it serves
    (``leads/run.py`` imports this module when a run asks for workers).
    """

    #: worker processes to use
    workers: int
    #: rows prepared in this process before any worker starts
    parallel_after_rows: int
    #: keyword arguments that build the row-local part again in a worker (no report)
    config: dict[str, Any]

    #: what a worker builds from ``config``: it answers ``outcomes`` as the run does
    @property
    def worker_class(self) -> Callable[..., RowOutcomes]: ...

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]: ...

    def line_outcomes(self, task: tuple[Any, ...], chunk: Any) -> tuple[list[Any], int, int | None]: ...

    def renumbered(self, outcomes: list[Any], offset: int) -> list[Any]: ...


class RowOutcomes(Protocol):
    """The row-local part of a run, as a worker process holds it."""

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]: ...

    def line_outcomes(self, task: tuple[Any, ...], chunk: Any) -> tuple[list[Any], int, int | None]: ...


_worker_run: RowOutcomes | None = None  # the worker process's own row builder, built once by _init_worker


def _init_worker(run_class: Callable[..., RowOutcomes], config: dict[str, Any]) -> None:
    global _worker_run
    from airflow_provider_dialer.leads.collector import raise_young_threshold

    raise_young_threshold()  # the process only prepares rows: fewer collector passes, as in the run's process
    _worker_run = run_class(**config)


def _outcomes_in_worker(task: tuple[Any, ...], rows: list[tuple[int, Any]]) -> list[Any]:
    assert _worker_run is not None, "the pool's initializer builds the run"
    return _worker_run.outcomes(task, rows)


def _lines_in_worker(task: tuple[Any, ...], chunk: Any) -> tuple[list[Any], int, int | None]:
    assert _worker_run is not None, "the pool's initializer builds the run"
    return _worker_run.line_outcomes(task, chunk)


def _context(run: ParallelRun) -> Any:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        # no effect when a forkserver already runs: then workers import on use
        ctx.set_forkserver_preload([run.worker_class.__module__, "phonenumbers"])
        return ctx
    return multiprocessing.get_context("spawn")


@contextmanager
def _bare_main() -> Iterator[None]:
    """While processes start: a bare ``__main__``, so a worker never imports the task's main module.

    A spawned or forkserver child imports the parent's ``__main__`` (by path or name) before it
    runs anything; in a task that is the ``airflow`` or ``celery`` script (seconds of imports per
    worker), and an unguarded script would even run again.
    """
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def _noop() -> None:
    return None


def start_pool(run: ParallelRun) -> ProcessPoolExecutor:
    """``run.workers`` started processes, each with a ``run.worker_class`` built from ``run.config``."""
    pool = ProcessPoolExecutor(
        max_workers=run.workers,
        mp_context=_context(run),
        initializer=_init_worker,
        initargs=(run.worker_class, run.config),
    )
    try:
        with _bare_main():
            # a non-fork pool starts one process per submit until it has them all: start them all now
            for future in [pool.submit(_noop) for _ in range(run.workers)]:
                future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool


def parallel_outcomes(
    run: ParallelRun, records: Iterator[Any], chunk_rows: int, task: tuple[Any, ...]
) -> Iterator[list[Any]]:
    """Outcome lists in source order, computed on ``run.workers`` processes.

    ``records`` yields rows ``(n, value)``, taken ``chunk_rows`` at a time, and may go on with line
    chunks (``csv_source.LineChunk``: any item that is not a tuple), which the workers cut into
    records themselves; see ``_InOrder`` for how their rows are numbered and joined.
    """
    units = _units(records, chunk_rows)
    order = _InOrder(run, task)
    done_here = 0
    while done_here < run.parallel_after_rows:
        unit = next(units, None)
        if unit is None:
            yield from order.rest()
            return
        chunk = order.take(unit, None)
        done_here += len(chunk)
        yield chunk

    try:
        pool = start_pool(run)
    except Exception as exc:  # no processes, a setting that cannot be pickled, a worker dying at start
        log.warning(
            "could not start %d preparation workers (%s: %s); preparing in this process",
            run.workers,
            type(exc).__name__,
            exc,
        )
        for unit in units:
            yield order.take(unit, None)
        yield from order.rest()
        return

    pending: deque[tuple[Any, Future[Any] | None]] = deque()
    broken = False
    try:
        while True:
            while len(pending) < 2 * run.workers:
                unit = next(units, None)
                if unit is None:
                    break
                future: Future[Any] | None = None
                if not broken:
                    try:
                        if type(unit) is list:
                            future = pool.submit(_outcomes_in_worker, task, unit)
                        else:
                            future = pool.submit(_lines_in_worker, task, unit)
                    except RuntimeError as exc:  # BrokenProcessPool, or a pool already shut down
                        broken = _give_up(exc)
                pending.append((unit, future))
            if not pending:
                yield from order.rest()
                return
            unit, future = pending.popleft()
            result = None
            if future is not None and not broken and order.carry is None:
                try:
                    result = future.result()
                except BrokenProcessPool as exc:
                    broken = _give_up(exc)
                except Exception as exc:  # e.g. a row value that cannot be pickled: this chunk is done here
                    log.info(
                        "a chunk could not be prepared by a worker (%s); preparing it in this process",
                        type(exc).__name__,
                    )
            yield order.take(unit, result)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _units(records: Iterator[Any], chunk_rows: int) -> Iterator[Any]:
    """Lists of at most ``chunk_rows`` rows, and each line chunk as it comes (line chunks only follow rows)."""
    while batch := list(islice(records, chunk_rows)):
        if type(batch[-1]) is tuple:  # rows only: the usual batch, cut in C
            yield batch
            continue
        rows = [item for item in batch if type(item) is tuple]  # the rows before the first line chunk
        if rows:
            yield rows
        yield from batch[len(rows) :]
        yield from records  # line chunks to the end
        return


class _InOrder:
    """Turns units and their results into outcome lists, in source order, with the file's row numbers.

    A line chunk's rows come back numbered from 1: they move by the rows before them. A chunk whose
    lines end inside a record (a quoted cell holding line breaks) answers the line where that record
    begins: those lines and the next chunk's are read here as one (the next chunk's own result began
    inside a record and is dropped), so the records are exactly the ones one reader makes of the
    whole file.
    """

    def __init__(self, run: ParallelRun, task: tuple[Any, ...]) -> None:
        self.run, self.task = run, task
        self.last_row = 0
        self.carry: Any = None

    def take(self, unit: Any, result: Any) -> list[Any]:
        run = self.run
        if type(unit) is list:  # rows, numbered by the reader
            outcomes: list[Any] = result if result is not None else run.outcomes(self.task, unit)
            if unit:
                self.last_row = unit[-1][0]
            return outcomes
        if self.carry is not None:
            unit, result, self.carry = self.carry.joined(unit), None, None
        if result is None:
            result = run.line_outcomes(self.task, unit)
        outcomes, rows, restart = result
        outcomes = run.renumbered(outcomes, self.last_row)
        self.last_row += rows
        if restart is not None:
            self.carry = unit.tail(restart)
        return outcomes

    def rest(self) -> Iterator[list[Any]]:
        """What a carried record still holds when no chunk follows (the last chunk carries none)."""
        if self.carry is not None:
            carry, self.carry = self.carry, None
            yield self.take(carry.ended(), None)


def _give_up(exc: BaseException) -> bool:
    log.warning(
        "a preparation worker process failed (%s: %s); preparing the remaining rows in this process",
        type(exc).__name__,
        exc,
    )
    return True
