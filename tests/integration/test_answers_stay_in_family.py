"""A vendor answering a read with a success of any JSON shape: each hook returns what it read or raises
one of the family (``DialerError``), never pydantic's, a ``KeyError`` or a ``TypeError``. Over real HTTP:
the emulator answers the read with the generated body (a ``status`` fault at 200, nothing applied)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerAnswerError, DialerError, DialerValueError
from airflow_provider_dialer.hooks.ujet import UjetHook
from airflow_provider_dialer.hooks.voipex import VoipexHook
from airflow_provider_dialer.hooks.xcally import XCallyHook

pytestmark = pytest.mark.integration

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["id", "name", "status", "type", "count", "rows", "data", "x"]) | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=12,
)

# (vendor, hook class, conn id, the read, the path it asks)
READS: list[tuple[str, type[Any], str, Any]] = [
    ("ujet", UjetHook, "ujet_default", lambda h: h.get_campaign(1)),
    ("ujet", UjetHook, "ujet_default", lambda h: h.list_campaigns()),
    ("ujet", UjetHook, "ujet_default", lambda h: h.get_job(1, 1)),
    ("xcally", XCallyHook, "xcally_default", lambda h: h.get_campaign(1)),
    ("xcally", XCallyHook, "xcally_default", lambda h: h.list_campaigns()),
    ("voipex", VoipexHook, "voipex_default", lambda h: h.list_call_lists()),
    ("voipex", VoipexHook, "voipex_default", lambda h: h.get_campaign(1)),
]


@pytest.fixture(scope="module")
def emu(dialer_emulator):
    return dialer_emulator


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values, read=st.sampled_from(range(len(READS))))
@example(body={"status": []}, read=2)  # found by hypothesis: UJET's job status read as a set member (TypeError)
def test_any_answer_shape_is_read_or_refused_within_the_family(emu, body, read):
    vendor, cls, conn_id, call = READS[read]
    emu.set_faults(vendor, [{"kind": "status", "status": 200, "method": "GET", "body": body}])
    try:
        with cls(conn_id) as hook:
            try:
                call(hook)
            except DialerError as exc:
                assert not isinstance(exc, DialerValueError), exc  # the arguments were fine: the answer was not
                assert "Traceback" not in str(exc)
            except Exception as exc:  # noqa: BLE001 - the point: anything else escaped the family
                pytest.fail(f"{vendor} {READS[read][3]} on {body!r}: {type(exc).__name__}: {exc}")
    finally:
        emu.set_faults(vendor, [])


@pytest.mark.parametrize("read", range(len(READS)), ids=[f"{r[0]}-{i}" for i, r in enumerate(READS)])
def test_an_answer_of_the_wrong_shape_names_the_request_and_not_the_values(emu, read):
    """Every vendor's read: a ``DialerAnswerError`` naming the request, never the answer's values."""
    vendor, cls, conn_id, call = READS[read]
    secret_looking = "tel +12125550123"  # not an integer id: pydantic would quote it
    item = {"id": secret_looking, "name": secret_looking}
    body = {**item, "rows": [item], "items": [item], "data": [item], "count": secret_looking}
    emu.set_faults(vendor, [{"kind": "status", "status": 200, "method": "GET", "body": body}])
    try:
        with cls(conn_id) as hook, pytest.raises(DialerAnswerError) as raised:
            call(hook)
    finally:
        emu.set_faults(vendor, [])
    text = str(raised.value)
    assert "GET" in text and secret_looking not in text and "12125550123" not in text, text
