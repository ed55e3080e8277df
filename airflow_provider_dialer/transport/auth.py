"""Auth values written once for every vendor hook that needs them.

Each value is registered with the secret masker as it is built, so it never reaches a log, an
exception text or XCom in any spelling the redaction knows.
"""

from __future__ import annotations

import base64

from airflow_provider_dialer.transport.redaction import register_secret


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic ``user:password`` (``Basic <base64>``), its secret part
    registered. Hooks build it once per hook and keep it: the credentials of a connection do not change."""
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    register_secret(encoded)
    return f"Basic {encoded}"
