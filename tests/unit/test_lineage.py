"""Asset events and dataset names of lead operators, without a dialer: the Task SDK's own outlet
accessors take the counts, and sources are named by what they are."""

from __future__ import annotations

from types import SimpleNamespace

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.execution_time.context import OutletEventAccessors

from airflow_provider_dialer.lineage import (
    DatasetName,
    asset_extra,
    dialer_asset,
    emit_asset_events,
    source_datasets,
    source_origin,
    target_dataset,
    target_label,
)

SUMMARY = {
    "read": 10,
    "prepared": 8,
    "rejected": 2,
    "rejected_by_reason": {"invalid_phone": 2},
    "held_back": 1,
    "accepted": 6,
    "refused_by_vendor": {"vendor_refused": 1},
    "unknown": 0,
    "reject_samples": [{"value": "***1"}],
    "ids": {"list_id": 7},
}


def test_every_declared_asset_gets_the_counts_and_an_alias_gets_the_target_asset():
    daily = dialer_asset("xcally_default", "list=daily leads")
    alias = AssetAlias("dialer-uploads")
    op = SimpleNamespace(conn_id="xcally_default", outlets=[daily, alias, Asset("other", uri="s3://b/k")])
    events = OutletEventAccessors()
    assert emit_asset_events(op, {"outlet_events": events}, {"list_id": 7}, SUMMARY) == 3
    for asset in (daily, Asset("other", uri="s3://b/k")):
        extra = events[asset].extra
        assert {
            k: extra[k] for k in ("read", "prepared", "rejected", "held_back", "accepted", "unknown", "refused")
        } == {"read": 10, "prepared": 8, "rejected": 2, "held_back": 1, "accepted": 6, "unknown": 0, "refused": 1}
        assert extra["target"] == "list_id=7" and extra["conn_id"] == "xcally_default"
        assert "reject_samples" not in extra and "ids" not in extra  # counts, never leads
    added = events[alias].asset_alias_events
    assert len(added) == 1 and added[0].dest_asset_key.uri == "dialer://xcally_default/list_id=7"
    assert added[0].extra["accepted"] == 6


def test_no_outlets_no_events_and_a_dry_run_says_so():
    assert (
        emit_asset_events(
            SimpleNamespace(conn_id="c", outlets=[]), {"outlet_events": OutletEventAccessors()}, {}, SUMMARY
        )
        == 0
    )
    extra = asset_extra("c", {}, {"read": 3, "prepared": 3, "rejected": 0, "dry_run": True, "would_send": 3})
    assert extra["dry_run"] is True and extra["would_send"] == 3 and extra["target"] is None


def test_targets_are_named_by_connection_and_target():
    assert target_label({"hub": "sales", "channel": "telephony", "zone_aware": True}) == "hub=sales,channel=telephony"
    assert target_label({"campaign": "POWER<-"}) == "campaign=POWER<-"  # a DialerTask target has no ledger key
    assert target_dataset("uc", {"list_id": 7, "list_name": "x"}) == DatasetName("dialer://uc", "list_id=7")
    assert dialer_asset("my conn", "list=a/b").uri == "dialer://my%20conn/list=a%2Fb"


def test_sources_are_named_by_what_they_are(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_dialer.leads import CsvSource

    local = tmp_path / "leads.csv"
    assert source_datasets(str(local), dag_id="d", task_id="t") == [DatasetName("file", str(local))]
    assert source_datasets(CsvSource(str(local)), dag_id="d", task_id="t") == [DatasetName("file", str(local))]
    assert source_datasets(ObjectStoragePath(f"file://{local}"), dag_id="d", task_id="t") == [
        DatasetName("file", str(local))
    ]
    assert source_datasets("s3://bucket/in/leads.csv", dag_id="d", task_id="t") == [
        DatasetName("s3://bucket", "in/leads.csv")
    ]
    assert source_datasets([{"phones": ["+1"]}], dag_id="d", task_id="t") == [DatasetName("airflow://d", "t.source")]
    assert source_datasets([], dag_id="d", task_id="t", origin="xcom:group.make:parts") == [
        DatasetName("airflow://d", "group.make.xcom.parts")
    ]
    assert source_origin("{{ dag_run.conf['leads'] }}") == "conf"
    assert source_origin("{{ ti.xcom_pull(task_ids='extract') }}") == "xcom:extract"
    assert source_origin("/data/leads.csv") is None and source_origin([{"phones": []}]) is None
