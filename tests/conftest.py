"""Test set-up: an isolated AIRFLOW_HOME with SQLite, made before anything imports airflow."""

from __future__ import annotations

import os
import pathlib
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
_HOME = tempfile.mkdtemp(prefix="dialer-airflow-home-")
os.environ["AIRFLOW_HOME"] = _HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "example_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")


# -- a real PostgreSQL server for the tests that need one (the sync ledger) ---------------------------------------

import sys  # noqa: E402 - after the Airflow settings above, which must precede any Airflow import

import pytest  # noqa: E402 - as above

# the shared test helpers (tests/fakes.py) import as ``tests.fakes`` however pytest is started
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


@pytest.fixture(scope="session")
def postgres_uri():
    """A throwaway PostgreSQL cluster on a free loopback port (scripts/local_postgres.py; apt-get when missing)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from local_postgres import PostgresUnavailable, local_postgres
    finally:
        sys.path.pop(0)
    try:
        with local_postgres() as uri:
            yield uri
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL server for these tests: {exc}")


# tests/e2e drive a running deployment (scripts/e2e.py starts it and sets DIALER_E2E_API): `make e2e` only
collect_ignore = [] if os.environ.get("DIALER_E2E_API") else ["e2e"]
