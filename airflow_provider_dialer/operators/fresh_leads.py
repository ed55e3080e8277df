"""PushFreshLeadsOperator: push a small batch of priority leads for immediate or scheduled contact (event-driven DAGs)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.capabilities import FreshLeadPusher
from airflow_provider_dialer.links import DialerCampaignLink, DialerListLink
from airflow_provider_dialer.operators.base import LeadsOperator
from airflow_provider_dialer.run_report import RunReportLink

if TYPE_CHECKING:
    from airflow_provider_dialer.capabilities import ChunkOutcome
    from airflow_provider_dialer.leads.model import PreparedLead


class PushFreshLeadsOperator(LeadsOperator):
    """Push priority leads: uContact Automation ``freshLeads`` (per-lead ``scheduleDate`` and
    ``timezone``), UJET single-contact adds, XCALLY contacts added to an existing list (``scheduledat``).

    Made for event-driven DAGs (asset events, REST-triggered runs with leads in ``conf``): small
    batches, low latency, nothing heavy at import. The calling-hours guard decides per lead: vendors
    that take a per-lead time get the lead's next permitted time; for UJET, leads outside their
    window are held back and pushed when it opens (the task defers meanwhile), or rejected with
    ``hold_back="reject"``.

    All ``LeadsOperator`` parameters apply, plus:

    :param settings: uContact ``{"hub": "sales", "channel": "telephony"}``; UJET ``{"campaign_id": 6}``;
        XCALLY ``{"list_id": 12}`` or ``{"list_name": "fresh"}``.

    Extra links (when the connection sets a template): **Dialer list**, the list the leads went
    into, and **Dialer campaign**, the campaign they were added to.

    .. code-block:: python

        PushFreshLeadsOperator(
            task_id="push",
            conn_id="ucontact_default",
            source="{{ dag_run.conf['leads'] }}",
            settings={"hub": "sales"},
        )
    """

    template_fields: Sequence[str] = (*LeadsOperator.template_fields, "settings")
    operator_extra_links = (DialerListLink(), DialerCampaignLink(), RunReportLink())
    capability = FreshLeadPusher
    capability_label = "fresh leads"

    def __init__(self, *, settings: dict[str, Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("concurrency", 2)
        super().__init__(**kwargs)
        self.settings = settings or {}

    def open_target(self, hook: FreshLeadPusher) -> dict[str, Any]:
        return hook.open_fresh_target(dict(self.settings))

    def send_chunk(
        self, hook: FreshLeadPusher, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome:
        return hook.push_fresh_chunk(target, key, leads)

    def resolve_chunk(
        self, hook: FreshLeadPusher, target: dict[str, Any], key: str, leads: Sequence[PreparedLead]
    ) -> ChunkOutcome | None:
        return hook.resolve_fresh_chunk(target, key, leads)

    def default_chunk_size(self, hook: Any, target: dict[str, Any]) -> int:
        return int(hook.fresh_chunk_size)

    def per_lead_schedule(self, hook: Any, target: dict[str, Any]) -> bool:
        return bool(hook.fresh_per_lead_schedule)
