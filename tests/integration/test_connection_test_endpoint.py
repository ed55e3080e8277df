"""The connection test as the web UI runs it: Airflow's own ``POST /api/v2/connections/test`` route
(in-process FastAPI app, simple auth manager with everyone admin) against the emulator.

Airflow tests a copy of the connection under a random temporary id; the message must name the id
the user typed, say what to fix, and never carry the password.
"""

from __future__ import annotations

import random
import string

import pytest

pytestmark = pytest.mark.integration

VENDORS = ("ucontact", "xcally", "voipex", "ujet")


@pytest.fixture(scope="module")
def api(monkeypatch_module):
    from airflow.utils import db

    db.initdb()
    monkeypatch_module.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    monkeypatch_module.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = client.get("/auth/token").json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def body(emu, vendor: str, conn_id: str, **override) -> dict:
    conn = emu.connection(vendor)
    out = {
        "connection_id": conn_id,
        "conn_type": conn["conn_type"],
        "host": f"http://{conn['host']}:{conn['port']}",
        "login": conn["login"],
        "password": conn["password"],
        "extra": __import__("json").dumps(conn["extra"]),
    }
    out.update(override)
    return out


@pytest.mark.parametrize("vendor", VENDORS)
def test_messages_name_the_users_connection_good_and_bad(api, dialer_emulator, vendor):
    rng = random.Random(vendor)
    conn_id = f"my_{vendor}_" + "".join(rng.choices(string.ascii_lowercase, k=5))
    good = api.post("/api/v2/connections/test", json=body(dialer_emulator, vendor, conn_id))
    assert good.status_code == 200, good.text
    assert good.json()["status"] is True, good.json()
    assert repr(conn_id) in good.json()["message"]

    wrong = "Wrong-" + "".join(rng.choices(string.ascii_letters, k=12))
    override = {"password": wrong}
    if vendor == "ucontact":  # the Automation token is tried too: make it wrong as well
        override["extra"] = '{"api_token": "' + wrong + '"}'
    bad = api.post("/api/v2/connections/test", json=body(dialer_emulator, vendor, conn_id, **override))
    assert bad.status_code == 200, bad.text
    result = bad.json()
    assert result["status"] is False
    message = result["message"]
    assert repr(conn_id) in message, message  # the id the user typed, not Airflow's temporary one
    assert "Authentication failed" in message and "password" in message, message
    assert wrong not in message


def test_the_id_is_only_swapped_for_the_endpoints_own_temporary_id(dialer_emulator, monkeypatch):
    """Outside the endpoint (the CLI, a task) the hook's own id is named, whatever the callers' locals say."""
    import json

    from airflow_provider_dialer.hooks.connection_test import tested_connection_id
    from airflow_provider_dialer.hooks.registry import get_dialer_hook

    conn = dialer_emulator.connection("xcally")
    conn["password"] = "not-the-password"
    monkeypatch.setenv("AIRFLOW_CONN_CLI_XCALLY", json.dumps(conn))

    class Body:
        connection_id = "someone_else"

    transient_conn_id, test_body = "other_id", Body()  # noqa: F841 - read from this frame by tested_connection_id
    ok, message = get_dialer_hook("cli_xcally").test_connection()
    assert not ok and "'cli_xcally'" in message and "someone_else" not in message
    transient_conn_id = "cli_xcally"  # noqa: F841 - read from this frame, as above
    assert tested_connection_id("cli_xcally") == "someone_else"
