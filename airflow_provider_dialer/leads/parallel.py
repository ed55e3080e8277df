"""The row-local part of ``prepare_leads`` on several processes (``workers > 1``).

Phone parsing dominates preparation and is CPU-bound, so a large list is prepared faster on several
cores. Only row-local work moves (``RowBuilder.outcomes``: phones, zone, schedule, window): the calling
process reads the source, hands chunks of raw rows to worker processes, and takes their outcomes back
**in source order**; de-duplication, do-not-call and the report stay in the calling process. A run
with workers therefore yields exactly what a run without them yields.

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


class RowOutcomes(Protocol):
    """The row-local part of a run, as a worker process holds it."""

    def outcomes(self, task: tuple[Any, ...], rows: Iterable[tuple[int, Any]]) -> list[Any]: ...


_worker_run: RowOutcomes | None = None  # the worker process's own row builder, built once by _init_worker


def _init_worker(run_class: Callable[..., RowOutcomes], config: dict[str, Any]) -> None:
    global _worker_run
    from airflow_provider_dialer.leads.collector import raise_young_threshold

    raise_young_threshold()  # the process only prepares rows: fewer collector passes, as in the run's process
    _worker_run = run_class(**config)


def _outcomes_in_worker(task: tuple[Any, ...], rows: list[tuple[int, Any]]) -> list[Any]:
    assert _worker_run is not None, "the pool's initializer builds the run"
    return _worker_run.outcomes(task, rows)


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
    """Outcome lists of ``chunk_rows`` rows in source order, computed on ``run.workers`` processes."""
    outcomes = run.outcomes
    done_here = 0
    while done_here < run.parallel_after_rows:
        chunk: list[Any] | None = outcomes(task, islice(records, chunk_rows))
        if not chunk:
            return
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
        while chunk := outcomes(task, islice(records, chunk_rows)):
            yield chunk
        return

    pending: deque[tuple[list[tuple[int, Any]], Future[list[Any]] | None]] = deque()
    broken = False
    try:
        while True:
            while len(pending) < 2 * run.workers:
                rows = list(islice(records, chunk_rows))
                if not rows:
                    break
                future = None
                if not broken:
                    try:
                        future = pool.submit(_outcomes_in_worker, task, rows)
                    except RuntimeError as exc:  # BrokenProcessPool, or a pool already shut down
                        broken = _give_up(exc)
                pending.append((rows, future))
            if not pending:
                return
            rows, future = pending.popleft()
            chunk = None
            if future is not None and not broken:
                try:
                    chunk = future.result()
                except BrokenProcessPool as exc:
                    broken = _give_up(exc)
                except Exception as exc:  # e.g. a row value that cannot be pickled: this chunk is done here
                    log.info(
                        "a chunk could not be prepared by a worker (%s); preparing it in this process",
                        type(exc).__name__,
                    )
            if chunk is None:
                chunk = outcomes(task, rows)
            yield chunk
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _give_up(exc: BaseException) -> bool:
    log.warning(
        "a preparation worker process failed (%s: %s); preparing the remaining rows in this process",
        type(exc).__name__,
        exc,
    )
    return True
