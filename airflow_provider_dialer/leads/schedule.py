"""A lead's own schedule time: parse it, place it in the lead's zone, resolve DST gaps and overlaps.

Accepted: an aware or naive ``datetime``; ISO 8601 text with or without an offset (``T`` or space,
``Z`` allowed, fractional seconds allowed); ``yyyy-MM-dd HH:mm[:ss]`` (the uContact form); a bare
date ``yyyy-MM-dd`` (midnight local, so the calling window moves it to that day's opening).
Text with an offset is that instant; naive text is wall-clock time in the lead's zone, where a time
inside a DST gap is shifted forward by the gap length (America/New_York 2026-03-08 02:30 becomes
03:30 EDT) and an ambiguous time in an overlap is its first occurrence (fold=0).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from airflow_provider_dialer.leads.zones import zone_info

UTC = UTC


class ScheduleError(ValueError):
    """A schedule value that is not a time we understand (the message is the reject detail)."""


def parse_schedule(value: object, zone: str) -> datetime | None:
    """The schedule as an aware UTC datetime, ``None`` for an empty value; raises ``ScheduleError``."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        return _parse_text(value, zone)
    else:
        raise ScheduleError(f"a schedule is text or a datetime, not {type(value).__name__}")
    return _in_zone(moment, zone)


@lru_cache(maxsize=65536)
def _parse_text(value: str, zone: str) -> datetime | None:
    # cached: schedules in a leads file repeat (whole hours, one campaign slot); ScheduleError is not cached
    text = value.strip()
    if not text:
        return None
    if len(text) > 64:
        raise ScheduleError("schedule text longer than 64 characters")
    try:
        # fromisoformat (3.11) reads ISO 8601 with offset or Z, 'T' or space, and the uContact
        # 'yyyy-MM-dd HH:mm:ss' form; it is far cheaper than pendulum.parse on the hot path
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError("not ISO 8601 or 'yyyy-MM-dd HH:mm:ss'") from None
    return _in_zone(moment, zone)


def _in_zone(moment: datetime, zone: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        # fold=0: gap times take the pre-transition offset (shift forward by the gap), overlap times
        # their first occurrence; see the module docstring
        moment = moment.replace(tzinfo=zone_info(zone), fold=0)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ScheduleError(f"schedule out of range: {exc}") from None
