"""Event-driven push on an Airflow asset: an upstream system posts an asset event, leads go out in seconds.

The CRM (or any system) posts to Airflow's REST API::

    POST /api/v2/assets/events
    {"asset_id": <id of "dialer_hot_leads">, "extra": {"leads": [{"phones": ["+5511912345678"], "first_name": "Ana"}]}}

Each event's ``extra.leads`` are pushed as uContact fresh leads (a manual run may carry them in
``conf["leads"]`` instead, to replay an event by hand). The calling-hours guard decides now
or later per lead: inside 08:00-21:00 local the lead is dialed as soon as possible, otherwise its
``scheduleDate`` is its next window opening in its own zone.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task

from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator

HOT_LEADS = Asset("dialer_hot_leads", uri="dialer://hot-leads")


@dag(
    dag_id="dialer_event_asset_push",
    schedule=[HOT_LEADS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=4,
    default_args={"owner": "data-eng", "retries": 3, "retry_delay": pendulum.duration(seconds=5)},
    params={"conn_id": "ucontact_default", "hub": "hot_leads"},
    render_template_as_native_obj=True,
    tags=["dialer", "example", "event-driven"],
)
def dialer_event_asset_push():
    @task
    def leads_from_events(**context) -> list[dict]:
        leads: list[dict] = []
        for events in context["triggering_asset_events"].values():
            for event in events:
                leads.extend((event.extra or {}).get("leads", []))
        # a manual run (replaying an event by hand) may carry the leads in its conf instead
        leads.extend((context["dag_run"].conf or {}).get("leads", []))
        return leads

    PushFreshLeadsOperator(
        task_id="push",
        conn_id="{{ params.conn_id }}",
        source=leads_from_events(),
        settings={"hub": "{{ params.hub }}"},
        default_region="BR",
        default_timezone="America/Sao_Paulo",
    )


dialer_event_asset_push()
