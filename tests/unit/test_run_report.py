"""The HTML run report: read back with html.parser, its numbers are the summary's (counted here
independently), its chart is the leads' local call hours (computed here with zoneinfo), and it holds
no script, no address outside itself and no full phone number."""

from __future__ import annotations

import datetime as dt
import html.parser
import random
import re
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer import run_report
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.run_report import CallHours, RunReportLink, render, report_url

UTC = dt.UTC
ZONES = [
    "America/New_York",
    "Asia/Kolkata",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Europe/London",
    "Pacific/Chatham",
]


class Page(html.parser.HTMLParser):
    """What a reader of the page sees, collected without the code that wrote it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.text: list[str] = []
        self.bars: dict[str, dict[int, int]] = {}
        self._svg_zone: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self._svg_zone = attrs.get("data-zone")
            self.bars[self._svg_zone] = {}
        elif tag == "rect" and self._svg_zone is not None:
            self.bars[self._svg_zone][int(attrs["data-hour"])] = int(attrs["data-count"])

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "svg":
            self._svg_zone = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def assert_self_contained(page: str, parsed: Page) -> None:
    names = {tag for tag, _ in parsed.tags}
    assert not names & {"script", "iframe", "object", "embed", "link", "img", "image", "use", "base", "form"}
    for _tag, attrs in parsed.tags:
        for name, value in attrs.items():
            assert not name.startswith("on"), name  # no event handler
            assert name not in ("src", "href", "xlink:href", "action", "srcset"), (name, value)
        for name, value in attrs.items():  # no address in an attribute that could load one (data-* only label)
            if not name.startswith(("data-", "aria-")):
                assert not re.search(r"https?:|//|url\(", value or "", re.I), (name, value)
    style = "".join(re.findall(r"<style>(.*?)</style>", page, re.S))
    assert not re.search(r"https?:|//|@import|url\(", style, re.I)


# -- the page from any summary -------------------------------------------------------------------

hostile = st.lists(
    st.sampled_from(list("<>&\"'/= abcxyz_-;") + ["<script>", "</td>", "http://x.example/", "\u2028"]),
    min_size=1,
    max_size=12,
).map("".join)
phone = st.builds(
    lambda cc, n: f"+{cc} {n // 10000:04d}-{n % 10000:04d}", st.integers(1, 99), st.integers(10_000_000, 99_999_999)
)


@st.composite
def summaries(draw):
    reasons = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(["invalid_phone", "duplicate_phone", "do_not_call"]), hostile),
            st.integers(1, 10_000),
            max_size=5,
        )
    )
    samples = []
    phones = []
    for reason in reasons:
        for row in draw(st.lists(st.integers(1, 10**6), max_size=4)):
            raw = draw(phone)
            phones.append(raw)
            samples.append(
                {
                    "row": row,
                    "reason": reason,
                    "field": draw(st.one_of(st.none(), hostile)),
                    "level": "error",
                    "value": raw,
                    "detail": f"{draw(hostile)} near {raw}",
                }
            )
    refused = draw(
        st.dictionaries(st.sampled_from(["vendor_refused", "invalid_field"]), st.integers(1, 50), max_size=2)
    )
    refused_samples = [
        {"row": i, "reason": r, "detail": f"dialer said no to {draw(phone)}"} for i, r in enumerate(refused)
    ]
    phones += [s["detail"].rsplit(" ", 1)[-1] for s in refused_samples]
    dry = draw(st.booleans())
    prepared = draw(st.integers(0, 10**6))
    summary = {
        "read": prepared + sum(reasons.values()),
        "prepared": prepared,
        "rejected": sum(reasons.values()),
        "rejected_by_reason": reasons,
        "reject_samples": samples,
        "held_back": draw(st.integers(0, 100)),
    }
    if dry:
        summary.update(dry_run=True, would_send=prepared)
    else:
        summary.update(
            accepted=draw(st.integers(0, prepared)),
            refused_by_vendor=refused,
            refused_samples=refused_samples,
            unknown=draw(st.integers(0, 20)),
            chunks=draw(st.integers(0, 5000)),
        )
    hours = draw(
        st.dictionaries(st.sampled_from(ZONES), st.lists(st.integers(0, 5000), min_size=24, max_size=24), max_size=4)
    )
    return summary, hours, phones


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=summaries(), meta_text=hostile)
@example(  # found by hypothesis: two reasons that are white space alone show as two rows of the same text
    case=(
        {
            "read": 3,
            "prepared": 0,
            "rejected": 3,
            "rejected_by_reason": {" ": 1, "\t": 2},
            "reject_samples": [],
            "held_back": 0,
            "dry_run": True,
            "would_send": 0,
        },
        {},
        [],
    ),
    meta_text="x",
)
def test_the_page_says_the_summary_and_nothing_else(case, meta_text):
    summary, hours, phones = case
    meta = {
        "dag_id": meta_text,
        "task_id": "upload",
        "run_id": meta_text,
        "conn_id": "xcally_default",
        "target": meta_text,
        "written_at": "2026-06-10T16:00:00+00:00",
    }
    page = render(summary, hours, meta)
    parsed = parse(page)
    assert_self_contained(page, parsed)

    # outcomes, as a reader of the summary would count them
    expected = {
        "Leads read": summary["read"],
        "Prepared": summary["prepared"],
        "Rejected at preparation or send": summary["rejected"],
        "Held back for their calling window": summary["held_back"],
    }
    if summary.get("dry_run"):
        expected["Would send (dry run)"] = summary["would_send"]
    else:
        expected.update(
            {
                "Accepted by the dialer": summary["accepted"],
                "Unknown fate": summary["unknown"],
                "Chunks": summary["chunks"],
                "Refused by the dialer": sum(summary["refused_by_vendor"].values()),
            }
        )
    shown = {row[0]: int(row[1]) for row in parsed.tables["outcomes"][1:]}
    assert shown == expected

    # rejects by reason: every reason once, with its count (hostile names come back as text)
    if summary["rejected_by_reason"]:
        rows = parsed.tables["rejects"][1:]
        # compared as rows, not as a dict: two reasons that differ only in white space show as two rows
        # with the same text, and a dict would fold them into one
        got = sorted((row[0], int(row[1])) for row in rows)
        assert got == sorted((" ".join(k.split()), v) for k, v in summary["rejected_by_reason"].items())
        assert sum(count for _, count in got) == summary["rejected"]
    else:
        assert "rejects" not in parsed.tables

    # the chart: one per zone, a bar per hour with the count, and the same in the table
    assert set(parsed.bars) == set(hours)
    for zone, row in hours.items():
        assert parsed.bars[zone] == dict(enumerate(row))
    if hours:
        table = {r[0]: [int(c) for c in r[1:]] for r in parsed.tables["hours"][1:]}
        assert table == hours

    # no phone in full: every digit run of 7+ digits of a generated phone is gone
    runs = [re.sub(r"\D", "", run) for run in re.findall(r"\+?\d[\d ().\-/]*\d", "\n".join(parsed.text))]
    for raw in phones:
        digits = re.sub(r"\D", "", raw)
        assert raw not in page and not any(digits in run for run in runs), raw


def test_call_hours_are_the_local_hours_of_each_lead():
    """CallHours against zoneinfo directly, on random instants and zones (half- and quarter-hour zones included)."""
    rng = random.Random(19)
    now = dt.datetime(2026, 3, 8, 6, 45, tzinfo=UTC)  # DST starts in New York that day
    hours = CallHours(now)
    expected: dict[str, list[int]] = {}
    for _ in range(3000):
        zone = rng.choice(ZONES)
        at = None if rng.random() < 0.3 else now + dt.timedelta(seconds=rng.randrange(0, 3 * 86400))
        hours.add(PreparedLead.model_construct(timezone=zone, call_at=at, row=1))
        local = (at or now).astimezone(ZoneInfo(zone))
        expected.setdefault(zone, [0] * 24)[local.hour] += 1
    assert hours.as_dict() == dict(sorted(expected.items()))


def test_report_url_and_link_hold_no_user_name(tmp_path):
    assert report_url(str(tmp_path / "r.html")) == f"file://{tmp_path}/r.html"
    assert report_url("s3://aws_prod@bucket/reports/r.html") == "s3://bucket/reports/r.html"
    assert report_url("s3://bucket/reports/r.html?X-Amz-Signature=abc") == "s3://bucket/reports/r.html"

    class Op:
        run_report_link = ""

    assert RunReportLink().get_link(Op(), ti_key=None) == ""
    Op.run_report_link = "file:///tmp/r.html"
    assert RunReportLink().get_link(Op(), ti_key=None) == "file:///tmp/r.html"


def test_write_makes_the_folders_and_takes_object_storage(tmp_path):
    from airflow.sdk import ObjectStoragePath

    run_report.write(str(tmp_path / "a" / "b" / "r.html"), "<p>x</p>")
    assert (tmp_path / "a" / "b" / "r.html").read_text() == "<p>x</p>"
    run_report.write(ObjectStoragePath(f"file://{tmp_path}/o.html"), "<p>y</p>")
    assert (tmp_path / "o.html").read_text() == "<p>y</p>"


def test_the_parameters_map_and_take_default_args():
    """``partial``/``expand`` check names against the operators' own signatures: the report's must be there."""
    from airflow.sdk import DAG

    from airflow_provider_dialer.operators.lists import UploadListOperator

    with DAG(
        "report_params", schedule=None, default_args={"progress_log_seconds": 7, "run_report": "/r/{{ run_id }}.html"}
    ):
        plain = UploadListOperator(task_id="plain", conn_id="c", list_name="l", source=[])
        mapped = UploadListOperator.partial(
            task_id="mapped", conn_id="c", list_name="l", progress_log_seconds=5
        ).expand(run_report=["/a.html", "/b.html"], source=[[], []])
    assert (plain.progress_log_seconds, plain.run_report) == (7, "/r/{{ run_id }}.html")
    assert "run_report" in plain.template_fields and "run_report_url" in plain.template_fields
    assert mapped.partial_kwargs["progress_log_seconds"] == 5 and set(mapped.expand_input.value) == {
        "run_report",
        "source",
    }
