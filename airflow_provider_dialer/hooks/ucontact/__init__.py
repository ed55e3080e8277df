"""uContact (net2phone): the Integra DialerTask API and the Automation API of outbound hubs, one connection per instance."""

from __future__ import annotations

from airflow_provider_dialer.hooks.ucontact.hook import UContactHook
from airflow_provider_dialer.hooks.ucontact.wire import (
    AutomationContact,
    DialerTaskCall,
    FreshLeadsResult,
    ListInfo,
    ListState,
    automation_contact,
    dialer_task_call,
    render_integra_data,
)

__all__ = [
    "AutomationContact",
    "DialerTaskCall",
    "FreshLeadsResult",
    "ListInfo",
    "ListState",
    "UContactHook",
    "automation_contact",
    "dialer_task_call",
    "render_integra_data",
]
