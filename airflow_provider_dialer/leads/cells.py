"""One cell of a source row as a lead field: text, priority, the external id's compared form, the
``data`` column, the dialer's length limits; and ``RowProblem``, which carries a reject out of a row.

Pure functions of their arguments, used by the row builder (``row_builder``, ``csv_rows``), the run
(``run``) and a prepared part read back (``operators/prepared_part.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_dialer.leads.report import Reject, RejectReason

_R = RejectReason
#: characters of a cell kept in a reject's ``value``
TEXT_LIMIT = 200


class RowProblem(Exception):
    """Carries a reject out of the per-row code path (caught where the row's outcome is made)."""

    def __init__(self, reject: Reject) -> None:
        self.reject = reject


def shorten(value: object) -> str | None:
    """A cell as text for a reject's ``value``, cut to ``TEXT_LIMIT`` characters."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value) if isinstance(value, (dict, list, tuple)) else str(value)
    return text if len(text) <= TEXT_LIMIT else text[: TEXT_LIMIT - 3] + "..."


def field_too_long(fields: dict[str, Any], limits: Mapping[str, int], row: int, ext: str | None) -> Reject | None:
    """A ``field_too_long`` reject for the first field longer than the dialer takes, else None."""
    for name, limit in limits.items():
        value = fields.get(name)
        # the common case (text within the limit, or no value) without building a tuple per field
        if value is None or (type(value) is str and len(value) <= limit):
            continue
        items = value.items() if isinstance(value, dict) else ((None, value),)
        for sub, text in items:
            if isinstance(text, str) and len(text) > limit:
                where = name if sub is None else f"{name}.{sub}"
                return Reject(
                    row,
                    _R.FIELD_TOO_LONG.value,
                    where,
                    shorten(text),
                    f"{len(text)} characters; the dialer takes at most {limit}",
                    ext,
                )
    return None


def cell_text(value: Any) -> str | None:
    """A cell as stripped text; ``None`` for empty; raises ``TypeError`` for containers."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if value != value:  # NaN from a dataframe-shaped upstream means "empty"
            return None
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else str(value)
    if isinstance(value, (dict, list, tuple, set, bytes, bytearray)):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return str(value).strip() or None


def cell_priority(value: Any) -> int | None:
    """A cell as a whole number (``"3"``, ``3.0``); ``None`` for empty; ``ValueError`` otherwise."""
    if value is None or isinstance(value, bool):
        if value is None:
            return None
        raise ValueError("not an integer")
    if isinstance(value, int):
        return value
    text = cell_text(value)
    if text is None:
        return None
    number = float(text)  # "3", "3.0"; "abc" raises ValueError
    if not number.is_integer() or abs(number) > 2**31:
        raise ValueError("not an integer")
    return int(number)


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"))


def same_id(text: str) -> str | None:
    """An external id in the form de-duplication compares and the dialer receives: NFC, without
    zero-width characters (``U+200B-U+200F``, ``U+2060``, ``U+FEFF``), without surrounding spaces
    of any kind; ``None`` when nothing is left. Case is kept."""
    import unicodedata

    return unicodedata.normalize("NFC", text.translate(_INVISIBLE)).strip() or None


def data_cell(d: Any, data: dict[str, Any]) -> None:
    """Merge the ``data`` column's value (a dict or JSON object text) into ``data``; ``RowProblem`` otherwise."""
    if isinstance(d, dict):
        data.update(d)
    elif isinstance(d, str) and d.strip():
        try:
            parsed = json.loads(d) if d.lstrip().startswith("{") else None
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            raise RowProblem(Reject(0, _R.INVALID_FIELD.value, "data", shorten(d), "data is not a JSON object"))
        data.update(parsed)
    elif d is not None and d != "":
        raise RowProblem(Reject(0, _R.INVALID_FIELD.value, "data", shorten(d), "data is not an object"))
