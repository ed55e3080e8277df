"""A list upload that announces itself: an asset event with the run's counts, and an HTML run report.

The upload's ``outlets`` name the dialer target as an Airflow asset (``dialer_asset``: the connection
and a target name both DAGs agree on). When the upload succeeds, Airflow records an event for it whose
``extra`` holds the counts (read, prepared, rejected, accepted, refused, unknown...), and every DAG
scheduled on the asset runs: ``dialer_after_upload`` (a call-result export) is one. The upload also
writes a self-contained HTML report of the run (``run_report``), linked from the task as **Run report**,
and logs progress lines every ``progress_log_seconds`` while it runs. The link opens the file where it
was written (``file://``, which a browser does not follow from a web page) unless ``report_base_url``
names the web server that publishes ``report_dir``: then it opens the report there.
"""

from __future__ import annotations

import pathlib

import pendulum
from airflow.sdk import dag

from airflow_provider_dialer.lineage import dialer_asset
from airflow_provider_dialer.operators.lists import UploadListOperator

SAMPLE = pathlib.Path(__file__).parent / "data" / "leads_sample.csv"
#: the daily list on the XCALLY connection, as an asset: what downstream DAGs schedule on
DAILY_LIST = dialer_asset("xcally_default", "list=daily leads")


@dag(
    dag_id="dialer_upload_asset",
    schedule="0 9 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="America/Sao_Paulo"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={"source": str(SAMPLE), "report_dir": "/tmp/dialer-reports", "report_base_url": ""},
    tags=["dialer", "example", "assets"],
)
def dialer_upload_asset():
    UploadListOperator(
        task_id="upload",
        conn_id="xcally_default",
        source="{{ params.source }}",
        list_name="daily leads",
        column_mapping={
            "external_id": "id_cliente",
            "first_name": "nome",
            "last_name": "sobrenome",
            "phones": ["tel", "tel_alt"],
            "timezone": "fuso",
            "schedule": "agendar",
            "country": "pais",
            "priority": "prioridade",
        },
        default_region="BR",
        default_timezone="America/Sao_Paulo",
        settings={"mode": "batch"},
        max_reject_ratio=0.5,
        outlets=[DAILY_LIST],
        run_report="{{ params.report_dir }}/{{ dag.dag_id }}/{{ run_id | replace(':', '-') }}.html",
        # empty (the default): the link opens the file itself
        run_report_url="{{ params.report_base_url ~ '/' ~ dag.dag_id ~ '/' ~ (run_id | replace(':', '-')) ~ '.html'"
        " if params.report_base_url else '' }}",
        progress_log_seconds=10,
    )


dialer_upload_asset()
