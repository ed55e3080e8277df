"""The sync ledger on real databases (SQLite and PostgreSQL): semantics against an independent model,
batched writes, paging, and two writers at once."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline.ledger import LedgerEntry, SyncLedger, content_hash, lead_key


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_conn(request, tmp_path, monkeypatch):
    """An Airflow connection id whose database is empty: a SQLite file, or a fresh PostgreSQL schema."""
    conn_id = f"ledger_{request.param}_{uuid.uuid4().hex[:8]}"
    if request.param == "sqlite":
        uri = f"sqlite://{tmp_path}/ledger.db"
    else:
        uri = request.getfixturevalue("postgres_uri")
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", uri)
    table = f"ledger_{uuid.uuid4().hex[:10]}"  # a table of its own per test on the shared server
    return conn_id, table


def _lead(row: int, phone: str, external_id: str | None = None, **fields) -> PreparedLead:
    return PreparedLead(row=row, phone=phone, external_id=external_id, timezone="America/Montevideo", **fields)


def test_key_is_the_external_id_else_the_phone():
    assert lead_key(_lead(1, "+59899123456", "A-1")) == ("external_id", "A-1")
    assert lead_key(_lead(1, "+59899123456")) == ("phone", "+59899123456")
    assert lead_key(_lead(1, "+59899123456", "A-1"), key="phone") == ("phone", "+59899123456")
    with pytest.raises(DialerConfigError, match="ledger key"):
        lead_key(_lead(1, "+59899123456"), key="email")


def test_content_hash_covers_what_is_sent_not_when():
    import datetime as dt

    base = _lead(1, "+59899123456", "A-1", first_name="Ana")
    assert content_hash(base) == content_hash(_lead(7, "+59899123456", "A-1", first_name="Ana"))
    later = base.model_copy(update={"call_at": dt.datetime(2027, 1, 1, tzinfo=dt.UTC)})
    assert content_hash(later) == content_hash(base)
    for change in ({"first_name": "Anna"}, {"phone": "+59899123457"}, {"data": {"plan": "b"}}, {"timezone": "UTC"}):
        assert content_hash(base.model_copy(update=change)) != content_hash(base), change


def test_round_trip_and_outcome_rules(ledger_conn):
    conn_id, table = ledger_conn
    with SyncLedger(conn_id, table=table) as ledger:
        ledger.record(
            "dialer",
            "list:1",
            [
                LedgerEntry("phone", "+1", "added", content_hash="h1", vendor_ids={"contact_id": 9}),
                LedgerEntry("external_id", "X", "refused", content_hash="hx", reason="bad name"),
            ],
            run_id="run-1",
        )
        got = ledger.lookup("dialer", "list:1", [("phone", "+1"), ("external_id", "X"), ("phone", "+2")])
        assert set(got) == {("phone", "+1"), ("external_id", "X")}
        assert got["phone", "+1"].content_hash == "h1" and got["phone", "+1"].attempts == 0
        assert got["phone", "+1"].vendor_ids == {"contact_id": 9} and got["phone", "+1"].run_id == "run-1"
        assert got["external_id", "X"].content_hash is None  # nothing delivered yet
        assert got["external_id", "X"].attempts == 1 and got["external_id", "X"].reason == "bad name"
        # refused again: one more attempt; the delivered hash of +1 survives an unknown fate
        ledger.record(
            "dialer",
            "list:1",
            [
                LedgerEntry("external_id", "X", "refused", content_hash="hx2", reason="bad name"),
                LedgerEntry("phone", "+1", "unknown", content_hash="h2"),
            ],
            run_id="run-2",
        )
        got = ledger.lookup("dialer", "list:1", [("phone", "+1"), ("external_id", "X")])
        assert got["external_id", "X"].attempts == 2
        assert got["phone", "+1"].content_hash == "h1" and got["phone", "+1"].outcome == "unknown"
        assert got["phone", "+1"].vendor_ids == {"contact_id": 9}  # kept when the new entry has none
        ledger.record("dialer", "list:1", [LedgerEntry("external_id", "X", "added", content_hash="hx3")])
        got = ledger.lookup("dialer", "list:1", [("external_id", "X")])
        assert got["external_id", "X"].attempts == 0 and got["external_id", "X"].content_hash == "hx3"
        # targets and connections are apart
        assert ledger.lookup("dialer", "list:2", [("phone", "+1")]) == {}
        assert ledger.lookup("other", "list:1", [("phone", "+1")]) == {}
        assert ledger.reset("dialer", "list:1") == 2
        assert ledger.lookup("dialer", "list:1", [("phone", "+1")]) == {}


def test_bad_settings_are_config_errors(ledger_conn, monkeypatch):
    conn_id, _ = ledger_conn
    with pytest.raises(DialerConfigError, match="plain"):
        SyncLedger(conn_id, table="t; drop table x")
    with SyncLedger(conn_id, table="ok_table") as ledger, pytest.raises(DialerConfigError, match="outcome"):
        ledger.record("d", "t", [LedgerEntry("phone", "+1", "sent")])
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", '{"conn_type": "xcally", "host": "example.invalid"}')
    with pytest.raises(DialerConfigError, match="DbApiHook"):
        SyncLedger("not_sql").lookup("d", "t", [("phone", "+1")])
    with pytest.raises(DialerConfigError, match="cannot be used"):
        SyncLedger("no_such_connection_here").lookup("d", "t", [("phone", "+1")])


def test_writes_are_one_statement_per_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_COUNT", f"sqlite://{tmp_path}/count.db")
    with SyncLedger("ledger_count", batch_size=500) as ledger:
        ledger.lookup("d", "t", [])  # opens the connection and creates the table
        statements: list[str] = []
        ledger.db.connection.set_trace_callback(statements.append)
        ledger.record("d", "t", [LedgerEntry("phone", f"+1{i:09d}", "added", content_hash="h") for i in range(1201)])
        inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
        assert len(inserts) == 3  # 500 + 500 + 201 leads
        statements.clear()
        found = ledger.lookup("d", "t", [("phone", f"+1{i:09d}") for i in range(1201)])
        assert len(found) == 1201
        assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 3


def test_entries_pages_in_key_order(ledger_conn):
    conn_id, table = ledger_conn
    keys = [("phone", f"+1{i:04d}") for i in range(23)] + [("external_id", f"id-{i}") for i in range(17)]
    with SyncLedger(conn_id, table=table, batch_size=7) as ledger:
        ledger.record("d", "hub:A", [LedgerEntry(k, v, "added", content_hash=v) for k, v in keys])
        ledger.record("d", "hub:B", [LedgerEntry("phone", "+19999", "added")])
        listed = [e.key for e in ledger.entries("d", "hub:A")]
    assert listed == sorted(keys)


# -- the semantics against a model written apart from the code ------------------------------------------------------

_outcomes = st.sampled_from(["added", "updated", "unchanged", "removed", "refused", "unknown"])
_entries = st.lists(
    st.tuples(
        st.sampled_from(["phone", "external_id"]),
        st.sampled_from(["a", "b", "c", "é", "d'x"]),
        _outcomes,
        st.sampled_from([None, "h1", "h2"]),
        st.sampled_from([None, {"id": 1}, {"id": 2}]),
    ),
    max_size=8,
)


def _model_apply(model: dict, batch: list) -> None:
    last = {}
    for kind, key, outcome, chash, ids in batch:
        last[kind, key] = (outcome, chash, ids)
    for k, (outcome, chash, ids) in last.items():
        old = model.get(k)
        delivered = outcome in ("added", "updated", "unchanged")
        retry = outcome in ("refused", "unknown")
        if old is None:
            model[k] = {
                "outcome": outcome,
                "hash": chash if delivered else None,
                "ids": ids or {},
                "attempts": 1 if retry else 0,
            }
        else:
            model[k] = {
                "outcome": outcome,
                "hash": chash if delivered else old["hash"],
                "ids": ids or old["ids"],
                "attempts": old["attempts"] + 1 if retry else 0,
            }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(_entries, min_size=1, max_size=5))
def test_ledger_agrees_with_a_model(ledger_conn, batches):
    conn_id, table = ledger_conn
    target = f"t-{uuid.uuid4().hex[:6]}"
    model: dict = {}
    with SyncLedger(conn_id, table=table, batch_size=3) as ledger:
        for batch in batches:
            ledger.record(
                "d", target, [LedgerEntry(k, v, o, content_hash=h, vendor_ids=i or {}) for k, v, o, h, i in batch]
            )
            _model_apply(model, batch)
        stored = {
            e.key: {"outcome": e.outcome, "hash": e.content_hash, "ids": e.vendor_ids, "attempts": e.attempts}
            for e in ledger.entries("d", target)
        }
    assert stored == model


# -- two writers on one target ---------------------------------------------------------------------------------------


def _writer(uri: str, table: str, name: str, rounds: int, errors) -> None:
    os.environ["AIRFLOW_CONN_LEDGER_W"] = uri
    try:
        import random

        rnd = random.Random(name)
        with SyncLedger("ledger_w", table=table, batch_size=50) as ledger:
            for r in range(rounds):
                keys = rnd.sample(range(300), 120)  # overlapping with the other writer, in random order
                ledger.record(
                    "d",
                    "campaign:1",
                    [LedgerEntry("phone", f"+1{k:05d}", "added", content_hash=f"{name}:{r}") for k in keys],
                    run_id=name,
                )
    except BaseException as exc:  # reported to the parent: a writer must not fail
        errors.put(f"{name}: {type(exc).__name__}: {exc}")


def test_two_writers_at_once_do_not_corrupt_the_ledger(ledger_conn, tmp_path):
    conn_id, table = ledger_conn
    uri = os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]
    with SyncLedger(conn_id, table=table) as ledger:
        ledger.lookup("d", "campaign:1", [])  # table created before the race, as a first run would
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    writers = [ctx.Process(target=_writer, args=(uri, table, name, 15, errors)) for name in ("w1", "w2")]
    for w in writers:
        w.start()
    for w in writers:
        w.join(120)
    assert all(w.exitcode == 0 for w in writers)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert problems == []
    with SyncLedger(conn_id, table=table) as ledger:
        rows = list(ledger.entries("d", "campaign:1"))
    keys = [e.key for e in rows]
    assert len(keys) == len(set(keys))
    import random

    expected = set()
    for name in ("w1", "w2"):
        rnd = random.Random(name)
        for _ in range(15):
            expected.update(rnd.sample(range(300), 120))
    assert {k for _, k in keys} == {f"+1{k:05d}" for k in expected}
    for e in rows:  # every row is one writer's whole write, never a mix
        assert e.run_id == e.content_hash.split(":")[0] and e.outcome == "added"


def test_sqlite_file_is_a_real_database(tmp_path, monkeypatch):
    """What a data team sees: a plain table in its own database, readable without this package."""
    monkeypatch.setenv("AIRFLOW_CONN_LEDGER_PLAIN", f"sqlite://{tmp_path}/plain.db")
    with SyncLedger("ledger_plain") as ledger:
        ledger.record(
            "dialer_x", "list:5", [LedgerEntry("external_id", "C-9", "added", content_hash="abc")], run_id="r1"
        )
    rows = (
        sqlite3.connect(tmp_path / "plain.db")
        .execute("select dialer_conn_id, target, key_kind, lead_key, outcome, attempts, run_id from dialer_sync_ledger")
        .fetchall()
    )
    assert rows == [("dialer_x", "list:5", "external_id", "C-9", "added", 0, "r1")]
