"""UJET / Google Cloud CCAI Platform outbound dialer: :class:`UjetHook`, its wire models and the lead mapping."""

from __future__ import annotations

from airflow_provider_dialer.hooks.ujet.hook import APPS_API, DEFAULT_DOMAIN, MANAGER_API, UjetHook
from airflow_provider_dialer.hooks.ujet.wire import (
    ContactStatus,
    JobStatus,
    UjetAddResult,
    UjetCampaign,
    UjetContact,
    UjetContactSelector,
    UjetContactUpdate,
    UjetInvalidContact,
    UjetJob,
    UjetNewContact,
    discover_job_id,
    phone_digits,
    ujet_contact,
)

__all__ = [
    "APPS_API",
    "DEFAULT_DOMAIN",
    "MANAGER_API",
    "ContactStatus",
    "JobStatus",
    "UjetAddResult",
    "UjetCampaign",
    "UjetContact",
    "UjetContactSelector",
    "UjetContactUpdate",
    "UjetHook",
    "UjetInvalidContact",
    "UjetJob",
    "UjetNewContact",
    "discover_job_id",
    "phone_digits",
    "ujet_contact",
]
