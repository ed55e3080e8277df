"""The send side of a prepared part: what a lead operator does with ``prepared_part``.

A task given ``prepared_part`` (an entry of the manifest ``PreparePartsOperator`` writes) takes no
source and no preparation parameters, checks the part's bytes against what an earlier attempt
recorded in its progress, adopts the calling window the part was prepared with, and reads the part's
leads back as a ``PreparedLeads``. See ``operators/parts.py`` for the preparing side.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_provider_dialer.exceptions import DialerConfigError

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.prepare import PreparedLeads

#: the progress-state entry recording the digest of the part a mapped task sends
PART_STATE = "prepared_part"
#: preparation parameters a task sending a prepared part must leave unset: the part was prepared with its own
PREPARATION_ARGS = ("column_mapping", "default_region", "default_timezone", "calling_window", "dnc_source")


def check_part_arguments(op: Any) -> None:
    """A task sending a prepared part takes no source and no preparation parameters: the part holds both."""
    if op.source is not None:
        raise DialerConfigError(f"{op.task_id}: give source or prepared_part, not both")
    given = [name for name in PREPARATION_ARGS if getattr(op, name, None) is not None]
    if given:
        raise DialerConfigError(
            f"{op.task_id}: a prepared part was prepared with its own {', '.join(given)}; set them on the task that "
            "prepares the parts (PreparePartsOperator / prepare_parts), not on the task that sends one"
        )


def bind_part(op: Any, state: dict[str, Any], store: Any) -> dict[str, Any]:
    """Check the part a task sends against its progress and adopt the part's calling window and policy.

    The first attempt records the part's path and SHA-256 in the progress; a later attempt (a retry,
    a resume after a hold) must find the same bytes, since its chunks are cut from them and keyed by
    position. Returns the part spec with its header.
    """
    from airflow_provider_dialer.exceptions import DialerProgressError
    from airflow_provider_dialer.leads.parts import part_digest, part_spec, read_part_header

    spec = part_spec(op.prepared_part)
    digest = part_digest(spec)
    recorded = state.get(PART_STATE)
    if recorded is None:
        state[PART_STATE] = {"path": str(spec["path"]), "sha256": digest}
        store.save(state)
    elif recorded.get("sha256") != digest:
        raise DialerProgressError(
            f"{op.task_id}: the prepared part {spec['path']} is not the one an earlier attempt of this task started "
            f"sending ({recorded.get('path')}, sha256 {str(recorded.get('sha256'))[:12]}...); its chunks would be "
            "other leads under the same keys. Send the original part, or clear this task's delivery progress "
            "(the Airflow Variable named in the log) if the earlier leads should be sent again"
        )
    header = read_part_header(spec)
    # the window and policy the leads were prepared with: the send-time check must hold them to the same
    op.calling_window = header.get("calling_window")
    op.outside_window = header.get("outside_window", op.outside_window)
    return {**spec, "header": header}


def prepared_from_part(
    spec: dict[str, Any], now: dt.datetime, reject_report: Any, field_limits: Mapping[str, int] | None
) -> PreparedLeads:
    """The part's leads as a ``PreparedLeads`` (what ``_prepare`` returns for a source), with its own report.

    The report counts the part's leads as read; a lead with a field longer than ``field_limits``
    (what this task's dialer takes) is rejected here (``field_too_long``), as preparation does for a source. The other rejects
    of the source are in the preparing task's report.
    """
    from airflow_provider_dialer.leads.parts import read_part
    from airflow_provider_dialer.leads.prepare import PreparedLeads, field_too_long
    from airflow_provider_dialer.leads.report import PreparationReport, RejectWriter

    limits = dict(field_limits or {})
    writer = RejectWriter(reject_report) if reject_report is not None else None
    report = PreparationReport(writer=writer)

    def run() -> Any:
        try:
            for lead in read_part(spec):
                report.rows += 1
                if limits:
                    reject = field_too_long(lead.__dict__, limits, lead.row, lead.external_id)
                    if reject is not None:
                        report.add(reject)
                        continue
                report.prepared += 1
                yield lead
            report.finish()
        finally:
            report.close_unfinished()

    return PreparedLeads(run(), report, now)
