"""XCALLY Motion: the hook (:class:`XCallyHook`) and its wire contract (models, lead mapping, CSV builder)."""

from __future__ import annotations

from airflow_provider_dialer.hooks.xcally.hook import XCallyHook
from airflow_provider_dialer.hooks.xcally.wire import (
    BulkAddResult,
    CmList,
    Contact,
    ContactIn,
    HopperHistory,
    ImportProgress,
    ListField,
    Page,
    QueueCampaign,
    QueueCampaignOut,
    RealtimeAgent,
    User,
    contact_mapper,
    contacts_csv,
    contacts_of_leads,
    csv_binding,
    xcally_contact,
)

__all__ = [
    "BulkAddResult",
    "CmList",
    "Contact",
    "ContactIn",
    "HopperHistory",
    "ImportProgress",
    "ListField",
    "Page",
    "QueueCampaign",
    "QueueCampaignOut",
    "RealtimeAgent",
    "User",
    "XCallyHook",
    "contacts_csv",
    "contacts_of_leads",
    "csv_binding",
    "contact_mapper",
    "xcally_contact",
]
