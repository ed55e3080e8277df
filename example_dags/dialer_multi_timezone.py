"""Multi-timezone launch: leads in five zones, each scheduled inside its own local calling window.

The zones: Asia/Kolkata (UTC+05:30, a half-hour zone), America/St_Johns (UTC-03:30/-02:30),
Australia/Lord_Howe (a 30-minute DST shift), America/New_York (DST starts on 2026-03-08) and
America/Sao_Paulo. Every lead goes to an XCALLY list with ``scheduledat`` set to its next permitted
instant (08:00-21:00 local, Monday to Saturday); the task log prints, per zone, how many leads are
called and between which local times.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.operators.lists import UploadListOperator

LEADS = [
    {"phones": ["+919876543210"], "first_name": "Priya", "timezone": "Asia/Kolkata", "external_id": "IN-1"},
    {"phones": ["+917012345678"], "first_name": "Arjun", "timezone": "Asia/Kolkata", "external_id": "IN-2"},
    {"phones": ["+17095550134"], "first_name": "Liam", "timezone": "America/St_Johns", "external_id": "CA-1"},
    {"phones": ["+61298765432"], "first_name": "Olivia", "timezone": "Australia/Lord_Howe", "external_id": "AU-1"},
    {
        "phones": ["+12125550147"],
        "first_name": "Noah",
        "timezone": "America/New_York",
        "schedule": "2026-03-08 02:30:00",
        "external_id": "US-1",
    },
    {"phones": ["+5511912345678"], "first_name": "Ana", "timezone": "America/Sao_Paulo", "external_id": "BR-1"},
]


@dag(
    dag_id="dialer_multi_timezone",
    schedule="0 0 * * *",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={"conn_id": "xcally_default"},
    render_template_as_native_obj=True,
    tags=["dialer", "example", "timezones"],
)
def dialer_multi_timezone():
    @task
    def todays_leads() -> list[dict]:
        return LEADS

    upload = UploadListOperator(
        task_id="upload",
        conn_id="{{ params.conn_id }}",
        source=todays_leads(),
        list_name="multi-zone {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        settings={"mode": "batch"},
        calling_window={"weekly": {"mon-sat": "08:00-21:00", "sun": None}},
    )

    @task
    def who_is_called_when(summary: dict) -> dict:
        for zone, info in sorted(summary["scheduled_by_timezone"].items()):
            print(f"{zone:<22} {info['leads']} lead(s), first call {info['first_local']}, last {info['last_local']}")
        return summary["scheduled_by_timezone"]

    who_is_called_when(upload.output)


dialer_multi_timezone()
