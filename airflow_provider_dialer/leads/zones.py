"""IANA time zones for leads: validate a name, canonicalise the legacy names phonenumbers returns, cache ZoneInfo objects."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

# phonenumbers ships some zone names that tzdata keeps only as backward-compatible links; vendors
# and users expect the current spelling, so inferred zones are renamed (a user's own name is kept).
_RENAMED_ZONES = {
    "Africa/Asmera": "Africa/Asmara",
    "America/Buenos_Aires": "America/Argentina/Buenos_Aires",
    "America/Godthab": "America/Nuuk",
    "Asia/Calcutta": "Asia/Kolkata",
    "Asia/Katmandu": "Asia/Kathmandu",
    "Asia/Rangoon": "Asia/Yangon",
    "Asia/Saigon": "Asia/Ho_Chi_Minh",
    "Atlantic/Faeroe": "Atlantic/Faroe",
    "Europe/Kiev": "Europe/Kyiv",
    "Pacific/Enderbury": "Pacific/Kanton",
    "Pacific/Ponape": "Pacific/Pohnpei",
    "Pacific/Truk": "Pacific/Chuuk",
}


@lru_cache(maxsize=1)
def _zone_names_by_lower() -> dict[str, str]:
    from zoneinfo import available_timezones

    return {name.lower(): name for name in available_timezones()}


@lru_cache(maxsize=4096)
def canonical_zone(name: str) -> str | None:
    """The IANA name for ``name`` (matched case-insensitively), or ``None`` when there is no such zone."""
    if not isinstance(name, str):
        return None
    found = _zone_names_by_lower().get(name.strip().lower())
    if found is None or found.lower() in ("localtime", "factory"):
        return None
    return found


@lru_cache(maxsize=4096)
def inferred_zone(name: str) -> str | None:
    """A zone name coming from phonenumbers, renamed to its current spelling and validated."""
    renamed = _RENAMED_ZONES.get(name, name)
    return canonical_zone(renamed) or canonical_zone(name)


@lru_cache(maxsize=4096)
def zone_info(name: str) -> ZoneInfo:
    """A cached ZoneInfo (ZoneInfo caches too, but its constructor still costs a lock and a lookup)."""
    return ZoneInfo(name)
