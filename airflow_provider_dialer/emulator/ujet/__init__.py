"""UJET / CCAI Platform: ``wire.py`` (the bodies it accepts and answers), ``backend.py`` (state and rules),
``routes.py`` (HTTP).

What the emulator needs of every vendor package is here: ``APIS`` and ``connection()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig

#: the HTTP layers this vendor's port serves, by dotted path (Apps API and manager API)
APIS = ("airflow_provider_dialer.emulator.ujet.routes:UjetAPI",)


def connection(
    base: dict[str, Any], extra: dict[str, Any], creds: Credentials, config: EmulatorConfig
) -> dict[str, Any]:
    """The Airflow connection (JSON form) that points the UJET hook at this port (Basic: any user, the token)."""
    return {"conn_type": "ujet", **base, "login": creds.ujet_user, "password": creds.ujet_token, "extra": extra}
