"""Fake vendor hooks shared by the operator tests (no HTTP): what every fake list vendor has in common.

A test subclasses :class:`FakeListHook` and writes only what its vendor does differently, usually
``push_list_chunk`` (and ``resolve_list_chunk`` for a vendor whose state can be read back).
"""

from __future__ import annotations

from typing import Any

import pytest


class FakeListHook:
    """A list vendor (``ListUploader``) that opens list ``list_id``, cuts chunks of ``chunk_size``, has
    nothing to wait for after an upload, and cannot read its state back (``resolve_list_chunk``: None)."""

    vendor = "FakeDialer"
    list_per_lead_schedule = False
    list_id = 5
    chunk_size = 2

    def open_list_target(self, list_name: str, settings: dict[str, Any]) -> dict[str, Any]:
        return {"list_id": self.list_id, "name": list_name}

    def push_list_chunk(self, target: dict[str, Any], key: str, leads: Any) -> Any:
        raise NotImplementedError

    def resolve_list_chunk(self, target: dict[str, Any], key: str, leads: Any) -> Any:
        return None

    def list_wait(self, target: dict[str, Any], summary: dict[str, Any]) -> Any:
        return None

    def list_chunk_size_for(self, target: dict[str, Any]) -> int:
        return self.chunk_size

    def close(self) -> None:
        pass


def use_hook(monkeypatch: pytest.MonkeyPatch, hook: Any) -> Any:
    """Make every operator and sensor of the test get ``hook`` whatever its connection; returns it."""
    monkeypatch.setattr("airflow_provider_dialer.hooks.registry.get_dialer_hook", lambda conn_id: hook)
    return hook
