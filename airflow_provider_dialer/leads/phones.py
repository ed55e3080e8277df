"""Phone numbers: parse, validate and normalise to E.164 with phonenumbers, cached per (raw, region).

With the ``fast`` extra installed (and its metadata matching, see ``phone_backend``) valid numbers
are accepted by rphonenumbers; phonenumbers still decides every number it does not accept.

Imported on first use only: phonenumbers loads its metadata lazily but its package import alone is
tens of milliseconds, too much for DAG parsing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from airflow_provider_dialer.leads.zones import inferred_zone

MAX_PHONE_TEXT = 64  # longer text is not a phone number; phonenumbers itself stops at 250
#: key heads whose zones ``PhoneNormaliser.zones`` remembers (a few MB at most)
ZONE_MEMO_SIZE = 32768


class PhoneResult(NamedTuple):
    """One parsed phone: ``e164`` when valid, else ``error``.

    ``zone_key`` is the digit string whose longest prefix names the number's zones (the E.164
    digits for geographic numbers, the country code for others); see ``PhoneNormaliser.zones``.
    """

    e164: str | None
    error: str | None
    zone_key: str = ""


_result = tuple.__new__


def mask_phone(value: object) -> str:
    """Every character but the last four replaced by ``*`` (``+14155554567`` -> ``********4567``)."""
    text = "" if value is None else str(value)
    if len(text) <= 4:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


def packed(raw: str) -> str:
    """``raw`` without its spaces and hyphens when that leaves ``+digits`` or digits, else ``raw``.

    Lists mostly hold numbers like ``+1 212 291-0830``: phonenumbers parses them exactly as it
    parses ``+12122910830`` (its extension patterns all need a letter, ``#``, ``,`` or ``;``, and
    it drops separators itself), only ~15% slower. Shorter than three digits, separators can change
    which error phonenumbers reports, so such text is left alone.
    """
    if " " not in raw and "-" not in raw:
        return raw
    text = raw.replace(" ", "").replace("-", "")
    digits = text[1:] if text[:1] == "+" else text
    if len(digits) >= 3 and digits.isascii() and digits.isdigit():
        return text
    return raw


def phone_text(value: object) -> str:
    """Raw phone value as text; ints and integral floats (spreadsheets, JSON) lose their ``.0``."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e17:
        return str(int(value))
    return str(value).strip()


class PhoneNormaliser:
    """Parses raw phone text into E.164 plus the number's candidate zones, with an LRU cache.

    Leads lists repeat numbers (several rows per household, DNC lists, re-runs), and the cache makes
    each distinct ``(raw, region)`` cost one phonenumbers parse.

    :param backend: ``"auto"``, ``"phonenumbers"`` or ``"rphonenumbers"``; default
        ``$DIALER_PHONE_BACKEND``, else ``auto`` (see ``phone_backend.select_backend``).
    """

    def __init__(self, cache_size: int = 8192, backend: str | None = None) -> None:
        import phonenumbers
        from phonenumbers import PhoneNumberFormat, PhoneNumberType, is_number_type_geographical
        from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

        from airflow_provider_dialer.leads.phone_backend import FAST, select_backend

        self._pn = phonenumbers
        self._e164 = PhoneNumberFormat.E164
        self._unknown = PhoneNumberType.UNKNOWN
        self._is_geo = is_number_type_geographical
        self._tzdata = TIMEZONE_DATA
        self._tz_longest = TIMEZONE_LONGEST_PREFIX
        self._nsn = phonenumbers.national_significant_number
        # phonenumbers looks each metadata pattern up through re.compile's cache on every call; its own
        # pattern cache (one dict lookup; about 1,200 patterns, a fraction of a MB, with every region's
        # example numbers) makes a parse and validation about a fifth cheaper, with the same patterns
        enable_pattern_cache = getattr(phonenumbers, "enable_pattern_cache", None)
        if enable_pattern_cache is not None:
            enable_pattern_cache()
        #: is_number_type_geographical per (type, country code), which a list repeats all the time
        self._geo: dict[int, bool] = {}
        self.backend = select_backend(backend)
        if self.backend.name == FAST:
            fast = self.backend.module
            self._fast_parse = fast.parse
            self._fast_type = fast.number_type
            self.normalise = lru_cache(maxsize=cache_size)(self._normalise_fast)
        else:
            self.normalise = lru_cache(maxsize=cache_size)(self._normalise)
        #: zones per matched tzdata prefix (bounded by the tzdata: about 3,000 prefixes)
        self._zone_cache: dict[str, tuple[str, ...]] = {}
        #: the digits of a key that decide its zones, by its first two (see ``zones``)
        self._head_lengths = _head_lengths(TIMEZONE_DATA)
        #: zones per key head (``zones``); cleared when it reaches ``ZONE_MEMO_SIZE``
        self._zone_memo: dict[str, tuple[str, ...]] = {}

    def zones(self, result: PhoneResult) -> tuple[str, ...]:
        """Candidate IANA zones of a valid number (sorted, current names); ``()`` when unknown.

        Computed only for leads without their own zone, and remembered per *head* of the key: its
        first digits, as many as the longest tzdata prefix starting with the key's first two (a
        longer prefix cannot match, so the head has the key's answer). Seven digits for North
        America, fewer elsewhere: a list spreads over a few thousand heads; the memo is bounded.
        """
        key = result.zone_key
        head = key[: self._head_lengths.get(key[:2], self._tz_longest)]
        found = self._zone_memo.get(head)
        if found is None:
            found = self._zones_for(head)
            if len(self._zone_memo) >= ZONE_MEMO_SIZE:
                self._zone_memo.clear()
            self._zone_memo[head] = found
        return found

    def _zones_for(self, digits: str) -> tuple[str, ...]:
        # same longest-prefix lookup as phonenumbers.timezone, on the E.164 digits we already have;
        # a matched prefix's zones are renamed and sorted once (a country has a few hundred prefixes)
        data = self._tzdata
        for n in range(min(self._tz_longest, len(digits)), 0, -1):
            prefix = digits[:n]
            found = data.get(prefix)
            if found is not None:
                zones = self._zone_cache.get(prefix)
                if zones is None:
                    names: list[str] = []
                    for name in found:
                        z = inferred_zone(name)
                        if z is not None and z not in names:
                            names.append(z)
                    zones = self._zone_cache[prefix] = tuple(sorted(names))
                return zones
        return ()

    def _normalise_fast(self, raw: str, region: str | None) -> PhoneResult:
        # the fast library only ever *accepts*: over the equivalence corpus it parsed some garbage
        # ("12;4") that phonenumbers refuses as not a number, and a lagging metadata release can
        # miss a range phonenumbers now has; so whatever it does not accept as valid, and every
        # reject reason, comes from phonenumbers
        if raw and len(raw) <= MAX_PHONE_TEXT:
            try:
                number = self._fast_parse(packed(raw) if " " in raw or "-" in raw else raw, region)
                ntype = self._fast_type(number)
            except Exception:  # its NumberParseException, or anything else: not our code, the reference decides
                pass
            else:
                if ntype != self._unknown:
                    cc = number.country_code
                    # national_significant_number(), inline: the number's digits behind any Italian leading zeros
                    digits = f"{cc}{self._nsn(number) if number.italian_leading_zero else number.national_number}"
                    geo = self._geo.get(ntype * 1000 + cc)  # country codes have at most three digits
                    if geo is None:
                        geo = self._geo[ntype * 1000 + cc] = self._is_geo(ntype, cc)
                    # the tuple's own constructor: PhoneResult(...) goes through a Python-level __new__
                    return _result(PhoneResult, ("+" + digits, None, digits if geo else str(cc)))
        return self._normalise(raw, region)

    def _normalise(self, raw: str, region: str | None) -> PhoneResult:
        if not raw:
            return PhoneResult(None, "empty")
        if len(raw) > MAX_PHONE_TEXT:
            return PhoneResult(None, f"longer than {MAX_PHONE_TEXT} characters")
        pn = self._pn
        try:
            number = pn.parse(packed(raw), region)
        except pn.NumberParseException as exc:
            return PhoneResult(None, _PARSE_ERRORS.get(exc.error_type, "not a phone number"))
        except Exception as exc:  # phonenumbers is not our code; a row must never raise
            return PhoneResult(None, f"not a phone number ({type(exc).__name__})")
        # number_type() is what is_valid_number() computes internally (UNKNOWN == invalid); calling it
        # once gives validity and the geographic test the zone lookup needs
        ntype = pn.number_type(number)
        if ntype == self._unknown:
            return PhoneResult(None, "not a valid number for its country")
        # what format_number(E164) returns for a valid number, minus its generic checks
        digits = f"{number.country_code}{self._nsn(number)}"
        zone_key = digits if self._is_geo(ntype, number.country_code) else str(number.country_code)
        return PhoneResult("+" + digits, None, zone_key)


def _head_lengths(tzdata: Mapping[str, object]) -> dict[str, int]:
    """For each two-digit start of a tzdata prefix, the length of the longest prefix with that start.

    A key's longest-prefix match in ``tzdata`` is a prefix of the key, so it starts with the key's
    first two digits (or is one digit long, and shorter than any head): no longer prefix can match.
    """
    lengths: dict[str, int] = {}
    for prefix in tzdata:
        if len(prefix) >= 2 and len(prefix) > lengths.get(prefix[:2], 0):
            lengths[prefix[:2]] = len(prefix)
    return lengths


_PARSE_ERRORS = {
    0: "no country: not in +<country code> form and no default region or country column",
    1: "not a phone number",
    2: "too short after the international prefix",
    3: "too short",
    4: "too long",
}
