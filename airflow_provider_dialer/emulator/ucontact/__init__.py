"""uContact, one port with two APIs: Integra (``wire.py``, ``backend.py`` ``IntegraBackend``, ``routes.py`` ``IntegraAPI``)
and Automation (the same files, ``AutomationBackend`` and ``AutomationAPI``).

What the emulator needs of every vendor package is here: ``APIS`` and ``connection()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig

#: the HTTP layers this vendor's port serves, by dotted path: one instance serves both of its APIs
APIS = (
    "airflow_provider_dialer.emulator.ucontact.routes:IntegraAPI",
    "airflow_provider_dialer.emulator.ucontact.routes:AutomationAPI",
)


def connection(
    base: dict[str, Any], extra: dict[str, Any], creds: Credentials, config: EmulatorConfig
) -> dict[str, Any]:
    """The Airflow connection (JSON form) that points the uContact hook at this port: both APIs, one connection."""
    return {
        "conn_type": "ucontact",
        **base,
        "login": creds.ucontact_user,
        "password": creds.ucontact_password,
        "extra": {
            "api_token": creds.ucontact_api_token,
            "instance_timezone": config.ucontact_instance_timezone,
            **extra,
        },
    }
