"""The HTML run report in Debian's chromium (Playwright): it renders, with one chart per time zone whose
bars are drawn at the heights of their counts, and it asks the network for nothing.

Needs only ``/usr/bin/chromium`` (no deployment): the report is made by a real upload in dry run
(preparation, calling-hours guard and counts, nothing sent) and opened from its file. Collected with
the other browser tests by ``scripts/e2e.py local`` (``make e2e``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re

import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator

SHOTS = os.environ.get("DIALER_E2E_SCREENSHOTS")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
T0 = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")


@pytest.fixture
def report(tmp_path, monkeypatch) -> tuple[pathlib.Path, dict]:
    monkeypatch.setattr(base_module, "utcnow", lambda: T0)
    # a dry run picks the hook (its field limits) and sends nothing: a closed port proves it
    monkeypatch.setenv(
        "AIRFLOW_CONN_REPORT_XCALLY",
        json.dumps(
            {
                "conn_type": "xcally",
                "host": "127.0.0.1",
                "port": 9,
                "schema": "http",
                "extra": {"api_key": "k-report-test"},
            }
        ),
    )
    leads = [{"phones": [f"+1212555{i:04d}"], "timezone": "America/New_York"} for i in range(12)]
    leads += [{"phones": ["+819012345678"], "timezone": "Asia/Tokyo"}, {"phones": ["+5511912345678"]}]
    leads += [{"phones": ["+999123456789"]}, {"phones": ["12"]}]  # rejected, masked in the samples
    path = tmp_path / "report.html"
    op = UploadListOperator(
        task_id="upload",
        conn_id="report_xcally",
        list_name="leads",
        source=leads,
        default_timezone="America/Sao_Paulo",
        dry_run=True,
        run_report=str(path),
    )
    summary = op.execute({})
    return path, summary


def test_the_report_renders_its_charts_and_loads_nothing(report, tmp_path):
    from playwright.sync_api import sync_playwright

    path, summary = report
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            shots = pathlib.Path(SHOTS) if SHOTS else tmp_path  # a build artefact under make e2e, never in git
            shots.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(shots / "run_report.png"), full_page=True)

            assert page.title().startswith("Dialer run report")
            assert page.locator("tr[data-outcome=read] td.n").inner_text() == str(summary["read"])
            assert page.locator("tr[data-outcome=rejected] td.n").inner_text() == str(summary["rejected"])
            charts = page.locator("svg.hours")
            zones = sorted(summary["scheduled_by_timezone"])
            assert sorted(charts.nth(i).get_attribute("data-zone") for i in range(charts.count())) == zones
            for i in range(charts.count()):
                chart = charts.nth(i)
                box = chart.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 100  # laid out, visible
                bars = chart.locator("rect.bar")
                assert bars.count() == 24
                drawn = [(int(b.get_attribute("data-count")), b.bounding_box()["height"]) for b in bars.all()]
                leads_in_zone = summary["scheduled_by_timezone"][chart.get_attribute("data-zone")]["leads"]
                assert sum(count for count, _ in drawn) == leads_in_zone
                assert all((height > 0) == (count > 0) for count, height in drawn)  # a bar where there are leads
                tallest = max(drawn)
                assert all(height <= tallest[1] + 0.5 for _, height in drawn)
            text = page.locator("body").inner_text()
            assert "+999123456789" not in text and re.search(r"\*{5,}6789", text)
        finally:
            browser.close()
    assert requests == [path.as_uri()]  # the page itself and nothing else
    assert errors == []
