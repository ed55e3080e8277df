"""Sources: CSV (BOM, delimiter, encodings, bad rows), JSON Lines, object storage, SQL through Airflow, iterables."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import Lead
from airflow_provider_dialer.leads.sources import (
    BadRow,
    CsvSource,
    IterableSource,
    JsonLinesSource,
    SqlSource,
    as_source,
)


def rows(source) -> list:
    return list(source.rows())


def test_csv_with_utf8_bom_and_semicolon_detected(tmp_path: Path) -> None:
    f = tmp_path / "leads.csv"
    f.write_bytes("\ufefftel;nome;fuso\n+59899123456;José;America/Montevideo\n\n+59899123457;Zoë;\n".encode())
    assert rows(CsvSource(f)) == [
        (1, {"tel": "+59899123456", "nome": "José", "fuso": "America/Montevideo"}),
        (2, {"tel": "+59899123457", "nome": "Zoë", "fuso": ""}),
    ]


def test_csv_declared_latin1_and_detected_cp1252(tmp_path: Path) -> None:
    f = tmp_path / "latin.csv"
    f.write_bytes("phone,first_name\n+34612345678,Begoña\n".encode("latin-1"))
    assert rows(CsvSource(f, encoding="latin-1")) == [(1, {"phone": "+34612345678", "first_name": "Begoña"})]
    assert rows(CsvSource(f)) == [(1, {"phone": "+34612345678", "first_name": "Begoña"})]  # detected


def test_csv_undecodable_row_is_one_bad_row(tmp_path: Path) -> None:
    # the first 64 KiB are UTF-8 (not only ASCII), so UTF-8 is chosen; a later Latin-1 row is rejected alone
    good = "".join(f"+5989912{i:04d},Ana\n" for i in range(5000))
    f = tmp_path / "mixed.csv"
    f.write_bytes(
        b"phone,first_name\n+59899000000,Jos\xc3\xa9\n"
        + good.encode()
        + "+59899000001,Begoña\n".encode("latin-1")
        + b"+59899000002,Eve\n"
    )
    out = rows(CsvSource(f))
    assert len(out) == 5003 and out[0][1]["first_name"] == "José"
    assert out[5001][0] == 5002 and isinstance(out[5001][1], BadRow)
    assert out[5001][1].detail.startswith("bytes not valid utf-8")
    assert out[5002] == (5003, {"phone": "+59899000002", "first_name": "Eve"})


def test_csv_ascii_head_then_the_first_non_ascii_line_decides_and_a_mix_is_rejected(tmp_path: Path) -> None:
    # 64 KiB of ASCII say nothing: the first non-ASCII line (cp1252 here) decides; a UTF-8 line after it
    # would be garbled as cp1252, so it is rejected instead
    good = "".join(f"+5989912{i:04d},Ana\n" for i in range(5000))
    f = tmp_path / "late.csv"
    f.write_bytes(
        b"phone,first_name\n"
        + good.encode()
        + "+59899000001,Begoña\n".encode("cp1252")
        + "+59899000002,Begoña\n".encode()
        + b"+59899000003,Eve\n"
    )
    out = rows(CsvSource(f))
    assert out[5000] == (5001, {"phone": "+59899000001", "first_name": "Begoña"})
    assert isinstance(out[5001][1], BadRow) and "mixed encodings" in out[5001][1].detail
    assert out[5002] == (5003, {"phone": "+59899000003", "first_name": "Eve"})


def test_csv_mixed_encodings_in_the_first_bytes_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "mix.csv"
    f.write_bytes(b"phone,first_name\n" + "+59899000001,Begoña\n".encode("cp1252") + "+59899000002,José\n".encode())
    with pytest.raises(DialerConfigError, match="mixes encodings: line 3 is UTF-8, line 2 is not"):
        rows(CsvSource(f))


def test_csv_extra_fields_and_quoted_newlines(tmp_path: Path) -> None:
    f = tmp_path / "q.csv"
    f.write_text('phone,note\n+1,"two\nlines"\n+2,a,b\n+3,c,,\n', encoding="utf-8")
    out = rows(CsvSource(f))
    assert out[0] == (1, {"phone": "+1", "note": "two\nlines"})
    assert out[1][0] == 2 and out[1][1].detail == "row has 3 fields, the header has 2"
    assert out[2] == (3, {"phone": "+3", "note": "c"})  # trailing empty fields are tolerated


def test_jsonl_with_non_objects_blank_lines_and_bad_json(tmp_path: Path) -> None:
    f = tmp_path / "leads.jsonl"
    f.write_text('{"phone": "+1"}\n\n[1, 2]\n"text"\n{broken\n{"phone": 5989}\n', encoding="utf-8")
    out = rows(JsonLinesSource(f))
    assert out[0] == (1, {"phone": "+1"})
    assert out[1] == (2, BadRow("not an object (list)", "[1, 2]"))
    assert out[2] == (3, BadRow("not an object (str)", '"text"'))
    assert out[3][0] == 4 and out[3][1].detail.startswith("not JSON:")
    assert out[4] == (5, {"phone": 5989})


def test_object_storage_paths_file_scheme(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    (tmp_path / "a.csv").write_text("phone\n+59899123456\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"phone": "+59899123457"}\n', encoding="utf-8")
    assert rows(as_source(ObjectStoragePath(f"file://{tmp_path}/a.csv"))) == [(1, {"phone": "+59899123456"})]
    assert rows(as_source(f"file://{tmp_path}/b.jsonl")) == [(1, {"phone": "+59899123457"})]


def test_gzip_csv(tmp_path: Path) -> None:
    f = tmp_path / "a.csv.gz"
    f.write_bytes(gzip.compress(b"phone|name\n+1|x\n"))
    assert rows(as_source(str(f))) == [(1, {"phone": "+1", "name": "x"})]


def test_sql_through_airflow_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("create table leads (tel text, nome text, id integer)")
        c.executemany("insert into leads values (?, ?, ?)", [(f"+5989912{i:04d}", f"n{i}", i) for i in range(25)])
    monkeypatch.setenv("AIRFLOW_CONN_LEADS_DB", f"sqlite://{db}")
    source = SqlSource(
        "leads_db", "select tel, nome, id from leads where id >= ? order by id", parameters=(3,), fetch_size=4
    )
    out = rows(source)
    assert len(out) == 22
    assert out[0] == (1, {"tel": "+59899120003", "nome": "n3", "id": 3})
    assert out[-1] == (22, {"tel": "+59899120024", "nome": "n24", "id": 24})


def test_sql_rejects_non_dbapi_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_NOT_SQL", "fs://")
    with pytest.raises(Exception, match="DbApiHook|Unknown hook type"):
        rows(SqlSource("not_sql", "select 1"))


def test_iterable_source_and_dispatch() -> None:
    lead = Lead(phones=["+1"])
    out = rows(IterableSource([{"phone": "+1"}, lead, "just text", 7]))
    assert out[:2] == [(1, {"phone": "+1"}), (2, lead)]
    assert out[2] == (3, BadRow("not an object (str)", "just text"))
    assert isinstance(as_source([{"a": 1}]), IterableSource)
    assert isinstance(as_source("x.tsv"), CsvSource) and as_source("x.tsv").delimiter == "\t"
    with pytest.raises(DialerConfigError, match="suffix"):
        as_source("leads.parquet")
    with pytest.raises(DialerConfigError):
        as_source({"phone": "+1"})


def test_jsonl_utf8_bom(tmp_path: Path) -> None:
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + json.dumps({"phone": "+1"}).encode() + b"\n")
    assert rows(JsonLinesSource(f)) == [(1, {"phone": "+1"})]
