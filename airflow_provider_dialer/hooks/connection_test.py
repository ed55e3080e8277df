"""Airflow's connection test for every dialer hook: one cheap authenticated call and a message a user can act on.

:class:`ConnectionTest` is mixed into ``DialerHook``; each vendor hook writes its ``probe`` flow.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, ClassVar, TypeVar

from airflow_provider_dialer.exceptions import (
    DialerAuthError,
    DialerConfigError,
    DialerError,
    DialerHTTPError,
    DialerTransportError,
)

if TYPE_CHECKING:
    from types import FrameType

    from airflow_provider_dialer.transport.requests import Flow
    from airflow_provider_dialer.transport.settings import ConnectionSettings

T = TypeVar("T")


def tested_connection_id(conn_id: str) -> str:
    """The connection id a user asked to test, when ``conn_id`` is the temporary id Airflow's test
    endpoint gave a copy of it; else ``conn_id``.

    Airflow 3.3's ``POST /api/v2/connections/test`` (the UI's Test button) exports the connection under
    a random id (its local ``transient_conn_id``) and keeps the user's in ``test_body.connection_id``;
    neither reaches the hook. They are read from that function's frame, and only when its temporary
    id is exactly ``conn_id``; anything else (the CLI's ``airflow connections test``, a task) keeps
    ``conn_id``.
    """
    frame: FrameType | None = sys._getframe(1)
    for _ in range(60):
        if frame is None:
            break
        local = frame.f_locals
        if local.get("transient_conn_id") == conn_id:
            asked = getattr(local.get("test_body"), "connection_id", None)
            if isinstance(asked, str) and asked:
                return asked
        frame = frame.f_back
    return conn_id


class ConnectionTest:
    """``test_connection`` for a dialer hook (mixed into ``DialerHook``, which provides what is declared below)."""

    if TYPE_CHECKING:
        vendor: ClassVar[str]
        conn_id: str

        @property
        def settings(self) -> ConnectionSettings: ...
        def run_flow(self, flow: Flow[T]) -> T: ...
        def redact(self, text: str) -> str: ...
        def close(self) -> None: ...

    def probe(self) -> Flow[str]:
        """A cheap authenticated call; returns a short description of what was reached."""
        raise NotImplementedError

    def test_connection(self) -> tuple[bool, str]:
        """Airflow's connection test: a cheap authenticated call, with a message a user can act on.

        The message names the connection the user typed. The web UI's Test button and
        ``POST /api/v2/connections/test`` test a copy under a random temporary id, which would mean
        nothing to the user; that id is replaced by the one in the request.
        """
        ok, message = self._test_connection()
        shown = tested_connection_id(self.conn_id)
        if shown != self.conn_id:
            message = message.replace(repr(self.conn_id), repr(shown))
        return ok, message

    def _test_connection(self) -> tuple[bool, str]:
        try:
            what = self.run_flow(self.probe())
        except DialerConfigError as exc:
            return False, f"Configuration error: {exc}"
        except DialerAuthError as exc:
            return False, (
                f"Authentication failed: {self.vendor} answered HTTP {exc.status} to {exc.method} {exc.path}. "
                f"Check the login and password (or token) of connection {self.conn_id!r}."
            )
        except DialerTransportError as exc:
            return False, f"Cannot reach {self.vendor} at {self._safe_base_url()}: {self._explain(exc)}"
        except DialerHTTPError as exc:
            return False, f"{self.vendor} answered an error: {exc}"
        except Exception as exc:  # noqa: BLE001 - the test button must answer, not crash
            return False, self.redact(f"Unexpected error: {type(exc).__name__}: {exc}")
        finally:
            self.close()
        return True, f"Connection {self.conn_id!r}: connected to {self.vendor} at {self._safe_base_url()}: {what}"

    def _safe_base_url(self) -> str:
        try:
            return self.settings.base_url
        except DialerError:
            return "(invalid URL)"

    @staticmethod
    def _explain(exc: DialerTransportError) -> str:
        reason = exc.reason
        low = reason.lower()
        if "tls verification failed" in low:
            return reason
        if "refused" in low:
            return f"connection refused; check host and port ({reason})"
        if "name or service not known" in low or "nodename nor servname" in low or "getaddrinfo" in low:
            return f"host name not found; check the host field ({reason})"
        if "timeout" in low:
            return f"timed out; check the host, port and firewall ({reason})"
        return reason
