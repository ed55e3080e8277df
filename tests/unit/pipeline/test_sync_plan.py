"""The sync plan over a real SQLite ledger: days of runs against a model written apart from the code, and a
retried task that plans exactly what its first attempt planned."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import ChunkOutcome
from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.leads.model import PreparedLead
from airflow_provider_dialer.pipeline.ledger import SyncLedger
from airflow_provider_dialer.pipeline.sync import SyncPlan, outcome_entries, target_name

T0 = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    conn_id = f"plan_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", f"sqlite://{tmp_path}/plan-{conn_id}.db")
    with SyncLedger(conn_id, batch_size=4) as led:
        yield led


def _lead(row: int, ident: int, name: str) -> PreparedLead:
    return PreparedLead(
        row=row, phone=f"+1212555{ident:04d}", external_id=f"C{ident}", first_name=name, timezone="America/New_York"
    )


def _plan(ledger, mode, writer, at, max_retries=2) -> SyncPlan:
    return SyncPlan(
        ledger, "dialer", "list_id=1", mode, writer=writer, prepared_at=at, max_retries=max_retries, batch=3
    )


def _deliver(ledger, plan_leads, verdicts, writer):
    """Record what the vendor did with the sent leads, as the operator does after each chunk."""
    refused = [
        {"row": lead.row, "reason": "bad_field"} for lead in plan_leads if verdicts[lead.external_id] == "refused"
    ]
    unknown = [lead.row for lead in plan_leads if verdicts[lead.external_id] == "unknown"]
    outcome = ChunkOutcome(accepted=len(plan_leads) - len(refused) - len(unknown), refused=refused, unknown=unknown)
    ledger.record("dialer", "list_id=1", outcome_entries(plan_leads, outcome, writer=writer))


day_strategy = st.lists(
    st.tuples(st.integers(0, 9), st.sampled_from(["Ana", "Bo"]), st.sampled_from(["ok", "ok", "refused", "unknown"])),
    max_size=10,
    unique_by=lambda t: t[0],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(days=st.lists(day_strategy, min_size=1, max_size=5))
# every counter moves at least once whatever hypothesis draws: a key refused on three runs is
# exhausted on the fourth; a delivered key comes back changed (held), then as it was (unchanged)
@example(days=[[(1, "Ana", "refused")]] * 4 + [[(1, "Ana", "ok")]])
@example(days=[[(1, "Ana", "ok"), (2, "Bo", "unknown")], [(1, "Bo", "ok"), (2, "Bo", "ok")], [(1, "Ana", "ok")]])
def test_insert_mode_over_days_agrees_with_a_model(ledger, days):
    target_state = {}  # model: key -> {"name", "delivered": bool, "fails": consecutive failed runs}
    ledger.reset("dialer")
    for day, rows in enumerate(days):
        leads = [_lead(i + 1, ident, name) for i, (ident, name, _) in enumerate(rows)]
        verdicts = {f"C{ident}": verdict for ident, _, verdict in rows}
        writer = f"run-{day}"
        plan = _plan(ledger, "insert", writer, T0 + dt.timedelta(days=day))
        sent = list(plan.filter(leads))
        # the model, written from the promise: send a key the target does not hold, or one that failed on
        # at most max_retries runs so far; never a key the target holds
        expected = []
        for lead in leads:
            st_ = target_state.get(lead.external_id)
            if st_ is None or (not st_["delivered"] and st_["fails"] <= 2):
                expected.append(lead.external_id)
        assert [lead.external_id for lead in sent] == expected
        # each counter of the run summary's "sync" section, from the model: a key the target does not
        # hold is added; a failed one retried until it failed on more than max_retries runs; a
        # delivered one is unchanged if its content is, else held by the target (insert does not update)
        model = dict.fromkeys(("to_add", "retried", "retries_exhausted", "unchanged", "held_by_target"), 0)
        for lead in leads:
            st_ = target_state.get(lead.external_id)
            if st_ is None:
                model["to_add"] += 1
            elif not st_["delivered"]:
                model["retried" if st_["fails"] <= 2 else "retries_exhausted"] += 1
            else:
                model["unchanged" if st_["name"] == lead.first_name else "held_by_target"] += 1
        summary = plan.summary()
        assert {k: summary[k] for k in model} == model
        assert summary["to_update"] == 0 and len(summary["skipped_samples"]) == min(20, len(leads) - len(sent))
        _deliver(ledger, sent, verdicts, writer)
        for lead in sent:
            st_ = target_state.setdefault(lead.external_id, {"delivered": False, "fails": 0})
            if verdicts[lead.external_id] == "ok":
                st_["delivered"], st_["fails"], st_["name"] = True, 0, lead.first_name
            else:
                st_["fails"] += 1
        assert plan.counts["add"] + plan.counts["retry"] == len(sent)
        assert sum(plan.counts.values()) == len(leads)


def test_unchanged_and_changed_keys_are_told_apart(ledger):
    day1 = [_lead(1, 1, "Ana"), _lead(2, 2, "Bo")]
    plan = _plan(ledger, "insert", "r1", T0)
    _deliver(ledger, list(plan.filter(day1)), {"C1": "ok", "C2": "ok"}, "r1")
    plan = _plan(ledger, "insert", "r2", T0 + dt.timedelta(days=1))
    assert list(plan.filter([_lead(1, 1, "Ana"), _lead(2, 2, "Bob"), _lead(3, 3, "Cy")])) == [_lead(3, 3, "Cy")]
    assert plan.counts == {"unchanged": 1, "held_by_target": 1, "add": 1}
    assert {s[3] for s in plan.skipped} == {"unchanged", "held_by_target"}
    # append mode ignores the ledger: everything goes
    plan = _plan(ledger, "append", "r3", T0 + dt.timedelta(days=2))
    assert len(list(plan.filter([_lead(1, 1, "Ana"), _lead(2, 2, "Bob")]))) == 2


def test_a_retried_task_plans_what_its_first_attempt_planned(ledger):
    """Attempt 1 records its first chunk and dies; attempt 2 (same run, same preparation instant) must cut the same
    chunks, or progress would not recognise them and exactly-once would break."""
    ledger.record(
        "dialer", "list_id=1", outcome_entries([_lead(9, 5, "Old")], ChunkOutcome(accepted=1), writer="yesterday")
    )
    leads = [_lead(i, i, "N") for i in range(1, 8)]
    prepared_at = dt.datetime.now(dt.UTC)  # the first attempt's instant, before it wrote anything
    first = _plan(ledger, "insert", "today", prepared_at)
    planned = list(first.filter(leads))
    assert [lead.row for lead in planned] == [1, 2, 3, 4, 6, 7]  # key C5 is held by the target since yesterday
    _deliver(ledger, planned[:3], {lead.external_id: "ok" for lead in planned[:3]}, "today")
    _deliver(ledger, planned[3:4], {planned[3].external_id: "refused"}, "today")
    again = _plan(ledger, "insert", "today", prepared_at)
    assert [lead.row for lead in again.filter(leads)] == [lead.row for lead in planned]
    # the next day's run sees today's deliveries
    tomorrow = _plan(ledger, "insert", "tomorrow", prepared_at + dt.timedelta(days=1))
    assert [lead.row for lead in tomorrow.filter(leads)] == [4, 6, 7]  # row 4 was refused: tried again


def test_settings_are_checked():
    with pytest.raises(DialerConfigError, match="sync_mode"):
        SyncPlan(None, "d", "t", "merge", writer="w", prepared_at=T0)  # type: ignore[arg-type]
    with pytest.raises(DialerConfigError, match="max_sync_retries"):
        SyncPlan(None, "d", "t", "insert", writer="w", prepared_at=T0, max_retries=-1)  # type: ignore[arg-type]
    assert target_name({"list_id": 7, "list_name": "Daily", "pids": [1]}) == "list_id=7"
    assert target_name({"list_id": 7, "campaign_id": 3}) == "campaign_id=3"
    assert target_name({"hub": "Ventas", "channel": "telephony", "list_name": "x"}) == "hub=Ventas,channel=telephony"
    assert target_name({"list_name": "Daily", "phone_format": "e164"}) == "list_name=Daily"
    with pytest.raises(DialerConfigError, match="no hub, campaign, list id or list name"):
        target_name({"pids": [1]})


@pytest.mark.parametrize("mode", ["upsert", "mirror"])
def test_a_retried_upsert_task_keeps_its_updates_as_updates(ledger, mode):
    """Attempt 1 adds the new keys, updates a changed one (and records a refused update) and dies; attempt 2 must
    cut the same add chunks and hold the same updates: an update moved into the adds would be a second contact."""
    from airflow_provider_dialer.pipeline.ledger import LedgerEntry, content_hash
    from airflow_provider_dialer.pipeline.sync import UPDATE_REFUSED

    yesterday = [_lead(i, i, "Old") for i in range(1, 5)]
    ledger.record("dialer", "list_id=1", outcome_entries(yesterday, ChunkOutcome(accepted=4), writer="yesterday"))
    today = [_lead(1, 1, "Old"), _lead(2, 2, "New"), _lead(3, 3, "New"), _lead(5, 5, "N"), _lead(6, 6, "N")]
    prepared_at = dt.datetime.now(dt.UTC)
    first = _plan(ledger, mode, "today", prepared_at)
    adds = [lead.row for lead in first.filter(today)]
    updates = [lead.row for lead, _ in first.updates]
    assert (adds, updates) == ([5, 6], [2, 3])
    if mode == "mirror":
        assert first.seen == {("external_id", f"C{i}") for i in (1, 2, 3, 5, 6)}
    _deliver(ledger, [today[3]], {"C5": "ok"}, "today")
    ledger.record(
        "dialer",
        "list_id=1",
        [
            LedgerEntry(
                "external_id",
                "C2",
                "updated",
                content_hash=content_hash(today[1]),
                vendor_ids={"contact_id": 2},
                run_id="today",
            ),
            LedgerEntry("external_id", "C3", "refused", reason=f"{UPDATE_REFUSED}: HTTP 422", run_id="today"),
        ],
    )
    again = _plan(ledger, mode, "today", prepared_at)
    assert [lead.row for lead in again.filter(today)] == adds
    assert [lead.row for lead, _ in again.updates] == updates
    # the next day: C2 is unchanged now, C3's refused update is tried again as an update (never as an add)
    tomorrow = _plan(ledger, mode, "tomorrow", prepared_at + dt.timedelta(days=1))
    assert [lead.row for lead in tomorrow.filter(today)] == [6]
    assert [lead.row for lead, _ in tomorrow.updates] == [3]
    assert tomorrow.counts["unchanged"] == 3
    # insert mode never updates: a changed key is held by the target
    plain = _plan(ledger, "insert", "tomorrow", prepared_at + dt.timedelta(days=1))
    assert [lead.row for lead in plain.filter(today)] == [6] and plain.updates == []
    assert plain.counts["held_by_target"] == 1
