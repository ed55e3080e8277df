"""Scheduled UJET / CCAI Platform launch: import the day's contacts, wait on the import job, report refusals.

1. ``import_contacts``: the day's leads (JSON Lines) imported into a campaign as multipart JSON
   files (one import job per chunk). UJET contacts take no per-contact time: leads outside their
   calling window are held back and imported when it opens (the task defers in between).
2. ``wait_import``: deferrable ``ImportJobSensor`` until every job is ``completed``; a ``failed`` job
   fails the task with the vendor's ``error_message`` / ``error_details``.
3. ``report_refused``: logs the contacts the vendor or the preparation refused, by reason.
"""

from __future__ import annotations

import pathlib

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ImportJobSensor

#: the sample leads shipped with the examples (use your own file, table or object-storage path)
SAMPLE_LEADS = str(pathlib.Path(__file__).parent / "data" / "ujet_launch_sample.csv")


@dag(
    dag_id="dialer_ujet_launch",
    schedule="0 9 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="America/Los_Angeles"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={"conn_id": "ujet_default", "campaign_id": 7, "leads_path": SAMPLE_LEADS},
    render_template_as_native_obj=True,
    tags=["dialer", "example", "ujet"],
)
def dialer_ujet_launch():
    upload = UploadListOperator(
        task_id="import_contacts",
        conn_id="{{ params.conn_id }}",
        source="{{ params.leads_path }}",
        list_name="contacts {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        settings={"campaign_id": "{{ params.campaign_id }}"},
        column_mapping={
            "phones": ["tel", "tel_alt"],
            "first_name": "nome",
            "last_name": "sobrenome",
            "timezone": "fuso",
            "country": "pais",
            "external_id": "id_cliente",
        },
        default_region="US",
        default_timezone="America/Los_Angeles",
        max_reject_ratio=0.5,
    )
    wait = ImportJobSensor(
        task_id="wait_import",
        conn_id="{{ params.conn_id }}",
        campaign_id="{{ params.campaign_id }}",
        job_ids="{{ ti.xcom_pull('import_contacts')['wait']['job_ids'] }}",
        poll_interval=1,
        timeout=3600,
    )

    @task
    def report_refused(summary: dict) -> dict:
        refused = {
            "rejected_by_preparation": summary["rejected_by_reason"],
            "refused_by_vendor": summary["refused_by_vendor"],
            "unknown": summary["unknown"],
            "held_back": summary["held_back"],
        }
        print(f"refused contacts: {refused}")
        return refused

    upload >> wait
    wait >> report_refused(upload.output)


dialer_ujet_launch()
