"""Scheduled uContact Automation launch: the hub list, wait until it has loaded, then the day's priority leads.

1. ``upload_list``: the day's leads (JSON Lines) as a hub list (``POST /api/dialer/id/<hub>/lists``);
   each contact carries its timezone, so the hub dials within its hours in the contact's zone.
2. ``wait_loaded``: deferrable ``ListLoadedSensor`` until the list leaves ``loading``
   (docs/vendors/ucontact.md#decision-assumed-list-state-read).
3. ``priority``: the day's priority leads (a separate file, ``priority_path``) as fresh leads, each
   with its own ``scheduleDate`` and ``timezone``: the next permitted time inside 08:00-21:00 local,
   Monday to Saturday.

The two sources hold different leads: a lead in the hub list and again in fresh leads would be queued
twice in the same hub.
"""

from __future__ import annotations

import pathlib

import pendulum
from airflow.sdk import dag

from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ListLoadedSensor

#: the sample leads shipped with the examples (use your own file, table or object-storage path)
SAMPLE_LEADS = str(pathlib.Path(__file__).parent / "data" / "ucontact_hub_sample.csv")
#: the day's priority leads, none of them in the list above (same columns)
SAMPLE_PRIORITY_LEADS = str(pathlib.Path(__file__).parent / "data" / "leads_priority_sample.csv")

WINDOW = {"weekly": {"mon-sat": "08:00-21:00", "sun": None}}


@dag(
    dag_id="dialer_ucontact_hub_launch",
    schedule="0 6 * * *",
    start_date=pendulum.datetime(2026, 1, 5, tz="America/Montevideo"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={
        "conn_id": "ucontact_default",
        "hub": "renewals",
        "leads_path": SAMPLE_LEADS,
        "priority_path": SAMPLE_PRIORITY_LEADS,
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "ucontact"],
)
def dialer_ucontact_hub_launch():
    mapping = {
        "phones": ["tel", "tel_alt"],
        "first_name": "nome",
        "last_name": "sobrenome",
        "timezone": "fuso",
        "schedule": "agendar",
        "country": "pais",
        "external_id": "id_cliente",
        "priority": "prioridade",
    }
    upload = UploadListOperator(
        task_id="upload_list",
        conn_id="{{ params.conn_id }}",
        source="{{ params.leads_path }}",
        list_name="leads {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        settings={"hub": "{{ params.hub }}"},
        column_mapping=mapping,
        default_region="UY",
        default_timezone="America/Montevideo",
        calling_window=WINDOW,
        max_reject_ratio=0.5,
    )
    wait = ListLoadedSensor(
        task_id="wait_loaded",
        conn_id="{{ params.conn_id }}",
        targets="{{ ti.xcom_pull('upload_list')['wait']['targets'] }}",
        poll_interval=1,
        timeout=3600,
    )
    priority = PushFreshLeadsOperator(
        task_id="priority",
        conn_id="{{ params.conn_id }}",
        source="{{ params.priority_path }}",
        settings={"hub": "{{ params.hub }}"},
        column_mapping=mapping,
        default_region="UY",
        default_timezone="America/Montevideo",
        calling_window=WINDOW,
        max_reject_ratio=0.5,
    )
    upload >> wait >> priority


dialer_ucontact_hub_launch()
