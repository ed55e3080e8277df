"""Waves and hold-back: which lead goes out now and which waits for the instant its calling window opens.

A vendor that takes a per-lead time gets every lead now (the time on the wire); for the others a lead
whose time is in the future is held for its *wave*, a UTC instant on a ``WAVE_GRANULARITY`` grid, and
the task defers until that wave is due. The send-time guard's decisions (leads moved to a later wave,
re-scheduled or rejected) live in the progress under ``WINDOW_MOVES`` and are applied here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import compress, repeat
from operator import attrgetter, is_, is_not
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_dialer.leads.model import PreparedLead
    from airflow_provider_dialer.leads.window import CallingWindow

NOW_WAVE = "now"
WAVE_GRANULARITY = dt.timedelta(minutes=5)
#: the progress-state section recording leads re-planned at send time, by row
WINDOW_MOVES = "window"


def wave_of(lead: PreparedLead, per_lead_schedule: bool, now: dt.datetime, window: CallingWindow | None = None) -> str:
    """The wave a lead belongs to: ``now`` or the instant it is released (see ``release_wave``)."""
    if per_lead_schedule or lead.call_at is None or lead.call_at <= now:
        return NOW_WAVE
    return release_wave(lead.call_at, lead.zones, window)


def release_wave(at: dt.datetime, zones: Sequence[str], window: CallingWindow | None = None) -> str:
    """The wave (a UTC instant, as text) releasing a lead that may be called from ``at``.

    Waves sit on a ``WAVE_GRANULARITY`` grid so that leads released close together share a wake-up.
    Rounding ``at`` up to the grid can leave the window (a lead allowed from 20:58 would be released
    at 21:00, when the window has closed), so the grid instant is taken only when ``window`` is open
    at it in every zone; otherwise ``at`` to the whole second (up, else down), the first of these
    that is inside. Without a window, the grid instant.
    """
    epoch = at.timestamp()
    step = WAVE_GRANULARITY.total_seconds()
    grid = math.ceil(epoch / step) * step
    for candidate in (grid, math.ceil(epoch), math.floor(epoch)):
        moment = dt.datetime.fromtimestamp(candidate, dt.UTC)
        if window is None or window.is_open(moment, zones):
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    # not reached for a window-derived instant (boundaries are whole seconds); the send-time check
    # re-plans the lead should it ever be released outside its window
    return dt.datetime.fromtimestamp(grid, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_TIMEZONE = attrgetter("timezone")
_CALL_AT = attrgetter("call_at")


def count_zones(zones: dict[str, dict[str, Any]], leads: Sequence[PreparedLead]) -> None:
    """Add ``leads`` to the per-zone counts of the run summary (leads, how many are called now, first
    and last ``call_at``): the per-lead steps run in C (``map`` over ``attrgetter``, ``Counter``);
    only leads with a ``call_at`` are visited one by one."""
    timezones = list(map(_TIMEZONE, leads))
    calls = list(map(_CALL_AT, leads))
    for zone, count in Counter(timezones).items():
        entry = zones.get(zone)
        if entry is None:
            entry = zones[zone] = {"leads": 0, "call_now": 0, "first": None, "last": None}
        entry["leads"] += count
    for zone, count in Counter(compress(timezones, map(is_, calls, repeat(None)))).items():
        zones[zone]["call_now"] += count
    for zone, call_at in compress(zip(timezones, calls, strict=True), map(is_not, calls, repeat(None))):
        entry = zones[zone]
        if entry["first"] is None or call_at < entry["first"]:
            entry["first"] = call_at
        if entry["last"] is None or call_at > entry["last"]:
            entry["last"] = call_at


def zones_summary(zones: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per zone: leads, how many may be called now, and the first/last scheduled call in local time."""
    from zoneinfo import ZoneInfo

    out = {}
    for zone, entry in sorted(zones.items()):
        local = ZoneInfo(zone)
        out[zone] = {
            "leads": entry["leads"],
            "call_now": entry["call_now"],
            "first_local": entry["first"].astimezone(local).isoformat() if entry["first"] else None,
            "last_local": entry["last"].astimezone(local).isoformat() if entry["last"] else None,
        }
    return out


def parse_wave(wave: str) -> dt.datetime:
    return dt.datetime.strptime(wave, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def apply_moves(
    key: str,
    leads: list[PreparedLead],
    moves: dict[str, dict[str, Any]],
    now: dt.datetime,
    held: dict[str, int],
) -> Iterator[tuple[str, list[PreparedLead]]]:
    """Chunk ``key`` without the leads an earlier send moved out of it, then those held for a wave now due.

    A lead moved to a later wave is counted as held until that wave is due. A rejected lead is dropped
    here (the summary counts it from the progress); a lead re-scheduled in place stays.
    """
    if not moves:
        yield key, leads
        return
    stay: list[PreparedLead] = []
    later: dict[str, list[PreparedLead]] = {}
    for lead in leads:
        move = moves.get(str(lead.row))
        if move is None or "schedule" in move:
            stay.append(lead)
        elif "hold" in move:
            later.setdefault(move["hold"], []).append(lead)
    if stay:
        yield key, stay
    for wave, group in sorted(later.items()):
        if parse_wave(wave) > now:
            held[wave] = held.get(wave, 0) + len(group)
        else:
            yield f"{wave}<{key}", group


def with_moves(summary: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Add the send-time guard's decisions (from the progress, so over every attempt) to a summary.

    Leads rejected at send time count as rejected (``outside_window``), not prepared, so that read =
    prepared + rejected still holds; leads given a schedule at send time are counted apart.
    """
    moves = state.get(WINDOW_MOVES) or {}
    rejects = [
        {
            "row": int(row),
            "level": "error",
            "reason": "outside_window",
            "field": None,
            "value": move["at"],
            "external_id": move.get("external_id"),
            "detail": move["reject"],
        }
        for row, move in sorted(moves.items(), key=lambda kv: int(kv[0]))
        if "reject" in move
    ]
    summary["rescheduled_at_send"] = sum(1 for move in moves.values() if "schedule" in move)
    if rejects:
        by_reason = dict(summary["rejected_by_reason"])
        by_reason["outside_window"] = by_reason.get("outside_window", 0) + len(rejects)
        summary["rejected_by_reason"] = dict(sorted(by_reason.items()))
        summary["rejected"] += len(rejects)
        summary["prepared"] -= len(rejects)
        summary["reject_samples"] = summary["reject_samples"] + rejects[:20]
    return summary
