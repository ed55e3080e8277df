"""The outcome log: every row written comes back, field for field, from files and tables (SQLite, PostgreSQL)."""

from __future__ import annotations

import csv
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.pipeline.outcome_log import OUTCOME_LOG_COLUMNS, OutcomeLog, OutcomeRow

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
_rows = st.lists(
    st.builds(
        OutcomeRow,
        run_id=st.just("dag/run/task/-1"),
        dialer_conn_id=st.just("dialer"),
        target=st.just("list_id=1"),
        row=st.integers(1, 10**6),
        key_kind=st.sampled_from(["phone", "external_id"]),
        lead_key=_text,
        outcome=st.sampled_from(sorted(["added", "refused", "unknown", "held", "rejected", "skipped"])),
        reason=st.one_of(st.none(), _text),
        vendor_ids=st.one_of(st.none(), st.just('{"contact_id": 5}')),
        at=st.just("2027-01-01T00:00:00+00:00"),
    ),
    max_size=40,
)


def _as_text(row: OutcomeRow) -> list[str]:
    return ["" if v is None else str(v) for v in (getattr(row, c) for c in OUTCOME_LOG_COLUMNS)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows, fmt=st.sampled_from(["csv", "jsonl"]), batch=st.integers(1, 7))
def test_files_give_back_every_row(tmp_path, rows, fmt, batch):
    path = tmp_path / f"log-{uuid.uuid4().hex}.{fmt}"
    with OutcomeLog(str(path), batch_size=batch) as log:
        log.extend(rows)
    if fmt == "csv":
        with open(path, newline="", encoding="utf-8") as f:
            back = list(csv.reader(f))
        assert back[0] == list(OUTCOME_LOG_COLUMNS)
        assert back[1:] == [_as_text(r) for r in rows]
    else:
        lines = path.read_text(encoding="utf-8").split("\n")
        assert lines[-1] == ""
        assert [json.loads(line) for line in lines[:-1]] == [
            dict(zip(OUTCOME_LOG_COLUMNS, (getattr(r, c) for c in OUTCOME_LOG_COLUMNS), strict=True)) for r in rows
        ]


@pytest.mark.parametrize("rows", [0, 3], ids=["empty", "rows"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_file_in_a_folder_that_does_not_exist_yet_is_written(tmp_path, rows, fmt):
    """The log is opened after the leads went out: a missing local folder is made, not a failed run."""
    path = tmp_path / "not" / "yet" / f"log.{fmt}"
    written = [OutcomeRow("r", "dialer", "list_id=1", i, "phone", f"+1212555010{i}", "added") for i in range(rows)]
    with OutcomeLog(str(path)) as log:
        log.extend(written)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == rows + (1 if fmt == "csv" else 0)  # the CSV header, then one line per row


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tables_give_back_every_row(backend, tmp_path, monkeypatch, request):
    uri = f"sqlite://{tmp_path}/log.db" if backend == "sqlite" else request.getfixturevalue("postgres_uri")
    monkeypatch.setenv("AIRFLOW_CONN_OUTCOMES", uri)
    table = f"outcomes_{uuid.uuid4().hex[:8]}"
    rows = [
        OutcomeRow(
            "r",
            "dialer",
            "list_id=1",
            i,
            "phone",
            f"+1212555{i:04d}",
            "added" if i % 3 else "refused",
            None if i % 3 else "field too long, 'quoted'",
            None,
        )
        for i in range(1, 1203)
    ]
    with OutcomeLog({"conn_id": "outcomes", "table": table}, batch_size=250) as log:
        log.extend(rows)
    assert log.rows_written == len(rows)
    from airflow.sdk import BaseHook

    got = BaseHook.get_hook("outcomes").get_records(
        f"SELECT row, lead_key, outcome, reason, at FROM {table} ORDER BY row"
    )
    assert [(r[0], r[1], r[2], r[3]) for r in got] == [(r.row, r.lead_key, r.outcome, r.reason) for r in rows]
    assert all(r[4] for r in got)


def test_bad_targets_are_config_errors(tmp_path):
    with pytest.raises(DialerConfigError, match=".csv or .jsonl"):
        OutcomeLog(str(tmp_path / "log.parquet"))
    with pytest.raises(DialerConfigError, match="conn_id"):
        OutcomeLog({"table": "x"})
    with pytest.raises(DialerConfigError, match="plain"):
        OutcomeLog({"conn_id": "c", "table": "x y"})
    with pytest.raises(DialerConfigError, match="unknown outcome"):
        OutcomeLog(str(tmp_path / "log.csv")).add(OutcomeRow("r", "d", "t", 1, "phone", "+1", "sent"))


def test_an_empty_run_still_writes_a_log(tmp_path):
    path = tmp_path / "empty.csv"
    OutcomeLog(str(path)).close()
    assert path.read_text(encoding="utf-8").splitlines() == [",".join(OUTCOME_LOG_COLUMNS)]
