"""The CSV fast path of the row builder: cells read by position, the column mapping bound to the header once.

``CsvSource.records`` hands rows as lists of cells; building a dict per row only to look the mapped
columns up again would cost more than the rest of reading the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from airflow_provider_dialer.leads.cells import RowProblem, data_cell
from airflow_provider_dialer.leads.columns import ColumnMapping
from airflow_provider_dialer.leads.report import Reject, RejectReason

_R = RejectReason


class RowsFromMappings(Protocol):
    """What the plan needs of the row builder (``row_builder.RowBuilder``, which imports this module)."""

    mapping: ColumnMapping
    split_phones: re.Pattern[str] | None

    def build(self, n: int, raw: dict[str, Any]) -> Any: ...

    def row(self, n: int, item: Any) -> Any: ...


def csv_row_plan(builder: RowsFromMappings, names: list[str]) -> Callable[[int, list[str]], Any]:
    """``builder.row(n, dict(zip(names, values)))`` for full-width CSV rows, reading cells by position.

    ``dict(zip(...))`` keeps each name's first position and its last value; the plan binds the
    mapping to exactly those keys and reads each from its last position. Shorter rows (whose
    dict has fewer keys, so may bind differently) go through ``builder.row``.
    """
    keys = tuple(dict.fromkeys(names))
    at = {name: i for i, name in enumerate(names)}
    b = builder.mapping.bind(keys)
    phone_at = tuple(at[k] for k in b.phones)
    scalar_at = tuple((name, at[k]) for name, k in b.scalars)
    data_at = at[b.data] if b.data is not None else None
    rest_at = tuple((k, at[k]) for k in b.rest)
    custom_at = tuple((cf, at[k]) for cf, k in b.custom)
    split_phones = builder.split_phones
    build = builder.build
    merge_data = data_cell

    def row_values(n: int, values: list[str]) -> Any:
        try:
            phones: list[Any] = []
            for i in phone_at:
                v = values[i]
                if v == "":
                    continue
                if split_phones is not None and split_phones.search(v):
                    phones.extend(p for p in (x.strip() for x in split_phones.split(v)) if p)
                else:
                    phones.append(v)
            raw: dict[str, Any] = {name: values[i] for name, i in scalar_at}
            raw["phones"] = phones
            data: dict[str, Any] = {}
            if data_at is not None:
                try:
                    merge_data(values[data_at], data)
                except RowProblem as problem:
                    r = problem.reject
                    return Reject(n, r.reason, r.field, r.value, r.detail)
            for k, i in rest_at:
                v = values[i]
                if v != "":
                    data[k] = v
            raw["data"] = data
            custom = {}
            for cf, i in custom_at:
                v = values[i]
                if v != "":
                    custom[cf] = v
            raw["custom_fields"] = custom
            return build(n, raw)
        except RowProblem as problem:
            return problem.reject
        except Exception as exc:  # as in ``RowBuilder.row``
            return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    return row_values
