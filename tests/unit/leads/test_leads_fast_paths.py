"""The fast paths of prepare_leads give exactly what the general ones give.

- de-dup keys in a run: the dict tier, the direct-mapped levels, the spill to SQLite;
- CSV read by position (mapping bound to the header once) versus the same rows as dicts;
- the prepared lead's ``__dict__`` built directly in field order.
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

import airflow_provider_dialer.leads.suppression as suppression
from airflow_provider_dialer.leads import PreparedLead, prepare_leads
from airflow_provider_dialer.leads.sources import CsvSource

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


# -- RunKeys in a run (RunKeys alone: test_run_keys.py) -------------------------------------------
@pytest.mark.parametrize("memory_keys", [0, 1, 7, 23, 10_000])
@pytest.mark.parametrize("chunk_rows", [1, 5, 1000])
@pytest.mark.parametrize("levels", [(), (3,), (5, 3, 2)])
def test_prepare_identical_on_both_sides_of_the_spill(
    monkeypatch, tmp_path: Path, memory_keys: int, chunk_rows: int, levels: tuple[int, ...]
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
    monkeypatch.setattr(suppression, "LEVELS", levels)
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
