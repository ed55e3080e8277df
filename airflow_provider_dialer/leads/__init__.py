"""Vendor-neutral leads: the model, streamed sources, and preparation (phones, zones, schedules, calling hours, de-dup, DNC, rejects).

Importing this package is cheap: names load on first use, so DAG files can import it at parse time.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Lead": "model",
    "PreparedLead": "model",
    "ColumnMapping": "columns",
    "CallingWindow": "window",
    "CallingWindowError": "window",
    "prepare_leads": "prepare",
    "check_source": "prepare",
    "PreparedLeads": "prepare",
    "PreparationReport": "report",
    "Reject": "report",
    "RejectReason": "report",
    "RejectRatioExceededError": "report",
    "LeadSource": "sources",
    "IterableSource": "sources",
    "CsvSource": "sources",
    "JsonLinesSource": "sources",
    "SqlSource": "sources",
    "BadRow": "sources",
    "mask_phone": "phones",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.columns import ColumnMapping
    from airflow_provider_dialer.leads.model import Lead, PreparedLead
    from airflow_provider_dialer.leads.phones import mask_phone
    from airflow_provider_dialer.leads.prepare import PreparedLeads, check_source, prepare_leads
    from airflow_provider_dialer.leads.report import PreparationReport, Reject, RejectRatioExceededError, RejectReason
    from airflow_provider_dialer.leads.sources import (
        BadRow,
        CsvSource,
        IterableSource,
        JsonLinesSource,
        LeadSource,
        SqlSource,
    )
    from airflow_provider_dialer.leads.window import CallingWindow, CallingWindowError


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
