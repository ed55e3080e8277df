"""Sensors that wait on a vendor's asynchronous work: bulk import jobs and list loading. Deferrable by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator

from airflow_provider_dialer.exceptions import DialerJobFailedError


def _finish(task: BaseSensorOperator, event: dict[str, Any] | None, what: str) -> dict[str, Any]:
    """Turn a trigger event into the task's result, or a clear failure."""
    if not event:
        raise DialerJobFailedError("dialer", what, "no event", "the trigger ended without an event")
    status = event.get("status")
    if status == "success":
        task.log.info("%s done: %s", what, event.get("items"))
        return {"status": "success", "items": event.get("items", {})}
    if status == "timeout":
        from airflow.sdk.exceptions import AirflowSensorTimeout

        raise AirflowSensorTimeout(f"{what}: {event.get('message')}")
    raise DialerJobFailedError("dialer", what, str(status), str(event.get("message", "")))


class ImportJobSensor(BaseSensorOperator):
    """Waits until a vendor's bulk import jobs complete (UJET ``in_progress`` until ``completed``).

    A ``failed`` job fails the task with the vendor's ``error_message`` and ``error_details``.
    Deferrable by default: the wait runs in the triggerer and holds no worker slot.

    :param conn_id: dialer connection id; its type picks the vendor hook.
    :param campaign_id: the campaign the jobs belong to.
    :param job_ids: one job id or a list of them (for example ``UploadListOperator``'s ``job_ids``).
    :param poll_interval: seconds between polls.
    :param deferrable: wait in the triggerer (default) or poke from a worker.

    BaseSensorOperator's ``timeout`` (seconds) bounds the wait in both modes.

    .. code-block:: python

        ImportJobSensor(task_id="wait_import", conn_id="ujet_default", campaign_id=6,
                        job_ids="{{ ti.xcom_pull('upload')['wait']['job_ids'] }}")
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "job_ids")

    def __init__(
        self,
        *,
        conn_id: str,
        campaign_id: Any,
        job_ids: Any,
        poll_interval: float = 5.0,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.campaign_id = campaign_id
        self.job_ids = job_ids
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def _job_ids(self) -> list[Any]:
        ids = self.job_ids
        if isinstance(ids, str):
            import ast

            text = ids.strip()
            ids = ast.literal_eval(text) if text.startswith("[") else [text]
        return list(ids) if isinstance(ids, (list, tuple)) else [ids]

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_dialer.triggers.wait import ImportJobTrigger

        self.defer(
            trigger=ImportJobTrigger(self.conn_id, self.campaign_id, self._job_ids(), self.poll_interval, float(self.timeout)),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def poke(self, context: Any) -> bool:
        from airflow_provider_dialer.capabilities import ImportJobWatcher, get_dialer_hook, require

        hook = require(get_dialer_hook(self.conn_id), ImportJobWatcher)
        for job_id in self._job_ids():
            state = hook.import_job_state(self.campaign_id, job_id)
            if state.failed:
                raise DialerJobFailedError(getattr(hook, "vendor", "dialer"), f"import job {job_id}", state.status, state.detail)
            if not state.done:
                self.log.info("import job %s is %s", job_id, state.status)
                return False
        return True

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return _finish(self, event, f"import jobs {self._job_ids()} of campaign {self.campaign_id}")


class ListLoadedSensor(BaseSensorOperator):
    """Waits until uploaded lists have loaded (uContact Automation ``loading`` until ``inactive``/``active``;
    XCALLY CSV imports until the list holds the expected number of contacts).

    An error state fails the task. Deferrable by default.

    :param conn_id: dialer connection id.
    :param targets: what to wait on, as ``UploadListOperator`` returns it under ``wait.targets``
        (for uContact ``{"hub": ..., "list_id": ...}``; for XCALLY ``{"list_id": ..., "expected": n}``).
    :param poll_interval: seconds between polls.
    :param deferrable: wait in the triggerer (default) or poke from a worker.

    .. code-block:: python

        ListLoadedSensor(task_id="wait_list", conn_id="ucontact_default",
                         targets="{{ ti.xcom_pull('upload')['wait']['targets'] }}")
    """

    template_fields: Sequence[str] = ("conn_id", "targets")

    def __init__(
        self,
        *,
        conn_id: str,
        targets: Any,
        poll_interval: float = 5.0,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.targets = targets
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    def _targets(self) -> list[dict[str, Any]]:
        targets = self.targets
        if isinstance(targets, str):
            import ast

            targets = ast.literal_eval(targets)
        if isinstance(targets, dict):
            targets = [targets]
        return list(targets)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        from airflow_provider_dialer.triggers.wait import ListLoadedTrigger

        self.defer(
            trigger=ListLoadedTrigger(self.conn_id, self._targets(), self.poll_interval, float(self.timeout)),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def poke(self, context: Any) -> bool:
        from airflow_provider_dialer.capabilities import ListStateWatcher, get_dialer_hook, require

        hook = require(get_dialer_hook(self.conn_id), ListStateWatcher)
        for target in self._targets():
            state = hook.list_state(target)
            if state.failed:
                raise DialerJobFailedError(getattr(hook, "vendor", "dialer"), f"list {target}", state.status, state.detail)
            if not state.done:
                self.log.info("list %s is %s", target, state.status)
                return False
        return True

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return _finish(self, event, f"lists {self._targets()}")
