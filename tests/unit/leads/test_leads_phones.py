"""Phone parsing: E.164 normalisation, zones from the number, masking, and properties against phonenumbers."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.leads.phones import PhoneNormaliser, mask_phone, packed, phone_text

normaliser = PhoneNormaliser()


@pytest.mark.parametrize(
    ("raw", "region", "e164", "zones"),
    [
        ("+598 99 123 456", None, "+59899123456", ("America/Montevideo",)),
        ("099 123 456", "UY", "+59899123456", ("America/Montevideo",)),
        ("(212) 555-1234", "US", "+12125551234", ("America/New_York",)),
        ("+91 98123 45678", None, "+919812345678", ("Asia/Kolkata",)),  # phonenumbers says Asia/Calcutta
        ("+1 709 555 1234", None, "+17095551234", ("America/Halifax", "America/St_Johns")),
        ("+61 2 6563 2000", None, "+61265632000", ("Australia/Lord_Howe",)),
        ("+39 06 1234 5678", None, "+390612345678", ("Europe/Rome",)),  # Italian leading zero kept
    ],
)
def test_valid_numbers(raw: str, region: str | None, e164: str, zones: tuple[str, ...]) -> None:
    result = normaliser.normalise(raw, region)
    assert result.e164 == e164
    assert result.error is None
    assert normaliser.zones(result) == zones


@pytest.mark.parametrize(
    ("raw", "region", "error"),
    [
        ("099 123 456", None, "no country: not in +<country code> form and no default region or country column"),
        ("hello", "UY", "not a phone number"),
        ("+1 212 055 1234", None, "not a valid number for its country"),
        ("+598 1", None, "too short"),
        ("", "UY", "empty"),
        ("9" * 70, "UY", "longer than 64 characters"),
    ],
)
def test_invalid_numbers_name_the_reason(raw: str, region: str | None, error: str) -> None:
    result = normaliser.normalise(raw, region)
    assert (result.e164, result.error) == (None, error)


def test_toll_free_number_has_country_level_zones() -> None:
    result = normaliser.normalise("+1 800 555 0199", None)
    zones = normaliser.zones(result)
    assert len(zones) == 42 and "Pacific/Guam" in zones and "America/St_Johns" in zones


def test_mask_and_phone_text() -> None:
    assert mask_phone("+14155554567") == "********4567"
    assert mask_phone("123") == "***"
    assert mask_phone(None) == ""
    assert phone_text(59899123456.0) == "59899123456"
    assert phone_text(59899123456) == "59899123456"
    assert phone_text(" +1 ") == "+1"


regions = st.sampled_from([None, "US", "UY", "BR", "IN", "AU", "ES", "GB", "IT", "AR", "MX", "DE"])


@settings(max_examples=400, deadline=None)
@given(raw=st.text(max_size=40), region=regions)
def test_never_raises_on_any_text(raw: str, region: str | None) -> None:
    result = normaliser.normalise(raw, region)
    assert (result.e164 is None) != (result.error is None)
    if result.e164 is not None:
        assert re.fullmatch(r"\+[1-9]\d{6,15}", result.e164)


@settings(max_examples=400, deadline=None)
@given(
    cc=st.sampled_from(["1", "44", "598", "55", "91", "61", "34", "39", "54", "52", "49", "81"]),
    digits=st.text(alphabet="0123456789", min_size=4, max_size=13),
    sep=st.sampled_from(["", " ", "-", "."]),
)
def test_agrees_with_phonenumbers_is_valid_number(cc: str, digits: str, sep: str) -> None:
    raw = f"+{cc}{sep}{digits}"
    result = normaliser.normalise(raw, None)
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        assert result.e164 is None
        return
    valid = phonenumbers.is_valid_number(number)
    assert (result.e164 is not None) == valid
    if valid:
        assert result.e164 == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        # normalisation is idempotent: the E.164 form parses to itself
        assert normaliser.normalise(result.e164, None).e164 == result.e164


def _parsed(raw: str, region: str | None) -> object:
    try:
        return phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        return exc.error_type


@settings(max_examples=1500, deadline=None)
@given(
    raw=st.one_of(
        st.text(alphabet="0123456789 -+x.()#", max_size=24),
        st.builds(
            lambda cc, groups, sep: "+" + cc + sep + sep.join(groups),
            st.sampled_from(["1", "44", "598", "55", "91", "61", "34", "39", "54", "52", "49", "81", "7"]),
            st.lists(st.text(alphabet="0123456789", min_size=1, max_size=5), min_size=1, max_size=5),
            st.sampled_from([" ", "-", " - ", "  "]),
        ),
    ),
    region=regions,
)
def test_packed_text_parses_exactly_like_the_original(raw: str, region: str | None) -> None:
    short = packed(raw)
    assert short == raw or (len(short) < len(raw) and set(short) <= set("+0123456789"))
    assert _parsed(short, region) == _parsed(raw, region)


def test_packed_leaves_other_text_alone() -> None:
    assert packed("+1 212 291-0830") == "+12122910830"
    assert packed("011 598 99-123-456") == "01159899123456"
    for raw in (
        "+1 212 291-0830 ext 12",
        "(212) 291-0830",
        "+1.212.291.0830",
        "1 2",
        "+ -",
        "+1 ２12 291",
        "12122910830",
    ):
        assert packed(raw) == raw
