"""Voipex IPBX dialer: ``VoipexHook`` and its wire contract (``wire``)."""

from __future__ import annotations

from airflow_provider_dialer.hooks.voipex.hook import VoipexHook
from airflow_provider_dialer.hooks.voipex.wire import (
    CAMPAIGN_COMMANDS,
    ActivePeriod,
    CallList,
    CallListCreated,
    CallListNumber,
    Campaign,
    CampaignCreate,
    CampaignCreated,
    CampaignEndpoint,
    CampaignState,
    ControlResult,
    Ivr,
    RescheduleRule,
    TokenResponse,
    voipex_number,
)

__all__ = [
    "CAMPAIGN_COMMANDS",
    "ActivePeriod",
    "CallList",
    "CallListCreated",
    "CallListNumber",
    "Campaign",
    "CampaignCreate",
    "CampaignCreated",
    "CampaignEndpoint",
    "CampaignState",
    "ControlResult",
    "Ivr",
    "RescheduleRule",
    "TokenResponse",
    "VoipexHook",
    "voipex_number",
]
