"""Sensors that wait on a vendor's asynchronous work: bulk import jobs and list loading. Deferrable by default."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, BaseSensorOperator

from airflow_provider_dialer.exceptions import DialerJobFailedError
from airflow_provider_dialer.hooks.registry import TaskHook
from airflow_provider_dialer.leads.rendered import rendered_list, rendered_value
from airflow_provider_dialer.links import DialerCampaignLink, DialerListLink, link_kinds


def finish_wait(task: BaseOperator, event: dict[str, Any] | None, what: str) -> dict[str, Any]:
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


class _VendorWaitSensor(TaskHook, BaseSensorOperator):
    """Waits on items at the vendor: deferred on a trigger by default, or poked from a worker."""

    def __init__(self, *, conn_id: str, poll_interval: float = 5.0, deferrable: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("poke_interval", poll_interval)
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.poll_interval = poll_interval
        self.deferrable = deferrable

    # subclass interface
    capability: type
    item_label: str

    def _items(self) -> list[Any]:
        raise NotImplementedError

    def _state(self, hook: Any, item: Any) -> Any:
        raise NotImplementedError

    def _trigger(self) -> Any:
        raise NotImplementedError

    def _what(self) -> str:
        raise NotImplementedError

    def _link_values(self) -> dict[str, Any]:
        """What the sensor's links are filled with (see ``links.py``)."""
        return {}

    def _remember_links(self) -> None:
        from airflow_provider_dialer.links import check_links, remember_links

        if link_kinds(self):
            hook = self.task_hook()
            check_links(self, hook)
            remember_links(self, hook, self._link_values())

    def execute(self, context: Any) -> Any:
        try:
            self._remember_links()
            if not self.deferrable:
                return super().execute(context)
        finally:
            self.close_task_hook()  # a deferred wait polls with the trigger's own async client
        self.defer(
            trigger=self._trigger(), method_name="execute_complete", timeout=timedelta(seconds=float(self.timeout))
        )

    def poke(self, context: Any) -> bool:
        hook = self.task_hook(self.capability)  # one client for every poke of this attempt
        for item in self._items():
            state = self._state(hook, item)
            if state.failed:
                raise DialerJobFailedError(
                    getattr(hook, "vendor", "dialer"), f"{self.item_label} {item}", state.status, state.detail
                )
            if not state.done:
                self.log.info("%s %s is %s", self.item_label, item, state.status)
                return False
        return True

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        return finish_wait(self, event, self._what())


class ImportJobSensor(_VendorWaitSensor):
    """Waits until a vendor's bulk import jobs complete (UJET ``in_progress`` until ``completed``).

    A ``failed`` job fails the task with the vendor's ``error_message`` and ``error_details``.
    Deferrable by default: the wait runs in the triggerer and holds no worker slot.

    :param conn_id: dialer connection id; its type picks the vendor hook.
    :param campaign_id: the campaign the jobs belong to.
    :param job_ids: one job id or a list of them (``UploadListOperator``'s ``wait.job_ids``).
    :param poll_interval: seconds between polls.
    :param deferrable: wait in the triggerer (default) or poke from a worker.

    BaseSensorOperator's ``timeout`` (seconds) bounds the wait in both modes. Extra links (when the
    connection sets a template): **Dialer campaign** and **Dialer list** (the first import job).

    .. code-block:: python

        ImportJobSensor(task_id="wait_import", conn_id="ujet_default", campaign_id=6,
                        job_ids="{{ ti.xcom_pull('upload')['wait']['job_ids'] }}")
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "job_ids")
    operator_extra_links = (DialerCampaignLink(), DialerListLink())
    item_label = "import job"

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
        # the shared arguments are spelled out so the signature matches the parameters documented above
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, deferrable=deferrable, **kwargs)
        self.campaign_id = campaign_id
        self.job_ids = job_ids

    @property
    def capability(self) -> type:  # type: ignore[override]  # a property where the base has an attribute
        from airflow_provider_dialer.capabilities import ImportJobWatcher

        return ImportJobWatcher

    def _items(self) -> list[Any]:
        return rendered_list(self.job_ids, "job_ids")

    def _state(self, hook: Any, item: Any) -> Any:
        return hook.import_job_state(self.campaign_id, item)

    def _trigger(self) -> Any:
        from airflow_provider_dialer.triggers.wait import ImportJobTrigger

        return ImportJobTrigger(self.conn_id, self.campaign_id, self._items(), self.poll_interval, float(self.timeout))

    def _what(self) -> str:
        return f"import jobs {self._items()} of campaign {self.campaign_id}"

    def _link_values(self) -> dict[str, Any]:
        from airflow_provider_dialer.link_templates import one_id

        return {"campaign_id": one_id(self.campaign_id), "job_id": one_id(self._items())}


class ListLoadedSensor(_VendorWaitSensor):
    """Waits until uploaded lists have loaded (uContact Automation ``loading`` until ``inactive``/``active``;
    XCALLY CSV imports until the list holds the expected number of contacts).

    An error state fails the task. Deferrable by default. Extra link **Dialer list** (the first
    target) when the connection sets ``list_link_template``.

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
    operator_extra_links = (DialerListLink(),)
    item_label = "list"

    def __init__(
        self, *, conn_id: str, targets: Any, poll_interval: float = 5.0, deferrable: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(conn_id=conn_id, poll_interval=poll_interval, deferrable=deferrable, **kwargs)
        self.targets = targets

    @property
    def capability(self) -> type:  # type: ignore[override]  # a property where the base has an attribute
        from airflow_provider_dialer.capabilities import ListStateWatcher

        return ListStateWatcher

    def _items(self) -> list[Any]:
        targets = rendered_value(self.targets, "targets")
        if isinstance(targets, dict):
            return [targets]
        return rendered_list(targets, "targets")

    def _state(self, hook: Any, item: Any) -> Any:
        return hook.list_state(item)

    def _trigger(self) -> Any:
        from airflow_provider_dialer.triggers.wait import ListLoadedTrigger

        return ListLoadedTrigger(self.conn_id, self._items(), self.poll_interval, float(self.timeout))

    def _what(self) -> str:
        return f"lists {self._items()}"

    def _link_values(self) -> dict[str, Any]:
        items = self._items()
        first = items[0] if items and isinstance(items[0], dict) else {}
        return {key: first.get(key) for key in ("hub", "list_id", "list_name")}
