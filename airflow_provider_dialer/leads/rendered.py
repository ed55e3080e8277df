"""Values a Jinja template rendered to text, read back as the list or object they were.

Airflow renders a templated field to a string unless the DAG asks for native objects, so an operator
argument given as ``"{{ ti.xcom_pull(...) }}"`` arrives as ``"[1, 2]"`` (Python's ``repr``) or
``'["a", "b"]'`` (JSON, when the upstream task pushed text). Every operator and sensor reads such
an argument through this module, so each accepts the same shapes.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError

#: the first character of a rendered list, tuple or object; any other text is a value of its own
_CONTAINER_OPENERS = ("[", "(", "{")


def rendered_value(value: Any, what: str = "a templated argument") -> Any:
    """``value`` as it was before a template rendered it to text.

    Text that opens like a list, tuple or object (after surrounding blanks) is parsed as JSON, and
    failing that as a Python literal (``repr`` of a list holding ``None``, tuples, single quotes);
    other text and anything that is not text come back unchanged. Text that opens like a container
    but is neither raises ``DialerConfigError`` naming ``what``.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text.startswith(_CONTAINER_OPENERS):
        return value
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise DialerConfigError(
            f"{what}: {shown!r} looks like a rendered list but is neither JSON nor a Python literal ({exc})"
        ) from None


def rendered_list(value: Any, what: str = "a templated argument") -> list[Any]:
    """``value`` as a list: rendered text parsed (see ``rendered_value``), a list or tuple as a list,
    ``None`` as ``[]``, and any other single value (text stripped) as a one-item list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = rendered_value(value, what)
        if isinstance(value, str):
            return [value.strip()]
    return list(value) if isinstance(value, (list, tuple)) else [value]
