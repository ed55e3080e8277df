"""Daily launch that sends only the difference: a UJET campaign kept in step with a CRM table, day after day.

A renewals team's CRM export lists today's contacts; most of them were there yesterday. With
``sync_mode="mirror"`` and a sync ledger, each run sends only what changed since the last one:

- new contacts are imported;
- contacts whose name, e-mail or phone changed are updated in place (``PATCH`` by contact id);
- contacts that left the export are removed from the campaign (``DELETE`` by contact id);
- unchanged contacts are not sent at all.

To show two days in one run, ``day_1`` and ``day_2`` replay two consecutive exports into the same
campaign (``data/daily_sync_day1.csv`` then ``data/daily_sync_day2.csv``); ``report`` prints what
each day sent. A production DAG has one such task over today's table, e.g.
``source={"sql": "SELECT ... FROM crm_contacts WHERE active", "conn_id": "warehouse"}``.

The ledger lives in the database of the connection ``dialer_sync_ledger``; this example uses
SQLite (define it as ``AIRFLOW_CONN_DIALER_SYNC_LEDGER='sqlite:////tmp/dialer_sync_ledger.db'``),
production uses PostgreSQL so every worker reaches it. Each day also writes its outcome log (every
contact with what happened to it) next to the ledger, to join back to the CRM.
"""

from __future__ import annotations

import pathlib
import tempfile

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.operators.lists import UploadListOperator

DATA = pathlib.Path(__file__).parent / "data"
#: the common.sql connection holding the sync ledger (SQLite here, PostgreSQL in production)
LEDGER_CONN_ID = "dialer_sync_ledger"
MAPPING = {
    "phones": "tel",
    "first_name": "nome",
    "last_name": "sobrenome",
    "email": "email",
    "timezone": "fuso",
    "external_id": "id_cliente",
}


@dag(
    dag_id="dialer_daily_sync",
    schedule="0 10 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="America/Chicago"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 2},
    params={
        "conn_id": "ujet_default",
        "campaign_id": 8,
        "day_1": str(DATA / "daily_sync_day1.csv"),
        "day_2": str(DATA / "daily_sync_day2.csv"),
        "outcome_dir": tempfile.gettempdir(),
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "ujet", "sync"],
)
def dialer_daily_sync():
    def launch(day: str) -> UploadListOperator:
        return UploadListOperator(
            task_id=day,
            conn_id="{{ params.conn_id }}",
            source="{{ params." + day + " }}",
            list_name="renewals",
            settings={"campaign_id": "{{ params.campaign_id }}"},
            column_mapping=MAPPING,
            default_region="US",
            default_timezone="America/Chicago",
            sync_mode="mirror",  # add new keys, update changed ones, remove those that left the export
            ledger_conn_id=LEDGER_CONN_ID,
            outcome_log="{{ params.outcome_dir }}/dialer_daily_sync_{{ dag_run.run_after.strftime('%Y%m%dT%H%M%S') }}_"
            + day
            + ".csv",
            wait_for_completion=True,
            poll_interval=0.5,
        )

    day_1, day_2 = launch("day_1"), launch("day_2")

    @task
    def report(first: dict, second: dict) -> dict:
        out = {}
        for day, summary in (("day_1", first), ("day_2", second)):
            sync = summary["sync"]
            out[day] = {
                "read": summary["read"],
                "sent": {outcome: sync["recorded"].get(outcome, 0) for outcome in ("added", "updated", "removed")},
                "unchanged": sync["unchanged"],
                "refused": summary["refused_by_vendor"],
                "unknown": summary["unknown"],
                "outcome_log": sync.get("outcome_log"),
            }
        print("DIALER-SYNC-REPORT " + __import__("json").dumps(out, default=str))
        return out

    day_1 >> day_2
    report(day_1.output, day_2.output)


dialer_daily_sync()
