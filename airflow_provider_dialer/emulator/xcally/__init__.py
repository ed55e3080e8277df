"""XCALLY Motion: ``wire.py`` (the bodies it accepts, the errors it answers), ``backend.py`` (state and rules),
``imports.py`` (the CSV upload and its background import), ``query.py`` and ``routes.py`` (HTTP).

What the emulator needs of every vendor package is here: ``APIS`` and ``connection()``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig

#: the HTTP layers this vendor's port serves, by dotted path
APIS = ("airflow_provider_dialer.emulator.xcally.routes:XCallyAPI",)


def connection(
    base: dict[str, Any], extra: dict[str, Any], creds: Credentials, config: EmulatorConfig
) -> dict[str, Any]:
    """The Airflow connection (JSON form) that points the XCALLY hook at this port (Basic credentials)."""
    return {
        "conn_type": "xcally",
        **base,
        "login": creds.xcally_user,
        "password": creds.xcally_password,
        "extra": extra,
    }
