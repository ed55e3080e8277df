"""The emulator's one reader of ``Authorization`` headers, over real HTTP: any header a client may send is either the
vendor's credentials (accepted) or refused with the vendor's 401, never a server error.

XCALLY (Basic user and password), UJET (Basic, any user, the token as password) and uContact Integra (Basic
carrying a session token) read the header through ``emulator/http.py``; the expected outcome is computed here
from the raw header bytes with this file's own decoding, not with the emulator's.
"""

from __future__ import annotations

import base64
import binascii

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

XCALLY_READ = "/api/cm/lists"
UJET_READ = "/manager/api/v1/outbound_dialer/campaigns"

#: bytes an HTTP/1.1 header value may hold (visible ASCII, space, tab and the obsolete 0x80-0xFF)
FIELD_BYTES = frozenset([9, *range(0x20, 0x7F), *range(0x80, 0x100)])
#: any value a client can send: no leading or trailing space (that is the field's padding, not its value)
HEADER_BYTES = st.lists(st.sampled_from(sorted(FIELD_BYTES)), max_size=40).map(lambda b: bytes(b).strip(b" \t"))
#: texts a client might put on either side of the colon: ASCII, accented, other scripts, colons, empty
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _decoded(header: bytes) -> tuple[str, str] | None:
    """``(user, password)`` when ``header`` is ``Basic <base64 of UTF-8 user:password>``; None for anything else."""
    scheme, _, token = header.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


def _basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


@st.composite
def headers(draw: st.DrawFn, right_user: str, right_password: str) -> bytes:
    """A Basic header of random credentials, the right ones, or bytes that are not Basic at all."""
    kind = draw(st.sampled_from(["random", "right user", "right password", "right", "raw"]))
    if kind == "raw":
        return draw(HEADER_BYTES)
    user = right_user if kind in {"right user", "right"} else draw(TEXT)
    password = right_password if kind in {"right password", "right"} else draw(TEXT)
    return _basic(user, password)


@pytest.fixture(scope="module")
def emu(dialer_emulator):
    dialer_emulator.configure(ujet_rate_limit=0)  # many requests in a row: the 429 is not under test here
    yield dialer_emulator
    dialer_emulator.configure(ujet_rate_limit=10.0)


def _status(url: str, header: bytes) -> int:
    with httpx.Client(timeout=10) as client:
        return client.get(url, headers=[(b"authorization", header)]).status_code


@pytest.mark.parametrize("user, password", [("ädmin", None), (None, "emu-xcally-pass-93ab-ü"), ("管理", "密码")])
def test_xcally_refuses_non_ascii_credentials_with_401(emu, user, password):
    """Compared as UTF-8 bytes: a non-ASCII user or password is wrong like any other (it was a 500)."""
    creds = emu.credentials
    header = _basic(user or creds.xcally_user, password or creds.xcally_password)
    assert _status(emu.base_url("xcally") + XCALLY_READ, header) == 401


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_xcally_basic_is_its_credentials_or_401(emu, data):
    creds = emu.credentials
    header = data.draw(headers(creds.xcally_user, creds.xcally_password))
    expected = 200 if _decoded(header) == (creds.xcally_user, creds.xcally_password) else 401
    assert _status(emu.base_url("xcally") + XCALLY_READ, header) == expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_ujet_basic_is_any_user_with_the_token_or_401(emu, data):
    token = emu.credentials.ujet_token
    header = data.draw(headers(emu.credentials.ujet_user, token))
    decoded = _decoded(header)
    expected = 200 if decoded is not None and decoded[0] and decoded[1] == token else 401
    assert _status(emu.base_url("ujet") + UJET_READ, header) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.one_of(
        TEXT.map(lambda t: (b"Basic " + t.encode()).strip(b" \t")).filter(lambda h: FIELD_BYTES.issuperset(h)),
        HEADER_BYTES,
    )
)
def test_integra_refuses_every_header_but_a_session_token(emu, header):
    """No session was opened with these bytes, so DialerTask answers 401 (empty) for each, never a 500."""
    url = emu.base_url("ucontact") + "/Integra/resources/Dialers/DialerTask"
    with httpx.Client(timeout=10) as client:
        answer = client.post(url, headers=[(b"authorization", header)], data={"call": "{}"})
    assert answer.status_code == 401 and answer.content == b""
