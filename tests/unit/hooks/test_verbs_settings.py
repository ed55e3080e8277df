"""Every vendor's verbs refuse a ``settings`` key they do not read, before any request, naming the key."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.hooks.ucontact import UContactHook
from airflow_provider_dialer.hooks.voipex import VoipexHook
from airflow_provider_dialer.hooks.xcally import XCallyHook

#: the keys each vendor's list upload reads, written here apart from the verbs
LIST_KEYS = {
    UContactHook: {"hub", "channel", "zone_aware", "chunk_size", "phone_format", "number_plus"},
    XCallyHook: {"mode", "agents", "campaign_id", "duplicates", "phone_format", "first_name_fallback"},
    VoipexHook: {"phone_format", "number_format", "attributes"},
}

keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12)


@pytest.mark.parametrize("hook_class", list(LIST_KEYS), ids=lambda c: c.vendor)
@settings(max_examples=40, deadline=None)
@given(extra=keys)
def test_an_unknown_list_setting_is_refused_before_any_request(hook_class, extra):
    assume(extra not in LIST_KEYS[hook_class])
    hook = hook_class("never_read")  # no connection: the check must come before any read of it
    given_settings = {"hub": "sales"} if hook_class is UContactHook else {}
    given_settings[extra] = 1
    with pytest.raises(DialerConfigError) as caught:
        hook.open_list_target("calls", given_settings)
    message = str(caught.value)
    assert hook_class.vendor in message and repr(extra) in message
    assert "unknown settings" in message
