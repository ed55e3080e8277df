"""The list paths encode wire contacts without a pydantic model per contact; these tests pin that the
bytes are exactly what the validating models produce, for any prepared lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pydantic_core import to_json

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.hooks.ucontact.hook import UContactHook, _encoded_objects, fresh_leads_body, list_body
from airflow_provider_dialer.hooks.ucontact.wire import (
    CHANNELS,
    AutomationContact,
    FreshLeadsBody,
    UploadListBody,
    automation_contact,
)
from airflow_provider_dialer.hooks.ujet.hook import _NEW_CONTACTS
from airflow_provider_dialer.hooks.ujet.wire import UjetNewContact, import_file, ujet_contact
from airflow_provider_dialer.hooks.voipex.hook import VoipexHook
from airflow_provider_dialer.hooks.voipex.wire import CallListCreate, CallListNumber, voipex_number
from airflow_provider_dialer.hooks.xcally.wire import ContactIn, xcally_contact
from airflow_provider_dialer.leads.model import PreparedLead

text = st.one_of(st.none(), st.text(min_size=1, max_size=12))
phones = st.from_regex(r"\+[1-9][0-9]{7,13}", fullmatch=True)
zones = st.sampled_from(["America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/St_Johns", "UTC"])
data_values = st.one_of(
    st.text(max_size=8), st.integers(), st.booleans(), st.none(), st.lists(st.integers(), max_size=2)
)


@st.composite
def prepared_leads(draw) -> PreparedLead:
    call_at = draw(
        st.one_of(
            st.none(), st.integers(0, 10**7).map(lambda s: datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=s))
        )
    )
    return PreparedLead(
        row=draw(st.integers(1, 10**6)),
        phone=draw(phones),
        alternatives=tuple(draw(st.lists(phones, max_size=2))),
        first_name=draw(text),
        last_name=draw(text),
        email=draw(text),
        external_id=draw(text),
        priority=draw(st.one_of(st.none(), st.integers(-3, 10))),
        agent=draw(text),
        timezone=draw(zones),
        call_at=call_at,
        data=draw(st.dictionaries(st.text(min_size=1, max_size=6), data_values, max_size=3)),
        custom_fields=draw(
            st.dictionaries(st.sampled_from(["1", "cf_2", "x", "cf_", "3a"]), st.text(max_size=5), max_size=2)
        ),
        content=draw(text),
        template=draw(text),
        subject=draw(text),
        outbound_number=draw(st.one_of(st.none(), phones)),
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(prepared_leads(), min_size=1, max_size=4))
def test_ujet_import_file_equals_the_models_dump(leads: list[PreparedLead]) -> None:
    models = [UjetNewContact.model_validate(ujet_contact(lead)) for lead in leads]
    assert import_file(leads) == _NEW_CONTACTS.dump_json(models, by_alias=True, exclude_none=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(prepared_leads(), min_size=1, max_size=4), st.sampled_from(["digits", "e164"]), st.booleans())
def test_voipex_call_list_body_equals_the_models_wire(leads: list[PreparedLead], fmt: str, attributes: bool) -> None:
    numbers = [voipex_number(lead, phone_format=fmt, with_attributes=attributes) for lead in leads]
    model = CallListCreate(name="l now#2", numbers=[CallListNumber.model_validate(n) for n in numbers])
    hook = VoipexHook.__new__(VoipexHook)
    body = hook.call_list_body({"list_name": "l", "phone_format": fmt, "attributes": attributes}, "now#2", leads)
    assert body == to_json(model.wire())


@settings(max_examples=120, deadline=None)
@given(prepared_leads(), st.sampled_from(["digits", "e164"]), st.one_of(st.none(), st.just("Cliente")))
def test_xcally_contact_refuses_exactly_what_contactin_refuses(lead: PreparedLead, fmt: str, fallback) -> None:
    try:
        contact = xcally_contact(lead, list_id=7, phone_format=fmt, first_name_fallback=fallback)
    except ValueError:
        # the mapping refused: the model must refuse what the mapping would have produced too
        raw = {
            "ListId": 7,
            "firstName": lead.first_name or fallback or "x",
            "phone": lead.phone,
            "priority": lead.priority,
            **{f"cf_{k}" if not k.startswith("cf_") else k: v for k, v in lead.custom_fields.items()},
        }
        with pytest.raises(ValidationError):
            ContactIn.model_validate(raw)
        return
    assert ContactIn.model_validate(contact).wire() == contact


@settings(max_examples=120, deadline=None)
@given(prepared_leads(), st.sampled_from(CHANNELS), st.booleans(), st.sampled_from(["digits", "e164"]))
def test_automation_contact_equals_the_models_wire(lead: PreparedLead, channel: str, fresh: bool, fmt: str) -> None:
    try:
        wire = automation_contact(lead, channel=channel, fresh=fresh, phone_format=fmt)
    except ValueError:
        assert channel == "email" and not lead.email
        return
    assert list(wire) == list(AutomationContact.model_validate(wire).wire())  # same keys, same order
    assert wire == AutomationContact.model_validate(wire).wire()


@settings(max_examples=60, deadline=None)
@given(st.lists(prepared_leads(), min_size=1, max_size=4), st.booleans())
def test_automation_bodies_equal_the_documented_models_dump(leads: list[PreparedLead], fresh: bool) -> None:
    encoded, refused = UContactHook._contacts(leads, {"channel": "telephony"}, fresh)
    assert not refused
    contacts = [automation_contact(lead, fresh=fresh) for lead in leads]
    assert (
        list_body("leads (now#2)", encoded)
        == UploadListBody(filename="leads (now#2)", contacts=contacts).model_dump_json(by_alias=True).encode()
    )
    assert fresh_leads_body(encoded) == FreshLeadsBody(leads=contacts).model_dump_json(by_alias=True).encode()


def test_automation_bodies_encode_any_data_value_and_refuse_non_objects() -> None:
    lead = PreparedLead(row=1, phone="+59899123456", timezone="America/Montevideo", data={"when": datetime(2026, 1, 2)})
    body = json.loads(list_body("leads (1)", _encoded_objects("list", [automation_contact(lead)])))
    assert UploadListBody.model_validate(body).contacts[0]["data"] == {"when": "2026-01-02T00:00:00"}
    with pytest.raises(DialerConfigError, match=r"list\[1\] must be an object"):
        _encoded_objects("list", [automation_contact(lead), "not a contact"])


json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.text(max_size=6), st.floats(allow_nan=False, allow_infinity=False)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(json_values, max_size=5),
    st.dictionaries(st.text(max_size=4), json_values, max_size=2),
    st.text(max_size=4),
)
def test_items_encoded_one_by_one_join_into_the_same_bytes(items, head, key) -> None:
    from airflow_provider_dialer.transport.requests import json_array, json_object

    assert json_array(to_json(item) for item in items) == to_json(items)
    if key not in head:
        assert json_object(head, key, [to_json(item) for item in items]) == to_json({**head, key: items})
