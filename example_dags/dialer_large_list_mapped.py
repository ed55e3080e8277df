"""A large list done the Airflow way: prepare the source once, send the parts with dynamic task mapping.

1. ``prepare`` (``PreparePartsOperator``): reads and prepares the whole day's CSV once: phones to
   E.164, zones, the calling window, de-duplication over the whole file (``+1 212 555 0101`` and
   ``2125550101`` are one lead, whichever part either would have landed in), do-not-call, and one
   reject report for the source. It writes the prepared leads as parts of ``leads_per_part`` leads
   plus a manifest under ``parts_root``/<run>, and returns the parts' entries (paths, counts,
   digests); only those travel through XCom.
2. ``upload``: ``UploadListOperator.partial(...).expand(prepared_part=...)``: one mapped task per
   part, so a Celery or Kubernetes executor spreads the sending over its workers
   (``max_active_tis_per_dag`` bounds the load on the vendor). Each part is sent as prepared (no
   second preparation), with each lead's calling window checked again as it goes out, imported into
   the UJET campaign, and waits on its own import job.

On Celery or Kubernetes the parts must live where every worker reads them: set ``parts_root`` to an
object store (``s3://bucket/dialer-parts``; any ``ObjectStoragePath``). A local directory is enough
when the workers share a machine.

Resuming: each mapped task keeps its own delivery progress (an Airflow Variable keyed by map
index) and pins the digest of its part. When one part fails, the others stay done; clear or retry
only the failed map index and it resumes from its last delivered chunk, never importing a chunk
twice. A retried ``prepare`` finds its manifest and returns it without reading the source again.
"""

from __future__ import annotations

import pathlib
import tempfile

import pendulum
from airflow.sdk import dag

from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.operators.parts import PreparePartsOperator

#: the sample leads shipped with the examples (use your own file, table or object-storage path)
SAMPLE_LEADS = str(pathlib.Path(__file__).parent / "data" / "large_list_sample.csv")
#: where the parts go, one directory per run: an object store on a multi-machine deployment
PARTS_ROOT = str(pathlib.Path(tempfile.gettempdir()) / "dialer-parts")


@dag(
    dag_id="dialer_large_list_mapped",
    schedule="0 5 * * 1-5",
    start_date=pendulum.datetime(2026, 1, 5, tz="UTC"),
    catchup=False,
    default_args={"owner": "data-eng", "retries": 3},
    params={
        "conn_id": "ujet_default",
        "campaign_id": 9,
        "leads_path": SAMPLE_LEADS,
        "leads_per_part": 5,
        "parts_root": PARTS_ROOT,
    },
    render_template_as_native_obj=True,
    tags=["dialer", "example", "mapping"],
)
def dialer_large_list_mapped():
    prepare = PreparePartsOperator(
        task_id="prepare",
        source="{{ params.leads_path }}",
        # one directory per run (the run id made safe for any file system or object store)
        destination="{{ params.parts_root }}/{{ dag.dag_id }}/{{ run_id | replace(':', '_') | replace('+', '_') }}",
        leads_per_part="{{ params.leads_per_part }}",
        column_mapping={
            "phones": ["tel", "tel_alt"],
            "first_name": "nome",
            "last_name": "sobrenome",
            "timezone": "fuso",
            "country": "pais",
            "external_id": "id_cliente",
        },
        default_region="US",
        default_timezone="America/New_York",
        reject_report="{{ params.parts_root }}/{{ dag.dag_id }}/{{ run_id | replace(':', '_') | replace('+', '_') }}"
        "/rejects.csv",
        max_reject_ratio=1.0,
    )
    UploadListOperator.partial(
        task_id="upload",
        conn_id="{{ params.conn_id }}",
        list_name="part",
        settings={"campaign_id": "{{ params.campaign_id }}"},
        hold_back="reject",
        max_reject_ratio=1.0,
        wait_for_completion=True,
        poll_interval=0.5,
        max_active_tis_per_dag=4,
    ).expand(prepared_part=prepare.output)


dialer_large_list_mapped()
