"""The vendor's answer, end to end against the emulator: over-long fields are rejected at preparation or,
when they reach the vendor, found by splitting the refused chunk; a failed login stops the task instead of
making every record ``unknown``; no error text carries a full phone number. What landed is read through
the emulator's admin API."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_dialer.exceptions import DialerAuthError, DialerError, DialerHTTPError
from airflow_provider_dialer.hooks.xcally import XCallyHook
from airflow_provider_dialer.operators import base as base_module
from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
from airflow_provider_dialer.operators.lists import UploadListOperator

pytestmark = pytest.mark.integration
AFTERNOON = dt.datetime(2026, 6, 10, 16, 0, tzinfo=dt.UTC)  # 12:00 in New York
TOO_LONG = {"first_name": "N" * 256, "last_name": "L" * 300, "email": "e" * 250 + "@x.com"}


@pytest.fixture
def emu(fresh_dialer_emulator, monkeypatch):
    monkeypatch.setattr(base_module, "utcnow", lambda: AFTERNOON)
    return fresh_dialer_emulator


def phone(i: int) -> str:
    return f"+1212555{i:04d}"


def generated(seed: int, n: int) -> tuple[list[dict], dict[int, str]]:
    """``n`` leads; a random subset carries one over-long field. Returns the source and row -> that field."""
    rng = random.Random(seed)
    source, bad = [], {}
    for i in range(1, n + 1):
        lead = {"phones": [phone(i)], "first_name": f"Lead{i}", "timezone": "America/New_York"}
        if rng.random() < 0.15:
            field = rng.choice(sorted(TOO_LONG))
            lead[field] = TOO_LONG[field]
            bad[i] = field
        source.append(lead)
    return source, bad


def stored_counts(emu) -> dict[str, int]:
    return emu.leads("xcally", keys=True).get("xcally.contacts", {}).get("counts", {})


def report_rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def full_phones_in(text: str, n: int) -> list[str]:
    digits = re.sub(r"\D", "", text)
    return [phone(i) for i in range(1, n + 1) if phone(i)[1:] in digits]


@pytest.mark.parametrize("seed", [3, 17, 2026])
def test_over_long_fields_are_rejected_at_preparation_and_the_rest_lands_once(emu, tmp_path, seed):
    source, bad = generated(seed, 60)
    assert bad
    report = tmp_path / "rejects.jsonl"
    op = UploadListOperator(
        task_id="u",
        conn_id="xcally_default",
        list_name="l",
        source=source,
        chunk_size=25,
        progress=str(tmp_path / "p.json"),
        reject_report=str(report),
        max_reject_ratio=1,
    )
    summary = op.execute({})
    counts = stored_counts(emu)
    good = {phone(i)[1:] for i in range(1, 61) if i not in bad}
    assert set(counts) == good and set(counts.values()) == {1}
    assert summary["rejected_by_reason"] == {"field_too_long": len(bad)} and summary["refused_by_vendor"] == {}
    rows = {r["row"]: r for r in report_rows(report)}
    assert set(rows) == set(bad)
    for row, field in bad.items():
        assert rows[row]["reason"] == "field_too_long" and rows[row]["field"] == field
        assert "at most 255" in rows[row]["detail"]


@pytest.mark.parametrize("seed", [5, 11, 404])
def test_a_chunk_refused_by_the_vendor_is_split_so_only_the_bad_leads_are_refused(emu, tmp_path, monkeypatch, seed):
    """Preparation does not know the limits here (as for a vendor that documents none): the vendor's 400
    refuses whole chunks, the split finds the bad leads, each is refused with the vendor's reason."""
    monkeypatch.setattr(XCallyHook, "lead_field_limits", {})
    source, bad = generated(seed, 80)
    report = tmp_path / "rejects.jsonl"

    def op() -> UploadListOperator:
        return UploadListOperator(
            task_id="u",
            conn_id="xcally_default",
            list_name="l",
            source=source,
            chunk_size=40,
            progress=str(tmp_path / "p.json"),
            reject_report=str(report),
        )

    with pytest.raises(AirflowFailException) as failed:  # max_reject_ratio 0: refused leads make it red
        op().execute({})
    counts = stored_counts(emu)
    good = {phone(i)[1:] for i in range(1, 81) if i not in bad}
    assert set(counts) == good and set(counts.values()) == {1}  # every good lead landed, once
    rows = {r["row"]: r for r in report_rows(report)}
    assert set(rows) == set(bad) and {r["level"] for r in rows.values()} == {"refused"}
    wire = {"first_name": "firstName", "last_name": "lastName", "email": "email"}
    for row, field in bad.items():
        assert rows[row]["reason"] == "vendor_refused" and rows[row]["field"] == wire[field]
        assert "at most 255 characters" in rows[row]["detail"]  # the vendor's own words
    message = str(failed.value)
    assert f"{len(bad)} of 80 leads not delivered" in message and "vendor_refused" in message
    assert not full_phones_in(message, 80)
    # the retry (a cleared task) sends nothing again: the chunks are done
    before = len(emu.requests("xcally"))
    with pytest.raises(AirflowFailException):
        op().execute({})
    assert [r for r in emu.requests("xcally")[before:] if r["method"] == "POST"] == []


def test_a_vendor_error_that_repeats_the_chunk_phones_never_reaches_an_error_text(emu, tmp_path, caplog):
    n = 6
    echo = {
        "name": "SequelizeUniqueConstraintError",
        "message": "duplicates: " + ", ".join(phone(i) for i in range(1, n + 1)),
        "errors": [
            {"path": "phone", "message": "phone must be unique", "value": phone(i)[1:]} for i in range(1, n + 1)
        ],
    }
    emu.set_faults("xcally", [{"kind": "status", "status": 409, "path": r"^/api/cm/lists/\d+/contacts$", "body": echo}])
    source = [{"phones": [phone(i)], "first_name": f"L{i}", "timezone": "America/New_York"} for i in range(1, n + 1)]
    op = UploadListOperator(
        task_id="u",
        conn_id="xcally_default",
        list_name="l",
        source=source,
        chunk_size=n,
        progress=str(tmp_path / "p.json"),
    )
    with pytest.raises(DialerHTTPError) as failed:
        op.execute({})
    assert failed.value.status == 409
    assert not full_phones_in(str(failed.value), n), str(failed.value)
    assert not full_phones_in(failed.value.body, n)
    assert "duplicates" in str(failed.value)  # the vendor's words stay, only the numbers are masked
    assert not full_phones_in(caplog.text, n)


def test_a_failed_integra_login_fails_the_task_instead_of_making_every_record_unknown(emu, tmp_path):
    source = [{"phones": [phone(i)], "first_name": f"L{i}", "timezone": "America/New_York"} for i in range(1, 9)]
    emu.set_faults("ucontact", [{"kind": "status", "status": 500, "path": "getUserToken"}])

    def op() -> AddToDialerTaskOperator:
        return AddToDialerTaskOperator(
            task_id="t",
            conn_id="ucontact_default",
            campaign="POWER<-",
            source=source,
            progress=str(tmp_path / "p.json"),
            chunk_size=4,
        )

    with pytest.raises(DialerAuthError, match="getUserToken failed") as failed:
        op().execute({})
    assert not isinstance(failed.value, AirflowFailException)  # an ordinary failure: Airflow retries it
    assert emu.state("ucontact").get("integra", emu.state("ucontact")).get("tasks", []) == []
    emu.set_faults("ucontact", [])
    summary = op().execute({})  # the retry, once the login works again
    assert summary["accepted"] == 8 and summary["unknown"] == 0
    counts = emu.leads("ucontact", keys=True).get("integra.dialertask", {}).get("counts", {})
    assert len(counts) == 8 and set(counts.values()) == {1}


def test_a_target_that_cannot_be_opened_fails_the_task_and_sends_nothing(emu, tmp_path):
    emu.set_faults("xcally", [{"kind": "status", "status": 500, "path": r"^/api/cm/lists$"}])
    source = [{"phones": [phone(1)], "first_name": "A", "timezone": "America/New_York"}]
    op = UploadListOperator(
        task_id="u", conn_id="xcally_default", list_name="l", source=source, progress=str(tmp_path / "p.json")
    )
    with pytest.raises(DialerError) as failed:
        op.execute({})
    assert not isinstance(failed.value, AirflowFailException)
    assert stored_counts(emu) == {}
