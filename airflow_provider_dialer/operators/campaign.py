"""CreateCampaignOperator and ControlCampaignOperator: campaigns created idempotently by name, and their state controlled."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_dialer.capabilities import CampaignController, CampaignCreator, check_campaign_command
from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.hooks.registry import TaskHook
from airflow_provider_dialer.link_templates import one_id
from airflow_provider_dialer.links import DialerCampaignLink, check_links, remember_links


class CreateCampaignOperator(TaskHook, BaseOperator):
    """Create a campaign, or reuse the one with the same name: XCALLY queue campaigns and Voipex campaigns.

    Idempotent by name: a re-run finds the existing campaign; if its settings differ from the wanted
    ones it is updated (``on_difference="update"``, default) or the task fails listing the
    differences (``on_difference="fail"``). A second campaign of the same name is never created.

    :param conn_id: dialer connection id (``xcally`` or ``voipex`` type; others raise
        ``UnsupportedCapabilityError`` before any request).
    :param name: campaign name.
    :param calling_hours: ``"09:00-20:00"``: XCALLY ``dialGlobalInterval``, Voipex ``activePeriod``.
    :param weekdays: ISO weekdays 1 (Monday) .. 7 (Sunday) the campaign may dial.
    :param lists: list / call-list ids to attach (XCALLY ``lists``, Voipex ``callLists``).
    :param agents: XCALLY agent ids to attach to the queue campaign.
    :param settings: vendor fields, validated by the vendor's model: XCALLY any documented queue
        campaign field (``dialMethod``, ``TrunkId``, ``dialCheckDuplicateType``, ...); Voipex
        ``callerId``, ``ivr`` (id) or ``ivr_name``, ``rescheduleRules``, ``endpoint``.
    :param on_difference: ``"update"`` or ``"fail"``.

    Returns the campaign id. Extra link **Dialer campaign** (when the connection sets
    ``campaign_link_template``): the campaign created, updated or found.

    .. code-block:: python

        CreateCampaignOperator(task_id="campaign", conn_id="voipex_default", name="renewals {{ ds }}",
                               calling_hours="09:00-17:00", weekdays=[1, 2, 3, 4, 5],
                               lists="{{ ti.xcom_pull('upload')['ids']['call_list_ids'] }}",
                               settings={"callerId": "420228881234", "ivr_name": "IVR-app-name"})
    """

    template_fields: Sequence[str] = ("conn_id", "name", "calling_hours", "lists", "agents", "settings")
    operator_extra_links = (DialerCampaignLink(),)

    def __init__(
        self,
        *,
        conn_id: str,
        name: str,
        calling_hours: str | None = None,
        weekdays: Sequence[int] | None = None,
        lists: Any = None,
        agents: Any = None,
        settings: dict[str, Any] | None = None,
        on_difference: str = "update",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if on_difference not in {"update", "fail"}:
            raise DialerConfigError(f"on_difference must be 'update' or 'fail', got {on_difference!r}")
        self.conn_id = conn_id
        self.name = name
        self.calling_hours = calling_hours
        self.weekdays = list(weekdays) if weekdays else None
        self.lists = lists
        self.agents = agents
        self.settings = settings or {}
        self.on_difference = on_difference

    @staticmethod
    def _as_list(value: Any, what: str) -> list[Any] | None:
        if value in (None, "", []):
            return None
        from airflow_provider_dialer.leads.rendered import rendered_list

        return rendered_list(value, what)

    def execute(self, context: Any) -> Any:
        try:
            return self._create_or_reuse(self.task_hook(CampaignCreator, "campaign creation"))
        finally:
            self.close_task_hook()

    def _create_or_reuse(self, hook: Any) -> Any:
        check_links(self, hook)
        common = {
            "name": self.name,
            "calling_hours": self.calling_hours,
            "weekdays": self.weekdays,
            "lists": self._as_list(self.lists, "lists"),
            "agents": self._as_list(self.agents, "agents"),
        }
        wanted = hook.build_campaign(common, dict(self.settings))
        existing = hook.find_campaign_by_name(self.name)
        if existing is None:
            campaign_id = hook.create_campaign_from(wanted)
            remember_links(self, hook, {"campaign_id": campaign_id, "campaign_name": self.name})
            self.log.info("created campaign %r: id %s", self.name, campaign_id)
            return campaign_id
        campaign_id = existing["id"]
        remember_links(self, hook, {"campaign_id": campaign_id, "campaign_name": self.name})
        differences = hook.campaign_differences(existing, wanted)
        if not differences:
            self.log.info("campaign %r exists (id %s) with the wanted settings", self.name, campaign_id)
            return campaign_id
        if self.on_difference == "fail":
            raise DialerConfigError(
                f"campaign {self.name!r} (id {campaign_id}) exists with different settings: {differences}; "
                "use on_difference='update' to update it"
            )
        hook.update_campaign_from(campaign_id, wanted)
        self.log.info("updated campaign %r (id %s): %s", self.name, campaign_id, sorted(differences))
        return campaign_id


class ControlCampaignOperator(TaskHook, BaseOperator):
    """Change a campaign's state: ``start``, ``pause``, ``unpause``, ``reload``, ``remove`` on Voipex;
    ``activate`` and ``deactivate`` (``dialActive``) on XCALLY.

    A command the vendor does not have raises ``UnsupportedCapabilityError`` before any request.

    :param conn_id: dialer connection id.
    :param campaign_id: the campaign id (templated, e.g. from ``CreateCampaignOperator``'s XCom).
    :param command: the command.

    Extra link **Dialer campaign** (when the connection sets ``campaign_link_template``).

    .. code-block:: python

        ControlCampaignOperator(task_id="start", conn_id="voipex_default",
                                campaign_id="{{ ti.xcom_pull('campaign') }}", command="start")
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "command")
    operator_extra_links = (DialerCampaignLink(),)

    def __init__(self, *, conn_id: str, campaign_id: Any, command: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.campaign_id = campaign_id
        self.command = command

    def execute(self, context: Any) -> Any:
        try:
            return self._control(self.task_hook(CampaignController, "campaign control"))
        finally:
            self.close_task_hook()

    def _control(self, hook: Any) -> Any:
        check_links(self, hook)
        check_campaign_command(hook.vendor, hook.campaign_commands, self.command)
        remember_links(self, hook, {"campaign_id": one_id(self.campaign_id)})
        result = hook.control(self.campaign_id, self.command)
        self.log.info("campaign %s: %s -> %s", self.campaign_id, self.command, result)
        return result
