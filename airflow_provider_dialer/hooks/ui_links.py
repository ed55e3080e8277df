"""Links to a vendor's web UI (the ``LinkBuilder`` capability), filled from the connection's URL templates.

:class:`UILinks` is mixed into ``DialerHook``; a vendor hook sets ``link_placeholders`` for the link
kinds it can fill. ``links.py`` turns what these methods return into the tasks' extra links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.link_templates import (
    ORIGIN,
    PLACEHOLDERS,
    TEMPLATE_EXTRAS,
    check_template,
    fill_template,
    one_id,
)

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from airflow_provider_dialer.transport.settings import ConnectionSettings


class UILinks:
    """The link templates of a dialer hook (mixed into ``DialerHook``, which provides what is declared below)."""

    if TYPE_CHECKING:
        vendor: ClassVar[str]
        conn_id: str

        @property
        def extras(self) -> dict[str, Any]: ...
        @property
        def settings(self) -> ConnectionSettings: ...
        @property
        def log(self) -> Logger: ...
        def redact(self, text: str) -> str: ...

    #: link kind (``campaign``, ``list``) -> the placeholders its template may name besides ``{origin}``;
    #: a kind missing here has no link on this vendor
    link_placeholders: ClassVar[Mapping[str, frozenset[str]]] = {}
    #: link kind -> the template used when the connection sets none. Only for a vendor that documents
    #: the address of its campaign or list pages; none of the four does, so every hook leaves it empty.
    default_link_templates: ClassVar[Mapping[str, str]] = {}

    def link_template(self, kind: str) -> str | None:
        """The connection's template for ``kind`` (extra ``campaign_link_template`` / ``list_link_template``), or the default."""
        value = self.extras.get(TEMPLATE_EXTRAS[kind])
        if isinstance(value, str) and value.strip():
            return value.strip()
        return self.default_link_templates.get(kind)

    def check_link_templates(self, kinds: Iterable[str]) -> None:
        """Raise :class:`DialerConfigError` when a template for one of ``kinds`` names a placeholder this
        vendor cannot fill (``{password}`` included: no secret is a placeholder) or makes no http(s) URL."""
        for kind in kinds:
            template = self.link_template(kind)
            if template is None:
                continue
            where = f"connection {self.conn_id!r} extra {TEMPLATE_EXTRAS[kind]!r}"
            allowed = self.link_placeholders.get(kind)
            if allowed is None:
                raise DialerConfigError(f"{where}: {self.vendor} has no {kind} links; remove the extra")
            check_template(template, allowed | {ORIGIN}, where)

    def ui_link(self, kind: str, values: Mapping[str, Any]) -> str | None:
        """The URL of a campaign or list in the vendor's UI, or None: no template, or a placeholder whose
        value the task does not know. The URL carries no user name, password, credential-named query
        parameter or secret of the connection. Never raises.

        :param kind: ``campaign`` or ``list``.
        :param values: placeholder -> value (``campaign_id``, ``list_id``, ``list_name``, ``hub``, ``job_id``, ...).
        """
        try:
            template = self.link_template(kind)
            allowed = self.link_placeholders.get(kind)
            if template is None or allowed is None:
                return None
            origin = urlsplit(self.settings.base_url)
            known = {key: value for key, value in values.items() if key in allowed}
            url = fill_template(template, {**known, ORIGIN: f"{origin.scheme}://{origin.netloc}"})
        except Exception as exc:  # noqa: BLE001 - a link is never worth failing a task that did its work
            self.log.warning("no %s link for connection %r: %s", kind, self.conn_id, self.redact(str(exc)))
            return None
        if url is not None and self.redact(url) != url:
            self.log.warning(
                "no %s link for connection %r: the URL would carry a secret of a connection", kind, self.conn_id
            )
            return None
        return url

    def target_link_values(self, target: dict[str, Any], ids: dict[str, Any]) -> dict[str, Any]:
        """The placeholder values a lead upload knows: the target's ``campaign_id``, ``list_id``,
        ``list_name``, ``hub``, and the first of each id list its chunks reported (``list_ids`` ->
        ``list_id``, ``job_ids`` -> ``job_id``). A vendor whose ids are named otherwise overrides this."""
        values = {key: value for key, value in target.items() if key in PLACEHOLDERS}
        for key, value in ids.items():
            single = key[:-4] + "_id" if key.endswith("_ids") else None
            if single in PLACEHOLDERS and values.get(single) in (None, ""):
                values[single] = one_id(value)
        return values
