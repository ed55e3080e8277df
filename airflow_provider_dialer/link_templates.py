"""Link templates: the placeholders a connection's link template may name, checking and filling one.

Plain string work with no Airflow import, so hooks (which check and fill the templates of their
connection) and :mod:`airflow_provider_dialer.links` (the extra links operators declare) both build
on it without importing each other.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from airflow_provider_dialer.exceptions import DialerConfigError

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
        raise DialerConfigError(
            f"{where}: malformed link template ({exc}); write placeholders as {{list_id}}"
        ) from None
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
