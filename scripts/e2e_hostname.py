"""``[core] hostname_callable`` for `make e2e-celery`: two Celery workers on one machine tell apart.

Airflow records the worker's host name on each task instance. Both e2e workers run on the same
machine, so each gets ``DIALER_E2E_WORKER`` in its environment and this callable appends it; the
test then reads, per map index, which worker ran it. Not needed in a real deployment.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """``<host>-<worker name>``, or the plain host name outside an e2e worker."""
    name = socket.gethostname()
    worker = os.environ.get("DIALER_E2E_WORKER")
    return f"{name}-{worker}" if worker else name
