"""One Airflow pool per dialer connection: the lead operators' default pool, when the deployment names one.

A vendor's rate limit belongs to its account, not to a task: three tasks on one connection each
sending at the vendor's rate draw 429s together. The deployment keeps them within the rate with a
pool per connection (its slots: how many tasks may run on the connection at once) and the
connection's ``rate_limit_per_second`` set to each task's share. See docs/operators.md.

Airflow 3's DAG code cannot look pools up (the Task SDK has no pool API, and a task in a pool that
does not exist is never scheduled), so the operators cannot default to a pool merely because it
exists. The deployment says that the pools exist instead, with one setting naming them::

    [dialer]
    connection_pool = dialer_{conn_id}

(or ``AIRFLOW__DIALER__CONNECTION_POOL=dialer_{conn_id}``). Every lead operator without its own
``pool`` (argument or ``default_args``) then runs in ``dialer_<its conn_id>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError

POOL_SECTION, POOL_OPTION = "dialer", "connection_pool"
CONN_ID_FIELD = "{conn_id}"


def connection_pool(conn_id: object) -> str | None:
    """The pool ``[dialer] connection_pool`` names for ``conn_id``; ``None`` when unset or ``conn_id`` is templated.

    A templated ``conn_id`` is only known at run time, after the scheduler has placed the task in
    its pool, so it gets no default (give such a task its ``pool`` yourself).
    """
    from airflow.sdk.configuration import conf  # already loaded by airflow.sdk: no import cost

    template = (conf.get(POOL_SECTION, POOL_OPTION, fallback="") or "").strip()
    if not template or not isinstance(conn_id, str) or "{{" in conn_id:
        return None
    if CONN_ID_FIELD not in template:
        raise DialerConfigError(
            f"[{POOL_SECTION}] {POOL_OPTION} must contain {CONN_ID_FIELD} (one pool per connection), got {template!r}"
        )
    return template.replace(CONN_ID_FIELD, conn_id)


def apply_connection_pool(kwargs: dict[str, Any], conn_id: object, inherited: Mapping[str, Any]) -> None:
    """Put a lead task in its connection's pool unless the user chose one.

    ``kwargs`` are the task's arguments; ``inherited`` the ``default_args`` it receives (a pool there
    is the user's choice too). Used by the operators' constructor and by their ``partial``.
    """
    if "pool" in kwargs or "pool" in inherited:
        return
    pool = connection_pool(conn_id)
    if pool is not None:
        kwargs["pool"] = pool
