"""Extra links from a task to the campaign or list it created or used, in the dialer's own web UI.

Operators stay vendor-neutral: they say *what* they touched (a campaign, a list) and the ids they
know; the connection's hook turns that into a URL from a template kept in the connection
(``campaign_link_template``, ``list_link_template``), and says which placeholders its vendor can
fill. None of the vendor documents gives the address of a campaign or list page, so there is no
link unless the connection sets a template.

The URL is built on the worker while the task runs (the hook holds the connection then) and kept
on the operator; Airflow calls :meth:`DialerLink.get_link` in the task's finalisation and stores
the URL in XCom (``_link_<class name>``), which is all the web UI reads. A task that deferred
resumes in a fresh process without the URL in memory; the link then returns the URL its deferral
already stored. A kind of link the connection has no template for is answered with no link without
reading XCom, so a connection without templates adds no lookup (and no "XCom not found" line) to a task.

What never reaches a link: a placeholder outside the vendor's list (the task fails before any
request, naming it), a user name or password in the address, a query parameter named like a
credential, and any value the connection holds as a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperatorLink

__all__ = [
    "DialerCampaignLink",
    "DialerLink",
    "DialerListLink",
    "check_links",
    "link_kinds",
    "remember_links",
]

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

# --------------------------------------------------------------------------------------------
# What operators call, and the links they declare
# --------------------------------------------------------------------------------------------


def link_kinds(operator: Any) -> list[str]:
    """The kinds of dialer links an operator declares in ``operator_extra_links``."""
    return [link.kind for link in getattr(operator, "operator_extra_links", ()) if isinstance(link, DialerLink)]


def check_links(operator: Any, hook: Any) -> None:
    """Check the connection's link templates for the operator's links; call it before any request.

    A hook without links (one that does not implement ``LinkBuilder``) gives no links.

    :raises DialerConfigError: a template names a placeholder the vendor cannot fill, or makes no http(s) URL.
    """
    from airflow_provider_dialer.capabilities import LinkBuilder

    operator.dialer_links = {}
    kinds = link_kinds(operator)
    if isinstance(hook, LinkBuilder):
        hook.check_link_templates(kinds)
    # kinds the connection sets no template for have no link in this try, nor in an earlier
    # finalisation of it: get_link answers "" without asking for an XCom that cannot exist
    # (Airflow logs every missing XCom at error level)
    template_of = getattr(hook, "link_template", None) if isinstance(hook, LinkBuilder) else None
    operator.dialer_links_without_template = {
        kind for kind in kinds if template_of is None or template_of(kind) is None
    }


def remember_links(operator: Any, hook: Any, values: Mapping[str, Any]) -> None:
    """Build the operator's links from what it knows now (``values``: placeholder -> id or name).

    Safe to call again as more ids become known; a link that cannot be built yet keeps its earlier URL.
    Never raises.
    """
    from airflow_provider_dialer.capabilities import LinkBuilder

    if not isinstance(hook, LinkBuilder):
        return
    links = getattr(operator, "dialer_links", None)
    if links is None:
        links = operator.dialer_links = {}
    for kind in link_kinds(operator):
        url = hook.ui_link(kind, values)
        if url:
            links[kind] = url


class DialerLink(BaseOperatorLink):
    """Base of the dialer's extra links: the URL the task built, or the one its deferral stored."""

    #: ``campaign`` or ``list`` (see ``link_templates.TEMPLATE_EXTRAS``)
    kind: ClassVar[str] = ""

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL, or ``""`` when there is none (no template, an id the task never learnt). Never raises."""
        try:
            url = (getattr(operator, "dialer_links", None) or {}).get(self.kind)
            if url:
                return str(url)
            if self.kind in (getattr(operator, "dialer_links_without_template", None) or ()):
                return ""
            return self._stored(ti_key)
        except Exception:  # noqa: BLE001 - a link must never fail a task's finalisation
            return ""

    def _stored(self, ti_key: TaskInstanceKey) -> str:
        """What an earlier finalisation of this try stored (a deferral, before the task resumed).

        Airflow's finalisation passes the running task instance as ``ti_key``; unless it resumed
        from a deferral (``next_method`` set) no finalisation of this try has run yet, so there is
        nothing to read, and a read would log "XCom not found" at error level.
        """
        from airflow.sdk.execution_time.xcom import XCom

        server_context = getattr(ti_key, "_ti_context_from_server", None)
        if server_context is not None and not getattr(server_context, "next_method", None):
            return ""

        value = XCom.get_value(ti_key=ti_key, key=self.xcom_key)
        return value if isinstance(value, str) else ""


class DialerCampaignLink(DialerLink):
    """The campaign the task created, controlled or loaded contacts into (connection extra ``campaign_link_template``)."""

    name = "Dialer campaign"
    kind = "campaign"


class DialerListLink(DialerLink):
    """The list the task created or loaded (connection extra ``list_link_template``); for UJET, the import job."""

    name = "Dialer list"
    kind = "list"
