"""What the vendor wire mappings raise belongs to the provider's exception family (and stays a ValueError
where it was one, so callers written against the built-in still catch it)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerAnswerError, DialerError, DialerValueError
from airflow_provider_dialer.hooks.ucontact.wire import automation_contact, automation_number, hub_path
from airflow_provider_dialer.hooks.ujet.wire import ContactStatus
from airflow_provider_dialer.hooks.voipex.wire import voipex_number
from airflow_provider_dialer.hooks.xcally.wire import custom_field_key, wire_datetime, wire_phone, xcally_contact
from airflow_provider_dialer.leads.model import PreparedLead

LEAD = PreparedLead(row=7, phone="+12125550147", timezone="America/New_York")
KNOWN_FORMATS = {"digits", "e164"}


@given(st.text(max_size=12).filter(lambda name: name not in KNOWN_FORMATS))
def test_an_unknown_phone_format_is_a_dialer_value_error_for_every_vendor(name):
    for encode in (
        lambda: wire_phone("+12125550147", name),
        lambda: voipex_number(LEAD, phone_format=name),
        lambda: automation_number("+12125550147", phone_format=name),
    ):
        with pytest.raises(DialerValueError, match="must be 'digits' or 'e164'") as raised:
            encode()
        assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: hub_path(""),
        lambda: automation_contact(LEAD, channel="fax"),
        lambda: automation_contact(LEAD, channel="email"),  # the lead has no email
        lambda: wire_datetime(dt.datetime(2026, 6, 10, 12, 0)),  # naive
        lambda: custom_field_key("colour"),
        lambda: xcally_contact(LEAD.model_copy(update={"priority": 0}), list_id=1),  # below what Motion takes
    ],
    ids=["ucontact-hub", "ucontact-channel", "ucontact-email", "xcally-naive-time", "xcally-field", "xcally-priority"],
)
def test_a_value_the_wire_cannot_carry_is_a_dialer_value_error(make):
    with pytest.raises(DialerValueError):
        make()


@given(st.text(max_size=20).filter(lambda value: value.strip().lower() not in {s.value.lower() for s in ContactStatus}))
def test_an_unknown_ujet_contact_status_is_an_answer_error_naming_it(value):
    with pytest.raises(DialerAnswerError) as raised:
        ContactStatus.parse(value)
    assert isinstance(raised.value, DialerError) and repr(value) in str(raised.value)
