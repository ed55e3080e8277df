"""Prepared parts: a generated source prepared once and written as parts, checked against an independent reading.

The oracle reads the CSV with the csv module, normalises phones with phonenumbers directly, reads
the parts and the reject report as plain JSON, and computes calling windows with zoneinfo: none of
it goes through the code under test. Sources mix the spellings of one number (``+1 212 555 0101``,
``2125550101``, ``(212) 555-0101``...), do-not-call numbers in yet another spelling, and garbage.
"""

from __future__ import annotations

import csv
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import prepare_leads
from airflow_provider_dialer.leads.parts import MANIFEST_NAME, part_digest, read_part, write_parts
from airflow_provider_dialer.operators.parts import prepare_parts

UTC = UTC
MAPPING = {"phones": ["tel"], "first_name": "nome", "timezone": "fuso", "external_id": "id"}
ZONES = ["America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Europe/Berlin", "Australia/Lord_Howe"]
#: the default calling window: 08:00-21:00 local, every day
OPEN_FROM, OPEN_UNTIL = 8, 21


def spellings(national: str) -> list[str]:
    """Ways people write one US number."""
    a, b, c = national[:3], national[3:6], national[6:]
    return [f"+1 {a} {b} {c}", national, f"({a}) {b}-{c}", f"+1{national}", f"{a}.{b}.{c}", f"1-{a}-{b}-{c}"]


def generate_source(rnd: random.Random, rows: int) -> tuple[list[dict[str, str]], list[str]]:
    """Rows (with duplicates in other spellings and garbage) and do-not-call entries."""
    pool = [f"212555{n:04d}" for n in rnd.sample(range(100, 9999), k=max(2, rows // 2))]
    dnc = rnd.sample(pool, k=len(pool) // 5)
    out = []
    for i in range(rows):
        roll = rnd.random()
        if roll < 0.1:
            tel = rnd.choice(["", "12", "not a phone", "+999 1", "0000000"])
        else:
            tel = rnd.choice(spellings(rnd.choice(pool)))
        out.append({"id": f"C-{i}", "nome": f"Lead {i}", "tel": tel, "fuso": rnd.choice(ZONES)})
    dnc_entries = [rnd.choice(spellings(n)) for n in dnc]
    return out, dnc_entries


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "nome", "tel", "fuso"])
        writer.writeheader()
        writer.writerows(rows)


def e164(text: str) -> str | None:
    """The oracle's phone: phonenumbers itself, US as the default region."""
    try:
        number = phonenumbers.parse(text, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def open_at(moment: datetime, zone: str) -> bool:
    return OPEN_FROM <= moment.astimezone(ZoneInfo(zone)).hour < OPEN_UNTIL


def plain_parts(directory: Path) -> tuple[dict, list[list[dict]]]:
    """The manifest and every part's leads, read as plain JSON (the header line skipped)."""
    manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    parts = []
    for entry in manifest["parts"]:
        lines = Path(entry["path"]).read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["format"] == "dialer-prepared-part/1"
        parts.append([json.loads(line) for line in lines[1:]])
    return manifest, parts


def check_parts(tmp: Path, rows: list[dict[str, str]], dnc: list[str], now: datetime, how: dict[str, int]) -> None:
    source, out, report = tmp / "leads.csv", tmp / "parts", tmp / "rejects.jsonl"
    write_csv(source, rows)
    entries = prepare_parts(
        str(source),
        str(out),
        column_mapping=MAPPING,
        default_region="US",
        dnc_source=[{"phone": p} for p in dnc],
        reject_report=str(report),
        now=now,
        **how,
    )
    manifest, parts = plain_parts(out)
    assert [e["path"] for e in entries] == [e["path"] for e in manifest["parts"]]

    # read = prepared + rejected, by rows: every source row is in exactly one part or in the report once
    with source.open(newline="", encoding="utf-8") as fh:
        source_rows = list(csv.DictReader(fh))
    rejects = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()]
    rejected_rows = [r["row"] for r in rejects if r["level"] == "error"]
    part_rows = [lead["row"] for part in parts for lead in part]
    assert len(part_rows) == len(set(part_rows)), "a lead is in two parts (or twice in one)"
    assert len(rejected_rows) == len(set(rejected_rows))
    assert not set(part_rows) & set(rejected_rows)
    assert set(part_rows) | set(rejected_rows) == set(range(1, len(source_rows) + 1))
    assert manifest["read"] == len(source_rows) == manifest["prepared"] + manifest["rejected"]
    assert manifest["prepared"] == len(part_rows) and manifest["rejected"] == len(rejected_rows)
    assert [e["leads"] for e in manifest["parts"]] == [len(p) for p in parts]

    # de-dup over the whole source, whatever the spelling: the first row of each callable number, once
    dnc_phones = {e164(p) for p in dnc}
    first_row: dict[str, int] = {}
    for number, row in enumerate(source_rows, start=1):
        phone = e164(row["tel"])
        if phone is not None and phone not in dnc_phones:
            first_row.setdefault(phone, number)
    phones = [lead["phone"] for part in parts for lead in part]
    assert len(phones) == len(set(phones)), "one number (in two spellings) is in two parts"
    assert {lead["phone"]: lead["row"] for part in parts for lead in part} == first_row
    assert not set(phones) & dnc_phones
    for part in parts:
        for lead in part:
            assert e164(source_rows[lead["row"] - 1]["tel"]) == lead["phone"]
            assert lead["external_id"] == source_rows[lead["row"] - 1]["id"]

    # each lead carries its window: call_at is None when the window is open now in all its zones,
    # else the first whole minute... at which it opens in all of them (zoneinfo, not the code's window)
    for part in parts:
        for lead in part:
            zones = lead["window_zones"] or [lead["timezone"]]
            assert lead["timezone"] == source_rows[lead["row"] - 1]["fuso"]
            if lead["call_at"] is None:
                assert all(open_at(now, z) for z in zones), lead
            else:
                at = datetime.fromisoformat(lead["call_at"])
                assert at > now and all(open_at(at, z) for z in zones), lead
                assert not all(open_at(at - timedelta(seconds=1), z) for z in zones), lead

    # the split: sizes as asked, source order within a part
    sizes = [len(p) for p in parts]
    if "parts" in how:
        assert len(parts) == how["parts"] and max(sizes) - min(sizes) <= 1
    else:
        per = how["leads_per_part"]
        assert len(parts) == -(-len(part_rows) // per)
        assert all(size == per for size in sizes[:-1]) and all(0 < size <= per for size in sizes[-1:])
    for part in parts:
        assert [lead["row"] for lead in part] == sorted(lead["row"] for lead in part)

    # the union of the parts is what one preparation of the source hands on, field for field
    once = prepare_leads(
        str(source), column_mapping=MAPPING, default_region="US", do_not_call=[{"phone": p} for p in dnc], now=now
    )
    expected = sorted((lead.model_dump(mode="json") for lead in once), key=lambda d: d["row"])
    read_back = sorted((lead.model_dump(mode="json") for e in entries for lead in read_part(e)), key=lambda d: d["row"])
    assert read_back == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(0, 60),
    split=st.one_of(
        st.builds(lambda n: {"parts": n}, st.integers(1, 7)),
        st.builds(lambda n: {"leads_per_part": n}, st.integers(1, 9)),
    ),
    minutes=st.integers(0, 7 * 24 * 60),
)
def test_generated_sources_prepared_once_and_split(tmp_path_factory, seed, rows, split, minutes) -> None:
    rnd = random.Random(seed)
    source_rows, dnc = generate_source(rnd, rows)
    now = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=minutes)
    check_parts(tmp_path_factory.mktemp("parts"), source_rows, dnc, now, split)


def test_one_number_in_two_spellings_is_one_lead_across_parts(tmp_path) -> None:
    rows = [
        {"id": "A", "nome": "A", "tel": "+1 212 555 0101", "fuso": "America/New_York"},
        {"id": "B", "nome": "B", "tel": "+1 212 555 0102", "fuso": "America/New_York"},
        {"id": "C", "nome": "C", "tel": "2125550101", "fuso": "America/New_York"},
    ]
    check_parts(tmp_path, rows, [], datetime(2026, 3, 2, 15, tzinfo=UTC), {"parts": 3})
    manifest, parts = plain_parts(tmp_path / "parts")
    assert [len(p) for p in parts] == [1, 1, 0] and manifest["rejected_by_reason"] == {"duplicate_phone": 1}


def test_a_retried_prepare_reuses_the_manifest_and_prepares_nothing(tmp_path) -> None:
    rows = [{"id": f"C{i}", "nome": "x", "tel": f"212555{i:04d}", "fuso": "America/New_York"} for i in range(100, 110)]
    write_csv(tmp_path / "leads.csv", rows)
    now = datetime(2026, 3, 2, 15, tzinfo=UTC)
    first = prepare_parts(
        str(tmp_path / "leads.csv"), str(tmp_path / "p"), parts=3, column_mapping=MAPPING, default_region="US", now=now
    )
    (tmp_path / "leads.csv").write_text("not,the,same\n")  # a second read would see another source
    again = prepare_parts(
        str(tmp_path / "leads.csv"),
        str(tmp_path / "p"),
        parts=3,
        column_mapping=MAPPING,
        default_region="US",
        now=now + timedelta(hours=1),
    )
    assert again == first


def test_a_manifest_cut_short_is_prepared_again(tmp_path) -> None:
    rows = [{"id": f"C{i}", "nome": "x", "tel": f"212555{i:04d}", "fuso": "America/New_York"} for i in range(100, 104)]
    write_csv(tmp_path / "leads.csv", rows)
    out = tmp_path / "p"
    first = prepare_parts(str(tmp_path / "leads.csv"), str(out), parts=2, column_mapping=MAPPING, default_region="US")
    (out / MANIFEST_NAME).write_text('{"format": "dialer-prepared-parts/1", "par')
    again = prepare_parts(str(tmp_path / "leads.csv"), str(out), parts=2, column_mapping=MAPPING, default_region="US")
    assert [e["leads"] for e in again] == [e["leads"] for e in first] == [2, 2]


def test_a_changed_part_is_refused_by_its_digest(tmp_path) -> None:
    rows = [{"id": f"C{i}", "nome": "x", "tel": f"212555{i:04d}", "fuso": "America/New_York"} for i in range(100, 104)]
    write_csv(tmp_path / "leads.csv", rows)
    entry = prepare_parts(
        str(tmp_path / "leads.csv"), str(tmp_path / "p"), parts=1, column_mapping=MAPPING, default_region="US"
    )[0]
    assert part_digest(entry) == entry["sha256"]
    path = Path(entry["path"])
    path.write_text(path.read_text().replace("+12125550101", "+12125550109"))
    with pytest.raises(DialerConfigError, match="changed since its manifest") as info:
        part_digest(entry)
    assert "2125550109" not in str(info.value)


def test_a_damaged_line_names_the_line_and_no_phone(tmp_path) -> None:
    rows = [{"id": "A", "nome": "x", "tel": "2125550101", "fuso": "America/New_York"}]
    write_csv(tmp_path / "leads.csv", rows)
    entry = prepare_parts(
        str(tmp_path / "leads.csv"), str(tmp_path / "p"), parts=1, column_mapping=MAPPING, default_region="US"
    )[0]
    path = Path(entry["path"])
    path.write_text(path.read_text().replace('"timezone":"America/New_York"', '"timezone":null'))
    with pytest.raises(DialerConfigError, match="line 2 is not a prepared lead") as info:
        list(read_part({"path": entry["path"]}))
    assert "0101" not in str(info.value)


def test_object_storage_destination(tmp_path) -> None:
    from airflow.sdk import ObjectStoragePath

    rows = [{"id": f"C{i}", "nome": "x", "tel": f"212555{i:04d}", "fuso": "America/New_York"} for i in range(100, 107)]
    write_csv(tmp_path / "leads.csv", rows)
    destination = ObjectStoragePath(f"file://{tmp_path}/store/run-1")
    entries = prepare_parts(
        str(tmp_path / "leads.csv"), destination, leads_per_part=3, column_mapping=MAPPING, default_region="US"
    )
    assert [e["leads"] for e in entries] == [3, 3, 1]
    assert all(e["path"].startswith("file://") for e in entries)
    assert sorted(lead.row for e in entries for lead in read_part(e)) == list(range(1, 8))
    assert (tmp_path / "store" / "run-1" / MANIFEST_NAME).exists()


def test_split_is_asked_for_once() -> None:
    with pytest.raises(DialerConfigError, match="either parts"):
        write_parts(None, "/nowhere", parts=2, leads_per_part=3)
    with pytest.raises(DialerConfigError, match="at least 1"):
        write_parts(None, "/nowhere", parts=0)
