"""Extra links against the XCALLY emulator over real HTTP: the ids that landed on the server become the
links' URLs, a deferred task has its links before it defers, and a template naming what the vendor
cannot fill stops the task before any request."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.links import DialerCampaignLink, DialerListLink
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.sensors.wait import ListLoadedSensor

pytestmark = pytest.mark.integration
UTC = dt.UTC
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)  # 12:00 in New York: every lead below may be called now
UI = "https://motion-ui.example"


class Key:
    """What Airflow passes as ``ti_key``; unused while the operator holds its links in memory."""

    dag_id, task_id, run_id, map_index = "d", "t", "r", -1


def link(link_cls: type, op: object) -> str:
    return link_cls().get_link(op, ti_key=Key())


def leads(n: int) -> list[dict]:
    return [
        {"phones": [f"+1212555{i:04d}"], "first_name": f"Lead{i}", "timezone": "America/New_York"} for i in range(n)
    ]


def with_templates(emu, monkeypatch, conn_id: str, **templates: str) -> None:
    conn = emu.connection("xcally")
    conn["extra"] = {**conn["extra"], **templates}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    with_templates(
        fresh_dialer_emulator,
        monkeypatch,
        "xcally_links",
        campaign_link_template="{origin}/#/campaigns/{campaign_id}",
        # a template carrying user info and an api key: both must be gone from the link
        list_link_template=f"https://admin:pw@{UI[8:]}/#/lists/{{list_id}}?campaign={{campaign_id}}&apikey=leak",
    )
    return fresh_dialer_emulator


def state(emu) -> dict:
    dump = emu.state("xcally")
    return dump.get("xcally", dump)


def test_campaign_and_list_links_carry_the_ids_the_server_holds(emu, tmp_path):
    origin = emu.base_url("xcally")
    create = CreateCampaignOperator(
        task_id="campaign", conn_id="xcally_links", name="daily", settings={"dialMethod": "progressive", "TrunkId": 12}
    )
    campaign_id = create.execute({})
    (campaign,) = state(emu)["campaigns"]
    assert campaign["id"] == campaign_id
    assert link(DialerCampaignLink, create) == f"{origin}/#/campaigns/{campaign_id}"

    again = CreateCampaignOperator(
        task_id="campaign", conn_id="xcally_links", name="daily", settings={"dialMethod": "progressive", "TrunkId": 12}
    )
    assert again.execute({}) == campaign_id  # found by name: same link
    assert link(DialerCampaignLink, again) == f"{origin}/#/campaigns/{campaign_id}"

    upload = UploadListOperator(
        task_id="upload",
        conn_id="xcally_links",
        list_name="leads",
        source=leads(3),
        settings={"campaign_id": campaign_id},
        progress=str(tmp_path / "p.json"),
    )
    summary = upload.execute({})
    (lst,) = state(emu)["lists"]
    assert summary["ids"]["list_id"] == lst["id"] and lst["contacts"] == 3
    assert link(DialerListLink, upload) == f"{UI}/#/lists/{lst['id']}?campaign={campaign_id}"
    assert link(DialerCampaignLink, upload) == f"{origin}/#/campaigns/{campaign_id}"

    fresh = PushFreshLeadsOperator(
        task_id="fresh",
        conn_id="xcally_links",
        source=leads(1),
        settings={"list_name": "leads"},
        progress=str(tmp_path / "f.json"),
    )
    fresh.execute({})
    # an existing list of no campaign: the list link needs {campaign_id}, so there is none
    assert link(DialerListLink, fresh) == "" and link(DialerCampaignLink, fresh) == ""

    control = ControlCampaignOperator(
        task_id="on", conn_id="xcally_links", campaign_id=str(campaign_id), command="activate"
    )
    control.execute({})
    assert state(emu)["campaigns"][0]["dialActive"] is True
    assert link(DialerCampaignLink, control) == f"{origin}/#/campaigns/{campaign_id}"


def test_a_deferred_upload_and_sensor_have_their_links_before_they_defer(emu, tmp_path, monkeypatch, fake_ti):
    campaign_id = CreateCampaignOperator(
        task_id="campaign", conn_id="xcally_default", name="csv", settings={"dialMethod": "progressive", "TrunkId": 12}
    ).execute({})
    upload = UploadListOperator(
        task_id="upload",
        conn_id="xcally_links",
        list_name="csv leads",
        source=leads(4),
        settings={"mode": "csv", "campaign_id": campaign_id},
        wait_for_completion=True,
        progress=str(tmp_path / "p.json"),
    )
    with pytest.raises(TaskDeferred) as deferred:
        upload.execute({"ti": fake_ti()})
    (lst,) = state(emu)["lists"]
    # Airflow stores the links when the task defers (finalize runs then too); the resumed task reads them back
    assert link(DialerListLink, upload) == f"{UI}/#/lists/{lst['id']}?campaign={campaign_id}"
    targets = deferred.value.trigger.serialize()[1]["targets"]

    sensor = ListLoadedSensor(task_id="wait", conn_id="xcally_links", targets=targets)
    with pytest.raises(TaskDeferred):
        sensor.execute({})
    assert link(DialerListLink, sensor) == ""  # the template also names {campaign_id}, which a sensor never knows

    with_templates(emu, monkeypatch, "xcally_list_only", list_link_template="{origin}/#/lists/{list_id}")
    sensor = ListLoadedSensor(
        task_id="wait", conn_id="xcally_list_only", targets=targets, deferrable=False, poke_interval=0.05, timeout=30
    )
    sensor.execute({})  # poke mode: waits here until the CSV import holds every contact
    assert link(DialerListLink, sensor) == f"{emu.base_url('xcally')}/#/lists/{lst['id']}"


def test_a_template_naming_a_secret_stops_the_task_before_any_request(emu, tmp_path, monkeypatch):
    with_templates(emu, monkeypatch, "xcally_bad_link", campaign_link_template="{origin}/c/{campaign_id}?p={password}")
    ops = [
        CreateCampaignOperator(
            task_id="campaign",
            conn_id="xcally_bad_link",
            name="daily",
            settings={"dialMethod": "progressive", "TrunkId": 12},
        ),
        ControlCampaignOperator(task_id="on", conn_id="xcally_bad_link", campaign_id="1", command="activate"),
        UploadListOperator(
            task_id="upload",
            conn_id="xcally_bad_link",
            list_name="leads",
            source=leads(2),
            progress=str(tmp_path / "p.json"),
        ),
    ]
    for op in ops:
        with pytest.raises(
            DialerConfigError,
            match=r"'xcally_bad_link' extra 'campaign_link_template': unknown "
            r"placeholder\(s\) \{password\}",
        ):
            op.execute({})
    assert emu.requests("xcally") == []
