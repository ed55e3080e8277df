"""Daily multi-vendor launch: the DAG `make demo` runs end to end against the bundled emulator.

Flow (one run = one day's leads, picked with the run's data interval):

1. ``xcally_upload``: the day's leads from a SQL table (``dialer_leads_db``) into an XCALLY list,
   created or reused by name, through the two-step CSV import; the task waits (deferred) until the
   list holds every contact.
2. ``xcally_campaign``: a queue campaign created or reused by name, with the list and agents attached.
3. ``xcally_start``: the campaign is activated (``dialActive``).
4. ``ujet_import``: the same leads imported into a UJET campaign; the task waits (deferred) on the
   import job and reports contacts the vendor refused. UJET contacts take no per-contact time, so
   leads outside their calling window at run time are rejected here (``hold_back="reject"``) to
   let the demo end at any hour; the default, ``"defer"``, pushes them when their window opens.
5. ``ucontact_fresh``: the priority leads pushed to a uContact hub as fresh leads, each with its own
   ``scheduleDate`` and timezone inside its calling window.
6. ``report``: one readable summary of the three pushes.

Every lead is scheduled inside 08:00-21:00 in its own zone (the calling-hours guard, on by
default). Connection ids and settings come from params with defaults that work with the emulator
(``dialer-emulator --print-env``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

DAY_LEADS_SQL = """
SELECT id_cliente, nome, sobrenome, tel, tel_alt, email, fuso, agendar, pais, prioridade
FROM leads WHERE due_date = '{{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}' ORDER BY id_cliente
"""
MAPPING = {
    "phones": ["tel", "tel_alt"],
    "first_name": "nome",
    "last_name": "sobrenome",
    "timezone": "fuso",
    "schedule": "agendar",
    "country": "pais",
    "external_id": "id_cliente",
    "priority": "prioridade",
}


@dag(
    dag_id="dialer_launch_demo",
    schedule="0 7 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="America/Sao_Paulo"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2, "retry_delay": pendulum.duration(seconds=5)},
    params={
        "xcally_conn_id": "xcally_default",
        "ujet_conn_id": "ujet_default",
        "ucontact_conn_id": "ucontact_default",
        "ujet_campaign_id": 6,
        "ucontact_hub": "sales",
        "agents": [24, 26],
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "demo"],
)
def dialer_launch_demo():
    common = {
        "source": {"sql": DAY_LEADS_SQL, "conn_id": "dialer_leads_db"},
        "column_mapping": MAPPING,
        "default_region": "BR",
        "default_timezone": "America/Sao_Paulo",
        "max_reject_ratio": 0.5,
    }
    upload = UploadListOperator(
        task_id="xcally_upload",
        conn_id="{{ params.xcally_conn_id }}",
        list_name="leads {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        settings={"mode": "csv"},
        wait_for_completion=True,
        poll_interval=0.2,
        **common,
    )
    campaign = CreateCampaignOperator(
        task_id="xcally_campaign",
        conn_id="{{ params.xcally_conn_id }}",
        name="daily-launch",
        calling_hours="08:00-21:00",
        weekdays=[1, 2, 3, 4, 5],
        lists="{{ ti.xcom_pull('xcally_upload')['ids']['list_id'] }}",
        agents="{{ params.agents }}",
        settings={"dialMethod": "progressive", "TrunkId": 12},
    )
    start = ControlCampaignOperator(
        task_id="xcally_start",
        conn_id="{{ params.xcally_conn_id }}",
        campaign_id="{{ ti.xcom_pull('xcally_campaign') }}",
        command="activate",
    )
    ujet = UploadListOperator(
        task_id="ujet_import",
        conn_id="{{ params.ujet_conn_id }}",
        list_name="leads {{ (data_interval_end if data_interval_end is defined else dag_run.run_after) | ds }}",
        settings={"campaign_id": "{{ params.ujet_campaign_id }}"},
        wait_for_completion=True,
        poll_interval=0.2,
        # UJET contacts carry no time: leads outside their window right now are rejected here so the
        # demo ends at any hour (a production DAG keeps the default hold_back="defer" and waits)
        hold_back="reject",
        **{**common, "max_reject_ratio": 1.0},
    )
    fresh = PushFreshLeadsOperator(
        task_id="ucontact_fresh",
        conn_id="{{ params.ucontact_conn_id }}",
        settings={"hub": "{{ params.ucontact_hub }}"},
        **common,
    )

    @task
    def report(xcally: dict, ujet_result: dict, ucontact: dict, campaign_id) -> dict:
        lines = {"xcally": xcally, "ujet": ujet_result, "ucontact": ucontact}
        out = {}
        for vendor, summary in lines.items():
            out[vendor] = {
                key: summary.get(key)
                for key in (
                    "read",
                    "prepared",
                    "rejected",
                    "rejected_by_reason",
                    "held_back",
                    "accepted",
                    "refused_by_vendor",
                    "unknown",
                    "ids",
                    "wait_result",
                    "scheduled_by_timezone",
                )
            }
        out["xcally"]["campaign_id"] = campaign_id
        print("DIALER-DEMO-REPORT " + __import__("json").dumps(out, default=str))
        return out

    upload >> campaign >> start
    report(upload.output, ujet.output, fresh.output, campaign.output)


dialer_launch_demo()
