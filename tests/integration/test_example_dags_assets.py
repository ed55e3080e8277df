"""The asset example pair run with dag.test() and no logical date (as a CLI or REST trigger makes them):
the upload's asset event carries its counts, the consumer DAG is queued on it, the run report is
written and linked, and the consumer runs."""

from __future__ import annotations

import csv
import html.parser
import json
import os
import pathlib
import re

import pytest

from .test_example_dags_run import airflow_db, clock, emu, load_dag, states, xcoms  # noqa: F401, F811 - fixtures used by name

pytestmark = [pytest.mark.integration, pytest.mark.dagtest]


def asset_events(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetEvent.extra, AssetEvent.source_dag_id, AssetEvent.source_run_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        return [{"extra": extra, "dag_id": dag_id, "run_id": run_id} for extra, dag_id, run_id in rows]


def queued_for(dag_id: str) -> int:
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(
            select(func.count()).select_from(AssetDagRunQueue).where(AssetDagRunQueue.target_dag_id == dag_id)
        )


class _Cells(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.outcomes: dict[str, int] = {}
        self._row: str | None = None
        self._cells: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "tr" and "data-outcome" in attrs:
            self._row, self._cells = attrs["data-outcome"], []

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._cells.append(data.strip())

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.outcomes[self._row] = int(self._cells[-1])
            self._row = None


def test_upload_emits_its_asset_with_counts_writes_the_report_and_the_consumer_runs(emu, tmp_path):  # noqa: F811 - the imported fixture, by name
    from airflow_provider_dialer.lineage import dialer_asset

    run = load_dag("dialer_upload_asset").test(logical_date=None, run_conf={"report_dir": str(tmp_path)})
    assert str(run.state) == "success", states(run)
    left = xcoms(run, "upload")
    summary = left["return_value"]
    if isinstance(summary, str):
        summary = json.loads(summary)

    # the asset event: one, from this run, with the counts the task's summary has
    uri = dialer_asset("xcally_default", "list=daily leads").uri
    events = [e for e in asset_events(uri) if e["run_id"] == run.run_id]
    assert len(events) == 1 and events[0]["dag_id"] == "dialer_upload_asset"
    extra = events[0]["extra"]
    for key in ("read", "prepared", "rejected", "accepted", "unknown", "held_back"):
        assert extra[key] == summary[key], key
    assert extra["refused"] == sum(summary["refused_by_vendor"].values())
    assert extra["conn_id"] == "xcally_default" and extra["target"] == f"list_id={summary['ids']['list_id']}"
    # independent of the operator: the sample's data rows, and what the emulator holds
    sample = pathlib.Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "data" / "leads_sample.csv"
    with sample.open(encoding="utf-8") as handle:
        assert extra["read"] == len(list(csv.DictReader(handle)))
    held = emu.leads("xcally", keys=True).get("xcally.contacts", {}).get("counts", {})
    assert extra["accepted"] == sum(held.values()) > 0
    # every DAG scheduled on the asset is queued to run
    assert queued_for("dialer_after_upload") >= 1

    # the run report, written under the run's own name and linked from the task
    reports = list(tmp_path.rglob("*.html"))
    assert len(reports) == 1 and "dialer_upload_asset" in str(reports[0])
    assert left["_link_RunReportLink"] == f"file://{reports[0]}"
    page = reports[0].read_text(encoding="utf-8")
    cells = _Cells()
    cells.feed(page)
    assert cells.outcomes["read"] == extra["read"] and cells.outcomes["accepted"] == extra["accepted"]
    assert "script" not in cells.tags and "svg" in cells.tags
    assert not re.search(r"(src|href)\s*=", page)

    consumer = load_dag("dialer_after_upload").test(logical_date=None)
    assert str(consumer.state) == "success", states(consumer)
    assert xcoms(consumer, "uploads_to_export")["return_value"] in ([], "[]")
