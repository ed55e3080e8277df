"""The emulator's backends as plain Python: no server, no request, no event loop. Each vendor's state and rules are
called directly and checked against a model written here, so a rule the HTTP layer hides is still explored."""

from __future__ import annotations

import json
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.emulator.state import Credentials, EmulatorConfig, EmulatorContext, Refused
from airflow_provider_dialer.emulator.ujet.backend import UjetBackend
from airflow_provider_dialer.emulator.voipex.backend import VoipexBackend


def _ctx(**settings_: object) -> EmulatorContext:
    config = EmulatorConfig()
    config.update(settings_)
    return EmulatorContext(config=config, credentials=Credentials())


def test_every_backend_builds_resets_and_dumps_without_a_server():
    """What ``GET /_emulator/state`` shows comes from the backend alone and is plain JSON."""
    from airflow_provider_dialer.emulator.ucontact.backend import AutomationBackend, IntegraBackend
    from airflow_provider_dialer.emulator.xcally.backend import XCallyBackend

    for backend_class in (IntegraBackend, AutomationBackend, XCallyBackend, VoipexBackend, UjetBackend):
        backend = backend_class(_ctx())
        before = json.dumps(backend.dump(), sort_keys=True)
        backend.reset()
        assert json.dumps(backend.dump(), sort_keys=True) == before, backend.name


# -- Voipex: the campaign control state machine --------------------------------------------------------

#: the guide's commands as this test reads them: from which states each applies, and to which state it leads
#: (None: the state it applies in)
MODEL = {
    "start": ({"created"}, "running"),
    "pause": ({"running"}, "paused"),
    "unpause": ({"paused"}, "running"),
    "reload": ({"created", "running", "paused"}, None),
    "remove": ({"created", "running", "paused"}, "removed"),
}
CAMPAIGN = {
    "name": "c",
    "callerId": "420228881234",
    "activePeriod": {"startTime": "08:00", "endTime": "20:00", "weekDays": [1, 2, 3, 4, 5]},
    "callLists": [1],
    "ivr": "TUxw53xCBf",
}


@settings(max_examples=150, deadline=None)
@given(commands=st.lists(st.sampled_from([*MODEL, "stop", ""]), max_size=12))
def test_voipex_control_follows_the_state_machine(commands):
    backend = VoipexBackend(_ctx())
    backend.add_call_list("l", ["420111222333"], {})
    campaign_id = backend.create_campaign(json.dumps(CAMPAIGN).encode())
    state = "created"
    for command in commands:
        body = json.dumps({"command": command}).encode()
        if command not in MODEL:
            expected = 400
        elif state == "removed":
            expected = 404
        elif state not in MODEL[command][0]:
            expected = 409
        else:
            expected = 200
        try:
            answer = backend.control(campaign_id, body)
        except Refused as refused:
            assert refused.status == expected, (command, state)
            assert refused.body["statusCode"] == expected  # Boom's shape carries the status too
            continue
        assert expected == 200, (command, state)
        state = MODEL[command][1] or state
        assert answer == {"id": campaign_id, "message": answer["message"], "state": state}
    listed = {c["id"]: c["state"] for c in backend.campaigns_public()}
    assert listed == ({} if state == "removed" else {campaign_id: state})


# -- UJET: which phones a single add stores -------------------------------------------------------------


@st.composite
def phone_texts(draw: st.DrawFn) -> str:
    """Around the rule's edges: 6 to 17 digits, with or without ``+``, punctuation inside, a foreign digit or letter."""
    length = draw(st.integers(6, 17))  # drawn first: text() alone seldom reaches the 15-digit edge
    digits = draw(st.text(string.digits, min_size=length, max_size=length))
    at = draw(st.integers(0, len(digits)))
    inside = draw(st.sampled_from(["", " ", "-", "(", ")", " (0) ", "٣", "x", "."]))
    return draw(st.sampled_from(["+", "", "++", " +"])) + digits[:at] + inside + digits[at:]


#: a few numbers, sent in any order and any number of times (the campaign must refuse a number it holds)
PHONES = st.lists(st.one_of(phone_texts(), st.text(string.digits + "+ -()", max_size=20)), min_size=1, max_size=4)


@settings(max_examples=200, deadline=None)
@given(phones=PHONES.flatmap(lambda pool: st.lists(st.sampled_from(pool), min_size=1, max_size=8)))
def test_ujet_single_add_stores_each_plausible_new_number_once(phones):
    """A phone is stored when, without spaces, dashes and parentheses, it is ``+`` and 8 to 15 ASCII digits, and
    no contact of the campaign holds that number yet; otherwise the answer lists it as invalid, with a reason."""
    backend = UjetBackend(_ctx(ujet_rate_limit=0))
    held: set[str] = set()
    for phone in phones:
        answer = backend.add_contact("6", json.dumps({"name": "n", "phone_number": phone}).encode())
        number = re.sub(r"[ \-()]", "", phone)
        plausible = re.fullmatch(r"\+[0-9]{8,15}", number) is not None
        if plausible and number not in held:
            held.add(number)
            assert [c["phone_number"] for c in answer["valid_contacts"]] == [phone] and not answer["invalid_contacts"]
        else:
            assert not answer["valid_contacts"]
            (refused,) = answer["invalid_contacts"]
            assert refused["phone_number"] == phone and len(refused["errors"]) == 1
    stored = [c["phone_number"] for c in backend.contacts_of("6")]
    assert sorted(re.sub(r"[ \-()]", "", p) for p in stored) == sorted(held)


def test_ujet_import_without_a_loop_finishes_when_read():
    """Outside a server's event loop nothing runs in the background: the job finishes on the first read after its
    time, as the emulator's reads always settle due jobs."""
    backend = UjetBackend(_ctx(ujet_rate_limit=0, ujet_job_seconds=0))
    rows, invalid = backend.parse_import(b'[{"phone_number": "+12025550101"}, {"phone_number": "12"}]')
    assert (len(rows), invalid) == (1, 1)
    job_id = backend.start_import(6, rows, invalid)
    assert backend.job_public("6", str(job_id))["status"] == "completed"
    assert [c["phone_number"] for c in backend.contacts_of("6")] == ["+12025550101"]
    with pytest.raises(Refused) as missing:
        backend.job_public("7", str(job_id))  # another campaign's job is not found there
    assert missing.value.status == 404 and missing.value.body == {"message": "Job not found"}
