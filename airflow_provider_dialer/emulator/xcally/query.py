"""Motion's REST query string, as the XCALLY emulator's HTTP layer reads it: paging, equality filters, search, sort
and field selection over the rows a backend returns.

Collections answer ``{"count", "rows"}`` with a ``Content-Range`` header; association reads
(``/queues/{id}/lists``) answer a bare array.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams

from airflow_provider_dialer.emulator.xcally.wire import as_text, matches_search, message

#: most rows a collection answers without ``nolimit=true``
MAX_LIMIT = 1000
#: what Sequelize (over MySQL/MariaDB, Motion's database) reads as a boolean in an equality filter; any
#: other text on a boolean column answers 400 instead of an empty page
_BOOL_TRUE = frozenset({"true", "1"})
_BOOL_FALSE = frozenset({"false", "0"})
#: query keys that steer the answer; any other key of a row's columns filters on that column
RESERVED_QUERY = frozenset(
    {"limit", "offset", "page", "fields", "filter", "sort", "nolimit", "apikey", "includeGlobals", "channel"}
)

Page = tuple[dict[str, Any], dict[str, str]]


def filter_values(values: list[str], boolean: bool) -> set[str]:
    """The texts an equality filter matches. On a boolean column ``true``/``1`` and ``false``/``0`` (any
    case: ``True``, ``TRUE``) mean what Sequelize over MySQL makes of them; any other text raises
    ValueError (a 400), never an empty page for a filter the server did not understand."""
    if not boolean:
        return set(values)
    out = set()
    for value in values:
        low = value.strip().lower()
        if low in _BOOL_TRUE:
            out.add("true")
        elif low in _BOOL_FALSE:
            out.add("false")
        else:
            raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")
    return out


def window(query: QueryParams) -> tuple[int, int | None]:
    """``offset`` and ``limit`` of a collection read (``page`` too; ``nolimit=true``: every row)."""
    try:
        limit = None if query.get("nolimit") == "true" else min(int(query.get("limit", 100)), MAX_LIMIT)
        offset = int(query.get("offset", 0))
        if "page" in query and "offset" not in query and limit:
            offset = (max(1, int(query["page"])) - 1) * limit
    except ValueError:
        raise message("limit, offset and page must be integers", 400) from None
    return offset, limit


def page(query: QueryParams, rows: list[dict[str, Any]], total: int, offset: int) -> Page:
    """A collection's answer, ``fields=`` applied: the body and its ``Content-Range``."""
    fields = query.get("fields")
    if fields:
        keep = [f.strip() for f in fields.split(",") if f.strip()]
        rows = [{k: r[k] for k in keep if k in r} for r in rows]
    headers = {"Content-Range": f"{offset}-{offset + len(rows)}/{total}"}
    return {"count": total, "rows": rows}, headers


def collection(query: QueryParams, rows: list[dict[str, Any]]) -> Page:
    """``rows`` filtered by column, searched, sorted and paged as the query asks."""
    offset, limit = window(query)
    known = set().union(*(r.keys() for r in rows)) if rows else set()
    for key in query.keys():
        if key in RESERVED_QUERY or key not in known:
            continue
        boolean = any(isinstance(r.get(key), bool) for r in rows)
        try:
            wanted = filter_values(query.getlist(key), boolean)
        except ValueError as exc:
            raise message(f"{key}: {exc}", 400) from None
        rows = [r for r in rows if as_text(r.get(key)) in wanted]
    text = query.get("filter")
    if text:
        rows = [r for r in rows if matches_search(r, text)]
    sort = query.get("sort")
    if sort:
        field, reverse = (sort[1:], True) if sort.startswith("-") else (sort, False)
        rows = sorted(
            rows,
            key=lambda r: (r.get(field) is None, r.get(field) if r.get(field) is not None else 0),
            reverse=reverse,
        )
    total = len(rows)
    return page(query, rows[offset:] if limit is None else rows[offset : offset + limit], total, offset)


def association_window(query: QueryParams) -> tuple[int, int | None]:
    """``offset``/``limit`` of an association read; no ``limit`` means every row (Sequelize's default)."""
    try:
        offset = max(0, int(query.get("offset", 0)))
        limit = None if query.get("nolimit") == "true" or "limit" not in query else max(0, int(query["limit"]))
    except ValueError:
        raise message("limit and offset must be integers", 400) from None
    return offset, limit


def bare_page(
    rows: list[dict[str, Any]], offset: int, limit: int | None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """An association read: a bare JSON array (as Motion answers it), paged, the total in ``Content-Range``."""
    total = len(rows)
    chunk = rows[offset:] if limit is None else rows[offset : offset + limit]
    return chunk, {"Content-Range": f"{offset}-{offset + len(chunk)}/{total}"}
