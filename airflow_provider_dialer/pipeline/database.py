"""A table store in the user's own database, through any Airflow connection whose hook is a common.sql ``DbApiHook``.

The sync ledger and the outcome log write here. PostgreSQL (production: every worker reaches it) and
SQLite (the demo and tests) are supported: both speak ``INSERT ... ON CONFLICT`` and multi-row
``VALUES``, so one statement carries a whole batch.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from airflow_provider_dialer.exceptions import DialerConfigError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
FLAVOURS = {"postgres": "postgresql", "postgresql": "postgresql", "sqlite": "sqlite"}


def check_table_name(table: str, what: str) -> str:
    if not isinstance(table, str) or not _IDENTIFIER.match(table):
        raise DialerConfigError(f"{what} table must be a plain (optionally schema-qualified) name, got {table!r}")
    return table


def is_transient(exc: BaseException) -> bool:
    """A deadlock, a serialisation failure or a busy SQLite file: the transaction can simply run again."""
    code = getattr(exc, "pgcode", None) or getattr(exc, "sqlstate", None)
    if code in {"40001", "40P01"}:
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database table is locked" in text


class Database:
    """One open DB-API connection of ``conn_id``; statements run in transactions, retried when transient.

    Meant for one thread at a time (SQLite connections are bound to the thread that opened them).
    """

    def __init__(self, conn_id: str, what: str) -> None:
        self.conn_id = conn_id
        self.what = what
        self._conn: Any = None
        self.flavour = ""
        self.ph = "?"

    def open(self) -> Any:
        if self._conn is not None:
            return self._conn
        from airflow.sdk import BaseHook

        try:
            from airflow.providers.common.sql.hooks.sql import DbApiHook
        except ImportError:
            raise DialerConfigError(f"the {self.what} needs apache-airflow-providers-common-sql") from None
        try:
            hook = BaseHook.get_hook(self.conn_id)
        except Exception as exc:  # unknown connection or hook type: the user's setting is wrong
            raise DialerConfigError(f"{self.what} connection {self.conn_id!r} cannot be used: {exc}") from None
        if not isinstance(hook, DbApiHook):
            raise DialerConfigError(
                f"{self.what} connection {self.conn_id!r} has hook {type(hook).__name__}, not a common.sql DbApiHook"
            )
        conn_type = (getattr(hook, "conn_type", "") or "").lower()
        if conn_type not in FLAVOURS:
            raise DialerConfigError(
                f"{self.what} connection {self.conn_id!r} is of type {conn_type!r}; supported: postgres, sqlite"
            )
        self.flavour = FLAVOURS[conn_type]
        self.ph = hook.placeholder
        self._conn = hook.get_conn()
        return self._conn

    @property
    def connection(self) -> Any:
        return self.open()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def run(self, statements: Sequence[tuple[str, Sequence[Any]]], fetch: bool = False) -> list[Any]:
        """Run statements in one transaction, again from the start after a transient failure."""
        conn = self.open()
        delay = 0.05
        attempts = 8
        for attempt in range(attempts):
            cursor = conn.cursor()
            try:
                rows: list[Any] = []
                for sql, params in statements:
                    cursor.execute(sql, tuple(params))
                    if fetch:
                        rows.extend(cursor.fetchall())
                conn.commit()
                return rows
            except Exception as exc:
                conn.rollback()
                if attempt == attempts - 1 or not is_transient(exc):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                cursor.close()
        raise AssertionError("unreachable")

    def run_count(self, sql: str, params: Sequence[Any]) -> int:
        """Run one statement in its own transaction; how many rows it changed."""
        conn = self.open()
        cursor = conn.cursor()
        try:
            cursor.execute(sql, tuple(params))
            count = cursor.rowcount
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        finally:
            cursor.close()
        return int(count)

    def create_table(self, ddl: str) -> None:
        """``CREATE TABLE IF NOT EXISTS``; two first uses at once on PostgreSQL can race on the catalog."""
        try:
            self.run([(ddl, ())])
        except Exception:
            self.run([(ddl, ())])

    def timestamp_type(self) -> str:
        self.open()
        return "TIMESTAMPTZ" if self.flavour == "postgresql" else "TEXT"
