"""pytest fixtures that run the dialer emulator for your own DAG tests (registered as the ``dialer_emulator`` plugin).

``dialer_emulator`` starts all vendor APIs once per session on free loopback ports and points the
connections ``ucontact_default``, ``xcally_default``, ``voipex_default`` and ``ujet_default`` at them
through ``AIRFLOW_CONN_*`` environment variables. ``fresh_dialer_emulator`` gives each test a clean
state (data, received-request log, faults, settings).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_dialer.emulator.app import Emulator


@pytest.fixture(scope="session")
def dialer_emulator() -> Iterator[Emulator]:
    from airflow_provider_dialer.emulator.app import run_emulator

    with run_emulator() as emulator:
        env = emulator.env()
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield emulator
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def fresh_dialer_emulator(dialer_emulator: Emulator) -> Emulator:
    from dataclasses import fields

    from airflow_provider_dialer.emulator.state import EmulatorConfig

    dialer_emulator.reset()
    defaults = EmulatorConfig()
    for f in fields(defaults):
        setattr(dialer_emulator.config, f.name, getattr(defaults, f.name))
    return dialer_emulator
