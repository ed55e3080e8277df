"""A picture of one upload: a self-contained HTML page written where the user names (``run_report``).

The page holds the counts by outcome, the rejects by reason with masked samples, and a chart of when
the leads will be called, per time zone, in each zone's local hours. It is one file: styles and the
chart (SVG) inline, no script, no font or image from elsewhere, so it opens the same from a bucket,
a mail attachment or a laptop. Phones are masked as in the reject report (all but the last four
digits), and no connection detail beyond its id is written.

The chart counts the leads handed to the dialer (and those held for a later calling window) at the
time planned for them when they were prepared: ``call_at`` when it has one, else the moment of
preparation. A lead re-planned at send time (its window closed meanwhile) is counted under
"rescheduled at send" or, if rejected then, under ``outside_window``.
"""

from __future__ import annotations

import datetime as dt
import html
import os
from collections.abc import Iterable, Iterator
from typing import Any

from airflow.sdk import BaseOperatorLink

#: the chart's size, in SVG user units
_BAR_W, _CHART_H, _LEFT, _TOP = 22, 120, 44, 14


class CallHours:
    """Leads by time zone and local hour (0-23) of the moment they will be called.

    :param now: the moment a lead without a ``call_at`` is called (the preparation instant).
    """

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.counts: dict[str, list[int]] = {}
        self._hour: dict[tuple[str, Any], int] = {}
        self._zones: dict[str, Any] = {}

    def add(self, lead: Any) -> None:
        zone = lead.timezone
        when = lead.call_at
        # zones are offset from UTC by whole quarters of an hour: one lookup per zone and quarter
        key = (zone, None if when is None else int(when.timestamp()) // 900)
        hour = self._hour.get(key)
        if hour is None:
            tz = self._zones.get(zone)
            if tz is None:
                from zoneinfo import ZoneInfo

                tz = self._zones[zone] = ZoneInfo(zone)
            hour = self._hour[key] = (when or self.now).astimezone(tz).hour
        row = self.counts.get(zone)
        if row is None:
            row = self.counts[zone] = [0] * 24
        row[hour] += 1

    def watch(self, leads: Iterable[Any]) -> Iterator[Any]:
        """``leads`` unchanged, each counted."""
        add = self.add
        for lead in leads:
            add(lead)
            yield lead

    def as_dict(self) -> dict[str, list[int]]:
        return {zone: list(row) for zone, row in sorted(self.counts.items())}


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _masked(text: Any) -> str:
    """Free text with phone-like digit runs masked (samples are masked when made; this is the second lock)."""
    from airflow_provider_dialer.leads.report import mask_phones_in

    return mask_phones_in(None if text is None else str(text)) or ""


def outcome_rows(summary: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(id, label, count) of the run's outcomes, in the order the page shows them."""
    rows = [
        ("read", "Leads read", summary.get("read", 0)),
        ("prepared", "Prepared", summary.get("prepared", 0)),
        ("rejected", "Rejected at preparation or send", summary.get("rejected", 0)),
        ("held_back", "Held back for their calling window", summary.get("held_back", 0)),
    ]
    if summary.get("dry_run"):
        rows.append(("would_send", "Would send (dry run)", summary.get("would_send", 0)))
    else:
        rows += [
            ("accepted", "Accepted by the dialer", summary.get("accepted", 0)),
            ("refused", "Refused by the dialer", sum((summary.get("refused_by_vendor") or {}).values())),
            ("unknown", "Unknown fate", summary.get("unknown", 0)),
            ("chunks", "Chunks", summary.get("chunks", 0)),
        ]
    return [(key, label, int(count or 0)) for key, label, count in rows]


def _hours_chart(zone: str, row: list[int], peak: int) -> str:
    width = _LEFT + 24 * _BAR_W + 8
    height = _TOP + _CHART_H + 30
    parts = [
        f'<svg class="hours" data-zone="{_e(zone)}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="leads by local hour in {_e(zone)}">',
        f'<line x1="{_LEFT}" y1="{_TOP + _CHART_H}" x2="{width - 8}" y2="{_TOP + _CHART_H}" stroke="#888"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 4}" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + _CHART_H}" text-anchor="end" class="axis">0</text>',
    ]
    for hour, count in enumerate(row):
        x = _LEFT + hour * _BAR_W
        bar = round(_CHART_H * count / peak) if peak else 0
        if count and bar < 1:
            bar = 1
        parts.append(
            f'<rect class="bar" data-hour="{hour}" data-count="{count}" x="{x + 2}" y="{_TOP + _CHART_H - bar}" '
            f'width="{_BAR_W - 4}" height="{bar}" fill="#2f6db5"><title>{hour:02d}:00 {_e(zone)}: {count} lead(s)'
            f"</title></rect>"
        )
        if hour % 3 == 0:
            parts.append(
                f'<text x="{x + _BAR_W / 2}" y="{_TOP + _CHART_H + 16}" text-anchor="middle" class="axis">'
                f"{hour:02d}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d232b;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #d5dae1;padding:4px 8px;text-align:left;vertical-align:top}td.n{text-align:right}
.axis{font-size:10px;fill:#555}.zone{margin:12px 0}.muted{color:#667}code{font-size:12px}
"""


def render(summary: dict[str, Any], hours: dict[str, list[int]], meta: dict[str, Any]) -> str:
    """The report page.

    :param summary: the task's summary (the XCom value: counts, reasons, masked samples).
    :param hours: ``CallHours.as_dict()``.
    :param meta: what the header names: ``dag_id``, ``task_id``, ``run_id``, ``conn_id``, ``target``,
        ``written_at`` (only these keys are shown).
    """
    out = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Dialer run report: {_e(meta.get('dag_id'))}.{_e(meta.get('task_id'))}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Dialer run report: {_e(meta.get('dag_id'))}.{_e(meta.get('task_id'))}</h1>",
        '<table id="meta">',
    ]
    for key in ("run_id", "conn_id", "target", "written_at"):
        out.append(f'<tr><th>{_e(key.replace("_", " "))}</th><td data-key="{key}">{_e(meta.get(key))}</td></tr>')
    out.append("</table>")

    out.append('<h2>Outcomes</h2><table id="outcomes"><tr><th>outcome</th><th>leads</th></tr>')
    for key, label, count in outcome_rows(summary):
        out.append(f'<tr data-outcome="{key}"><td>{_e(label)}</td><td class="n">{count}</td></tr>')
    if summary.get("rescheduled_at_send"):
        out.append(
            f'<tr data-outcome="rescheduled_at_send"><td>Rescheduled at send (window closed meanwhile)</td>'
            f'<td class="n">{int(summary["rescheduled_at_send"])}</td></tr>'
        )
    out.append("</table>")

    reasons = summary.get("rejected_by_reason") or {}
    samples: dict[str, list[dict[str, Any]]] = {}
    for entry in summary.get("reject_samples") or ():
        if entry.get("level", "error") == "error":
            samples.setdefault(str(entry.get("reason")), []).append(entry)
    out.append("<h2>Rejects by reason</h2>")
    if reasons:
        out.append('<table id="rejects"><tr><th>reason</th><th>leads</th><th>samples (phones masked)</th></tr>')
        for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
            lines = []
            for entry in samples.get(str(reason), [])[:5]:
                field = f" ({_e(entry.get('field'))})" if entry.get("field") else ""
                value = f" value <code>{_e(_masked(entry.get('value')))}</code>" if entry.get("value") else ""
                lines.append(
                    f'<div class="sample">row {_e(entry.get("row"))}{field}: {_e(_masked(entry.get("detail")))}{value}</div>'
                )
            out.append(
                f'<tr data-reason="{_e(reason)}"><td>{_e(reason)}</td><td class="n">{int(count)}</td>'
                f"<td>{''.join(lines)}</td></tr>"
            )
        out.append("</table>")
    else:
        out.append('<p class="muted">No lead was rejected.</p>')
    refused = summary.get("refused_by_vendor") or {}
    if refused:
        out.append(
            '<h2>Refused by the dialer</h2><table id="refused"><tr><th>reason</th><th>leads</th><th>samples</th></tr>'
        )
        by_reason: dict[str, list[dict[str, Any]]] = {}
        for entry in summary.get("refused_samples") or ():
            by_reason.setdefault(str(entry.get("reason", "refused")), []).append(entry)
        for reason, count in sorted(refused.items()):
            lines = [
                f'<div class="sample">row {_e(e.get("row"))}: {_e(_masked(e.get("detail")))}</div>'
                for e in by_reason.get(str(reason), [])[:5]
            ]
            out.append(
                f'<tr data-refused="{_e(reason)}"><td>{_e(reason)}</td><td class="n">{int(count)}</td>'
                f"<td>{''.join(lines)}</td></tr>"
            )
        out.append("</table>")

    out.append("<h2>When leads will be called (local hour, per time zone)</h2>")
    if hours:
        peak = max(max(row) for row in hours.values())
        for zone, row in sorted(hours.items()):
            out.append(
                f'<div class="zone" data-zone="{_e(zone)}"><div><b>{_e(zone)}</b> '
                f'<span class="muted">{sum(row)} lead(s)</span></div>{_hours_chart(zone, row, peak)}</div>'
            )
        out.append(
            '<table id="hours"><tr><th>time zone</th>' + "".join(f"<th>{h:02d}</th>" for h in range(24)) + "</tr>"
        )
        for zone, row in sorted(hours.items()):
            out.append(
                f'<tr data-zone="{_e(zone)}"><td>{_e(zone)}</td>'
                + "".join(f'<td class="n">{c}</td>' for c in row)
                + "</tr>"
            )
        out.append("</table>")
    else:
        out.append('<p class="muted">No lead to call.</p>')
    out.append("</body></html>")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Writing it, and the link to it
# --------------------------------------------------------------------------------------------


def report_url(path: Any) -> str:
    """The report's address for the task's link: ``file:///...`` for a local path, ``scheme://bucket/key``
    on object storage; never a user name (an ``ObjectStoragePath`` with ``conn_id`` carries it there)."""
    from urllib.parse import urlsplit, urlunsplit

    text = str(path)
    if "://" not in text:
        return "file://" + os.path.abspath(os.path.expanduser(text))
    parts = urlsplit(text)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def write(path: Any, page: str) -> None:
    """Write ``page`` to a local path, a ``scheme://`` URL or an ``ObjectStoragePath`` (folders made locally)."""
    text = str(path)
    if "://" not in text and not hasattr(path, "fs"):
        folder = os.path.dirname(os.path.abspath(os.path.expanduser(text)))
        os.makedirs(folder, exist_ok=True)
    from airflow_provider_dialer.leads.sources import open_binary

    with open_binary(path, None, mode="wb") as handle:
        handle.write(page.encode("utf-8"))


class RunReportLink(BaseOperatorLink):
    """**Run report**: the HTML report the task wrote (``run_report``), or its ``run_report_url``."""

    name = "Run report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        """The address the task recorded when it wrote the report in this process, else ``""``. Never raises."""
        try:
            return str(getattr(operator, "run_report_link", "") or "")
        except Exception:  # noqa: BLE001 - a link must never fail a task's finalisation
            return ""
