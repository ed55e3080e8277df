"""uContact Integra clients replayed against the emulator.

1. A Node/Express controller (axios + fetch), as read: log in at ``auth/UserLogin`` with a form
   ``user``/``password`` (``Content-Type: application/x-www-form-urlencoded; charset=UTF-8``, CORS
   headers it sends needlessly, ``Accept: */*``) and take the token at index 2 of the JSON array; send
   ``Dialers/DialerTask`` with the form field ``call`` holding a JSON text it builds by hand, the
   token as ``Authorization: Basic <token>`` and ``Content-Type: application/x-www-form-urlencoded ;
   charset=UTF-8`` (a space before the ``;``); end with ``auth/EndSession``: form ``user``/``token``
   and the same token in the Authorization header.
2. A PHP controller, as read: ``auth/getUserToken`` with a form, the token being the array's last
   element, which decodes to ``user:uuid``.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Step, replay

pytestmark = [pytest.mark.integration]

LOGIN_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    "Access-Control-Allow-Origin": "*",
    "Accept": "*/*",
}


def dial_headers(ctx) -> dict[str, str]:
    return {
        "Authorization": f"Basic {ctx['token']}",
        "Content-Type": "application/x-www-form-urlencoded ; charset=UTF-8",
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": "*",
        "Access-Control-Allow-Credentials": "*",
        "Accept": "*/*",
        "cache-control": "no-cache",
    }


def handmade_call(dialer: str, phone: str, info: dict[str, str]) -> str:
    """The ``call`` text as the controller writes it: a template string, values pasted in unescaped."""
    data = (
        f"phone={phone}:name={info['name']}:country={info['country']}:state={info['state']}:email={info['email']}"
        f":field1=How did you know? {info['howdid']}:field2=Want test? {info['didyou']}"
    )
    return (
        f'{{"calldate" : null, "campaign" : "{dialer}","destination": "{phone}","alternatives": "",'
        f'"agent" : "","data": "{data}","source":"source","bulk" : false,"automatic" : true }}'
    )


@pytest.fixture
def client(emu):
    with httpx.Client(base_url=emu.base_url("ucontact") + "/Integra/resources") as c:
        yield c


# what the controller pastes into its JSON by hand: text without quotes or backslashes (those would break
# its own JSON, which the server answers with 0: the client's bug, not the server's)
PLAIN = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=20)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    info=st.fixed_dictionaries({k: PLAIN for k in ("name", "country", "state", "email", "howdid", "didyou")}),
    phone=st.from_regex(r"[0-9]{8,12}", fullmatch=True),
)
def test_node_controller_login_dial_end_session(emu, client, info, phone):
    emu.reset()
    creds = emu.credentials
    steps = [
        Step(
            "UserLogin",
            "POST",
            "/auth/UserLogin",
            headers=LOGIN_HEADERS,
            data={"user": creds.ucontact_user, "password": creds.ucontact_password},
            answer=[str],
            save=lambda r, ctx: {"token": r.json()[2]},
        ),
        Step(
            "DialerTask",
            "POST",
            "/Dialers/DialerTask",
            headers=None,
            data=lambda ctx: {"call": handmade_call("POWER<-", phone, info)},
            answer="text:1",
        ),
        Step(
            "EndSession",
            "POST",
            "/auth/EndSession",
            headers=None,
            data=lambda ctx: {"user": creds.ucontact_user, "token": ctx["token"]},
            answer="text:1",
        ),
    ]
    # headers that depend on the token are set per step
    ctx: dict = {}
    replay(client, steps[:1], ctx)
    for step in steps[1:]:
        step.headers = dial_headers(ctx)
    replay(client, steps[1:], ctx)
    state = emu.state("ucontact")["ucontact_integra"]
    (task,) = state["tasks"]
    assert task["destination"] == phone and task["data"].startswith(f"phone={phone}:name={info['name']}:")
    assert state["open_sessions"] == [] and state["sessions_ended"] == 1


def test_php_controller_get_user_token(emu, client):
    creds = emu.credentials
    ctx = replay(
        client,
        [
            Step(
                "getUserToken",
                "POST",
                "/auth/getUserToken",
                data={"user": creds.ucontact_user, "password": creds.ucontact_password},
                answer=[str],
                save=lambda r, ctx: {"token": r.json()[-1]},
            ),
        ],
    )
    user, _, session = base64.b64decode(ctx["token"]).decode().partition(":")
    assert user == creds.ucontact_user and len(session) == 36
    call = {
        "calldate": None,
        "campaign": "POWER<-",
        "destination": "0123456789",
        "alternatives": "",
        "agent": "",
        "data": "idcustomer=7",
        "source": "source",
        "bulk": False,
        "automatic": True,
    }
    replay(
        client,
        [
            Step(
                "DialerTask",
                "POST",
                "/Dialers/DialerTask",
                data={"call": json.dumps(call)},
                headers={"Authorization": f"Basic {ctx['token']}"},
                answer="text:1",
            )
        ],
    )
