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

import glob  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402

import pytest  # noqa: E402


def _postgres_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    return os.path.dirname(found[0]) if found else None


def _install_postgres() -> str:
    """Debian's postgresql package, installed when missing and we may (root with apt-get); '' or why not."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "PostgreSQL is not installed, and installing it needs root and apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}"
    return ""


@pytest.fixture(scope="session")
def postgres_uri():
    """A throwaway PostgreSQL cluster on a free loopback port (installed with apt-get when missing)."""
    bindir = _postgres_bindir()
    if bindir is None:
        why = _install_postgres()
        bindir = _postgres_bindir()
        if bindir is None:
            pytest.skip(f"no PostgreSQL server for the ledger tests: {why}")
    base = tempfile.mkdtemp(prefix="dialer-pg-")
    os.chmod(base, 0o755)
    data, sockets = os.path.join(base, "data"), os.path.join(base, "sock")
    os.mkdir(sockets)
    as_owner: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the cluster belongs to the postgres user
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_owner, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c max_connections=50"
    subprocess.run([*as_owner, f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(base, "log"),
                    "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_owner, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
