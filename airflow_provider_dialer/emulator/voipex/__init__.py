"""Voipex IPBX: ``wire.py`` (the bodies it accepts, the errors it answers), ``backend.py`` (state and rules),
``routes.py`` (HTTP).

What the emulator needs of every vendor package is here: ``APIS`` and ``connection()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig

#: the HTTP layers this vendor's port serves, by dotted path (the token endpoint included)
APIS = ("airflow_provider_dialer.emulator.voipex.routes:VoipexAPI",)


def connection(
    base: dict[str, Any], extra: dict[str, Any], creds: Credentials, config: EmulatorConfig
) -> dict[str, Any]:
    """The Airflow connection (JSON form) that points the Voipex hook at this port, its token URL on the same port."""
    return {
        "conn_type": "voipex",
        **base,
        "login": creds.voipex_user,
        "password": creds.voipex_password,
        "extra": {"auth_url": f"http://{base['host']}:{base['port']}/token", **extra},
    }
