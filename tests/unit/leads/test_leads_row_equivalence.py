"""The cheaper per-row path of preparation makes exactly what the previous one made.

The reference is the row builder as it was before its per-row cost was cut, kept verbatim in
``frozen_rows.py``. Every generated source (CSV files and in-memory rows; header shapes, column
mappings, phone separators, number forms of many regions, countries, zones, schedules, windows,
policies, length limits, do-not-call lists, bad rows) goes through ``prepare_leads`` twice, once
with the current ``RowBuilder`` and once with the frozen one, on each phone library installed;
the prepared leads (values and field order), the report and the reject file must be the same.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import random
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import airflow_provider_dialer.leads.phones as phones_module
import airflow_provider_dialer.leads.run as run_module
from airflow_provider_dialer.leads import CallingWindow, ColumnMapping, Lead, prepare_leads
from airflow_provider_dialer.leads.phone_backend import BACKEND_ENV
from airflow_provider_dialer.leads.row_builder import RowBuilder
from airflow_provider_dialer.leads.sources import CsvSource


def _load_frozen() -> ModuleType:
    path = Path(__file__).with_name("frozen_rows.py")
    spec = importlib.util.spec_from_file_location("frozen_rows_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass-free, but typing's forward references look modules up
    spec.loader.exec_module(module)
    return module


FROZEN = _load_frozen()
BACKENDS = ["phonenumbers"] + (["rphonenumbers"] if importlib.util.find_spec("rphonenumbers") else [])

# -- what cells hold ------------------------------------------------------------------------------
PHONES = [
    "+1 212 555-0134",
    "+12125550187",
    "(415) 555-0199",  # national: needs a country
    "415 555 0100",
    "+1 709 555 1234",  # two zones
    "+1 800 555 0199",  # toll free: country-level zones
    "+598 99 123 456",
    "099 123 456",
    "+55 11 98765-4321",
    "+55 61 3333-4444",
    "+61 4 1234 5678",
    "+61 2 6563 2000",  # Lord Howe
    "+52 55 1234 5678",
    "+91 98123 45678",
    "+34 612 345 678",
    "+39 06 1234 5678",  # Italian leading zero
    "+7 495 123-45-67",
    "+44 20 7946 0018",
    "+54 9 11 5123-4567",
    "+1 212 055 1234",  # invalid for its country
    "+598 1",
    "not a phone",
    "12;4",
    "+",
    "9" * 70,
    " +598 99 123 457 ",
    "+1 212 555 0134 ext 12",
    "+1 212 555 0134|+598 99 123 456",
    "+1 212 555 0188;;+1 212 555 0189",
    "+1 212 555 0101/+1 212 555 0102",  # a third separator when the mapping has one
    "+1 212 555 0103, +1 212 555 0104",
    "",
]
# numbers with fresh digits, so a list holds many distinct ones (national forms among them)
TEMPLATES = [
    "+1 212 {3}-{4}",
    "(415) {3}-{4}",
    "+1 709 {3} {4}",
    "+1 {3} {3} {4}",
    "+598 9{1} {3} {3}",
    "+55 {2} 9{4}-{4}",
    "+61 4{2} {3} {3}",
    "+61 {1} {4} {4}",
    "+52 {2} {4} {4}",
    "+91 9{4}{5}",
    "+34 6{2} {3} {3}",
    "+7 9{2} {3}-{2}-{2}",
    "+54 9 11 {4}-{4}",
    "{3} {3} {4}",
]


def phone(rng: random.Random) -> str:
    """A phone cell: one of ``PHONES``, or a template's form with random digits."""
    if rng.random() < 0.3:
        return rng.choice(PHONES)
    template = rng.choice(TEMPLATES)
    return template.format(*("".join(rng.choice("0123456789") for _ in range(k)) for k in range(6)))


COUNTRIES = ["", "US", "us", " br ", "UY", "XX", "IT", "AU", "GB", "ES", "1"]
ZONES = ["", "America/Sao_Paulo", "america/new_york", "Mars/Olympus", "UTC", "Europe/Kiev", "Asia/Kolkata", " "]
SCHEDULES = [
    "",
    "2026-03-10 09:00:00",
    "2026-03-08 02:30:00",  # inside New York's DST gap
    "2026-11-01 01:30:00",  # inside New York's DST overlap
    "2026-03-10T15:00:00Z",
    "2026-03-10T23:00:00+05:30",
    "2026-03-05 10:00",  # before now
    "tomorrow-ish",
    "2026-03-12",
    " 2026-03-12 23:30:00 ",
    "2027-01-01 12:00:00",
    "9999-12-31 23:59:59",
]
NAMES = ["Ana", "", "  ", "Zoë", "Chloé", "line\nbreak", "tab\there", "x" * 30, "O'Neil", "nul\x00"]
PRIORITIES = ["", "3", "3.0", "abc", "1e12", "-2", " 7 "]
IDS = ["", "L1", "L2", "L1", "ａｂｃ", "id\u200b", "Cafe\u0301", "Café", " L3 "]
OUTBOUND = ["", "", "", "+1 212 555 0100", "garbage"]
PAYLOADS = ["", "", '{"a": 1}', "[1]", "not json", "{"]
WINDOWS: list[Any] = [
    None,
    CallingWindow.always(),
    CallingWindow(weekly={"mon-fri": "09:00-20:00", "sat": "10:00-14:00", "sun": None}),
    CallingWindow(start="02:30", end="03:30", holidays=["2026-03-11"]),
    CallingWindow(weekly={"mon-sun": ["00:00-01:00", "23:00-24:00"]}, horizon_days=2),
]
NOWS = [
    datetime(2026, 3, 6, 12, 0, tzinfo=UTC),
    datetime(2026, 3, 8, 6, 45, tzinfo=UTC),  # New York's DST change
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
    datetime(2026, 3, 10, 15, 0, tzinfo=UTC),
]

# a source's columns: (header name, what it holds, mapping field); several mappings name them
COLUMNS = {
    "id": IDS,
    "tel": PHONES,
    "tel2": PHONES,
    "nome": NAMES,
    "sobrenome": NAMES,
    "email": ["", "a@example.com", "bad\nmail"],
    "pais": COUNTRIES,
    "fuso": ZONES,
    "agendar": SCHEDULES,
    "prio": PRIORITIES,
    "caller": OUTBOUND,
    "agente": ["", "agent7", " "],
    "payload": PAYLOADS,
    "mensagem": ["", " hello ", "two\nlines", "  "],
    "modelo": ["", "tpl_1 ", " "],
    "assunto": ["", " Re: offer", "x" * 20],
    "cf_9": ["", "v", "long value"],
    "extra": ["", "x", "y y"],
    "segment": ["", "gold", "silver"],
}


def mapping_for(rng: random.Random, header: list[str]) -> ColumnMapping:
    """A column mapping over (some of) ``header``'s columns, with separators and custom fields varied."""
    present = set(header)
    kw: dict[str, Any] = {
        "phones": [c for c in ("tel", "tel2") if c in present] or ["tel"],
        "phone_separators": rng.choice(["|;", "", ";", "|;/,", "|"]),
        "unmapped_to_data": rng.random() < 0.8,
        "custom_field_prefix": rng.choice(["cf_", None]),
    }
    for name, column in (
        ("external_id", "id"),
        ("first_name", "nome"),
        ("last_name", "sobrenome"),
        ("country", "pais"),
        ("timezone", "fuso"),
        ("schedule", "agendar"),
        ("priority", "prio"),
        ("outbound_number", "caller"),
        ("agent", "agente"),
        ("data", "payload"),
        ("content", "mensagem"),
        ("template", "modelo"),
        ("subject", "assunto"),
    ):
        if column in present and rng.random() < 0.85:
            kw[name] = column.upper() if rng.random() < 0.15 else column  # matched case-insensitively too
    if "extra" in present and rng.random() < 0.4:
        kw["custom_fields"] = {"cf_1": "extra"}
    return ColumnMapping(**kw)


def options_for(rng: random.Random) -> dict[str, Any]:
    return {
        "default_region": rng.choice([None, "US", "BR", "UY"]),
        "default_timezone": rng.choice([None, "America/Montevideo", "Asia/Kolkata", "America/St_Johns"]),
        "calling_window": rng.choice(WINDOWS),
        "outside_window": rng.choice(["defer", "reject"]),
        "past_schedule": rng.choice(["send_now", "reject"]),
        "dedupe_by": rng.choice([("phone", "external_id"), ("phone",), ()]),
        "external_id_ignore_case": rng.random() < 0.3,
        "field_limits": rng.choice([None, {"first_name": 5, "custom_fields": 4, "email": 12, "data": 3}]),
        "do_not_call": rng.choice([None, ["+12125550187", "+59899123456", "+55 11 98765-4321"]]),
        "now": rng.choice(NOWS),
        "chunk_rows": rng.choice([1, 7, 1000]),
    }


# cells a clean list holds: a column's values that make no reject
CLEAN = {
    "id": ["", "L1", "ａｂｃ", "Café"],
    "nome": ["Ana", "", "Zoë", "Chloé", "O'Neil"],
    "sobrenome": ["Silva", "", "Müller"],
    "email": ["", "a@example.com"],
    "pais": ["", "US", "us", " br ", "UY", "AU", "ES"],
    "fuso": ["", "", "America/Sao_Paulo", "america/new_york", "UTC", "Europe/Kiev", "Asia/Kolkata"],
    "agendar": ["", "", "", "2026-03-10 09:00:00", "2026-03-08 02:30:00", "2026-03-10T15:00:00Z", "2026-03-12"],
    "prio": ["", "3", "3.0", " 7 "],
}


def csv_file(rng: random.Random, path: Path, rows: int, bad: float = 1.0) -> list[str]:
    """A CSV of ``rows`` generated leads (some short, long or unbalanced rows among them); its header.

    ``bad`` is the share of rows whose cells may hold anything; the others hold ``CLEAN`` values.
    """
    header = ["tel"] + [c for c in COLUMNS if c != "tel" and rng.random() < 0.7]
    rng.shuffle(header)
    if rng.random() < 0.15:
        header.append(rng.choice(header))  # a repeated name: CsvSource makes it unique
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for _ in range(rows):
            roll = rng.random()
            pools = COLUMNS if rng.random() < bad else {**COLUMNS, **CLEAN}
            cells = [phone(rng) if name.startswith("tel") else rng.choice(pools.get(name, [""])) for name in header]
            if roll < 0.04 * bad:
                cells = cells[: rng.randrange(len(cells))]  # a short row
            elif roll < 0.07 * bad:
                cells += ["", "overflow"]  # more fields than the header
            writer.writerow(cells)
            if roll > 1 - 0.01 * bad:
                f.write('"unbalanced,' + "\n")
    return header


def dict_rows(rng: random.Random, rows: int) -> list[Any]:
    """In-memory rows: dicts whose values are not all text (numbers, lists, containers), and ``Lead``s."""
    out: list[Any] = []
    for _ in range(rows):
        row: dict[str, Any] = {name: rng.choice(values) for name, values in COLUMNS.items() if rng.random() < 0.7}
        row["tel"] = phone(rng)
        roll = rng.random()
        if roll < 0.1:
            row["tel"] = rng.choice([5511987654321, 12125550134.0, 2125550134, True, None, 1.5])
        elif roll < 0.2:
            row["tel"] = [phone(rng), phone(rng), None, ""]
        elif roll < 0.25:
            row[rng.choice(["nome", "id", "pais", "prio", "caller", "email"])] = rng.choice(
                [{"a": 1}, [1], 3, 4.0, float("nan"), b"bytes", False]
            )
        elif roll < 0.28:
            row["fuso"] = rng.choice([3, None])
        elif roll < 0.31:
            row["agendar"] = rng.choice([datetime(2026, 3, 9, 10, 0), datetime(2026, 3, 9, 10, 0, tzinfo=UTC), 7])
        elif roll < 0.33:
            row["payload"] = {"k": "v", "n": 1}
        if roll > 0.95:
            out.append(
                Lead(
                    phones=[rng.choice(PHONES), rng.choice(PHONES)],
                    first_name=rng.choice(["Ana", "line\nbreak", None]),
                    external_id=rng.choice(["L1", None]),
                    country=rng.choice(["US", None, "XX"]),
                    timezone=rng.choice([None, "Asia/Kolkata", "Nowhere/City"]),
                    schedule=rng.choice([None, "2026-03-12 10:00:00"]),
                    custom_fields={"cf_2": "z"},
                )
            )
        elif roll > 0.93:
            out.append(rng.choice(["not an object", 42, None]))
        else:
            out.append(row)
    return out


# -- running both builders ------------------------------------------------------------------------
@contextmanager
def builder(cls: type, backend: str) -> Iterator[None]:
    """Runs built in this block use ``cls`` as their row builder and ``backend`` for phones."""
    with mock.patch.object(run_module, "RowBuilder", cls), mock.patch.dict(os.environ, {BACKEND_ENV: backend}):
        yield


def outcome(source: Callable[[], Any], reject_report: Path, **kw: Any) -> tuple[Any, ...]:
    """Everything a run hands on: the leads (values and field order), the report, the reject file."""
    result = prepare_leads(source(), reject_report=str(reject_report), **kw)
    leads = [(tuple(lead.__dict__), lead.model_dump()) for lead in result]
    report = result.report.to_dict()
    report.pop("report_path")
    return leads, report, reject_report.read_text(encoding="utf-8")


def assert_same(source: Callable[[], Any], tmp: Path, backend: str, **kw: Any) -> tuple[Any, ...]:
    with builder(RowBuilder, backend):
        new = outcome(source, tmp / "new.csv", **kw)
    with builder(FROZEN.RowBuilder, backend):
        old = outcome(source, tmp / "old.csv", **kw)
    assert new[1] == old[1], "the report differs"
    for got, want in zip(new[0], old[0], strict=False):
        assert got == want, f"row {want[1]['row']}: the prepared lead differs"
    assert len(new[0]) == len(old[0])
    assert new[2] == old[2], "the reject file differs"
    return new


# -- the tests ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 30), bad=st.sampled_from([0.0, 0.2, 1.0]))
def test_csv_sources_prepare_as_before(tmp_path: Path, backend: str, seed: int, rows: int, bad: float) -> None:
    rng = random.Random(seed)
    path = tmp_path / f"leads-{seed}.csv"
    header = csv_file(rng, path, rows, bad)
    mapping = mapping_for(rng, header)
    kw = options_for(rng)
    try:
        mapping.check_columns(header, "generated")
    except Exception:
        return  # a mapping the header cannot serve stops both runs before any row (not the row path)
    assert_same(lambda: CsvSource(path), tmp_path, backend, column_mapping=mapping, **kw)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 30))
def test_in_memory_rows_prepare_as_before(tmp_path: Path, backend: str, seed: int, rows: int) -> None:
    rng = random.Random(seed)
    items = dict_rows(rng, rows)
    mapping = mapping_for(rng, list(COLUMNS))
    assert_same(lambda: list(items), tmp_path, backend, column_mapping=mapping, **options_for(rng))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_larger_seeded_list_with_small_caches_prepares_as_before(tmp_path: Path, backend: str) -> None:
    """Thousands of rows, so numbers, zones and windows repeat; the zone memo bounded to a few entries
    so it is cleared again and again on the way (a cache must never change an answer)."""
    rng = random.Random(18)
    path = tmp_path / "leads.csv"
    header = csv_file(rng, path, 3000, bad=0.1)
    mapping = ColumnMapping(
        phones=["tel", "tel2"] if "tel2" in header else ["tel"],
        **{f: c for f, c in (("country", "pais"), ("timezone", "fuso"), ("schedule", "agendar")) if c in header},
    )
    with mock.patch.object(phones_module, "ZONE_MEMO_SIZE", 5):
        leads, report, _ = assert_same(
            lambda: CsvSource(path),
            tmp_path,
            backend,
            column_mapping=mapping,
            default_timezone="America/Montevideo",
            now=NOWS[0],
        )
    # the comparison covered real work: many leads, with inferred and own zones, and every kind of reject
    assert len(leads) > 1000 and report["rejected"] > 300, report["counts"]
    assert len({lead[1]["timezone"] for lead in leads}) > 5
    assert {"invalid_phone", "duplicate_phone"} <= set(report["counts"])
