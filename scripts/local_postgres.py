"""A throwaway PostgreSQL cluster on a free loopback port, for the tests and benchmarks that need a real server.

Uses Debian's ``postgresql`` package, installed with apt-get when it is missing and we may (root with
apt-get). As root the cluster belongs to the ``postgres`` user (PostgreSQL refuses to run as root).

    with local_postgres() as uri:     # "postgres://postgres@127.0.0.1:<port>/postgres"
        ...
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries, and they cannot be installed here."""


def bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    return os.path.dirname(found[0]) if found else None


def install() -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise PostgresUnavailable("PostgreSQL is not installed, and installing it needs root and apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()[-500:]}")


@contextlib.contextmanager
def local_postgres(max_connections: int = 50) -> Iterator[str]:
    """Start a cluster (installing the package first when needed); yield its URI; stop and delete it."""
    if bindir() is None:
        install()
    pg = bindir()
    if pg is None:
        raise PostgresUnavailable("the postgresql package installed no server binaries under /usr/lib/postgresql")
    base = tempfile.mkdtemp(prefix="dialer-pg-")
    os.chmod(base, 0o755)
    data, sockets = os.path.join(base, "data"), os.path.join(base, "sock")
    os.mkdir(sockets)
    as_owner: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
        as_owner = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        subprocess.run(
            [*as_owner, f"{pg}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} -c fsync=off -c max_connections={max_connections}"
        )
        subprocess.run(
            [*as_owner, f"{pg}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(base, "log"), "-w", "start"],
            check=True,
            capture_output=True,
        )
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_owner, f"{pg}/pg_ctl", "-D", data, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
