"""Secret redaction, independent of Airflow's masker (which ``dag.test()`` and plain scripts lack)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.exceptions import (
    DialerConfigError,
)

if TYPE_CHECKING:
    from pydantic import JsonValue


# --------------------------------------------------------------------------------------------


class _SecretRegistry:
    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4:
            with self._lock:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        if not self._secrets or not text:
            return text
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, "***")
        return text


SECRETS = _SecretRegistry()


class _RedactingFilter(logging.Filter):
    """Keeps httpx's request log lines (which carry full URLs, query strings included) clean."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # pragma: no cover - a broken record is not ours to fix
            return True
        clean = SECRETS.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER_INSTALLED = False


def install_log_filter() -> None:
    global _FILTER_INSTALLED
    if not _FILTER_INSTALLED:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).addFilter(_RedactingFilter())
        _FILTER_INSTALLED = True


def secret_forms(value: str) -> set[str]:
    """Every spelling of ``value`` that may reach a log line, an error or a vendor's echo.

    Raw; JSON-escaped with and without ``ensure_ascii`` (``\\u00e9`` in lower- and upper-case hex,
    ``/`` also as ``\\/`` as PHP writes it, and escaped twice for JSON inside a JSON string);
    URL-encoded (``quote`` with and without ``/`` safe, ``quote_plus``; hex in both cases); HTML-escaped;
    and Python's ``repr``/``ascii`` spellings (a dict of headers formatted into a message).
    """
    import html
    import json
    import re
    from urllib.parse import quote, quote_plus

    forms = {value, repr(value)[1:-1], ascii(value)[1:-1], html.escape(value), html.escape(value, quote=False)}
    escaped = {json.dumps(value, ensure_ascii=False)[1:-1], json.dumps(value, ensure_ascii=True)[1:-1]}
    escaped |= {re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), form) for form in escaped}
    escaped |= {form.replace("/", "\\/") for form in escaped}
    escaped |= {json.dumps(form, ensure_ascii=ascii_only)[1:-1] for form in escaped for ascii_only in (True, False)}
    forms |= escaped
    urls = {quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")}
    forms |= urls | {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in urls}
    return forms


def secret_text(value: Any, where: str) -> str | None:
    """The text a secret from a connection's extras is sent as: a string as is, a JSON number as written.

    A number is a secret too (``{"api_key": 12345678}`` is sent as ``12345678``); a boolean, object or
    list is no credential any vendor issues, and registering ``True`` would mask every ``True`` in
    the logs, so those raise :class:`DialerConfigError` (naming the extra, not its value).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    kind = {bool: "boolean", dict: "object", list: "array"}.get(type(value), type(value).__name__)
    raise DialerConfigError(f"{where} must be a string, got a JSON {kind}")


def register_secret(value: str | None) -> None:
    """Redact ``value``, in every spelling :func:`secret_forms` lists, from our errors, logs and XCom
    values, and register those spellings with Airflow's masker (one call: one message to the supervisor).

    httpx logs query strings percent-encoded, vendors echo request bodies JSON-escaped: matching the
    raw value alone lets an XCALLY api key holding ``+``, ``/`` or ``=`` or a password holding ``é``
    or ``"`` through.
    """
    if not value:
        return
    forms = secret_forms(value)
    for form in forms:
        SECRETS.add(form)
    try:
        from airflow.sdk.log import mask_secret

        every_form: list[JsonValue] = [*sorted(forms)]  # typed so: list is invariant, mask_secret takes JSON
        mask_secret(every_form)
    except Exception:  # noqa: BLE001 - masking is best effort outside a task (plain scripts)
        pass


def redact_value(value: Any) -> Any:
    """``value`` with every registered secret replaced by ``***`` in its strings (dict keys included),
    for what leaves the task as XCom. Lists, tuples and dicts are rebuilt; other values are returned as is."""
    if isinstance(value, str):
        return SECRETS.redact(value)
    if isinstance(value, dict):
        return {redact_value(key): redact_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_value(item) for item in value]
    if isinstance(value, tuple):
        return tuple(redact_value(item) for item in value)
    return value
