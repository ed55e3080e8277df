"""Every source record is accounted for, whatever the file: a generator of hostile CSV and JSON Lines
files against a reference reader written here, independently of ``leads/sources.py``.

The reference splits the text into physical lines (CR, LF, CRLF), walks them with its own CSV state
machine (the non-strict rules of Python's csv dialect: a quote opens a quoted cell only at the start
of a cell, ``""`` is a quote inside one), and applies the documented bounds: a record still open
after ``max_record_lines`` lines, past ``max_record_size`` characters or at the end of the file has
its first line rejected and reading resumes on the next line; a record holding a NUL or an
over-long line is one rejected record. The invariant: records counted by the reference ==
``report.rows`` == prepared + rejected, for every generated file and encoding.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads import CsvSource, JsonLinesSource, prepare_leads

NOW = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
MAX_LINES = 4
MAX_SIZE = 300
_BREAK = re.compile(r"\r\n|\r|\n")


# --------------------------------------------------------------------------------------------
# the reference reader
# --------------------------------------------------------------------------------------------


def physical_lines(text: str) -> list[str]:
    """Lines with their endings, split at CR, LF and CRLF only."""
    out, pos = [], 0
    for m in _BREAK.finditer(text):
        out.append(text[pos : m.end()])
        pos = m.end()
    if pos < len(text):
        out.append(text[pos:])
    return out


class RefCsv:
    """A CSV record reader over a list of lines; ``feed`` returns the finished record's cells or None."""

    def __init__(self, delimiter: str = ",", quote: str = '"') -> None:
        self.d, self.q = delimiter, quote
        self.reset()

    def reset(self) -> None:
        self.state, self.cells, self.cell = "record", [], ""

    def _end_cell(self) -> None:
        self.cells.append(self.cell)
        self.cell = ""

    def feed(self, line: str) -> list[str] | None:
        for c in line:
            s = self.state
            if s == "record":
                if c in "\r\n":
                    self.state = "eat"
                    continue
                s = self.state = "cell"
            if s == "cell":
                if c in "\r\n":
                    self._end_cell()
                    self.state = "eat"
                elif c == self.q:
                    self.state = "quoted"
                elif c == self.d:
                    self._end_cell()
                else:
                    self.cell += c
                    self.state = "plain"
            elif s == "plain":
                if c in "\r\n":
                    self._end_cell()
                    self.state = "eat"
                elif c == self.d:
                    self._end_cell()
                    self.state = "cell"
                else:
                    self.cell += c
            elif s == "quoted":
                if c == self.q:
                    self.state = "quote_in_quoted"
                else:
                    self.cell += c
            elif s == "quote_in_quoted":
                if c == self.q:
                    self.cell += c
                    self.state = "quoted"
                elif c == self.d:
                    self._end_cell()
                    self.state = "cell"
                elif c in "\r\n":
                    self._end_cell()
                    self.state = "eat"
                else:
                    self.cell += c
                    self.state = "plain"
            elif s == "eat":
                assert c in "\r\n"
        # end of the line: the record ends unless a quoted cell is open
        if self.state == "quoted":
            return None
        if self.state in ("cell", "plain", "quote_in_quoted"):
            self._end_cell()
        cells = self.cells
        self.reset()
        return cells


def line_problem(line: str, max_size: int) -> bool:
    body = line.rstrip("\r\n")
    return "\x00" in line or len(body) > max_size


def ref_csv_count(
    text: str, *, delimiter: str = ",", max_lines: int = MAX_LINES, max_size: int = MAX_SIZE
) -> tuple[int, list[str] | None]:
    """(records after the header, the header's cells) by the documented rules."""
    lines = physical_lines(text)
    problem = [line_problem(x, max_size) for x in lines]
    lines = ["\n" if len(x.rstrip("\r\n")) > max_size else x for x in lines]  # over-long lines are not held
    header: list[str] | None = None
    count, start = 0, 0
    while start < len(lines):
        ref = RefCsv(delimiter)
        i, size, done = start, 0, None
        runaway = False
        while True:
            if i == len(lines):
                runaway = i > start  # still open at the end of the file
                break
            if i > start and (i - start >= max_lines or size + len(lines[i]) > max_size):
                runaway = True
                break
            size = len(lines[i]) if i == start else size + len(lines[i])
            done = ref.feed(lines[i])
            i += 1
            if done is not None:
                break
        if runaway:
            assert header is not None, "the generator writes a clean header"
            count += 1
            start += 1
            continue
        assert done is not None
        bad = any(problem[start:i])
        blank = not done or (len(done) == 1 and not done[0].strip())
        start = i
        if bad:
            assert header is not None
            count += 1
        elif blank:
            continue
        elif header is None:
            header = done
        else:
            count += 1
    return count, header


def ref_jsonl_count(text: str, max_size: int = MAX_SIZE) -> int:
    return sum(1 for x in physical_lines(text) if line_problem(x, max_size) or x.strip())


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------

_CELL_CHARS = st.sampled_from(list("abcXYZ 019+-,;\"'é ñ中=@\t") + ["\r", "\n", "\r\n", "\x00", "\u200b", "\u2028"])
cell_text = st.lists(_CELL_CHARS, max_size=12).map("".join)
phone = st.integers(0, 9999).map(lambda i: f"+1212555{i:04d}")
ENDINGS = ["\n", "\r\n", "\r"]


@st.composite
def csv_text(draw: Any) -> tuple[str, str]:
    """A hostile CSV file as text, and the kind of header it has (``ok``, ``no_phone``, ``none``)."""
    header_kind = draw(st.sampled_from(["ok"] * 8 + ["no_phone", "none"]))
    columns = draw(
        st.sampled_from(
            [["phone", "first_name", "notes"], ["first_name", "phone", "phone", "external_id"], ["PHONE", "notes"]]
        )
    )
    ending = draw(st.sampled_from(ENDINGS + ["mixed"]))

    def end() -> str:
        return draw(st.sampled_from(ENDINGS)) if ending == "mixed" else ending

    def record(cells: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(cells)
        return buf.getvalue() + end()

    out = []
    if header_kind == "ok":
        out.append(record(columns))
    elif header_kind == "no_phone":
        out.append(record([("tel" if c.lower() == "phone" else c) for c in columns]))
    else:  # no header: the first line is a lead
        out.append(record([draw(phone) if c.lower() == "phone" else "Ana" for c in columns]))
    for kind in draw(
        st.lists(
            st.sampled_from(["good", "good", "good", "multiline", "blank", "stray", "nul", "long", "garbage", "wide"]),
            max_size=25,
        )
    ):
        if kind == "good":
            out.append(record([draw(phone) if c.lower() == "phone" else draw(cell_text) for c in columns]))
        elif kind == "multiline":
            out.append(
                record(
                    [draw(phone) if c.lower() == "phone" else draw(cell_text) + "\n" + draw(cell_text) for c in columns]
                )
            )
        elif kind == "blank":
            out.append(draw(st.sampled_from(["", " ", "\t"])) + end())
        elif kind == "stray":  # one unbalanced quote at the start of a cell
            out.append(f'{draw(phone)},"{draw(cell_text).replace(chr(34), "")},x{end()}')
        elif kind == "nul":
            out.append(f"{draw(phone)},a\x00b{end()}")
        elif kind == "long":
            out.append(f"{draw(phone)},{'z' * (MAX_SIZE * 2)}{end()}")
        elif kind == "wide":
            out.append(",".join([draw(phone)] + ["w"] * 6) + end())
        else:
            out.append(draw(st.lists(_CELL_CHARS, max_size=40).map("".join)) + end())
    return "".join(out), header_kind


ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "utf-32-le",
    "utf-32-be",
    "cp1252",
    "mixed",
]


def encode(text: str, encoding: str) -> bytes | None:
    """``text`` in ``encoding`` (``utf-16``/``utf-32`` carry a byte-order mark, ``-le``/``-be`` none);
    ``mixed``: lines holding é alternate UTF-8 and cp1252. ``None`` when not encodable."""
    try:
        if encoding != "mixed":
            return text.encode(encoding)
        parts, flip = [], False
        for line in physical_lines(text):
            if "é" in line and line.strip():
                flip = not flip
                parts.append(line.encode("cp1252" if flip else "utf-8"))
            else:
                parts.append(line.encode("utf-8"))
        return b"".join(parts)
    except UnicodeEncodeError:
        return None


def run(path: Path, source: Any, report: Path) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    result = prepare_leads(source, now=NOW, default_timezone="America/New_York", reject_report=str(report))
    leads = list(result)
    rep = result.report
    rejects = [json.loads(x) for x in report.read_text(encoding="utf-8").splitlines() if x.strip()]
    errors = [r for r in rejects if r["level"] == "error"]
    assert rep.rows == rep.prepared + rep.rejected == len(leads) + len(errors)
    assert sorted([lead.row for lead in leads] + [r["row"] for r in errors]) == list(range(1, rep.rows + 1))
    for lead in leads:  # nothing a stray quote or a NUL made reaches a lead's name
        for value in (lead.first_name, lead.last_name):
            assert value is None or not ({"\r", "\n", "\x00"} & set(value)), lead
    for r in errors:
        if r["reason"] in ("bad_row", "malformed_record") and r["value"]:
            assert not re.search(r"\d{7}", r["value"]), r  # previews mask phones
    return rep, leads, errors


class _RowsCsv(CsvSource):
    """A subclass: ``prepare_leads`` reads it through ``rows()``, not the CSV fast path."""


def expected_refusal(data: bytes, encoding: str) -> str | None:
    """The configuration error a file must raise for its bytes alone, if any."""
    head = data[:65536]
    if encoding in ("utf-8", "cp1252", "mixed") and head and head.count(0) / len(head) >= 0.1:
        return "cannot tell the encoding"
    return None


def may_refuse(text: str, encoding: str) -> bool:
    """Whether a UTF-16/32 file without a byte-order mark may be refused as unreadable: its own text is
    NUL-heavy (NUL characters, not bytes), so nothing tells it from a wide encoding of other text."""
    if not encoding.endswith(("-le", "-be")):
        return False
    head = text[: 65536 // (2 if encoding.startswith("utf-16") else 4)]
    return bool(head) and head.count("\x00") >= 0.1 * len(head)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(generated=csv_text(), encoding=st.sampled_from(ENCODINGS))
def test_every_csv_record_is_prepared_or_rejected(generated: tuple[str, str], encoding: str) -> None:
    text, header_kind = generated
    data = encode(text, encoding)
    if data is None:
        return
    expected, header = ref_csv_count(text)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.csv"
        path.write_bytes(data)
        source = CsvSource(path, delimiter=",", max_record_lines=MAX_LINES, max_record_size=MAX_SIZE)
        refusal = expected_refusal(data, encoding)
        try:
            rep, leads, errors = run(path, source, Path(tmp) / "r.jsonl")
        except DialerConfigError as exc:
            message = str(exc)
            if refusal is not None and refusal in message:
                return
            if may_refuse(text, encoding) and "cannot tell the encoding" in message:
                return
            if encoding == "mixed" and "mixes encodings" in message:
                return
            if header_kind == "no_phone":
                assert "'phones or phone'" in message, message
                return
            if header_kind == "none":
                assert "looks like a lead, not a header" in message, message
                assert not re.search(r"\d{7}", message), message  # the phone in the message is masked
                return
            raise
        assert refusal is None, "a file that cannot be read was read"
        assert header_kind == "ok", f"a {header_kind} header was taken: {header}"
        assert rep.rows == expected, (rep, expected, errors[:5])
        # the CSV fast path and rows() (what a subclass goes through) give the same leads and rejects
        slow_rep, slow_leads, slow_errors = run(
            path,
            _RowsCsv(path, delimiter=",", max_record_lines=MAX_LINES, max_record_size=MAX_SIZE),
            Path(tmp) / "r2.jsonl",
        )
        assert slow_leads == leads
        assert [(r["row"], r["reason"], r["field"]) for r in slow_errors] == [
            (r["row"], r["reason"], r["field"]) for r in errors
        ]


@st.composite
def jsonl_text(draw: Any) -> str:
    ending = draw(st.sampled_from(ENDINGS + ["mixed"]))
    out = []
    for kind in draw(
        st.lists(st.sampled_from(["good", "good", "blank", "garbage", "nul", "long", "array"]), max_size=25)
    ):
        end = draw(st.sampled_from(ENDINGS)) if ending == "mixed" else ending
        if kind == "good":
            out.append(
                json.dumps({"phone": draw(phone), "first_name": draw(cell_text)}, ensure_ascii=draw(st.booleans()))
            )
        elif kind == "blank":
            out.append(draw(st.sampled_from(["", "  ", "\t"])))
        elif kind == "garbage":
            out.append(draw(st.lists(_CELL_CHARS.filter(lambda c: c not in "\r\n\r\n"), max_size=30).map("".join)))
        elif kind == "nul":
            out.append('{"phone": "+12125550001", "first_name": "a\x00b"}')
        elif kind == "long":
            out.append(json.dumps({"phone": draw(phone), "notes": "z" * MAX_SIZE * 2}))
        else:
            out.append("[1, 2]")
        out.append(end)
    return "".join(out)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=jsonl_text(), encoding=st.sampled_from(ENCODINGS))
@example(text="é\n", encoding="utf-16-le")  # half ASCII without a BOM: was "cannot tell the encoding" (found in CI)
def test_every_jsonl_record_is_prepared_or_rejected(text: str, encoding: str) -> None:
    data = encode(text, encoding)
    if data is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.jsonl"
        path.write_bytes(data)
        refusal = expected_refusal(data, encoding)
        try:
            rep, _, _ = run(path, JsonLinesSource(path, max_record_size=MAX_SIZE), Path(tmp) / "r.jsonl")
        except DialerConfigError as exc:
            if (refusal and refusal in str(exc)) or (encoding == "mixed" and "mixes encodings" in str(exc)):
                return
            if may_refuse(text, encoding) and "cannot tell the encoding" in str(exc):
                return
            raise
        assert refusal is None
        assert rep.rows == ref_jsonl_count(text)


def test_the_reference_reader_agrees_with_python_csv_on_well_formed_files() -> None:
    # the reference is only trusted because it reads what csv.writer writes as csv.reader does
    rows = [["+12125550001", 'a "quoted"\r\nname', ""], ["x,y", "\r", "é"], ["", "", ""]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    lines = physical_lines(buf.getvalue())
    ref, got = RefCsv(), []
    for line in lines:
        done = ref.feed(line)
        if done is not None:
            got.append(done)
    assert got == list(csv.reader(io.StringIO(buf.getvalue(), newline=""))) == rows


# --------------------------------------------------------------------------------------------
# the cases of the issue, one by one
# --------------------------------------------------------------------------------------------


def prepared(path: Path, tmp_path: Path, **kw: Any) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    return run(path, kw.pop("source", None) or str(path), tmp_path / "r.jsonl")


def test_bare_cr_line_endings_are_lines(tmp_path: Path) -> None:
    f = tmp_path / "mac.csv"
    f.write_bytes(b"phone,first_name\r+12125550001,Ana\r+12125550002,Bo\r")
    rep, leads, _ = prepared(f, tmp_path)
    assert [(lead.row, lead.first_name) for lead in leads] == [(1, "Ana"), (2, "Bo")]


def test_one_unbalanced_quote_loses_one_line_not_the_file(tmp_path: Path) -> None:
    body = "".join(f"+1212555{i:04d},Lead {i}\n" for i in range(1, 300))
    f = tmp_path / "stray.csv"
    f.write_text('phone,first_name\n+12125559999,"Ana\n' + body, encoding="utf-8")
    rep, leads, errors = prepared(f, tmp_path)
    assert [r["reason"] for r in errors] == ["malformed_record"] and errors[0]["row"] == 1
    assert "lines 2-101" in errors[0]["detail"] and "reading resumes at line 3" in errors[0]["detail"]
    assert [lead.first_name for lead in leads] == [f"Lead {i}" for i in range(1, 300)]
    assert "9999" in errors[0]["value"] and "+12125559999" not in errors[0]["value"]


def test_an_unbalanced_quote_near_the_end_is_not_a_lead_holding_the_rest(tmp_path: Path) -> None:
    f = tmp_path / "stray_end.csv"
    f.write_text(
        'phone,first_name\n+12125550001,Ana\n+12125550002,"Bo\n+12125550003,Cy\n+12125550004,Dee\n', encoding="utf-8"
    )
    rep, leads, errors = prepared(f, tmp_path)
    assert [lead.first_name for lead in leads] == ["Ana", "Cy", "Dee"]
    assert [(r["row"], r["reason"]) for r in errors] == [(2, "malformed_record")]
    assert "still open at the end of the file (lines 3-5)" in errors[0]["detail"]


def test_two_stray_quotes_within_the_bound_make_a_rejected_name_not_a_lead(tmp_path: Path) -> None:
    # the quotes pair up, so CSV reads one record over three lines; its name holds other rows
    f = tmp_path / "pair.csv"
    f.write_text(
        'phone,first_name,last_name\n+12125550001,"Ana,x\n+12125550002,Bo,y\n+12125550003,Cy",z\n', encoding="utf-8"
    )
    rep, leads, errors = prepared(f, tmp_path)
    assert leads == [] and [(r["reason"], r["field"]) for r in errors] == [("invalid_field", "first_name")]
    assert "+12125550002" not in errors[0]["value"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_without_byte_order_mark_are_detected(tmp_path: Path, codec: str) -> None:
    f = tmp_path / "wide.csv"
    f.write_bytes("phone,first_name\r\n+12125550001,Begoña\r\n+12125550002,中文\r\n".encode(codec))
    rep, leads, _ = prepared(f, tmp_path)
    assert [lead.first_name for lead in leads] == ["Begoña", "中文"]


def test_an_encoding_that_cannot_be_told_is_refused_before_any_row(tmp_path: Path) -> None:
    f = tmp_path / "binary.csv"
    f.write_bytes(b"\x00\xd8" * 1000)  # lone surrogates as UTF-16 LE, "Ø" as BE, past U+10FFFF as UTF-32
    with pytest.raises(DialerConfigError, match="cannot tell the encoding"):
        prepare_leads(str(f), now=NOW).consume()
    wrong = tmp_path / "declared.csv"
    wrong.write_bytes("phone\n+12125550001\n".encode("utf-16-le"))
    with pytest.raises(DialerConfigError, match="reads as UTF-16-LE"):
        prepare_leads(CsvSource(wrong, encoding="utf-8"), now=NOW).consume()
    marked = tmp_path / "bom.csv"
    marked.write_bytes(b"\xff\xfe" + "phone\n".encode("utf-16-le"))
    with pytest.raises(DialerConfigError, match="UTF-16-LE byte-order mark but encoding='cp1252'"):
        prepare_leads(CsvSource(marked, encoding="cp1252"), now=NOW).consume()


def test_a_file_without_header_is_refused_unless_fieldnames_are_given(tmp_path: Path) -> None:
    f = tmp_path / "noheader.csv"
    f.write_text("+12125550001,Ana\n+12125550002,Bo\n", encoding="utf-8")
    with pytest.raises(
        DialerConfigError, match=r"looks like a lead, not a header: column 1 holds a phone number \('\*+0001'\)"
    ):
        prepare_leads(str(f), now=NOW).consume()
    rep, leads, _ = prepared(f, tmp_path, source=CsvSource(f, fieldnames=("phone", "first_name")))
    assert [(lead.row, lead.first_name) for lead in leads] == [(1, "Ana"), (2, "Bo")]


@pytest.mark.parametrize(
    "mapping, missing",
    [
        ({"phones": ["tel"]}, "'tel'"),
        ({"phones": ["phone"], "timezone": "fuso"}, "'fuso'"),
        ({"phones": ["phone"], "schedule": "when"}, "'when'"),
        ({"phones": ["phone"], "custom_fields": {"cf_1": "nope"}}, "'nope'"),
    ],
)
def test_a_mapping_naming_a_missing_column_is_refused_before_the_first_row(
    tmp_path: Path, mapping: dict[str, Any], missing: str
) -> None:
    f = tmp_path / "m.csv"
    f.write_text("phone,first_name,extra\n+12125550001,Ana,x\n", encoding="utf-8")
    result = prepare_leads(str(f), column_mapping=mapping, now=NOW, default_timezone="America/New_York")
    with pytest.raises(
        DialerConfigError,
        match=f"names {missing}, which the header of .* does not have; its columns are: "
        r"'phone', 'first_name', 'extra'",
    ):
        next(iter(result))
    assert result.report.rows == 0  # nothing was read before the error


def test_default_column_names_stay_optional(tmp_path: Path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("phone\n+12125550001\n", encoding="utf-8")
    _, leads, _ = prepared(f, tmp_path)
    assert len(leads) == 1


@pytest.mark.parametrize("text, encoding", [("\n\x00\n", "utf-8"), ("\n\x00\n", "utf-16-be")])
def test_tiny_nul_heavy_files_found_by_hypothesis(text: str, encoding: str) -> None:
    # an odd-length UTF-8 file was read as UTF-16 (its cut last character waited for bytes that never came)
    test_every_jsonl_record_is_prepared_or_rejected.hypothesis.inner_test(text=text, encoding=encoding)
