"""What every leads source yields (``(row_number, item)``, a ``BadRow`` for a row it cannot read), the
in-memory source, and opening a file wherever it lives (local, URL, ``ObjectStoragePath``, ``.gz``).

The bottom of the sources: the file readers (``csv_source``, ``sources``) and the report writers build on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, NamedTuple, Protocol, runtime_checkable

SourceRow = tuple[int, Any]
#: reject reason of a record the reader could not delimit or hold (see ``CsvSource``)
MALFORMED = "malformed_record"


class BadRow(NamedTuple):
    """A row that could not be read as an object: why (``detail``), a short view of it (``preview``,
    phones masked in the reject) and the reject reason it becomes (``bad_row`` or ``malformed_record``)."""

    detail: str
    preview: str = ""
    reason: str = "bad_row"


@runtime_checkable
class LeadSource(Protocol):
    """Anything with ``rows()`` yielding ``(row_number, mapping | Lead | BadRow)``."""

    def rows(self) -> Iterator[SourceRow]: ...


def preview(value: object, limit: int = 80) -> str:
    """A short view of a row for a reject (callers mask phones in it)."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class IterableSource:
    """An in-memory iterable (an XCom value, a list, a generator) of dicts or ``Lead`` objects."""

    items: Iterable[Any]

    def rows(self) -> Iterator[SourceRow]:
        from airflow_provider_dialer.leads.model import Lead

        for n, item in enumerate(self.items, 1):
            if isinstance(item, (Mapping, Lead)):
                yield n, item
            else:
                yield n, BadRow(f"not an object ({type(item).__name__})", preview(item))


def is_object_storage(path: object) -> bool:
    return hasattr(path, "protocol") and hasattr(path, "fs")


def open_binary(path: Any, conn_id: str | None = None, mode: str = "rb") -> IO[Any]:
    """Open a local path, a ``scheme://`` URL or an ``ObjectStoragePath``; ``.gz`` is decompressed."""
    if isinstance(path, str) and "://" in path:
        from airflow.sdk import ObjectStoragePath

        path = ObjectStoragePath(path, conn_id=conn_id) if conn_id else ObjectStoragePath(path)
    if is_object_storage(path):
        handle: IO[Any] = path.open(mode)
    else:
        handle = open(os.fspath(path), mode)  # noqa: SIM115 - closed by the caller
    if str(path).endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=handle, mode=mode)  # type: ignore[return-value]  # a binary file object
    return handle
