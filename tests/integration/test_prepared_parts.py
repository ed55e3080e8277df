"""Prepare once, send in parts, against the emulator over real HTTP: each part sent by its own (mapped) task,
a part's upload killed mid-way and retried, the part's window held at send time, a changed part refused.

What landed is read through the emulator's admin API; the expected leads come from the part files read
as plain JSON, not from the operators' summaries.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from pathlib import Path

import pytest

from airflow_provider_dialer.exceptions import DialerConfigError, DialerProgressError
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.operators.parts import PreparePartsOperator, prepare_parts

from .conftest import FakeTI, digits

pytestmark = pytest.mark.integration
UTC = dt.UTC
# 16:00 UTC: 12:00 in New York (open); 01:00 in Tokyo (closed until 23:00 UTC)
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=UTC)
MAPPING = {"phones": ["tel"], "first_name": "nome", "external_id": "id", "timezone": "fuso"}


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    return fresh_dialer_emulator


def source_csv(path: Path, seed: int, rows: int = 40) -> Path:
    """New York leads, one number in several spellings across the file, a few that are not phones."""
    rnd = random.Random(seed)
    pool = [f"212555{n:04d}" for n in rnd.sample(range(100, 9999), k=rows // 2)]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "nome", "tel", "fuso"])
        for i in range(rows):
            n = rnd.choice(pool)
            tel = rnd.choice([f"+1 {n[:3]} {n[3:6]} {n[6:]}", n, f"({n[:3]}) {n[3:6]}-{n[6:]}", "12"])
            writer.writerow([f"C-{i}", f"Lead {i}", tel, "America/New_York"])
    return path


def part_phones(entry: dict) -> list[str]:
    lines = Path(entry["path"]).read_text(encoding="utf-8").splitlines()[1:]
    return [digits(json.loads(line)["phone"]) for line in lines]


def stored(emu) -> dict[str, int]:
    counts = emu.leads("xcally", keys=True).get("xcally.contacts", {}).get("counts", {})
    return {digits(k): v for k, v in counts.items()}


def send_part(tmp_path, entry, map_index, **kwargs) -> dict:
    ti = FakeTI()
    ti.map_index = map_index
    params = dict(
        task_id="upload",
        conn_id="xcally_default",
        list_name="parts",
        prepared_part=entry,
        progress=str(tmp_path / f"progress-{map_index}.json"),
        chunk_size=3,
        concurrency=1,
    )
    params.update(kwargs)
    return UploadListOperator(**params).execute({"ti": ti})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parts_sent_by_mapped_tasks_one_killed_and_retried_store_each_lead_once(
    emu, tmp_path, monkeypatch, task_dies, seed
):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    entries = prepare_parts(
        str(source_csv(tmp_path / "leads.csv", seed)),
        str(tmp_path / "parts"),
        parts=3,
        column_mapping=MAPPING,
        default_region="US",
        now=AFTERNOON,
        reject_report=str(tmp_path / "rejects.jsonl"),
    )
    expected = [p for entry in entries for p in part_phones(entry)]
    assert len(expected) == len(set(expected))
    killed = random.Random(seed).randrange(len(entries))
    assert entries[killed]["leads"] > 4  # three chunks of two or more: the retry resumes past a delivered chunk
    real = XCallyHook.push_list_chunk
    for index, entry in enumerate(entries):
        if index == killed:
            monkeypatch.setattr(XCallyHook, "push_list_chunk", task_dies(real, "after_the_vendor_applied"))
            with pytest.raises(SystemExit):
                send_part(tmp_path, entry, index, chunk_size=2)
            monkeypatch.setattr(XCallyHook, "push_list_chunk", real)
            summary = send_part(tmp_path, entry, index, chunk_size=2)  # the retry of that map index
            assert summary["chunks_already_delivered"] >= 1
        else:
            summary = send_part(tmp_path, entry, index, chunk_size=2)
        assert summary["read"] == summary["accepted"] == entry["leads"] and summary["rejected"] == 0
    held = stored(emu)
    assert set(held.values()) == {1}, "a lead landed twice"
    assert sorted(held) == sorted(expected)
    # every source row: in a part (and landed) or in the one reject report of the whole source
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(expected) + len(rejects) == 40


def test_a_part_sent_later_is_held_to_its_own_window_at_send_time(emu, tmp_path, monkeypatch):
    """Prepared at noon in New York with a 09:00-17:00 window; sent at 18:00 there (inside the default
    window, outside the part's): the lead goes with the next opening of the part's window on the wire."""
    from zoneinfo import ZoneInfo

    path = tmp_path / "leads.csv"
    path.write_text("id,nome,tel,fuso\nA,Ana,2125550101,America/New_York\n", encoding="utf-8")
    entry = prepare_parts(
        str(path),
        str(tmp_path / "parts"),
        parts=1,
        column_mapping=MAPPING,
        default_region="US",
        now=AFTERNOON,
        calling_window={"start": "09:00", "end": "17:00"},
    )[0]
    monkeypatch.setattr(base_module, "utcnow", lambda: dt.datetime(2026, 6, 10, 22, 0, tzinfo=UTC))
    summary = send_part(tmp_path, entry, 0, settings={"mode": "batch"})
    assert summary["accepted"] == 1 and summary["rescheduled_at_send"] == 1
    contacts = emu.state("xcally")["xcally"]["contacts"]
    contact = (list(contacts.values()) if isinstance(contacts, dict) else contacts)[0]
    local = dt.datetime.fromisoformat(contact["scheduledat"].replace("Z", "+00:00"))
    if local.tzinfo is not None:
        local = local.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (dt.date(2026, 6, 11), 9, 0), contact["scheduledat"]


def test_a_part_that_changed_under_a_resumed_task_is_refused(emu, tmp_path, monkeypatch, task_dies):
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    path = tmp_path / "leads.csv"
    path.write_text("id,nome,tel,fuso\nA,Ana,2125550101,America/New_York\nB,Bo,2125550102,America/New_York\n")
    entry = prepare_parts(
        str(path), str(tmp_path / "parts"), parts=1, column_mapping=MAPPING, default_region="US", now=AFTERNOON
    )[0]
    real = XCallyHook.push_list_chunk
    monkeypatch.setattr(XCallyHook, "push_list_chunk", task_dies(real, "before_the_request"))
    with pytest.raises(SystemExit):  # killed at its second chunk: the progress stays
        send_part(tmp_path, entry, 0, chunk_size=1)
    monkeypatch.setattr(XCallyHook, "push_list_chunk", real)
    # the retry is given a part with other bytes (prepared again elsewhere, another window)
    other = prepare_parts(
        str(path),
        str(tmp_path / "parts2"),
        parts=1,
        column_mapping=MAPPING,
        default_region="US",
        now=AFTERNOON + dt.timedelta(hours=1),
        calling_window={"start": "09:00", "end": "20:00"},
    )[0]
    with pytest.raises(DialerProgressError, match="not the one an earlier attempt"):
        send_part(tmp_path, other, 0, chunk_size=1)
    assert stored(emu) == {"12125550101": 1}
    summary = send_part(tmp_path, entry, 0, chunk_size=1)  # the original part resumes
    assert summary["chunks_already_delivered"] == 1 and stored(emu) == {"12125550101": 1, "12125550102": 1}


def test_sending_a_part_takes_no_preparation_arguments(emu, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("id,nome,tel,fuso\nA,Ana,2125550101,America/New_York\n")
    entry = prepare_parts(str(path), str(tmp_path / "parts"), parts=1, column_mapping=MAPPING, default_region="US")[0]
    with pytest.raises(DialerConfigError, match="column_mapping"):
        send_part(tmp_path, entry, 0, column_mapping=MAPPING)
    with pytest.raises(DialerConfigError, match="source or prepared_part"):
        send_part(tmp_path, entry, 0, source=[{"phones": ["+12125550101"]}])
    with pytest.raises(DialerConfigError, match="give the leads"):
        UploadListOperator(task_id="u", conn_id="xcally_default", list_name="x")
    assert stored(emu) == {}


def test_part_task_rejects_name_source_rows_and_fresh_leads_send_a_part_too(emu, tmp_path):
    """A lead whose field is too long for the dialer is rejected by the sending task under its source
    row; PushFreshLeads sends a prepared part like UploadList does."""
    path = tmp_path / "leads.csv"
    path.write_text(
        f"id,nome,tel,fuso\nA,Ana,2125550101,America/New_York\nB,x,12,America/New_York\n"
        f"C,{'N' * 300},2125550103,America/New_York\n"
    )
    entry = prepare_parts(
        str(path), str(tmp_path / "parts"), parts=1, column_mapping=MAPPING, default_region="US", now=AFTERNOON
    )[0]
    summary = send_part(tmp_path, entry, 0, max_reject_ratio=1.0, reject_report=str(tmp_path / "part-rejects.jsonl"))
    assert summary["read"] == 2  # the part holds rows 1 and 3; row 2 was rejected by the preparing task
    assert summary["rejected_by_reason"] == {"field_too_long": 1} and summary["accepted"] == 1
    lines = [json.loads(x) for x in (tmp_path / "part-rejects.jsonl").read_text().splitlines()]
    assert [(x["row"], x["field"], x["reason"]) for x in lines] == [(3, "first_name", "field_too_long")]

    later = tmp_path / "later.csv"
    later.write_text("id,nome,tel,fuso\nD,Di,2125550104,America/New_York\n")
    fresh = prepare_parts(
        str(later), str(tmp_path / "fresh"), parts=1, column_mapping=MAPPING, default_region="US", now=AFTERNOON
    )[0]
    op = PushFreshLeadsOperator(
        task_id="push",
        conn_id="xcally_default",
        settings={"list_name": "parts"},
        prepared_part=fresh,
        progress=str(tmp_path / "p.json"),
    )
    assert op.execute({"ti": FakeTI()})["accepted"] == 1
    assert stored(emu) == {"12125550101": 1, "12125550104": 1}


def test_operator_pushes_summary_and_fails_on_rejects_before_any_part_is_sent(tmp_path, monkeypatch):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    path = tmp_path / "leads.csv"
    path.write_text("id,nome,tel,fuso\nA,Ana,2125550101,America/New_York\nB,x,12,America/New_York\n")
    op = PreparePartsOperator(
        task_id="prepare",
        source=str(path),
        destination=str(tmp_path / "parts"),
        parts=2,
        column_mapping=MAPPING,
        default_region="US",
        max_reject_ratio=0.0,
    )
    ti = FakeTI()
    with pytest.raises(AirflowFailException, match="1 of 2 lead rows rejected"):
        op.execute({"ti": ti})
    first = ti.pushed["summary"]
    assert first["rejected_by_reason"] == {"invalid_phone": 1}
    # each counter of the summary, from the file and the arguments: two data rows, one phone too short
    assert (first["read"], first["prepared"], first["rejected"]) == (2, 1, 1)
    assert first["parts"] == 2 and first["reused_manifest"] is False
    op.max_reject_ratio = 0.5
    entries = op.execute({"ti": ti})
    assert ti.pushed["summary"]["reused_manifest"] is True and [e["leads"] for e in entries] == [1, 0]
    assert ti.pushed["summary"]["parts"] == 2 == len(entries)
