"""UploadListOperator: push a whole list of prepared leads to the connection's dialer, optionally waiting until it is loaded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.capabilities import ListUploader
from airflow_provider_dialer.links import DialerCampaignLink, DialerListLink
from airflow_provider_dialer.operators.base import LeadsOperator
from airflow_provider_dialer.run_report import RunReportLink

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.leads.model import PreparedLead


class UploadListOperator(LeadsOperator):
    """Upload leads as a list: uContact Automation hub list, XCALLY list, Voipex call list, UJET contacts import.

    Leads are read from ``source``, prepared (phones, zones, calling hours, de-dup, DNC) and pushed in
    chunks sized for the vendor, with bounded concurrency and the connection's rate limit. Progress
    survives task retries: a retried task never pushes a chunk twice (see ``LeadsOperator``).

    All ``LeadsOperator`` parameters apply, plus:

    :param list_name: the list's name (uContact ``filename``, XCALLY list name, Voipex call-list
        name; UJET has no lists and ignores it). XCALLY reuses an existing list of that name.
    :param settings: vendor settings: uContact ``{"hub": "sales", "channel": "telephony"}``;
        XCALLY ``{"mode": "auto"|"batch"|"csv", "agents": [24, 26], "campaign_id": 59,
        "duplicates": ["phone"]}``; Voipex ``{}`` (call lists are created per chunk);
        UJET ``{"campaign_id": 6}``.
    :param wait_for_completion: after the upload, wait (deferred) until the vendor finished loading:
        UJET import jobs ``completed``, uContact lists no longer ``loading``, XCALLY CSV imports
        holding every contact. A failed job fails the task with the vendor's error.
    :param poll_interval: seconds between polls while waiting.
    :param wait_timeout: seconds before the wait gives up.

    Returns (XCom) a summary: counts read/prepared/rejected by reason/held back/accepted/refused by
    the vendor/unknown, the ids created (``ids.list_id``, ``ids.job_ids``, ``ids.call_list_ids``, ...)
    and ``wait``: what a sensor waits on (``wait.job_ids`` and ``wait.campaign_id`` for
    ``ImportJobSensor``, ``wait.targets`` for ``ListLoadedSensor``), or None. Never the leads.

    Extra links (when the connection sets ``list_link_template`` / ``campaign_link_template``):
    **Dialer list**, the list (the first one when the vendor makes one per chunk; for UJET, the
    first import job), and **Dialer campaign**, the campaign the list was loaded into.

    .. code-block:: python

        UploadListOperator(
            task_id="upload",
            conn_id="xcally_default",
            source="s3://leads/{{ ds }}/leads.csv",
            list_name="leads {{ ds }}",
            column_mapping={"tel": "phones", "nome": "first_name", "fuso": "timezone"},
            default_region="BR",
            settings={"agents": [24, 26]},
            max_reject_ratio=0.02,
            wait_for_completion=True,
        )
    """

    template_fields: Sequence[str] = (*LeadsOperator.template_fields, "list_name", "settings")
    operator_extra_links = (DialerListLink(), DialerCampaignLink(), RunReportLink())
    capability = ListUploader
    capability_label = "list upload"

    def __init__(
        self,
        *,
        list_name: str,
        settings: dict[str, Any] | None = None,
        wait_for_completion: bool = False,
        poll_interval: float = 5.0,
        wait_timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.list_name = list_name
        self.settings = settings or {}
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def open_target(self, hook: ListUploader) -> dict[str, Any]:
        return hook.open_list_target(self.list_name, dict(self.settings))

    def send_chunk(
        self, hook: ListUploader, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome:
        return hook.push_list_chunk(target, key, leads)

    def resolve_chunk(
        self, hook: ListUploader, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return hook.resolve_list_chunk(target, key, leads)

    def default_chunk_size(self, hook: Any, target: dict[str, Any]) -> int:
        return int(hook.list_chunk_size_for(target))

    def per_lead_schedule(self, hook: Any, target: dict[str, Any]) -> bool:
        """The target's ``per_lead_schedule`` when its vendor set one (e.g. a uContact hub list whose
        user trusts the hub's hours in each contact's zone), else the hook's ``list_per_lead_schedule``."""
        return bool(target.get("per_lead_schedule", getattr(hook, "list_per_lead_schedule", False)))

    def after_delivery(self, hook: Any, target: dict[str, Any], summary: dict[str, Any], context: Any) -> Any:
        wait = hook.list_wait(target, summary)
        summary["wait"] = wait
        if not wait or not self.wait_for_completion:
            return summary
        from airflow_provider_dialer.triggers.wait import ImportJobTrigger, ListLoadedTrigger

        context["ti"].xcom_push(key="pre_wait_summary", value=summary)
        if wait["kind"] == "import_job":
            trigger: Any = ImportJobTrigger(
                self.conn_id, wait["campaign_id"], wait["job_ids"], self.poll_interval, self.wait_timeout
            )
        else:
            trigger = ListLoadedTrigger(self.conn_id, wait["targets"], self.poll_interval, self.wait_timeout)
        self.log.info("waiting for the vendor to finish loading: %s", wait)
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=self.wait_timeout))

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        from airflow_provider_dialer.sensors.wait import finish_wait

        summary = (
            context["ti"].xcom_pull(task_ids=self.task_id, key="pre_wait_summary", map_indexes=context["ti"].map_index)
            or {}
        )
        summary["wait_result"] = finish_wait(self, event, f"loading of {self.list_name!r}")
        self._observed_after_wait(context, summary)
        self._check_rejects(None, summary)
        self._complete_progress(context=context)
        return summary
