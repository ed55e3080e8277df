"""Runs after each daily list upload: scheduled on the list's asset, reads the counts the upload left.

``dialer_upload_asset`` names the XCALLY daily list as an asset in its ``outlets``; each successful
upload records an asset event whose ``extra`` carries the run's counts and target. This DAG is
scheduled on that asset, so it runs after every upload, and its task reads the events that
triggered it (a call-result export or a report would start here). A manual run has no event and
says so.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.lineage import dialer_asset

DAILY_LIST = dialer_asset("xcally_default", "list=daily leads")


@dag(
    dag_id="dialer_after_upload",
    schedule=[DAILY_LIST],
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng"},
    tags=["dialer", "example", "assets"],
)
def dialer_after_upload():
    @task
    def uploads_to_export(**context) -> list[dict]:
        uploads = []
        for events in (context.get("triggering_asset_events") or {}).values():
            for event in events:
                extra = dict(event.extra or {})
                print(
                    f"{extra.get('target')} on {extra.get('conn_id')}: {extra.get('accepted')} accepted of "
                    f"{extra.get('read')} read, {extra.get('rejected')} rejected"
                )
                uploads.append(extra)
        if not uploads:
            print("no upload event triggered this run (a manual run)")
        return uploads

    uploads_to_export()


dialer_after_upload()
