"""Leads pushed from a REST-triggered run: the leads travel in ``conf``, each becomes an Integra DialerTask.

Trigger it with::

    POST /api/v2/dags/dialer_rest_triggered_push/dagRuns
    {"logical_date": null, "conf": {"campaign": "POWER<-", "leads": [
        {"phones": ["+59894123456", "+59899111222"], "first_name": "Carmen", "external_id": "C-7",
         "data": {"idcustomer": "7"}}]}}

Each lead becomes one ``DialerTask`` record with every key present; ``calldate`` is null when the
lead may be called now, or its next permitted time (08:00-21:00 in its own zone) rendered in the
instance's timezone.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator


@dag(
    dag_id="dialer_rest_triggered_push",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 3, "retry_delay": pendulum.duration(seconds=5)},
    params={
        "conn_id": Param("ucontact_default", type="string"),
        "campaign": Param("POWER<-", type="string"),
        "leads": Param([], type="array"),
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "event-driven"],
)
def dialer_rest_triggered_push():
    AddToDialerTaskOperator(
        task_id="dialer_task",
        conn_id="{{ params.conn_id }}",
        campaign="{{ params.campaign }}",
        source="{{ params.leads }}",
        default_region="UY",
        default_timezone="America/Montevideo",
    )


dialer_rest_triggered_push()
