"""RemoveLeadsOperator: remove campaign contacts by contact id, phone or external id (UJET)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_dialer.capabilities import LeadRemover
from airflow_provider_dialer.exceptions import DialerConfigError, DialerHTTPError, DialerNotFoundError
from airflow_provider_dialer.hooks.registry import TaskHook
from airflow_provider_dialer.link_templates import one_id
from airflow_provider_dialer.links import DialerCampaignLink, check_links, remember_links


class RemoveLeadsOperator(TaskHook, BaseOperator):
    """Remove contacts from a campaign. UJET removes a contact by its ``contact_id`` (the request its
    document gives); a phone or external id is first resolved to the contact ids by reading the
    campaign's contacts. The other vendors' documents give no way, so they raise
    ``UnsupportedCapabilityError`` before any request.

    :param conn_id: dialer connection id.
    :param campaign_id: the campaign.
    :param contact_ids: contact ids to remove. :param phones: E.164 phones to remove.
    :param external_ids: external ids to remove.
    :param missing_ok: a contact that is already gone counts as removed (default True).

    Returns ``{"removed": n, "missing": n}``. Extra link **Dialer campaign** (when the connection
    sets ``campaign_link_template``).
    """

    template_fields: Sequence[str] = ("conn_id", "campaign_id", "contact_ids", "phones", "external_ids")
    operator_extra_links = (DialerCampaignLink(),)

    def __init__(
        self,
        *,
        conn_id: str,
        campaign_id: Any,
        contact_ids: Any = None,
        phones: Any = None,
        external_ids: Any = None,
        missing_ok: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id
        self.campaign_id = campaign_id
        self.contact_ids = contact_ids
        self.phones = phones
        self.external_ids = external_ids
        self.missing_ok = missing_ok

    def execute(self, context: Any) -> dict[str, int]:
        try:
            return self._remove(self.task_hook(LeadRemover, "contact removal"))
        finally:
            self.close_task_hook()

    def _remove(self, hook: Any) -> dict[str, int]:
        check_links(self, hook)
        wanted = [("contact_id", v) for v in (self.contact_ids or [])]
        wanted += [("phone", v) for v in (self.phones or [])]
        wanted += [("external_id", v) for v in (self.external_ids or [])]
        if not wanted:
            raise DialerConfigError("give contact_ids, phones or external_ids to remove")
        remember_links(self, hook, {"campaign_id": one_id(self.campaign_id)})
        removed = missing = 0
        for field, value in wanted:
            try:
                hook.remove_lead(self.campaign_id, **{field: value})
                removed += 1
            except DialerNotFoundError:
                if self.missing_ok:  # resolved by reading: no contact has it
                    missing += 1
                    continue
                raise
            except DialerHTTPError as exc:
                if exc.status == 404 and self.missing_ok:
                    missing += 1
                    continue
                raise
        self.log.info("campaign %s: removed %d contact(s), %d already gone", self.campaign_id, removed, missing)
        return {"removed": removed, "missing": missing}
