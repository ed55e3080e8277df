"""Triggers that poll a vendor's asynchronous state with the hook's async client: import jobs and list loading."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_dialer.capabilities import (
    ImportJobWatcher,
    ListStateWatcher,
    WaitState,
    require,
)
from airflow_provider_dialer.exceptions import DialerError
from airflow_provider_dialer.hooks.registry import aget_dialer_hook


class _PollingTrigger(BaseTrigger):
    """Polls a set of items until every one is done, one fails, or the timeout passes."""

    def __init__(self, conn_id: str, poll_interval: float = 5.0, timeout: float | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # BaseTrigger.__init__ has no annotations
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    def _items(self) -> list[Any]:
        raise NotImplementedError

    async def _state(self, hook: Any, item: Any) -> WaitState:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        started = time.monotonic()
        states: dict[str, dict[str, Any]] = {}
        try:
            hook = await aget_dialer_hook(self.conn_id)
        except DialerError as exc:
            yield TriggerEvent({"status": "error", "message": str(exc), "items": states})
            return
        pending = list(self._items())
        try:
            while True:
                still: list[Any] = []
                for item in pending:
                    try:
                        state = await self._state(hook, item)
                    except DialerError as exc:
                        yield TriggerEvent({"status": "error", "message": str(exc), "items": states})
                        return
                    states[str(item)] = {"status": state.status, "detail": state.detail}
                    if state.failed:
                        yield TriggerEvent(
                            {
                                "status": "failed",
                                "message": f"{item}: {state.status} {state.detail}".strip(),
                                "items": states,
                            }
                        )
                        return
                    if not state.done:
                        still.append(item)
                pending = still
                if not pending:
                    yield TriggerEvent({"status": "success", "message": "all done", "items": states})
                    return
                if self.timeout is not None and time.monotonic() - started > self.timeout:
                    yield TriggerEvent(
                        {
                            "status": "timeout",
                            "message": f"still waiting on {pending} after {self.timeout}s",
                            "items": states,
                        }
                    )
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            await hook.aclose()


class ImportJobTrigger(_PollingTrigger):
    """Waits until bulk import jobs (UJET) are ``completed``; fires ``failed`` with the vendor's error."""

    def __init__(
        self,
        conn_id: str,
        campaign_id: Any,
        job_ids: list[Any],
        poll_interval: float = 5.0,
        timeout: float | None = None,
    ) -> None:
        super().__init__(conn_id, poll_interval, timeout)
        self.campaign_id = campaign_id
        self.job_ids = list(job_ids)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dialer.triggers.wait.ImportJobTrigger",
            {
                "conn_id": self.conn_id,
                "campaign_id": self.campaign_id,
                "job_ids": self.job_ids,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    def _items(self) -> list[Any]:
        return self.job_ids

    async def _state(self, hook: Any, item: Any) -> WaitState:
        # mypy takes only a concrete class for type[P] (python/mypy#4717); require() checks a Protocol
        return await require(hook, ImportJobWatcher).aimport_job_state(self.campaign_id, item)  # type: ignore[type-abstract]


class ListLoadedTrigger(_PollingTrigger):
    """Waits until uploaded lists have finished loading (uContact Automation, XCALLY CSV imports)."""

    def __init__(
        self, conn_id: str, targets: list[dict[str, Any]], poll_interval: float = 5.0, timeout: float | None = None
    ) -> None:
        super().__init__(conn_id, poll_interval, timeout)
        self.targets = list(targets)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "airflow_provider_dialer.triggers.wait.ListLoadedTrigger",
            {
                "conn_id": self.conn_id,
                "targets": self.targets,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    def _items(self) -> list[Any]:
        return list(range(len(self.targets)))

    async def _state(self, hook: Any, item: Any) -> WaitState:
        # mypy takes only a concrete class for type[P] (python/mypy#4717); require() checks a Protocol
        return await require(hook, ListStateWatcher).alist_state(self.targets[item])  # type: ignore[type-abstract]
