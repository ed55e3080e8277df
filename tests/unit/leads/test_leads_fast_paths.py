"""The fast paths of prepare_leads give exactly what the general ones give.

- de-dup keys: the dict tier, the compact tier, the spill to SQLite, and lookups across them;
- CSV read by position (mapping bound to the header once) versus the same rows as dicts;
- the prepared lead's ``__dict__`` built directly in field order.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airflow_provider_dialer.leads.suppression as suppression
from airflow_provider_dialer.leads import PreparedLead, prepare_leads
from airflow_provider_dialer.leads.sources import CsvSource
from airflow_provider_dialer.leads.suppression import RunKeys

UTC = UTC
NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)


def outcome(source, **kw):
    """Everything a run produces: the leads (with their field order), the report, the reject file."""
    kw.setdefault("now", NOW)
    result = prepare_leads(source, **kw)
    leads = [(tuple(lead.__dict__), lead.model_dump()) for lead in result]
    report = result.report.to_dict()
    report.pop("report_path")
    path = kw.get("reject_report")
    return leads, report, Path(path).read_text(encoding="utf-8") if path else None


# -- RunKeys: dict tier, compact tier, SQLite spill ----------------------------------------------
def test_run_keys_tiers_first_row_wins() -> None:
    # 3 keys in the dict, then 2**2 slots filled to 75% (3 keys), then SQLite
    keys = RunKeys(memory_keys=3, compact_bits=2)
    try:
        keys.add("phone", [(10, 1), (11, 2)])
        assert keys.compact["phone"] is None and keys._db is None  # nothing allocated before the dict fills
        # one chunk straddling the boundary: 12 fills the dict, 13 and 14 go to the compact tier
        keys.add("phone", [(12, 3), (10, 99), (13, 4), (14, 5), (13, 98)])
        assert len(keys.memory["phone"]) == 3 and keys.compact["phone"].count == 2 and not keys.spilled["phone"]
        keys.add("phone", [(15, 6), (16, 7), (11, 97), (14, 96)])  # 15 fills the compact tier, 16 spills
        assert keys.compact["phone"].count == 3 and keys.spilled["phone"]
        assert keys.found("phone", [10, 11, 12, 13, 14, 15, 16, 17, 13]) == {
            10: 1,
            11: 2,
            12: 3,
            13: 4,
            14: 5,
            15: 6,
            16: 7,
        }
        keys.add("phone", [(13, 95), (16, 94), (17, 8)])
        assert keys.memory["phone"] == {10: 1, 11: 2, 12: 3}
        assert keys.found("phone", [17, 16, 13, 18]) == {17: 8, 16: 7, 13: 4}
        # the other tables are independent
        assert keys.found("external_id", ["a"]) == {} and keys.compact["external_id"] is None
        keys.add("external_id", [("a", 1), ("b", 2), ("c", 3), ("d", 4), ("é", 5), ("f", 6), ("g", 7), ("d", 8)])
        assert keys.found("external_id", ["d", "a", "x", "g", "é"]) == {"d": 4, "a": 1, "g": 7, "é": 5}
    finally:
        keys.close()


def test_run_keys_without_compact_tier_zero_memory_and_big_memory() -> None:
    for memory_keys, compact_bits, spills in ((0, 0, True), (1, 0, True), (0, 3, False), (10_000, 20, False)):
        keys = RunKeys(memory_keys=memory_keys, compact_bits=compact_bits)
        try:
            keys.add("dnc", [(5, 1), (5, 2), (6, 3)])
            assert keys.spilled["dnc"] is spills
            assert keys.found("dnc", [5, 6, 7]) == {5: 1, 6: 3}
        finally:
            keys.close()


def test_run_keys_close_removes_the_scratch_files(tmp_path: Path) -> None:
    """External ids written to the scratch file (and the SQLite spill) leave nothing on disk after close."""
    keys = RunKeys(directory=str(tmp_path), memory_keys=0, compact_bits=1)
    keys.add("external_id", [("crm-1", 1), ("crm-2", 2), ("crm-3", 3)])
    keys.add("phone", [(12125550100, 1), (12125550101, 2), (12125550102, 3)])
    [scratch] = list(tmp_path.iterdir())
    assert {p.name for p in scratch.iterdir()} == {"external_ids.bin", "keys.sqlite"}
    assert keys.found("external_id", ["crm-1", "crm-3", "crm-4"]) == {"crm-1": 1, "crm-3": 3}  # reads the file back
    assert b"crm-1" in (scratch / "external_ids.bin").read_bytes()
    keys.close()
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    memory_keys=st.integers(0, 6),
    compact_bits=st.sampled_from([0, 1, 2, 3, 4]),
    batches=st.lists(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 10**6)), max_size=12), max_size=12),
    collide=st.booleans(),
)
def test_run_keys_match_a_plain_dict(monkeypatch, memory_keys: int, compact_bits: int, batches, collide: bool) -> None:
    """Whatever the tier sizes, RunKeys answers as one dict where the first row wins; text keys too,
    also when every text key hashes alike (slots then hold different ids with equal hashes)."""
    if collide:
        monkeypatch.setattr(suppression, "_hash", lambda key: 7)
    keys = RunKeys(memory_keys=memory_keys, compact_bits=compact_bits)
    model: dict[Any, int] = {}
    try:
        for batch in batches:
            texts = [(f"id-{k}" if k % 3 else f"ïd {k}", row) for k, row in batch]
            assert keys.found("phone", [k for k, _ in batch]) == {k: model[k] for k, _ in batch if k in model}
            assert keys.found("external_id", [t for t, _ in texts]) == {t: model[t] for t, _ in texts if t in model}
            keys.add("phone", batch)
            keys.add("external_id", texts)
            for k, row in [*batch, *texts]:
                model.setdefault(k, row)
        probe = list(range(45))
        assert keys.found("phone", probe) == {k: model[k] for k in probe if k in model}
        texts = [f"id-{k}" if k % 3 else f"ïd {k}" for k in probe]
        assert keys.found("external_id", texts) == {t: model[t] for t in texts if t in model}
    finally:
        keys.close()


def test_every_valid_phone_key_fits_the_compact_tier() -> None:
    """The phone key is the E.164 digits as an int64: the longest numbers phonenumbers can call valid still fit."""
    import phonenumbers
    from phonenumbers.phonemetadata import PhoneMetadata

    metadata = [PhoneMetadata.metadata_for_region(r) for r in phonenumbers.SUPPORTED_REGIONS]
    metadata += [PhoneMetadata.metadata_for_nongeo_region(cc) for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS]
    largest = max(int(f"{m.country_code}{'9' * max(m.general_desc.possible_length)}") for m in metadata)
    assert largest < 2**63
    keys = RunKeys(memory_keys=0)
    try:
        keys.add("phone", [(largest, 1)])
        assert keys.compact["phone"].count == 1 and keys.found("phone", [largest]) == {largest: 1}
    finally:
        keys.close()


@pytest.mark.parametrize("memory_keys", [0, 1, 7, 23, 10_000])
@pytest.mark.parametrize("chunk_rows", [1, 5, 1000])
@pytest.mark.parametrize("compact_bits", [0, 3])
def test_prepare_identical_on_both_sides_of_the_spill(
    monkeypatch, tmp_path: Path, memory_keys: int, chunk_rows: int, compact_bits: int
) -> None:
    rng = random.Random(memory_keys * 31 + chunk_rows)
    pool = [f"+5989912{i:04d}" for i in range(40)]
    rows = [
        {
            "phone": rng.choice(pool),
            "phone2": rng.choice(pool + [""] * 3),
            "external_id": rng.choice([f"e{i}", f"e{rng.randrange(60)}", ""]),
        }
        for i in range(120)
    ]
    kw = dict(
        column_mapping={"phones": ["phone", "phone2"]},
        default_timezone="America/Montevideo",
        chunk_rows=chunk_rows,
        do_not_call=[pool[3], pool[17], pool[29]],
    )
    monkeypatch.setattr(suppression, "MEMORY_KEYS", 1_000_000)
    expected = outcome(rows, reject_report=str(tmp_path / "a.csv"), **kw)
    monkeypatch.setattr(suppression, "MEMORY_KEYS", memory_keys)
    monkeypatch.setattr(suppression, "COMPACT_BITS", compact_bits)
    assert outcome(rows, reject_report=str(tmp_path / "b.csv"), **kw) == expected
    assert expected[1]["counts"]["duplicate_phone"] > 0 and expected[1]["counts"]["duplicate_external_id"] > 0
    assert expected[1]["counts"]["do_not_call"] > 0


# -- CSV by position ------------------------------------------------------------------------------
def _messy_csv(path: Path, n: int = 400) -> None:
    rng = random.Random(5)
    phones = [
        "+12125550100",
        "(415) 555-0199",
        "+598 94 123 456",
        "099 123 456",
        "not",
        "",
        "+34 612 345 678|+34 699 111 222",
        "+1 709 555 1234; 709 555 9999",
        "+44 20 7946 0958",
    ]
    # duplicate header names, a case variant, a data column, a custom-field column, an unmapped column
    header = ["ID", "tel", "Tel2", "nome", "pais", "fuso", "agendar", "cf_x", "data", "prio", "tel", "extra"]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in range(n):
            more = [
                f"+1 212 {rng.randint(200, 999)} {rng.randint(1000, 9999)}",
                f"+598 9{rng.randint(1000000, 9999999)}",
            ]
            row = [
                rng.choice([f"E{i}", f"E{rng.randrange(n)}", "", " x "]),
                rng.choice(phones + more),
                rng.choice(phones + more + [""] * 4),
                rng.choice(["Ana", " ", ""]),
                rng.choice(["US", "uy", "", "XX", "es"]),
                rng.choice(["", "America/New_York", "europe/madrid", "Mars/X"]),
                rng.choice(["", "2026-03-10 02:00:00", "2026-03-12T10:00:00Z", "bad", "2026-03-01"]),
                rng.choice(["", "v"]),
                rng.choice(["", '{"a": 1}', "[1]", "  ", "{bad"]),
                rng.choice(["", "3", "3.5", "x"]),
                rng.choice(phones + more),
                rng.choice(["", "e"]),
            ]
            cut = rng.random()
            if cut < 0.08:
                row = row[: rng.randrange(1, len(row))]  # short row: fewer keys, bound on its own
            elif cut < 0.12:
                row = row + (["", " "] if rng.random() < 0.5 else ["zz"])  # blank extras are dropped, others a bad row
            w.writerow(row)


class _DictRowsCsv(CsvSource):
    """A CsvSource that prepare_leads reads through ``rows()``, one dict per row."""


@pytest.mark.parametrize(
    "mapping",
    [
        {
            "phones": ["tel", "tel2"],
            "external_id": "id",
            "first_name": "nome",
            "country": "pais",
            "timezone": "fuso",
            "schedule": "agendar",
            "priority": "prio",
        },
        {"phones": ["tel", "Tel2"], "external_id": "ID", "country": "pais", "data": "data", "unmapped_to_data": False},
        {"phones": "TEL", "custom_fields": {"cf_1": "extra"}, "custom_field_prefix": None, "phone_separators": ""},
    ],
)
def test_csv_by_position_equals_csv_as_dicts(tmp_path: Path, mapping: dict) -> None:
    path = tmp_path / "messy.csv"
    _messy_csv(path)
    kw = dict(column_mapping=mapping, default_region="UY", default_timezone="America/Montevideo", chunk_rows=37)
    fast = outcome(CsvSource(path), reject_report=str(tmp_path / "fast.csv"), **kw)
    # the same file through the general path: rows() yields a dict per row (only CsvSource itself is read by position)
    general = outcome(_DictRowsCsv(path), reject_report=str(tmp_path / "general.csv"), **kw)
    assert fast == general
    assert fast[1]["prepared"] > 10 and fast[1]["rejected"] > 10


def test_csv_header_only_and_empty_file(tmp_path: Path) -> None:
    for text in ("", "phone,first_name\n", "\n\n"):
        path = tmp_path / "f.csv"
        path.write_text(text, encoding="utf-8")
        result = prepare_leads(CsvSource(path), now=NOW, default_timezone="UTC")
        assert list(result) == [] and result.report.rows == 0 and result.report.complete


def test_lead_dict_in_model_field_order(tmp_path: Path) -> None:
    path = tmp_path / "one.csv"
    path.write_text("phone,first_name,data\n+59899123456,Ana,\n", encoding="utf-8")
    for source in (CsvSource(path), [{"phone": "+59899123456", "first_name": "Ana"}]):
        (lead,) = list(prepare_leads(source, now=NOW))
        assert tuple(lead.__dict__) == tuple(PreparedLead.model_fields)
        assert lead == PreparedLead.model_validate(lead.model_dump())
