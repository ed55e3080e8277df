"""Lineage and the run report of real uploads (emulator over HTTP), read back independently:

* the OpenLineage provider's own ``ExtractorManager`` finds the operators' facets: the source (a CSV
  file, a SQL table, an upstream XCom, ``dag_run.conf``) as input with the rows read, the dialer
  target (connection + target) as output with the leads accepted, counted here from the file, the
  table and the emulator's admin API;
* without the OpenLineage provider the operators import and run, and report no lineage;
* the HTML report of an upload over random zones and hostile phones: counts against the summary and
  the emulator, the chart against zoneinfo, no phone of the source in full.
"""

from __future__ import annotations

import csv
import datetime as dt
import html.parser
import random
import re
import sqlite3
import subprocess
import sys
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import phonenumbers
import pytest

from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.lists import UploadListOperator

pytestmark = pytest.mark.integration
UTC = dt.UTC
T0 = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: T0)
    return fresh_dialer_emulator


def stored(emu) -> int:
    return sum(emu.leads("xcally", keys=True).get("xcally.contacts", {}).get("counts", {}).values())


def extracted(op):
    """What the OpenLineage listener would send for the task, through the provider's own extractor."""
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    return ExtractorManager().extract_metadata(
        dagrun=SimpleNamespace(run_id="manual__1"),
        task=op,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=None,
    )


def facets(dataset) -> dict:
    return {**(getattr(dataset, "inputFacets", None) or {}), **(getattr(dataset, "outputFacets", None) or {})}


def write_csv(path, n: int, bad: int = 0) -> list[dict]:
    rows = [{"tel": f"+1212555{i:04d}", "nome": f"L{i}", "fuso": "America/New_York"} for i in range(n)]
    rows += [{"tel": f"+999 55{i:07d}", "nome": "bad", "fuso": ""} for i in range(bad)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["tel", "nome", "fuso"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


MAPPING = {"phones": "tel", "first_name": "nome", "timezone": "fuso"}


def test_csv_upload_reports_the_file_in_and_the_list_out_with_counts(emu, tmp_path):
    source = tmp_path / "in" / "leads.csv"
    source.parent.mkdir()
    write_csv(source, 11, bad=2)
    dnc = tmp_path / "dnc.csv"
    dnc.write_text("phone\n+12125550003\n")
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        source=str(source),
        column_mapping=MAPPING,
        dnc_source=str(dnc),
        progress=str(tmp_path / "p.json"),
        chunk_size=4,
        max_reject_ratio=0.5,
    )
    summary = op.execute({})
    meta = extracted(op)
    with source.open(encoding="utf-8") as handle:
        rows_in_file = sum(1 for _ in csv.DictReader(handle))
    assert [(d.namespace, d.name) for d in meta.inputs] == [("file", str(source)), ("file", str(dnc))]
    assert facets(meta.inputs[0])["inputStatistics"].rowCount == rows_in_file == summary["read"] == 13
    assert [(d.namespace, d.name) for d in meta.outputs] == [
        ("dialer://xcally_default", f"list_id={summary['ids']['list_id']}")
    ]
    assert (
        facets(meta.outputs[0])["outputStatistics"].rowCount == stored(emu) == summary["accepted"] == 10
    )  # one on the DNC list


def test_sql_source_names_its_table_and_a_dry_run_names_no_target(emu, tmp_path, monkeypatch):
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE leads (tel TEXT, nome TEXT, fuso TEXT)")
        conn.executemany(
            "INSERT INTO leads VALUES (?, ?, ?)", [(f"+1212555{i:04d}", f"L{i}", "America/New_York") for i in range(7)]
        )
    monkeypatch.setenv("AIRFLOW_CONN_CRM_DB", f"sqlite://{db}")
    source = {"sql": "SELECT tel, nome, fuso FROM leads WHERE nome <> 'x'", "conn_id": "crm_db"}
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        source=source,
        column_mapping=MAPPING,
        progress=str(tmp_path / "p.json"),
    )
    summary = op.execute({})
    meta = extracted(op)
    assert [(d.namespace, d.name) for d in meta.inputs] == [(f"sqlite://{db}", "leads")]
    assert facets(meta.inputs[0])["inputStatistics"].rowCount == 7 == summary["read"]
    assert facets(meta.outputs[0])["outputStatistics"].rowCount == stored(emu) == 7

    dry = UploadListOperator(
        task_id="dry", conn_id="xcally_default", list_name="leads", source=source, column_mapping=MAPPING, dry_run=True
    )
    dry.execute({})
    assert extracted(dry).outputs == []  # nothing was loaded anywhere


def test_postgres_source_is_named_as_the_postgres_provider_names_its_tables(emu, tmp_path, monkeypatch, postgres_uri):
    import uuid
    from urllib.parse import urlsplit

    from airflow.sdk import BaseHook

    monkeypatch.setenv("AIRFLOW_CONN_CRM_PG", postgres_uri)
    table = f"leads_{uuid.uuid4().hex[:8]}"
    hook = BaseHook.get_hook("crm_pg")
    hook.run(f"CREATE TABLE {table} (tel TEXT, nome TEXT, fuso TEXT)")
    hook.insert_rows(table, [(f"+1212555{i:04d}", f"L{i}", "America/New_York") for i in range(5)])
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        column_mapping=MAPPING,
        source={"sql": f"SELECT tel, nome, fuso FROM {table}", "conn_id": "crm_pg"},
        progress=str(tmp_path / "p.json"),
    )
    op.execute({})
    where = urlsplit(postgres_uri)
    database = where.path.lstrip("/")
    meta = extracted(op)
    assert [(d.namespace, d.name) for d in meta.inputs] == [
        (f"postgres://{where.hostname}:{where.port}", f"{database}.public.{table}")
    ]
    assert (
        facets(meta.inputs[0])["inputStatistics"].rowCount == 5
        and facets(meta.outputs[0])["outputStatistics"].rowCount == 5
    )


def test_leads_from_an_upstream_task_or_the_run_conf_name_where_they_came_from(emu, tmp_path):
    from airflow.sdk import DAG, task

    leads = [{"phones": ["+12125550101"], "timezone": "America/New_York"}]
    with DAG("lineage_dag", schedule=None):

        @task
        def todays_leads() -> list[dict]:
            return leads

        from_task = UploadListOperator(
            task_id="from_task",
            conn_id="xcally_default",
            list_name="a",
            source=todays_leads(),
            progress=str(tmp_path / "a.json"),
        )
        from_conf = UploadListOperator(
            task_id="from_conf",
            conn_id="xcally_default",
            list_name="b",
            source="{{ dag_run.conf['leads'] }}",
            progress=str(tmp_path / "b.json"),
        )
    for op, name in ((from_task, "todays_leads.xcom"), (from_conf, "dag_run.conf")):
        running = op.prepare_for_execution()  # as the task runner does, then renders
        running.source = leads
        running.execute({})
        meta = extracted(running)
        assert [(d.namespace, d.name) for d in meta.inputs] == [("airflow://lineage_dag", name)]
        assert facets(meta.outputs[0])["outputStatistics"].rowCount == 1


def test_without_the_openlineage_provider_operators_import_run_and_report_nothing(emu, tmp_path, monkeypatch):
    code = (
        "import sys, airflow.sdk; before = {m for m in sys.modules if 'openlineage' in m}; "
        "import airflow_provider_dialer.operators.lists, airflow_provider_dialer.operators.fresh_leads, "
        "airflow_provider_dialer.operators.dialer_task; "
        "print('ADDED', sorted(m for m in sys.modules if 'openlineage' in m and m not in before))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "ADDED []" in out.splitlines()  # nothing of OpenLineage is imported by the operators
    for name in [m for m in sys.modules if m.startswith(("airflow.providers.openlineage", "openlineage"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", None)  # import fails as when not installed
    monkeypatch.setitem(sys.modules, "airflow.providers.common.compat.openlineage.facet", None)
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        source=[{"phones": ["+12125550101"], "timezone": "America/New_York"}],
        progress=str(tmp_path / "p.json"),
    )
    assert op.execute({})["accepted"] == 1
    assert op.get_openlineage_facets_on_complete(None) is None


# -- the run report of a real upload -------------------------------------------------------------


class Report(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.texts: list[str] = []
        self.tags: set[str] = set()
        self._key: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "tr":
            self._key = (
                attrs.get("data-outcome")
                or (attrs.get("data-zone") and "zone:" + attrs["data-zone"])
                or (attrs.get("data-reason") and "reason:" + attrs["data-reason"])
            )
            if self._key:
                self.rows[self._key] = []

    def handle_endtag(self, tag):
        if tag == "tr":
            self._key = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._key and data.strip():
            self.rows[self._key].append(data.strip())


ZONES = ["America/New_York", "Asia/Kolkata", "America/St_Johns", "Pacific/Chatham", "Asia/Tokyo", "America/Sao_Paulo"]
CODES = {
    "America/New_York": ("+1212", 7),
    "Asia/Kolkata": ("+9198", 8),
    "America/St_Johns": ("+1709", 7),
    "Pacific/Chatham": ("+6435", 6),
    "Asia/Tokyo": ("+8190", 8),
    "America/Sao_Paulo": ("+55119", 8),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_report_of_an_upload_matches_the_dialer_and_the_clock(emu, tmp_path, seed):
    rng = random.Random(seed)
    leads, expected_hours, source_phones = [], {}, []
    used = set()
    for _ in range(rng.randrange(20, 60)):
        zone = rng.choice(ZONES)
        prefix, digits = CODES[zone]
        number = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        if number in used or not phonenumbers.is_valid_number(phonenumbers.parse(number)):
            continue  # the oracle of a valid number: the phonenumbers library itself
        used.add(number)
        leads.append({"phones": [number], "timezone": zone})
        source_phones.append(number)
    for _ in range(rng.randrange(1, 6)):  # numbers no dialer takes: rejected, and never shown in full
        bad = "+999" + "".join(str(rng.randrange(10)) for _ in range(9))
        leads.append({"phones": [bad], "timezone": rng.choice(ZONES)})
        source_phones.append(bad)
    path = tmp_path / "reports" / f"run-{seed}.html"
    op = UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        list_name="leads",
        source=leads,
        progress=str(tmp_path / "p.json"),
        run_report=str(path),
        max_reject_ratio=0.5,
        chunk_size=7,
    )
    summary = op.execute({})
    assert op.run_report_link == f"file://{path}"
    page = path.read_text(encoding="utf-8")
    report = Report()
    report.feed(page)

    # counts: the summary's, and the emulator's for what was accepted
    outcome = {key: int(cells[-1]) for key, cells in report.rows.items() if not key.startswith(("zone:", "reason:"))}
    assert outcome["read"] == len(leads) and outcome["accepted"] == stored(emu) == summary["accepted"]
    assert (
        outcome["rejected"] == summary["rejected"] == sum(1 for lead in leads if lead["phones"][0].startswith("+999"))
    )
    assert {k[7:]: int(v[1]) for k, v in report.rows.items() if k.startswith("reason:")} == summary[
        "rejected_by_reason"
    ]

    # the chart's table: each valid lead at its local hour now when its window (08-21) is open, else at 08:00
    for lead in leads:
        if lead["phones"][0].startswith("+999"):
            continue
        local = T0.astimezone(ZoneInfo(lead["timezone"]))
        hour = local.hour if 8 <= local.hour < 21 else 8
        expected_hours.setdefault(lead["timezone"], [0] * 24)[hour] += 1
    shown = {k[5:]: [int(c) for c in v[1:]] for k, v in report.rows.items() if k.startswith("zone:")}
    assert shown == expected_hours
    assert "svg" in report.tags and "script" not in report.tags

    # no phone of the source in full, in any spelling
    digit_runs = [re.sub(r"\D", "", run) for run in re.findall(r"\+?\d[\d ().\-/]*\d", "\n".join(report.texts))]
    for phone in source_phones:
        digits = phone.lstrip("+")
        assert phone not in page and not any(digits in run for run in digit_runs), phone
