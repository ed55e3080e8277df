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

# tests/e2e drive a running deployment (scripts/e2e.py starts it and sets DIALER_E2E_API): `make e2e` only
collect_ignore = [] if os.environ.get("DIALER_E2E_API") else ["e2e"]
