"""Where delivery progress lives between task attempts: in memory, in a JSON file or in an Airflow Variable.

Each store implements ``delivery.ProgressStore``: ``load`` the progress (``None`` when there is
none), ``save`` it, and ``complete`` it when the task succeeded. Progress that exists but cannot be
read fails with ``DialerProgressError`` instead of starting over: starting over would send every
lead again. XCom is cleared when a task retries, so a task's progress lives in a Variable by
default (one per task instance and map index) or in a JSON file for local runs.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from airflow_provider_dialer.exceptions import DialerProgressError

#: what the progress of a task instance is called (Variable key prefix; see ``VariableProgressStore``)
PROGRESS_PREFIX = "dialer_progress:"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MemoryProgressStore:
    """Progress kept in memory (dry runs and tests)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def load(self) -> dict[str, Any] | None:
        return json.loads(json.dumps(self.state)) if self.state is not None else None

    def save(self, state: dict[str, Any]) -> None:
        self.state = json.loads(json.dumps(state))

    def complete(self, retention: dt.timedelta) -> None:
        if self.state is not None:
            self.state["completed_at"] = _utcnow().isoformat()


def _parsed_progress(text: str, where: str, way_out: str) -> dict[str, Any]:
    """The progress in ``text``, or ``DialerProgressError`` naming ``where`` and ``way_out``."""
    try:
        state = json.loads(text)
    except json.JSONDecodeError as exc:  # what json.loads raises for a str
        raise DialerProgressError(_unreadable(where, f"it is not JSON ({exc.msg} at {exc.pos})", way_out)) from None
    if not isinstance(state, dict):
        raise DialerProgressError(_unreadable(where, f"it holds a {type(state).__name__}, not an object", way_out))
    return state


def _unreadable(where: str, why: str, way_out: str) -> str:
    return (
        f"delivery progress {where} exists but cannot be read: {why}. It may record chunks the dialer "
        "already holds, so starting over could call those leads twice; nothing was sent. Way out: check "
        f"in the dialer what this task already delivered, then {way_out} and clear the task "
        "(it then sends every lead as a new delivery)."
    )


class FileProgressStore:
    """Progress in a JSON file (a local path)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        way_out = f"delete the file {str(self.path)!r}"
        try:
            text = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DialerProgressError(_unreadable(f"file {str(self.path)!r}", str(exc), way_out)) from None
        return _parsed_progress(text, f"file {str(self.path)!r}", way_out)

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        tmp.replace(self.path)

    def complete(self, retention: dt.timedelta) -> None:
        """Remove the file: a local path is usually reused by the next run, which must start afresh."""
        self.path.unlink(missing_ok=True)


class VariableProgressStore:
    """Progress in an Airflow Variable, keyed by DAG, run, task and map index (survives retries)."""

    def __init__(self, key: str) -> None:
        self.key = key

    @classmethod
    def for_task(cls, context: Any) -> VariableProgressStore:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        key = f"{PROGRESS_PREFIX}{ti.dag_id}:{ti.run_id}:{ti.task_id}:{map_index}"
        return cls(key)

    def load(self) -> dict[str, Any] | None:
        """The progress, ``None`` when there is none; ``DialerProgressError`` when it is there but unreadable.

        Airflow answers "not found" for a Variable its Fernet key cannot decrypt (the server logs
        the error), so an absent value is told apart from an undecryptable one by the key list,
        which comes from the metadata database without decrypting anything.
        """
        from airflow.sdk import Variable

        way_out = f"delete the Airflow Variable {self.key!r} (Admin > Variables, or `airflow variables delete`)"
        raw = Variable.get(self.key, default=None)
        if raw is None:
            # Variable.keys (the Task SDK's key listing) is in Airflow 3.3; where it is missing an
            # undecryptable value cannot be told from an absent one
            keys = getattr(Variable, "keys", None)
            if keys is not None and self.key in keys(prefix=self.key):
                raise DialerProgressError(
                    _unreadable(
                        f"Variable {self.key!r}",
                        "Airflow cannot decrypt its value (was the Fernet key rotated without re-encrypting?)",
                        way_out,
                    )
                )
            return None
        return _parsed_progress(str(raw), f"Variable {self.key!r}", way_out)

    def save(self, state: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, state, serialize_json=True)

    def complete(self, retention: dt.timedelta) -> None:
        from airflow.sdk import Variable

        state = self.load()
        if state is not None:
            state["completed_at"] = _utcnow().isoformat()
            self.save(state)
        keys = getattr(Variable, "keys", None)
        if keys is None:  # an Airflow without the key listing: nothing older can be found
            return
        dag_prefix = ":".join(self.key.split(":")[:2]) + ":"
        cutoff = _utcnow() - retention
        for key in list(keys(prefix=dag_prefix)):
            if key == self.key:
                continue
            raw = Variable.get(key, default=None)
            try:
                done = dt.datetime.fromisoformat(json.loads(raw)["completed_at"]) if raw else None
            except (ValueError, TypeError, KeyError):
                continue  # unreadable, or a task still running or failed: kept
            if done is not None and done < cutoff:
                Variable.delete(key)
