"""The reject report is safe to open, and external ids that look the same are one id."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads import prepare_leads
from airflow_provider_dialer.leads.report import Reject, RejectWriter

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(st.text(st.sampled_from(list("=+-@\t\r\n\"',;ab1 ")), max_size=8), min_size=4, max_size=4))
def test_no_csv_report_cell_starts_like_a_formula_and_the_text_is_kept(tmp_path_factory, cells: list[str]) -> None:
    path = tmp_path_factory.mktemp("r") / "rejects.csv"
    writer = RejectWriter(str(path))
    reject = Reject(7, "invalid_field", cells[0], cells[1], cells[2], cells[3])
    writer.write(reject)
    writer.close()
    with open(path, newline="", encoding="utf-8") as f:
        header, row = list(csv.reader(f))
    for name, cell in zip(header, row, strict=True):
        assert not cell.startswith(FORMULA_STARTS), (name, cell)
        original = getattr(reject, name)
        original = "" if original is None else str(original)
        # the apostrophe is the only change, and only where a formula could start
        assert cell == ("'" + original if original.startswith(FORMULA_STARTS) else original)


def test_a_hostile_file_gives_a_report_with_no_live_formula(tmp_path: Path) -> None:
    f = tmp_path / "evil.csv"
    f.write_text(
        "phone,first_name,timezone,priority\n"
        '=HYPERLINK("http://x";"y"),a,UTC,1\n'
        "+12125550001,b,@SUM(A1),1\n"
        "+12125550002,c,UTC,-cmd|' /C calc'!A0\n"
        '+12125550003,d,"\tEurope/Nowhere",1\n',
        encoding="utf-8",
    )
    report = tmp_path / "r.csv"
    result = prepare_leads(str(f), now=NOW, default_timezone="America/New_York", reject_report=str(report))
    result.consume()
    assert result.report.rejected == 4
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4
    assert all(not v.startswith(FORMULA_STARTS) for r in rows for v in r.values())
    assert [r["value"][:2] for r in rows] == ["**", "'@", "'-", "'\t"]  # the phone cell is masked first


def test_bad_row_previews_mask_phone_numbers(tmp_path: Path) -> None:
    f = tmp_path / "wide.csv"
    f.write_text("phone,first_name\n+12125550001,Ana,+1 212 555 0002,+59899123456\n", encoding="utf-8")
    j = tmp_path / "bad.jsonl"
    j.write_text('{"phone": "+12125550003", "first_name": \n[ "+12125550004" ]\n', encoding="utf-8")
    for source in (f, j):
        report = tmp_path / "r.jsonl"
        result = prepare_leads(str(source), now=NOW, default_timezone="America/New_York", reject_report=str(report))
        result.consume()
        text = report.read_text(encoding="utf-8")
        rejects = [json.loads(line) for line in text.splitlines()]
        assert rejects and all(r["reason"] == "bad_row" for r in rejects)
        assert not re.search(r"\d{5}", text.replace("\\", "")), text  # no run of five digits: every phone masked
        assert all(r["value"] and "*" in r["value"] for r in rejects)


def test_external_ids_differing_only_in_form_zero_width_or_spaces_are_one_id() -> None:
    nfc = "Jos\u00e9-1"
    rows = [
        {"phone": "+12125550001", "external_id": nfc},
        {"phone": "+12125550002", "external_id": unicodedata.normalize("NFD", nfc)},
        {"phone": "+12125550003", "external_id": "\u200bJos\u00e9-1\u200d"},
        {"phone": "+12125550004", "external_id": "\u00a0Jos\u00e9-1\u3000"},
        {"phone": "+12125550005", "external_id": "\ufeffJOS\u00c9-1"},  # case differs: another id by default
        {"phone": "+12125550006", "external_id": "\u200b"},  # nothing left: no id
    ]
    result = prepare_leads(rows, now=NOW, default_timezone="America/New_York")
    leads = list(result)
    assert [(lead.row, lead.external_id) for lead in leads] == [(1, nfc), (5, "JOS\u00c9-1"), (6, None)]
    assert result.report.counts == {"duplicate_external_id": 3}
    folded = prepare_leads(rows, now=NOW, default_timezone="America/New_York", external_id_ignore_case=True)
    assert [lead.row for lead in folded] == [1, 6] and folded.report.counts == {"duplicate_external_id": 4}


@settings(max_examples=150, deadline=None)
@given(
    base=st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp", "Cf")), min_size=1, max_size=6
    ),
    noise=st.lists(
        st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", " ", "\u00a0", "\t"]), max_size=3
    ),
)
def test_any_id_and_its_disguises_are_one_id(base: str, noise: list[str]) -> None:
    nfd = unicodedata.normalize("NFD", base)
    disguised = "".join(noise) + nfd + "".join(reversed(noise))
    rows = [{"phone": "+12125550001", "external_id": base}, {"phone": "+12125550002", "external_id": disguised}]
    result = prepare_leads(rows, now=NOW, default_timezone="America/New_York")
    leads = list(result)
    expected = unicodedata.normalize("NFC", base).strip()
    if not expected:
        return
    assert [lead.external_id for lead in leads] == [expected], (base, disguised)
    assert result.report.counts == {"duplicate_external_id": 1}
