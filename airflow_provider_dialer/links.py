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

import re
import string
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from airflow.sdk import BaseOperatorLink

from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

#: link kind -> the connection extra that holds its URL template
TEMPLATE_EXTRAS: dict[str, str] = {"campaign": "campaign_link_template", "list": "list_link_template"}
#: filled on every vendor: ``scheme://host[:port]`` of the connection's API base URL
ORIGIN = "origin"
#: every placeholder a template may name on some vendor; each hook allows a subset per kind
PLACEHOLDERS = frozenset({ORIGIN, "campaign_id", "campaign_name", "list_id", "list_name", "hub", "job_id"})

# query parameters dropped from any link, whatever the template says
_CREDENTIAL_NAME = re.compile(r"pass|secret|token|api[-_]?key|auth|credential|session|jwt|^key$|^sig(nature)?$", re.I)
_PROBE_ORIGIN = "https://dialer.example"


def template_placeholders(template: str, where: str) -> list[str]:
    """The ``{name}`` placeholders of a link template.

    :param template: the template text.
    :param where: what to name in an error (the connection and its extra).
    :raises DialerConfigError: on a malformed template or a placeholder other than a bare name
        (``{list_id!r}``, ``{list_id:>5}``, ``{list_id.real}``, ``{0}``, ``{}``).
    """
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise DialerConfigError(f"{where}: malformed link template ({exc}); write placeholders as {{list_id}}") from None
    names = []
    for _literal, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise DialerConfigError(
                f"{where}: placeholder {{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}} "
                "is not a bare name; write placeholders as {list_id}"
            )
        names.append(field)
    return names


def check_template(template: str, allowed: Iterable[str], where: str) -> None:
    """Raise :class:`DialerConfigError` unless ``template`` names only ``allowed`` placeholders and makes an http(s) URL.

    :param template: the template text.
    :param allowed: the placeholders the vendor can fill for this kind of link (``origin`` included).
    :param where: what to name in an error (the connection and its extra).
    """
    allowed = frozenset(allowed)
    names = template_placeholders(template, where)
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise DialerConfigError(
            f"{where}: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; this connection's "
            f"links can name {', '.join('{' + n + '}' for n in sorted(allowed))}"
        )
    probe = fill_template(template, {name: _PROBE_ORIGIN if name == ORIGIN else "1" for name in names})
    if probe is None:
        raise DialerConfigError(
            f"{where}: a link template must make an absolute http or https URL, e.g. {{origin}}/campaigns/{{campaign_id}}"
        )


def fill_template(template: str, values: Mapping[str, Any]) -> str | None:
    """``template`` with each placeholder replaced by its URL-quoted value, made safe by :func:`safe_link`.

    ``origin`` is inserted as is (it is a URL); every other value is percent-encoded whole, so a list
    name holding ``/``, ``?``, ``#`` or ``&`` stays one path segment or query value.

    :param template: a template that passed :func:`check_template`.
    :param values: placeholder -> value; a placeholder whose value is missing or empty gives no link.
    :return: the URL, or None.
    """
    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(literal)
        if field is None:
            continue
        value = values.get(field)
        if value is None or value == "" or isinstance(value, (dict, list, tuple, set)):
            return None
        out.append(str(value) if field == ORIGIN else quote(str(value), safe=""))
    return safe_link("".join(out))


def _without_credentials(query: str) -> str:
    kept = [part for part in query.split("&") if part and not _CREDENTIAL_NAME.search(unquote(part.partition("=")[0]))]
    return "&".join(kept)


def safe_link(url: str) -> str | None:
    """``url`` without user name or password and without query parameters named like a credential.

    Query parameters are filtered in the query string and in a fragment's own query (``#/page?x=1``,
    as single-page UIs route). Returns None unless ``url`` is an absolute http or https URL.
    """
    try:
        parts = urlsplit(url.strip())
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    netloc = parts.netloc.rpartition("@")[2]
    fragment = parts.fragment
    if "?" in fragment:
        route, _, fragment_query = fragment.partition("?")
        fragment_query = _without_credentials(fragment_query)
        fragment = f"{route}?{fragment_query}" if fragment_query else route
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, _without_credentials(parts.query), fragment))


def one_id(value: Any) -> Any:
    """The id a link points to: the first of a list (a task may have created several), else ``value``."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


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
    operator.dialer_links_without_template = {kind for kind in kinds if template_of is None or template_of(kind) is None}


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

    #: ``campaign`` or ``list`` (see ``TEMPLATE_EXTRAS``)
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
