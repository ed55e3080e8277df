"""Triggers serialize to their classpath and plain kwargs, and rebuild identically (as the triggerer does)."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.module_loading import import_string

from airflow_provider_dialer.triggers.wait import ImportJobTrigger, ListLoadedTrigger


@pytest.mark.parametrize(
    "trigger",
    [
        ImportJobTrigger("ujet_default", 6, [500, 501], poll_interval=2.5, timeout=60.0),
        ListLoadedTrigger("ucontact_default", [{"hub": "sales", "list_id": 3}], poll_interval=1.0, timeout=None),
        ListLoadedTrigger("xcally_default", [{"list_id": 7, "expected": 1000}]),
    ],
)
def test_round_trip(trigger):
    classpath, kwargs = trigger.serialize()
    assert classpath == f"{type(trigger).__module__}.{type(trigger).__name__}"
    json.dumps(kwargs)  # plain data only: no hooks, clients or secrets
    clone = import_string(classpath)(**kwargs)
    assert clone.serialize() == (classpath, kwargs)
    assert "password" not in json.dumps(kwargs).lower()


async def test_unknown_connection_fires_an_error_event(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NOT_A_DIALER", json.dumps({"conn_type": "http", "host": "example.com"}))
    events = ImportJobTrigger("not_a_dialer", 1, [1], poll_interval=0.01).run()
    try:
        event = await events.__anext__()
    finally:
        await events.aclose()
    assert event.payload["status"] == "error"
    assert "not a dialer connection type" in event.payload["message"]
