"""prepare_leads: mapping, rejects with exact reasons, de-dup, DNC, reports, ratio, chunks, and properties."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from airflow_provider_dialer.exceptions import DialerConfigError, DialerUsageError, DialerValueError
from airflow_provider_dialer.leads import (
    CallingWindow,
    ColumnMapping,
    Lead,
    PreparedLead,
    RejectRatioExceededError,
    check_source,
    prepare_leads,
)

UTC = UTC
NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # 10:00 New York, 12:00 Montevideo, 20:30 Kolkata


def run(source, **kw):
    kw.setdefault("now", NOW)
    result = prepare_leads(source, **kw)
    leads = list(result)
    return leads, result.report


def test_column_mapping_tel_nome_fuso() -> None:
    rows = [
        {
            "tel": "099 123 456",
            "tel2": "+59899123457",
            "nome": "Ana",
            "fuso": "America/Montevideo",
            "cf_12": "gold",
            "seg": "x",
        }
    ]
    leads, report = run(
        rows,
        column_mapping=ColumnMapping(phones=["tel", "tel2"], first_name="nome", timezone="fuso"),
        default_region="UY",
    )
    assert report.to_dict()["counts"] == {}
    assert leads == [
        PreparedLead(
            row=1,
            phone="+59899123456",
            alternatives=("+59899123457",),
            first_name="Ana",
            timezone="America/Montevideo",
            data={"seg": "x"},
            custom_fields={"cf_12": "gold"},
        )
    ]


def test_mapping_from_dict_case_insensitive_and_several_numbers_in_one_cell() -> None:
    rows = [{"TEL": "+59899123456|+59899123457; +59899123458", "EXTERNAL_ID": 42, "PRIORITY": "3.0"}]
    leads, _ = run(rows, column_mapping={"phones": "tel", "unmapped_to_data": False})
    assert leads[0].alternatives == ("+59899123457", "+59899123458")
    assert (leads[0].external_id, leads[0].priority) == ("42", 3)


def test_fast_construction_equals_validated_model() -> None:
    leads, _ = run(
        [{"phone": "+59899123456", "first_name": " Ana ", "data": '{"k": 1}', "schedule": "2026-03-09 10:00"}]
    )
    lead = leads[0]
    again = PreparedLead.model_validate(lead.model_dump())
    assert lead == again and lead.model_dump() == again.model_dump()
    assert lead.first_name == "Ana" and lead.data == {"k": 1}
    assert lead.call_at == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert lead.local_call_at().isoformat() == "2026-03-09T10:00:00-03:00"
    with pytest.raises(ValidationError):
        lead.phone = "x"  # frozen


def test_lead_objects_are_accepted() -> None:
    leads, _ = run([Lead(phones=["+919812345678"], external_id="a1", custom_fields={"cf_1": "v"})])
    assert leads[0].external_id == "a1" and leads[0].timezone == "Asia/Kolkata"
    # 20:30 in Kolkata: inside the window, callable now
    assert leads[0].call_at is None


def test_every_reject_reason_with_row_field_and_masked_value() -> None:
    rows = [
        {"phone": "+59899123456", "external_id": "A"},  # 1 ok
        {"phone": "12345"},  # 2 invalid_phone (no region)
        {"first_name": "no phone"},  # 3 missing_phone
        {"phone": "+59899123457", "timezone": "Mars/Olympus"},  # 4 unknown_timezone
        {"phone": "+59899123458", "schedule": "next tuesday"},  # 5 bad_schedule
        {"phone": "+59899123456"},  # 6 duplicate_phone
        {"phone": "+59899123459", "external_id": "A"},  # 7 duplicate_external_id
        "not an object",  # 8 bad_row
        {"phone": "+59899123460", "priority": "high"},  # 9 invalid_field
        {"phone": "+59899123461", "country": "ZZ"},  # 10 invalid_field (country)
    ]
    leads, report = run(rows)
    assert [lead.row for lead in leads] == [1]
    got = [(r.row, r.reason, r.field, r.value, r.detail) for r in report.samples]
    assert got == [
        (
            2,
            "invalid_phone",
            "phones[0]",
            "*2345",
            "no country: not in +<country code> form and no default region or country column",
        ),
        (3, "missing_phone", "phones", None, "no phone number"),
        (4, "unknown_timezone", "timezone", "Mars/Olympus", "not an IANA time zone name"),
        (5, "bad_schedule", "schedule", "next tuesday", "not ISO 8601 or 'yyyy-MM-dd HH:mm:ss'"),
        (6, "duplicate_phone", "phones[0]", "********3456", "same phone as row 1"),
        (7, "duplicate_external_id", "external_id", "A", "same external_id as row 1"),
        (8, "bad_row", None, "not an object", "not an object (str)"),
        (9, "invalid_field", "priority", "high", "not an integer"),
        (10, "invalid_field", "country", "ZZ", "not an ISO 3166 country code phonenumbers knows"),
    ]
    assert dict(report.counts) == {
        "invalid_phone": 1,
        "missing_phone": 1,
        "unknown_timezone": 1,
        "bad_schedule": 1,
        "duplicate_phone": 1,
        "duplicate_external_id": 1,
        "bad_row": 1,
        "invalid_field": 2,
    }
    assert (report.rows, report.prepared, report.rejected) == (10, 1, 9)


def test_invalid_alternative_is_a_warning_and_lead_survives() -> None:
    leads, report = run([{"phones": ["+59899123456", "+5981", "+59899123456", "+59899123457"]}])
    assert leads[0].alternatives == ("+59899123457",)  # invalid dropped, repeat of primary dropped
    assert dict(report.warnings) == {"invalid_alternative": 1}
    assert report.rejected == 0
    w = report.samples[0]
    assert (w.row, w.level, w.field, w.value) == (1, "warning", "phones[1]", "*5981")
    report.check_ratio(0)  # warnings do not count


def test_dedupe_across_chunks_first_wins() -> None:
    rows = [{"phone": f"+5989912{i % 7:04d}"} for i in range(30)]
    leads, report = run(rows, chunk_rows=4)
    assert [lead.row for lead in leads] == [1, 2, 3, 4, 5, 6, 7]
    assert report.counts["duplicate_phone"] == 23
    assert report.samples[0].detail == "same phone as row 1"
    leads, report = run(rows, chunk_rows=4, dedupe_by=())
    assert len(leads) == 30


def test_do_not_call_from_list_and_csv(tmp_path: Path) -> None:
    dnc_csv = tmp_path / "dnc.csv"
    dnc_csv.write_text("phone,country\n099 123 457,UY\nnot-a-phone,UY\n", encoding="utf-8")
    rows = [
        {"phone": "+59899123456"},
        {"phone": "+59899123457"},
        {"phones": ["+59899123458", "+59899123459"]},
    ]
    leads, report = run(rows, do_not_call=["+59899123456", "+598 99 123 459"])
    assert [lead.row for lead in leads] == [2, 3]
    assert leads[1].alternatives == ()
    assert dict(report.counts) == {"do_not_call": 1} and dict(report.warnings) == {"do_not_call_alternative": 1}
    leads, report = run(rows, do_not_call=str(dnc_csv))
    assert [lead.row for lead in leads] == [1, 3]
    assert (report.dnc_entries, report.dnc_invalid) == (2, 1)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_reject_report_is_written(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"rejects.{fmt}"
    rows = [{"phone": "+59899123456"}, {"phone": "+598991"}, [1], {"phones": ["+59899123457", "bad"]}]
    _, report = run(rows, reject_report=target)
    text = target.read_text(encoding="utf-8")
    if fmt == "csv":
        got = list(csv.DictReader(text.splitlines()))
    else:
        got = [json.loads(line) for line in text.splitlines()]
    assert [(g["row"], g["reason"], g["level"], g["value"]) for g in got] == [
        (2 if fmt == "jsonl" else "2", "invalid_phone", "error", "***8991"),
        (3 if fmt == "jsonl" else "3", "bad_row", "error", "[1]"),
        (4 if fmt == "jsonl" else "4", "invalid_alternative", "warning", "***"),
    ]
    assert report.report_path == str(target)


def test_empty_report_still_written_and_object_storage_target(tmp_path: Path) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/out/rejects.csv")
    (tmp_path / "out").mkdir()
    run([{"phone": "+59899123456"}], reject_report=target)
    assert (tmp_path / "out" / "rejects.csv").read_bytes() == b"row,level,reason,field,value,external_id,detail\r\n"


def test_check_ratio() -> None:
    _, report = run([{"phone": "+59899123456"}, {"phone": "x"}, {"phone": "y"}, {"phone": "+59899123457"}])
    report.check_ratio(0.5)
    with pytest.raises(RejectRatioExceededError) as err:
        report.check_ratio(0.25)
    assert str(err.value) == "2 of 4 lead rows rejected (50.00%), above max_reject_ratio=0.25: invalid_phone=2"
    with pytest.raises(RejectRatioExceededError):
        report.check_ratio()


def test_check_ratio_before_iteration_and_single_use() -> None:
    result = prepare_leads([{"phone": "+59899123456"}], now=NOW)
    with pytest.raises(DialerUsageError, match="whole run"):
        result.report.check_ratio()
    assert [len(c) for c in result.chunks(10)] == [1]
    with pytest.raises(DialerUsageError, match="once"):
        list(result)


def test_chunks_sizes() -> None:
    result = prepare_leads([{"phone": f"+5989912{i:04d}"} for i in range(25)], now=NOW)
    assert [len(c) for c in result.chunks(10)] == [10, 10, 5]
    assert result.report.complete and result.report.prepared == 25


def test_window_policies_and_past_schedule() -> None:
    late = datetime(2026, 3, 7, 1, 0, tzinfo=UTC)  # 22:00 Montevideo
    rows = [{"phone": "+59899123456"}, {"phone": "+59899123457", "schedule": "2026-03-01 10:00"}]
    leads, _ = run(rows, now=late)
    assert [lead.call_at for lead in leads] == [datetime(2026, 3, 7, 11, 0, tzinfo=UTC)] * 2
    leads, report = run(rows, now=late, outside_window="reject", past_schedule="reject")
    assert leads == []
    assert [(r.reason, r.value) for r in report.samples] == [
        ("outside_window", "2026-03-07T01:00:00+00:00"),
        ("schedule_in_past", "2026-03-01 10:00"),
    ]
    leads, _ = run(rows, now=late, calling_window=CallingWindow.always())
    assert [lead.call_at for lead in leads] == [None, None]


def test_release_at_for_vendors_without_per_lead_time() -> None:
    window = CallingWindow()
    leads, _ = run([{"phone": "+59899123456"}, {"phone": "+59899123457", "schedule": "2026-03-09 09:30"}])
    assert leads[0].release_at(NOW, window) is None
    assert leads[1].release_at(NOW, window) == datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
    # later the same day, after 21:00 Montevideo: held until 08:00 next morning
    assert leads[0].release_at(datetime(2026, 3, 7, 0, 30, tzinfo=UTC), window) == datetime(
        2026, 3, 7, 11, 0, tzinfo=UTC
    )


def test_config_errors_are_raised_eagerly() -> None:
    with pytest.raises(DialerConfigError, match="default_region"):
        prepare_leads([], default_region="XX")
    with pytest.raises(DialerConfigError, match="default_timezone"):
        prepare_leads([], default_timezone="Nowhere/Land")
    with pytest.raises(DialerConfigError, match="outside_window"):
        prepare_leads([], outside_window="skip")  # type: ignore[arg-type]
    with pytest.raises(DialerConfigError, match="aware"):
        prepare_leads([], now=datetime(2026, 1, 1))
    with pytest.raises(DialerConfigError, match="ColumnMapping"):
        prepare_leads([], column_mapping={"telefono": "x"})


def test_unknown_zone_without_default_is_rejected_not_guessed() -> None:
    # +800 is the international freephone code: a valid number with no zone at all
    leads, report = run([{"phone": "+800 1234 5678"}])
    assert leads == []
    assert [(r.reason, r.field) for r in report.samples] == [("unknown_timezone", "timezone")]
    leads, _ = run([{"phone": "+800 1234 5678"}], default_timezone="Europe/Madrid")
    assert (leads[0].timezone, leads[0].window_zones) == ("Europe/Madrid", ())


def test_package_import_is_cheap() -> None:
    code = (
        "import sys, airflow_provider_dialer.leads as l; "
        "heavy = [m for m in ('phonenumbers', 'airflow', 'pydantic', 'pendulum') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[3]
    )
    assert out.stdout.strip() == "[]"


# -- properties --------------------------------------------------------------------------------
cell = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=15), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.sampled_from(
        [
            "+59899123456",
            "+1 709 555 1234",
            "099 123 456",
            "+91 98123 45678",
            "2026-03-08 02:30",
            "America/St_Johns",
            "UY",
            "US",
            "cf_1",
        ]
    ),
)
keys = st.sampled_from(
    [
        "phone",
        "phones",
        "timezone",
        "schedule",
        "country",
        "external_id",
        "priority",
        "first_name",
        "data",
        "cf_1",
        "outbound_number",
        "x",
    ]
)
rows = st.lists(st.one_of(st.dictionaries(keys, cell, max_size=8), cell), max_size=12)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, region=st.sampled_from([None, "UY"]), tz=st.sampled_from([None, "America/Montevideo"]))
def test_preparation_never_raises_and_every_row_is_accounted(rows: list, region: str | None, tz: str | None) -> None:
    result = prepare_leads(rows, default_region=region, default_timezone=tz, now=NOW)
    leads = list(result)
    report = result.report
    assert report.prepared == len(leads)
    assert report.prepared + report.rejected == report.rows == len(rows)
    assert not [r for r in report.samples if r.detail.startswith("unexpected error")]
    window = CallingWindow()
    for lead in leads:
        assert window.is_open(lead.call_at or NOW, lead.zones)


@settings(max_examples=150, deadline=None)
@given(
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    schedule=st.one_of(st.none(), st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31))),
    phone=st.sampled_from(
        ["+59899123456", "+17095551234", "+61265632000", "+919812345678", "+12125551234", "+61412345678"]
    ),
)
def test_prepared_time_is_inside_window_in_all_zones(at: datetime, schedule: datetime | None, phone: str) -> None:
    window = CallingWindow(weekly={"mon-fri": "09:00-20:00", "sat": "10:00-14:00", "sun": None})
    result = prepare_leads(
        [{"phone": phone, "schedule": schedule}], calling_window=window, now=at, default_timezone="UTC"
    )
    leads = list(result)
    if not leads:
        assert [r.reason for r in result.report.samples] == ["outside_window"]
        return
    lead = leads[0]
    moment = lead.call_at or at
    assert moment >= at - timedelta(0)
    assert window.is_open(moment, lead.zones)


def test_mapping_is_a_deprecated_spelling_of_column_mapping(tmp_path: Path) -> None:
    rows = [{"tel": "+12125550100", "nome": "Ana"}, {"tel": "+12125550101", "nome": "Bo"}]
    spec = {"phones": "tel", "first_name": "nome"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns about nothing
        wanted = [lead.model_dump() for lead in prepare_leads(rows, column_mapping=spec, now=NOW)]
    with pytest.warns(DeprecationWarning, match=r"column_mapping="):
        got = [lead.model_dump() for lead in prepare_leads(rows, mapping=spec, now=NOW)]
    assert got == wanted and [lead["first_name"] for lead in got] == ["Ana", "Bo"]
    with pytest.raises(DialerConfigError, match="column_mapping only"):
        prepare_leads(rows, column_mapping=spec, mapping=spec)
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("tel,nome\n+12125550100,Ana\n", encoding="utf-8")
    with pytest.warns(DeprecationWarning), pytest.raises(DialerConfigError, match="fone"):
        check_source(str(csv_file), mapping={"phones": "fone"})
    with pytest.raises(DialerConfigError, match="fone"):
        check_source(str(csv_file), column_mapping={"phones": "fone"})


def test_misuse_raises_family_members_that_are_still_the_builtins() -> None:
    result = prepare_leads([{"phone": "+59899123456"}], now=NOW)
    with pytest.raises(DialerValueError, match="at least 1, got 0") as bad_size:
        next(result.chunks(0))
    assert isinstance(bad_size.value, ValueError) and isinstance(bad_size.value, DialerConfigError)
    with pytest.raises(DialerUsageError) as early:
        result.report.check_ratio()
    assert isinstance(early.value, RuntimeError)
    # a lead whose zone never opens within the horizon (every day closed) must not be sent
    leads, _ = run([{"phone": "+59899123456"}], calling_window=CallingWindow.always())
    closed = CallingWindow(weekly={"mon-sun": None}, horizon_days=3)
    with pytest.raises(DialerValueError, match="no calling window opens") as never:
        leads[0].release_at(NOW + timedelta(days=1), closed)
    assert isinstance(never.value, ValueError)
