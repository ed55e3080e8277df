"""The CSV fast path of the row builder: cells read by position, the column mapping bound to the header once.

``CsvSource.records`` hands rows as lists of cells; building a dict per row only to look the mapped
columns up again would cost more than the rest of reading the row.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import itemgetter
from typing import Any, Protocol

from airflow_provider_dialer.leads.cells import RowProblem, data_cell
from airflow_provider_dialer.leads.columns import SCALAR_FIELDS, ColumnMapping
from airflow_provider_dialer.leads.report import Reject, RejectReason

_R = RejectReason


class RowsFromMappings(Protocol):
    """What the plan needs of the row builder (``row_builder.RowBuilder``, which imports this module)."""

    mapping: ColumnMapping
    split_phones: re.Pattern[str] | None

    def build_row(
        self, n: int, cells: tuple[Any, ...], phones: list[Any], data: dict[str, Any], custom: dict[str, str]
    ) -> Any: ...

    def row(self, n: int, item: Any) -> Any: ...


def _cells_getter(positions: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    """The cells at ``positions`` as a tuple, in one C call (``itemgetter`` of one position gives the cell alone)."""
    if not positions:
        return lambda values: ()
    if len(positions) == 1:
        only = positions[0]
        return lambda values: (values[only],)
    return itemgetter(*positions)


def csv_row_plan(builder: RowsFromMappings, names: list[str]) -> Callable[[int, list[str]], Any]:
    """``builder.row(n, dict(zip(names, values)))`` for full-width CSV rows, reading cells by position.

    ``dict(zip(...))`` keeps each name's first position and its last value; the plan binds the
    mapping to exactly those keys and reads each from its last position. Shorter rows (whose
    dict has fewer keys, so may bind differently) go through ``builder.row``.

    Every lead field is read in one ``itemgetter`` call: a field the header lacks reads an empty
    cell appended to the row (``""`` and a missing value make the same lead), so the row's list
    grows by one cell; it is the reader's fresh list and nothing reads it afterwards.
    """
    keys = tuple(dict.fromkeys(names))
    at = {name: i for i, name in enumerate(names)}
    width = len(names)  # the position of the appended empty cell
    b = builder.mapping.bind(keys)
    phone_at = tuple(at[k] for k in b.phones)
    bound = dict(b.scalars)
    cells_of = _cells_getter([at[bound[name]] if name in bound else width for name in SCALAR_FIELDS])
    data_at = at[b.data] if b.data is not None else None
    rest_names = tuple(k for k in b.rest)
    rest_of = _cells_getter([at[k] for k in b.rest])
    custom_names = tuple(cf for cf, _ in b.custom)
    custom_of = _cells_getter([at[k] for _, k in b.custom])
    split_phones = builder.split_phones
    seps = builder.mapping.phone_separators
    sep1, sep2 = (seps[0], seps[1 if len(seps) > 1 else 0]) if seps else ("", "")
    more_seps = len(seps) > 2
    build_row = builder.build_row
    merge_data = data_cell

    def row_values(n: int, values: list[str]) -> Any:
        try:
            phones: list[Any] = []
            for i in phone_at:
                v = values[i]
                if v == "":
                    continue
                # two `in` tests are a quarter of a regex search; the regex checks the other separators
                if split_phones is not None and (sep1 in v or sep2 in v or (more_seps and split_phones.search(v))):
                    phones.extend(p for p in (x.strip() for x in split_phones.split(v)) if p)
                else:
                    phones.append(v)
            data: dict[str, Any] = {}
            if data_at is not None:
                try:
                    merge_data(values[data_at], data)
                except RowProblem as problem:
                    r = problem.reject
                    return Reject(n, r.reason, r.field, r.value, r.detail)
            if rest_names:
                for k, v in zip(rest_names, rest_of(values), strict=True):
                    if v != "":
                        data[k] = v
            custom: dict[str, str] = {}
            if custom_names:
                for cf, v in zip(custom_names, custom_of(values), strict=True):
                    if v != "":
                        custom[cf] = v
            values.append("")  # what a field the header lacks reads (see above)
            return build_row(n, cells_of(values), phones, data, custom)
        except RowProblem as problem:
            return problem.reject
        except Exception as exc:  # as in ``RowBuilder.row``
            return Reject(n, _R.BAD_ROW.value, None, None, f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    return row_values
