"""The run summary: the counts a task pushes to XCom and writes to its log, and the samples of leads
not delivered that its log and its failure message show.

Pure functions of what the operator passes in (the preparation, the delivery report, the held waves,
the target); the summary holds no phone in clear (preparation masks them, vendor texts pass through the
error masking).
"""

from __future__ import annotations

from typing import Any

from airflow_provider_dialer.pipeline.waves import zones_summary


def build_summary(
    prepared: Any,
    report: Any,
    held: dict[str, int],
    target: dict[str, Any],
    zones: dict[str, dict[str, Any]],
    hold_back: str,
    dry_run_sent: int | None = None,
) -> dict[str, Any]:
    """The run summary pushed to XCom: what was read, prepared, rejected and held back, and (unless
    ``dry_run_sent`` is given) what the vendor did with the rest, from ``report`` (a ``DeliveryReport``).

    With ``hold_back="reject"`` the held leads count as rejected (``outside_window``).
    """
    counts = dict(sorted(prepared.report.counts.items()))
    summary: dict[str, Any] = {
        "read": prepared.report.rows,
        "prepared": prepared.report.prepared,
        "rejected": sum(counts.values()),
        "rejected_by_reason": counts,
        "warnings": dict(prepared.report.warnings),
        "reject_samples": [r.to_dict() for r in prepared.report.samples[:20]],
        "reject_report": prepared.report.report_path,
        "held_back": sum(held.values()),
        "held_back_until": {wave: n for wave, n in sorted(held.items())},
        "scheduled_by_timezone": zones_summary(zones),
    }
    if hold_back == "reject" and held:
        summary["rejected_by_reason"] = {
            **counts,
            "outside_window": counts.get("outside_window", 0) + summary["held_back"],
        }
        summary["rejected"] += summary["held_back"]
    if dry_run_sent is not None:
        summary.update({"dry_run": True, "would_send": dry_run_sent})
        return summary
    assert report is not None
    summary.update(
        {
            "accepted": report.accepted,
            "already_held": len(report.already_held),
            "refused_by_vendor": report.refused,
            "refused_samples": report.refused_rows[:20],
            "unknown": report.unknown,
            "unknown_rows": report.unknown_rows[:100],
            "chunks": report.chunks,
            "chunks_already_delivered": report.chunks_skipped,
            "chunks_resolved_after_unknown_fate": report.chunks_resolved,
            "chunks_split_after_refusal": report.chunks_split,
            "ids": {**{k: v for k, v in target.items() if k.endswith("_id")}, **report.ids},
        }
    )
    return summary


def log_summary(log: Any, conn_id: str, summary: dict[str, Any]) -> None:
    """Write ``summary`` to ``log`` as a table, then who is called when, then the samples not delivered."""
    rows = [
        ("leads read", summary["read"]),
        ("prepared", summary["prepared"]),
        ("rejected", summary["rejected"]),
        *((f"  rejected: {k}", v) for k, v in sorted(summary["rejected_by_reason"].items())),
        ("held back (window)", summary["held_back"]),
    ]
    if summary.get("dry_run"):
        rows.append(("would send (dry run)", summary["would_send"]))
    else:
        rows += [
            ("accepted by vendor", summary["accepted"]),
            *((f"  refused: {k}", v) for k, v in sorted(summary["refused_by_vendor"].items())),
            ("unknown fate", summary["unknown"]),
            ("chunks (already delivered)", f"{summary['chunks']} ({summary['chunks_already_delivered']})"),
            (
                "chunks resolved / split",
                f"{summary['chunks_resolved_after_unknown_fate']} / {summary.get('chunks_split_after_refusal', 0)}",
            ),
        ]
    sync = summary.get("sync")
    if sync and "to_add" in sync:
        rows += [
            (
                f"sync ({sync['mode']})",
                f"sent new {sync['to_add']}, retried {sync['retried']}, unchanged "
                f"{sync['unchanged']}, held by target {sync['held_by_target']}, retries exhausted {sync['retries_exhausted']}"
                + (f", to update {sync['to_update']}" if sync.get("to_update") else "")
                + (f", to remove {sync['to_remove']}" if sync.get("to_remove") else ""),
            ),
        ]
    width = max(len(r[0]) for r in rows)
    log.info("delivery summary (%s):\n%s", conn_id, "\n".join(f"  {k:<{width}}  {v}" for k, v in rows))
    schedule = summary.get("scheduled_by_timezone") or {}
    if schedule:
        lines = [
            f"  {zone:<24} {info['leads']:>7} lead(s)  now: {info['call_now']:>7}  first: {info['first_local'] or '-'}"
            f"  last: {info['last_local'] or '-'}"
            for zone, info in schedule.items()
        ]
        log.info("who is called when (local times):\n%s", "\n".join(lines))
    samples = not_delivered_samples(summary)
    if samples:
        log.warning("leads not delivered (samples; phones masked):\n%s", samples)


def not_delivered_samples(summary: dict[str, Any], limit: int = 10) -> str:
    """Up to ``limit`` rejected, refused and unknown leads, one line each. Values are masked where
    they are made: preparation masks phones, vendor texts pass through the error masking."""

    def where(entry: dict[str, Any]) -> str:
        return f" ({entry['field']})" if entry.get("field") else ""

    lines = []
    rejected = [r for r in summary.get("reject_samples") or () if r.get("level") == "error"]
    for entry in rejected[:limit]:
        value = f" value {entry['value']!r}" if entry.get("value") else ""
        lines.append(
            f"  row {entry['row']}: rejected, {entry['reason']}{where(entry)}: {entry.get('detail') or ''}{value}"
        )
    for entry in list(summary.get("refused_samples") or ())[:limit]:
        lines.append(
            f"  row {entry['row']}: refused by the vendor, {entry.get('reason', 'refused')}{where(entry)}: "
            f"{entry.get('detail') or ''}"
        )
    unknown = list(summary.get("unknown_rows") or ())[:limit]
    if unknown:
        more = summary.get("unknown", 0) - len(unknown)
        tail = f" (+{more} more)" if more > 0 else ""
        lines.append(f"  rows of unknown fate: {', '.join(map(str, unknown))}{tail}")
    return "\n".join(lines)
