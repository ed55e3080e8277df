"""Scheduled Voipex launch: the day's call list, a campaign reused by name, then started.

1. ``upload``: the day's leads (a CSV file named after the run's date) become Voipex call lists, one
   per chunk. Voipex call lists take no per-number time, so leads outside their calling window are
   held back: the task defers (holding no worker slot) and pushes them when their window opens.
2. ``campaign``: a campaign created or updated by name, with the call lists, the IVR picked by name,
   weekday hours and reschedule rules.
3. ``start``: the campaign is started (``PUT /dialer/campaigns/:id/control``).
"""

from __future__ import annotations

import pathlib

import pendulum
from airflow.sdk import dag

from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

#: the sample leads shipped with the examples (use your own file, table or object-storage path)
SAMPLE_LEADS = str(pathlib.Path(__file__).parent / "data" / "voipex_launch_sample.csv")


@dag(
    dag_id="dialer_voipex_launch",
    schedule="30 8 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="Europe/Prague"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={
        "conn_id": "voipex_default",
        "leads_path": SAMPLE_LEADS,
        "caller_id": "420228881234",
        "ivr_name": "IVR-app-name",
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "voipex"],
)
def dialer_voipex_launch():
    upload = UploadListOperator(
        task_id="upload",
        conn_id="{{ params.conn_id }}",
        source="{{ params.leads_path }}",
        list_name="calls {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        column_mapping={
            "phones": ["tel", "tel_alt"],
            "first_name": "nome",
            "last_name": "sobrenome",
            "timezone": "fuso",
            "country": "pais",
            "external_id": "id_cliente",
        },
        default_region="CZ",
        default_timezone="Europe/Prague",
        max_reject_ratio=0.5,
    )
    campaign = CreateCampaignOperator(
        task_id="campaign",
        conn_id="{{ params.conn_id }}",
        name="daily-calls",
        calling_hours="09:00-17:00",
        weekdays=[1, 2, 3, 4, 5],
        lists="{{ ti.xcom_pull('upload')['ids']['call_list_ids'] }}",
        settings={
            "callerId": "{{ params.caller_id }}",
            "ivr_name": "{{ params.ivr_name }}",
            "rescheduleRules": [{"status": "RS_ERROR", "retryAfter": 900, "maxAttempts": 2}],
        },
    )
    start = ControlCampaignOperator(
        task_id="start", conn_id="{{ params.conn_id }}", campaign_id="{{ ti.xcom_pull('campaign') }}", command="start"
    )
    upload >> campaign >> start


dialer_voipex_launch()
