"""Connection type -> vendor hook: the registry, ``get_dialer_hook`` and the task's hook.

Adding a vendor is one line in :data:`HOOKS_BY_CONN_TYPE`: ``get_provider_info()`` takes each
connection type's hook class from it, and the operators find the hook of a connection's type here.
The vendor hooks are named by dotted path and imported on first use, so importing this module (as
``get_provider_info()`` does at every DAG parse) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.capabilities import require
from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow_provider_dialer.hooks.base import DialerHook

#: connection type -> hook class path (``get_provider_info()`` reads it: one line per vendor)
HOOKS_BY_CONN_TYPE = {
    "ucontact": "airflow_provider_dialer.hooks.ucontact.UContactHook",
    "xcally": "airflow_provider_dialer.hooks.xcally.XCallyHook",
    "voipex": "airflow_provider_dialer.hooks.voipex.VoipexHook",
    "ujet": "airflow_provider_dialer.hooks.ujet.UjetHook",
}


def get_dialer_hook(conn_id: str) -> DialerHook:
    """The vendor hook for the connection's type (``ucontact``, ``xcally``, ``voipex`` or ``ujet``)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.module_loading import import_string

    conn = BaseHook.get_connection(conn_id)
    path = HOOKS_BY_CONN_TYPE.get(conn.conn_type or "")
    if path is None:
        raise DialerConfigError(
            f"connection {conn_id!r} has type {conn.conn_type!r}; a dialer connection has one of "
            f"{', '.join(sorted(HOOKS_BY_CONN_TYPE))}"
        )
    hook: DialerHook = import_string(path)(conn_id)  # import_string answers Any
    hook.adopt_connection(conn, conn.extra_dejson)
    return hook


async def aget_dialer_hook(conn_id: str) -> DialerHook:
    """Async twin of :func:`get_dialer_hook` for triggers (never touches the sync connection API)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.module_loading import import_string

    conn = await BaseHook.aget_connection(conn_id)
    path = HOOKS_BY_CONN_TYPE.get(conn.conn_type or "")
    if path is None:
        raise DialerConfigError(f"connection {conn_id!r} has type {conn.conn_type!r}, not a dialer connection type")
    hook: DialerHook = import_string(path)(conn_id)  # import_string answers Any
    await hook.aload_connection()
    return hook


class TaskHook:
    """Mixin for the operators and sensors: one dialer hook (one HTTP client) for the task's life.

    Closed when ``execute`` ends (each operator calls :meth:`close_task_hook` in a ``finally``) and
    when the task is killed (``on_kill``), which also aborts a request in flight. A sensor in poke
    mode keeps one client across its pokes instead of opening one per poke.
    """

    conn_id: str
    _task_hook: Any = None

    def task_hook(self, capability: type | None = None, label: str | None = None) -> Any:
        """The connection's hook, created on first use; ``capability`` is checked on every call."""
        if self._task_hook is None:
            self._task_hook = get_dialer_hook(self.conn_id)
        if capability is not None:
            require(self._task_hook, capability, label)
        return self._task_hook

    def close_task_hook(self) -> None:
        hook, self._task_hook = self._task_hook, None
        if hook is not None:
            hook.close()

    def on_kill(self) -> None:
        self.close_task_hook()
