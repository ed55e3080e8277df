"""Hostile input through ``prepare_leads`` end to end, and on to the vendor wire mappings.

Every case asserts conservation, not only "no exception": each source row is either a prepared lead
or exactly one reject (row, reason, field where one applies, detail), read from the full reject
report, so a row that vanished fails the test. What ``tests/unit/leads/`` already covers (source
readers row by row, the phone normaliser, schedules, windows, a property test over in-memory rows)
is not repeated; here the same hostility goes through files, SQL and the wire.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import CsvSource, SqlSource, prepare_leads
from airflow_provider_dialer.leads.report import RejectReason

# Friday 2026-03-06 15:00 UTC: 10:00 in New York, 12:00 in Montevideo (both inside 08:00-21:00)
NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
REASONS = {r.value for r in RejectReason}
#: rejects about the whole row carry no field
ROW_LEVEL = {"bad_row", "malformed_record", "outside_window", "duplicate_phone", "duplicate_external_id", "do_not_call"}
RTL_NAMES = [
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05dc\u05d9\u05db\u05dd",  # Hebrew
    "\u0645\u062d\u0645\u062f \u0627\u0644\u0639\u0644\u064a",  # Arabic
    "\u202eevil\u202c name",  # RIGHT-TO-LEFT OVERRIDE ... POP DIRECTIONAL FORMATTING
    "\u200fRLM\u200e-LRM\u2067iso\u2069",  # marks and isolates
    "Zo\u0308e\u0301 \U0001f468\u200d\U0001f469\u200d\U0001f467",  # combining marks, ZWJ emoji family
    "\u0000nul\u0007bel",  # control characters
]
MB = 1_000_000


def prepare(source: Any, report: Path, **kwargs: Any) -> tuple[list[Any], Any, list[dict[str, Any]]]:
    """Prepare with a full JSONL reject report; assert conservation; return (leads, report, rejects)."""
    kwargs.setdefault("default_timezone", "America/New_York")
    result = prepare_leads(source, now=NOW, reject_report=str(report), **kwargs)
    leads = list(result)
    rep = result.report
    lines = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines() if line.strip()]
    errors = [r for r in lines if r["level"] == "error"]
    assert rep.complete
    assert rep.rows == rep.prepared + rep.rejected, rep
    assert rep.prepared == len(leads) and rep.rejected == len(errors) == sum(rep.counts.values())
    lead_rows = [lead.row for lead in leads]
    reject_rows = [r["row"] for r in errors]
    assert sorted(lead_rows + reject_rows) == list(range(1, rep.rows + 1)), "a row was lost or counted twice"
    for r in lines:
        assert r["reason"] in REASONS and r["detail"], r
        assert r["field"] or r["reason"] in ROW_LEVEL, r
    assert not [r for r in errors if r["detail"].startswith("unexpected error")], errors
    return leads, rep, errors


def reasons(errors: list[dict[str, Any]]) -> dict[int, str]:
    return {r["row"]: r["reason"] for r in errors}


# --------------------------------------------------------------------------------------------
# Unicode, right-to-left and huge text
# --------------------------------------------------------------------------------------------


def test_rtl_and_unicode_names_survive_every_file_format(tmp_path: Path) -> None:
    rows = [
        {"phone": f"+1212555{i:04d}", "first_name": name, "last_name": name[::-1], "city": name}
        for i, name in enumerate(RTL_NAMES)
    ]
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    csv_ok = [r for r in rows if "\u0000" not in r["first_name"]]  # a raw NUL in CSV: tested below
    csv_path = tmp_path / "l.csv"
    csv_path.write_bytes(
        b"\xef\xbb\xbf"
        + (
            "phone,first_name,last_name,city\n"
            + "".join(f'{r["phone"]},"{r["first_name"]}","{r["last_name"]}","{r["city"]}"\n' for r in csv_ok)
        ).encode("utf-8")
    )
    for source, written, expected in (
        (rows, rows, csv_ok),
        (str(jsonl), rows, csv_ok),
        (str(csv_path), csv_ok, csv_ok),
    ):
        leads, rep, errors = prepare(source, tmp_path / "r.jsonl")
        # a NUL (escaped in JSON, or in memory) never reaches a name: that row is rejected, the rest kept
        assert [(r["reason"], r["field"]) for r in errors] == [("invalid_field", "first_name")] * (
            len(written) - len(expected)
        )
        got = [(lead.first_name, lead.last_name, lead.data["city"]) for lead in leads]
        assert got == [(r["first_name"].strip(), r["last_name"].strip(), r["city"]) for r in expected]


def test_nul_byte_in_a_csv_row_is_one_reject_not_a_crash(tmp_path: Path) -> None:
    f = tmp_path / "nul.csv"
    f.write_bytes(b"phone,first_name\n+12125550001,a\x00b\n+12125550002,ok\n")
    leads, rep, errors = prepare(str(f), tmp_path / "r.jsonl")
    # a NUL never reaches a name: its record is rejected whole, the next one is read
    assert reasons(errors) == {1: "malformed_record"} and "NUL byte in line 2" in errors[0]["detail"]
    assert [(lead.row, lead.first_name) for lead in leads] == [(2, "ok")]


def test_one_megabyte_fields_from_memory_and_jsonl_are_kept_whole(tmp_path: Path) -> None:
    blob = "\u05d0" * MB  # 1 M Hebrew letters (2 MB of UTF-8)
    rows = [
        {"phone": "+12125550001", "first_name": "x" * MB, "data": {"blob": blob}},
        {"phone": "+12125550002", "notes": blob},
    ]
    f = tmp_path / "big.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    for source in (rows, str(f)):
        leads, rep, _ = prepare(source, tmp_path / "r.jsonl")
        assert rep.prepared == 2
        assert leads[0].first_name == "x" * MB and leads[0].data["blob"] == blob and leads[1].data["notes"] == blob


def test_one_megabyte_csv_cell_is_kept_and_an_oversized_one_is_a_malformed_record(tmp_path: Path) -> None:
    from airflow_provider_dialer.leads.sources import MAX_RECORD_SIZE

    big = "y" * MB
    huge = "z" * (MAX_RECORD_SIZE + 1)
    f = tmp_path / "big.csv"
    f.write_text(
        f'phone,note\n+12125550001,{big}\n+12125550002,small\n+12125550003,"{huge}"\n+12125550004,ok\n',
        encoding="utf-8",
    )
    leads, rep, errors = prepare(str(f), tmp_path / "r.jsonl")
    assert [lead.row for lead in leads] == [1, 2, 4]
    assert [len(lead.data["note"]) for lead in leads] == [MB, 5, 2]
    assert reasons(errors) == {3: "malformed_record"}
    assert all(f"longer than {MAX_RECORD_SIZE} characters" in r["detail"] for r in errors)


# --------------------------------------------------------------------------------------------
# CSV shape and encoding problems, through preparation
# --------------------------------------------------------------------------------------------


def test_wrong_declared_delimiter_is_a_config_error_before_the_first_row(tmp_path: Path) -> None:
    f = tmp_path / "semi.csv"
    f.write_text("phone;first_name\n+12125550001;Ana\n+12125550002;Bo\n", encoding="utf-8")
    with pytest.raises(
        DialerConfigError, match="its columns are: 'phone;first_name' .one column: is the delimiter right"
    ):
        prepare(CsvSource(f, delimiter=","), tmp_path / "r.jsonl")
    leads, rep, _ = prepare(CsvSource(f), tmp_path / "r2.jsonl")  # detected: all accepted
    assert [lead.first_name for lead in leads] == ["Ana", "Bo"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le-bom", "utf-8-sig", "cp1252"])
def test_bom_and_encodings_keep_names(tmp_path: Path, encoding: str) -> None:
    text = "phone,first_name\n+12125550001,Bego\u00f1a\n+12125550002,Ren\u00e9e\n"
    data = (b"\xff\xfe" + text.encode("utf-16-le")) if encoding == "utf-16-le-bom" else text.encode(encoding)
    f = tmp_path / "enc.csv"
    f.write_bytes(data)
    leads, rep, _ = prepare(str(f), tmp_path / "r.jsonl")
    assert [lead.first_name for lead in leads] == ["Bego\u00f1a", "Ren\u00e9e"]


def test_declared_encoding_that_is_wrong_rejects_only_the_undecodable_rows(tmp_path: Path) -> None:
    f = tmp_path / "cp.csv"
    f.write_bytes("phone,first_name\n+12125550001,Bego\u00f1a\n+12125550002,Ana\n".encode("cp1252"))
    leads, _, errors = prepare(CsvSource(f, encoding="utf-8"), tmp_path / "r.jsonl")
    assert [lead.first_name for lead in leads] == ["Ana"]
    assert reasons(errors) == {1: "bad_row"} and "declare the file's encoding" in errors[0]["detail"]


def test_missing_extra_and_ragged_columns(tmp_path: Path) -> None:
    f = tmp_path / "ragged.csv"
    f.write_text(
        "phone,first_name,timezone,extra_col\n"
        "+12125550001,Ana,America/New_York,e1\n"  # full row, extra column -> data
        "+12125550002,Bo\n"  # short row: missing cells are absent, not shifted
        "+12125550003,Cy,America/New_York,e3,SURPLUS\n"  # a non-empty surplus cell: the row is rejected
        ",Dee,America/New_York,e4\n"  # missing phone
        "+12125550005,Eve,,e5,,,\n",  # empty surplus cells are tolerated
        encoding="utf-8",
    )
    leads, _, errors = prepare(str(f), tmp_path / "r.jsonl")
    assert [(lead.row, lead.first_name, lead.data) for lead in leads] == [
        (1, "Ana", {"extra_col": "e1"}),
        (2, "Bo", {}),
        (5, "Eve", {"extra_col": "e5"}),
    ]
    assert reasons(errors) == {3: "bad_row", 4: "missing_phone"}
    no_phone_column = tmp_path / "nophone.csv"
    no_phone_column.write_text("name,tel_typo\nAna,+12125550001\n", encoding="utf-8")
    # no phone column at all is a configuration error before the first row, not a missing_phone per row
    with pytest.raises(DialerConfigError, match="'phones or phone'.*'name', 'tel_typo'"):
        prepare(str(no_phone_column), tmp_path / "r2.jsonl")


def test_duplicate_header_names_do_not_silently_drop_a_phone(tmp_path: Path) -> None:
    f = tmp_path / "dup.csv"
    f.write_text("phone,phone,first_name\n+12125550001,+12125550002,Ana\n", encoding="utf-8")
    result = prepare_leads(str(f), now=NOW, default_timezone="America/New_York")
    leads = list(result)
    kept = {leads[0].phone, *leads[0].alternatives} if leads else set()
    warned = [s for s in result.report.samples if s.row == 1]
    assert "+12125550001" in kept or warned


# --------------------------------------------------------------------------------------------
# JSON Lines lines that are not objects
# --------------------------------------------------------------------------------------------


def test_jsonl_non_objects_deep_nesting_and_bad_bytes_are_one_reject_each(tmp_path: Path) -> None:
    f = tmp_path / "hostile.jsonl"
    lines = [
        b'{"phone": "+12125550001"}',
        b"[" * 100_000 + b"]" * 100_000,  # RecursionError inside json
        b"null",
        b"42",
        b"true",
        b'"text"',
        b"[1, 2]",
        b'{"phone": null, "first_name": "no phone"}',
        b'{"phone": "+12125550002", "first_name": "Bego\xf1a"}',  # the only non-ASCII line: cp1252 decides
        b'{"phone": "+12125550003", "data": "not an object"}',
        b'{"phone": "+12125550004", "data": {"k": [1, {"deep": null}]}}',
        b"",
        b"   ",
        b'{"phone": "+12125550005"',  # truncated
    ]
    f.write_bytes(b"\n".join(lines) + b"\n")
    leads, rep, errors = prepare(str(f), tmp_path / "r.jsonl")
    assert rep.rows == 12  # blank lines are not rows
    assert [lead.row for lead in leads] == [1, 9, 11] and leads[2].data == {"k": [1, {"deep": None}]}
    assert leads[1].first_name == "Bego\u00f1a"
    assert reasons(errors) == {
        2: "bad_row",
        3: "bad_row",
        4: "bad_row",
        5: "bad_row",
        6: "bad_row",
        7: "bad_row",
        8: "missing_phone",
        10: "invalid_field",
        12: "bad_row",
    }


# --------------------------------------------------------------------------------------------
# Time zones and dates
# --------------------------------------------------------------------------------------------

HOSTILE_ZONES = [
    "../../etc/passwd",
    "UTC\x00",
    "Mars/Olympus_Mons",
    "+03:00",
    "America/New_York\n",
    "a" * 10_000,
    "America//New_York",
    "EST5EDT",
    "utc",
    "Etc/GMT+14",
    "\u202eUTC",
    "posixrules",
    "Factory",
]
HOSTILE_DATES = [
    "2026-02-30 10:00",
    "2026-13-01",
    "0000-01-01",
    "9999-12-31T23:59:59",
    "2026-03-08 02:30",
    "1e10",
    "NaN",
    "inf",
    "-1",
    "2026-03-07T10:00:00+25:00",
    "\u0662\u0660\u0662\u0666-03-07 10:00",
    "2026-03-07 10:00 America/New_York",
    10**30,
    float("inf"),
    float("nan"),
    -(10**12),
    True,
    [2026, 3, 7],
    {"date": "2026-03-07"},
    "2026-03-07",
    "   ",
    "tomorrow",
]


def test_hostile_time_zones_and_dates_are_accepted_or_rejected_with_reason(tmp_path: Path) -> None:
    rows = [{"phone": f"+1212555{i:04d}", "timezone": z} for i, z in enumerate(HOSTILE_ZONES)]
    rows += [{"phone": f"+1212556{i:04d}", "schedule": s} for i, s in enumerate(HOSTILE_DATES)]
    leads, rep, errors = prepare(rows, tmp_path / "r.jsonl")
    assert rep.rows == len(rows)
    zone_rejects = {r["row"]: r for r in errors if r["row"] <= len(HOSTILE_ZONES)}
    assert {r["reason"] for r in zone_rejects.values()} <= {"unknown_timezone"}
    assert 1 in zone_rejects and 2 in zone_rejects and 3 in zone_rejects  # traversal, NUL, made-up zone
    for lead in leads:  # a zone that got through is one zoneinfo knows
        from zoneinfo import ZoneInfo

        ZoneInfo(lead.timezone)
    date_rejects = {r["reason"] for r in errors if r["row"] > len(HOSTILE_ZONES)}
    assert date_rejects <= {"bad_schedule", "schedule_in_past", "outside_window"}
    assert reasons(errors).get(len(HOSTILE_ZONES) + 1) == "bad_schedule"  # 30 February


# --------------------------------------------------------------------------------------------
# SQL with NULLs, through an Airflow connection
# --------------------------------------------------------------------------------------------


def test_sql_source_with_null_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as c:
        c.execute(
            "create table leads (tel text, tel2 text, nome text, fuso text, quando text, prio integer, "
            "extra blob, num integer, ratio real)"
        )
        c.executemany(
            "insert into leads values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                ("+12125550001", None, None, None, None, None, None, None, None),  # only a phone
                (None, "+12125550002", "fallback to tel2", None, None, None, None, None, None),
                (None, None, "Nobody", "America/New_York", None, None, None, None, None),  # no phone at all
                ("+12125550004", None, "\u05e9\u05dc\u05d5\u05dd", None, None, None, None, 7, 0.5),
                ("+12125550005", None, "Bad prio", None, None, None, b"\x00\xff", None, None),
                (None, None, None, None, None, None, None, None, None),  # all NULL
            ],
        )
        c.execute("update leads set prio = 'high' where nome = 'Bad prio'")
    monkeypatch.setenv("AIRFLOW_CONN_HOSTILE_DB", f"sqlite://{db}")
    source = SqlSource(
        "hostile_db", "select tel, tel2, nome, fuso, quando, prio, extra, num, ratio from leads", fetch_size=2
    )
    mapping = {
        "phones": ["tel", "tel2"],
        "first_name": "nome",
        "timezone": "fuso",
        "schedule": "quando",
        "priority": "prio",
    }
    leads, rep, errors = prepare(source, tmp_path / "r.jsonl", column_mapping=mapping)
    assert rep.rows == 6
    assert [(lead.row, lead.phone, lead.first_name) for lead in leads] == [
        (1, "+12125550001", None),
        (2, "+12125550002", "fallback to tel2"),
        (4, "+12125550004", "\u05e9\u05dc\u05d5\u05dd"),
    ]
    assert leads[2].data == {"num": 7, "ratio": 0.5} and leads[0].data == {}  # NULL extras are not data
    assert reasons(errors) == {3: "missing_phone", 5: "invalid_field", 6: "missing_phone"}


# --------------------------------------------------------------------------------------------
# Properties: hostile text in every column of a CSV and a JSONL file
# --------------------------------------------------------------------------------------------

hostile_text = st.one_of(
    st.text(max_size=25),
    st.sampled_from(RTL_NAMES[:5] + ["", " ", '"', '""', "\r\n", ",", ";", "|", "\\", "=cmd|' /C calc'!A0", "\ufeff"]),
    st.sampled_from(["+12125550001", "+1 (212) 555-0002", "0800 FLOWERS", "+999999999999999999", "+", "++1212", "1e9"]),
)
COLUMNS = ["phone", "first_name", "timezone", "schedule", "priority", "data", "country", "notes"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    rows=st.lists(st.fixed_dictionaries({}, optional={c: hostile_text for c in COLUMNS}), max_size=8),
    fmt=st.sampled_from(["csv", "jsonl"]),
)
def test_any_hostile_file_conserves_rows(rows: list[dict[str, str]], fmt: str) -> None:
    import csv
    import io

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"leads.{fmt}"
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            path.write_text(buf.getvalue(), encoding="utf-8")
        else:
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        leads, rep, _ = prepare(str(path), Path(tmp) / "r.jsonl", default_region="US")
        if fmt == "jsonl":  # one line per row (a row of only whitespace text is still an object)
            assert rep.rows == len(rows)
        for lead in leads:
            assert lead.phone.startswith("+") and lead.phone[1:].isdigit()


# --------------------------------------------------------------------------------------------
# Hostile prepared leads on the wire
# --------------------------------------------------------------------------------------------


def hostile_leads(tmp_path: Path) -> list[Any]:
    rows = [
        {
            "phones": ["+12125550001", "+12125550009"],
            "first_name": RTL_NAMES[0],
            "last_name": RTL_NAMES[2],
            "email": "\u05d0@example.com",
            "external_id": "EXT:=%1",
            "agent": RTL_NAMES[1],
            "data": {
                "blob": "z" * MB,
                "a:b": "c=d:e%3A",
                "=": ":",
                "rtl": RTL_NAMES[3],
                "n": 7,
                "nested": {"x": ["y:z"]},
            },
            "cf_3": RTL_NAMES[4],
            "priority": 3,
            "timezone": "America/New_York",
        },
        {
            "phones": ["+59899123456"],
            "first_name": RTL_NAMES[4],
            "schedule": "2026-03-07 10:00",
            "timezone": "America/Montevideo",
            "data": {"\u202ekey": "\u202evalue"},
        },
    ]
    leads, rep, _ = prepare(rows, tmp_path / "r.jsonl")
    assert rep.prepared == 2
    return leads


def parse_integra_data(text: str) -> dict[str, str]:
    if not text:
        return {}
    return {unquote(k): unquote(v) for k, _, v in (part.partition("=") for part in text.split(":"))}


def test_wire_mappings_keep_hostile_text_and_serialize(tmp_path: Path) -> None:
    from airflow_provider_dialer.hooks.ucontact.wire import automation_contact, dialer_task_call
    from airflow_provider_dialer.hooks.ujet.wire import ujet_contact
    from airflow_provider_dialer.hooks.voipex.wire import voipex_number
    from airflow_provider_dialer.hooks.xcally.wire import xcally_contact

    first, second = hostile_leads(tmp_path)
    for lead in (first, second):
        wires = {
            "ujet": ujet_contact(lead),
            "xcally": xcally_contact(lead, list_id=12),
            "voipex": voipex_number(lead),
            "automation": automation_contact(lead),
            "automation_fresh": automation_contact(lead, fresh=True),
            "integra": json.loads(
                dialer_task_call(lead, campaign="POWER<-", instance_timezone="America/Montevideo").to_json()
            ),
        }
        back = json.loads(json.dumps(wires, ensure_ascii=False))
        assert back == wires
        assert back["ujet"]["name"] == lead.full_name
        assert back["xcally"]["firstName"] == lead.first_name
        assert back["automation"]["data"] == json.loads(json.dumps(lead.data))
        as_text = {
            k: v
            if isinstance(v, str)
            else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
            if isinstance(v, (dict, list))
            else str(v)
            for k, v in lead.data.items()
        }
        attributes = {a["name"]: a["value"] for a in back["voipex"]["attributes"]}
        assert attributes == {**({"external_id": lead.external_id} if lead.external_id else {}), **as_text}
        assert parse_integra_data(back["integra"]["data"]) == as_text
    assert ujet_contact(first)["external_unique_id"] == "EXT:=%1"
    assert xcally_contact(first, list_id=1)["cf_3"] == RTL_NAMES[4]
    assert len(voipex_number(first)["attributes"][1]["value"]) == MB  # external_id first, then the 1 MB blob
    # the Integra form body round-trips the whole record through urlencoding
    call = dialer_task_call(first, campaign="POWER<-")
    form = parse_qs(urlencode({"call": call.to_json()}), keep_blank_values=True)
    assert json.loads(form["call"][0]) == json.loads(call.to_json())


@settings(max_examples=60, deadline=None)
@given(data=st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=20), max_size=6))
def test_integra_data_escaping_round_trips_colons_equals_and_percent(data: dict[str, str]) -> None:
    from airflow_provider_dialer.hooks.ucontact.wire import render_integra_data

    rendered = render_integra_data(data)
    assert parse_integra_data(rendered) == data
    if data:
        assert rendered.count(":") == len(data) - 1 and rendered.count("=") == len(data)


def test_sql_mapping_naming_a_column_the_query_lacks_is_refused_before_any_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "crm.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("create table leads (tel text, nome text)")
        c.execute("insert into leads values ('+12125550001', 'Ana')")
    monkeypatch.setenv("AIRFLOW_CONN_HOSTILE_DB", f"sqlite://{db}")
    source = SqlSource("hostile_db", "select tel, nome from leads")
    # a misspelled time zone column must not send the lead to be called in the default zone
    result = prepare_leads(
        source,
        column_mapping={"phones": ["tel"], "first_name": "nome", "timezone": "fuso"},
        now=NOW,
        default_timezone="America/New_York",
    )
    with pytest.raises(
        DialerConfigError, match="names 'fuso', which the query result does not have; its columns are: 'tel', 'nome'"
    ):
        list(result)
    assert result.report.prepared == 0
