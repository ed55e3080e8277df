"""A large list done the Airflow way: split the source, upload the parts with dynamic task mapping.

1. ``split``: streams the day's CSV into parts of ``rows_per_part`` rows (JSON Lines files next to
   it) and returns their paths; only the paths travel through XCom. It drops rows whose phone
   digits repeat an earlier row, because preparation de-duplicates within one part only and UJET
   fails an import job whose phone is already in the campaign.
2. ``upload``: ``UploadListOperator.partial(...).expand(source=...)``: one mapped task per part, so a
   Celery or Kubernetes executor spreads the work over its workers (``max_active_tis_per_dag``
   bounds the load on the vendor). Each part is imported into the UJET campaign and waits on its
   own import job.

Resuming: each mapped task keeps its own delivery progress (an Airflow Variable keyed by map
index). When one part fails, the others stay done; clear or retry only the failed map index and it
resumes from its last delivered chunk, never importing a chunk twice.
"""

from __future__ import annotations

import pathlib

import pendulum
from airflow.sdk import dag, task

from airflow_provider_dialer.operators.lists import UploadListOperator

#: the sample leads shipped with the examples (use your own file, table or object-storage path)
SAMPLE_LEADS = str(pathlib.Path(__file__).parent / "data" / "leads_sample.csv")


@dag(
    dag_id="dialer_large_list_mapped",
    schedule="0 5 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 3},
    params={
        "conn_id": "ujet_default",
        "campaign_id": 6,
        "leads_path": SAMPLE_LEADS,
        "rows_per_part": 5,
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "mapping"],
)
def dialer_large_list_mapped():
    @task
    def split(path: str, rows_per_part: int, run_key: str) -> list[str]:
        import csv
        import json
        import pathlib
        import re
        import tempfile

        # on Celery or Kubernetes the parts must live where every worker reads them (an object store:
        # ObjectStoragePath("s3://bucket/parts/...")); a local temp dir is enough for one machine
        out_dir = pathlib.Path(tempfile.gettempdir()) / "dialer-parts" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_key)
        out_dir.mkdir(parents=True, exist_ok=True)
        parts: list[str] = []
        handle = None
        seen: set[str] = set()  # a phone repeated across parts would fail the vendor's import job
        n = 0
        with open(path, newline="", encoding="utf-8-sig") as source:
            for row in csv.DictReader(source):
                digits = re.sub(r"\D", "", row.get("tel") or "")
                if digits and digits in seen:
                    continue
                seen.add(digits)
                if n % rows_per_part == 0:
                    if handle:
                        handle.close()
                    parts.append(str(out_dir / f"part-{len(parts):05d}.jsonl"))
                    handle = open(parts[-1], "w", encoding="utf-8")  # noqa: SIM115 - closed above/below
                handle.write(json.dumps(row) + "\n")
                n += 1
        if handle:
            handle.close()
        return parts

    parts = split("{{ params.leads_path }}", "{{ params.rows_per_part }}", "{{ run_id }}")
    UploadListOperator.partial(
        task_id="upload",
        conn_id="{{ params.conn_id }}",
        list_name="part",
        settings={"campaign_id": "{{ params.campaign_id }}"},
        column_mapping={"phones": ["tel", "tel_alt"], "first_name": "nome", "last_name": "sobrenome",
                        "timezone": "fuso", "country": "pais", "external_id": "id_cliente"},
        default_region="US",
        default_timezone="America/New_York",
        hold_back="reject",
        max_reject_ratio=1.0,
        wait_for_completion=True,
        poll_interval=0.5,
        max_active_tis_per_dag=4,
    ).expand(source=parts)


dialer_large_list_mapped()
