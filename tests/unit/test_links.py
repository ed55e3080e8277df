"""Extra links to the vendor's UI: templates filled per vendor, credentials kept out, no link without an id,
unknown placeholders refused before any request, and get_link that never raises."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_dialer.capabilities import LinkBuilder
from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.hooks.registry import get_dialer_hook
from airflow_provider_dialer.link_templates import fill_template, safe_link
from airflow_provider_dialer.links import (
    DialerCampaignLink,
    DialerListLink,
    check_links,
    remember_links,
)

PASSWORD = "Hunter2-link-secret"


def set_conn(
    monkeypatch: pytest.MonkeyPatch, conn_id: str, conn_type: str, host: str, extra: dict[str, Any], **fields: Any
) -> None:
    conn = {"conn_type": conn_type, "host": host, "login": "someone", "password": PASSWORD, "extra": extra, **fields}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


# -- each vendor fills its own placeholders ------------------------------------------------------------


@pytest.mark.parametrize(
    ("conn_type", "host", "extra", "kind", "values", "expected"),
    [
        (
            "ucontact",
            "acme",
            {"list_link_template": "{origin}/hubs/{hub}/lists/{list_id}?name={list_name}"},
            "list",
            {"hub": "sales", "list_id": 41, "list_name": "leads 2026/06 & more"},
            "https://acme.ucontactcloud.com/hubs/sales/lists/41?name=leads%202026%2F06%20%26%20more",
        ),
        (
            "xcally",
            "motion.example.com",
            {"campaign_link_template": "{origin}/#/campaigns/{campaign_id}"},
            "campaign",
            {"campaign_id": 59, "campaign_name": "daily"},
            "https://motion.example.com:8443/#/campaigns/59",
        ),
        (
            "xcally",
            "motion.example.com",
            {"list_link_template": "{origin}/#/lists/{list_id}?campaign={campaign_id}"},
            "list",
            {"list_id": 32, "list_name": "x", "campaign_id": 59},
            "https://motion.example.com:8443/#/lists/32?campaign=59",
        ),
        (
            "voipex",
            "",
            {"campaign_link_template": "https://portal.voipex.io/dialer/campaigns/{campaign_id}"},
            "campaign",
            {"campaign_id": 3},
            "https://portal.voipex.io/dialer/campaigns/3",
        ),
        (
            "voipex",
            "",
            {"list_link_template": "https://portal.voipex.io/dialer/call-lists/{list_id}"},
            "list",
            {"list_id": 8, "list_name": "calls"},
            "https://portal.voipex.io/dialer/call-lists/8",
        ),
        (
            "ujet",
            "acme",
            {"list_link_template": "{origin}/campaigns/{campaign_id}/imports/{job_id}"},
            "list",
            {"campaign_id": 6, "job_id": 530},
            "https://acme.uc1.ccaiplatform.com/campaigns/6/imports/530",
        ),
        (
            "ujet",
            "acme",
            {"campaign_link_template": "{origin}/campaigns/{campaign_id}"},
            "campaign",
            {"campaign_id": 6},
            "https://acme.uc1.ccaiplatform.com/campaigns/6",
        ),
    ],
)
def test_each_vendor_fills_its_template(monkeypatch, conn_type, host, extra, kind, values, expected):
    set_conn(monkeypatch, "links_conn", conn_type, host, extra, port=8443 if conn_type == "xcally" else None)
    hook = get_dialer_hook("links_conn")
    assert isinstance(hook, LinkBuilder)
    hook.check_link_templates([kind])
    assert hook.ui_link(kind, values) == expected


def test_no_template_no_link_and_no_default_for_any_vendor(monkeypatch):
    for conn_type in ("ucontact", "xcally", "voipex", "ujet"):
        set_conn(monkeypatch, "plain", conn_type, "acme", {})
        hook = get_dialer_hook("plain")
        assert hook.default_link_templates == {}  # no vendor documents its campaign or list page addresses
        hook.check_link_templates(["campaign", "list"])
        assert hook.ui_link("campaign", {"campaign_id": 1}) is None
        assert hook.ui_link("list", {"list_id": 1, "hub": "h", "campaign_id": 1, "job_id": 1}) is None


def test_a_missing_or_empty_id_gives_no_link(monkeypatch):
    set_conn(
        monkeypatch,
        "xc",
        "xcally",
        "motion.example.com",
        {
            "list_link_template": "{origin}/lists/{list_id}",
            "campaign_link_template": "{origin}/c/{campaign_id}/{campaign_name}",
        },
    )
    hook = get_dialer_hook("xc")
    assert hook.ui_link("list", {"list_name": "only a name"}) is None
    assert hook.ui_link("list", {"list_id": ""}) is None
    assert hook.ui_link("list", {"list_id": None}) is None
    assert hook.ui_link("campaign", {"campaign_id": 7}) is None  # campaign_name unknown (e.g. ControlCampaign)
    assert hook.ui_link("list", {"list_id": 0}) == "https://motion.example.com/lists/0"  # 0 is an id


# -- credentials never reach a link --------------------------------------------------------------------


def test_user_info_and_credential_query_parameters_are_removed(monkeypatch):
    set_conn(
        monkeypatch,
        "xc",
        "xcally",
        "motion.example.com",
        {
            "campaign_link_template": "https://admin:pw@ui.example:9443/c/{campaign_id}?apikey=abc&tab=hopper&access_token=t",
            "list_link_template": "https://ui.example/#/lists/{list_id}?Token=z&view=contacts&X-Api-Key=k",
        },
    )
    hook = get_dialer_hook("xc")
    hook.check_link_templates(["campaign", "list"])
    assert hook.ui_link("campaign", {"campaign_id": 7}) == "https://ui.example:9443/c/7?tab=hopper"
    assert hook.ui_link("list", {"list_id": 3}) == "https://ui.example/#/lists/3?view=contacts"


def test_a_link_holding_a_secret_of_the_connection_is_dropped(monkeypatch, capsys):
    set_conn(
        monkeypatch,
        "xc",
        "xcally",
        "motion.example.com",
        {"campaign_link_template": f"https://ui.example/{PASSWORD}/c/{{campaign_id}}", "api_key": "apikey-Secret-77"},
    )
    hook = get_dialer_hook("xc")
    assert hook.ui_link("campaign", {"campaign_id": 7}) is None
    set_conn(
        monkeypatch,
        "xc2",
        "xcally",
        "motion.example.com",
        {"list_link_template": "https://ui.example/l/{list_name}", "api_key": "apikey-Secret-77"},
    )
    hook = get_dialer_hook("xc2")
    assert hook.ui_link("list", {"list_name": "apikey-Secret-77"}) is None  # a value equal to a secret, too
    assert hook.ui_link("list", {"list_name": "leads"}) == "https://ui.example/l/leads"
    out = capsys.readouterr().out
    assert out.count("the URL would carry a secret of a connection") == 2  # said, without the secret
    assert PASSWORD not in out and "apikey-Secret-77" not in out


@pytest.mark.parametrize("placeholder", ["password", "api_key", "api_token", "login", "token", "hub"])
def test_unknown_placeholders_are_a_config_error_naming_them(monkeypatch, placeholder):
    set_conn(
        monkeypatch,
        "xc",
        "xcally",
        "motion.example.com",
        {"campaign_link_template": f"{{origin}}/c/{{campaign_id}}?x={{{placeholder}}}"},
    )
    hook = get_dialer_hook("xc")
    with pytest.raises(DialerConfigError) as info:
        hook.check_link_templates(["campaign"])
    message = str(info.value)
    assert f"{{{placeholder}}}" in message and "campaign_link_template" in message and "'xc'" in message
    assert "{campaign_id}, {campaign_name}, {origin}" in message
    assert PASSWORD not in message
    # and were it built anyway, an unknown placeholder is never filled: no link
    assert hook.ui_link("campaign", {"campaign_id": 1, placeholder: "x"}) is None


@pytest.mark.parametrize(
    "template",
    [
        "{origin}/c/{campaign_id!r}",
        "{origin}/c/{campaign_id:>5}",
        "{origin}/c/{campaign_id.real}",
        "{origin}/c/{0}",
        "{origin}/c/{}",
        "{origin}/c/{campaign_id",
        "/campaigns/{campaign_id}",
        "ui.example/campaigns/{campaign_id}",
        "ftp://ui.example/{campaign_id}",
        "javascript:alert({campaign_id})",
    ],
)
def test_malformed_or_relative_templates_are_a_config_error(monkeypatch, template):
    set_conn(monkeypatch, "xc", "xcally", "motion.example.com", {"campaign_link_template": template})
    with pytest.raises(DialerConfigError, match="campaign_link_template"):
        get_dialer_hook("xc").check_link_templates(["campaign"])


def test_a_kind_the_vendor_lacks_is_refused_only_when_configured(monkeypatch):
    set_conn(monkeypatch, "uc", "ucontact", "acme", {"campaign_link_template": "{origin}/c/{campaign_id}"})
    hook = get_dialer_hook("uc")
    with pytest.raises(DialerConfigError, match="uContact has no campaign links"):
        hook.check_link_templates(["campaign"])
    hook.check_link_templates(["list"])  # the kind an operator does not show is not checked
    assert hook.ui_link("campaign", {"campaign_id": 1}) is None


def test_ui_link_never_raises(monkeypatch, capsys):
    set_conn(monkeypatch, "broken", "xcally", "", {"campaign_link_template": "{origin}/c/{campaign_id}"})  # no host
    from airflow_provider_dialer.hooks.xcally import XCallyHook

    hook = XCallyHook("broken")  # the connection is read on first use, here by ui_link
    assert hook.ui_link("campaign", {"campaign_id": 1}) is None
    assert "no campaign link for connection 'broken'" in capsys.readouterr().out


# -- pure helpers ----------------------------------------------------------------------------------------


def test_safe_link_refuses_what_is_not_an_http_url():
    assert safe_link("mailto:x@y.z") is None
    assert safe_link("https:///no-host") is None
    assert safe_link("https://u:p@[::1]:8/x?password=1&a=2#f") == "https://[::1]:8/x?a=2#f"
    assert safe_link("HTTPS://ui.example/X") == "https://ui.example/X"


@given(st.text(max_size=40))
def test_any_value_stays_one_path_segment_on_the_template_host(value):
    url = fill_template("https://ui.example/lists/{list_name}/view", {"list_name": value})
    if value == "":
        assert url is None
        return
    assert url is not None
    parts = urlsplit(url)
    assert parts.hostname == "ui.example" and parts.username is None and parts.query == "" and parts.fragment == ""
    prefix, segment, suffix = parts.path.split("/")[1:]
    assert (prefix, suffix) == ("lists", "view") and unquote(segment) == value


def test_voipex_links_the_first_call_list_and_the_base_mapping_takes_first_ids(monkeypatch):
    set_conn(monkeypatch, "vx", "voipex", "", {})
    set_conn(monkeypatch, "uc", "ucontact", "acme", {})
    assert get_dialer_hook("vx").target_link_values({"list_name": "calls"}, {"call_list_ids": [8, 9]}) == {
        "list_name": "calls",
        "list_id": 8,
    }
    assert get_dialer_hook("uc").target_link_values(
        {"hub": "sales", "list_name": "leads", "channel": "telephony", "chunk_size": 5},
        {"list_ids": [41, 42], "pids": [1]},
    ) == {"hub": "sales", "list_name": "leads", "list_id": 41}


# -- what operators and Airflow call ------------------------------------------------------------------------


class Op:
    operator_extra_links = (DialerListLink(), DialerCampaignLink())


class Key:
    dag_id, task_id, run_id, map_index = "d", "t", "r", -1


def test_get_link_returns_the_built_url_else_the_stored_one_else_nothing(monkeypatch):
    from airflow.sdk.execution_time import xcom

    op = Op()
    op.dialer_links = {"list": "https://ui.example/lists/3"}
    assert DialerListLink().get_link(op, ti_key=Key()) == "https://ui.example/lists/3"

    stored: dict[str, Any] = {"_link_DialerCampaignLink": "https://ui.example/c/7"}
    seen: list[tuple[str, str]] = []

    def get_value(*, ti_key, key):
        seen.append((ti_key.task_id, key))
        return stored.get(key)

    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(get_value))
    assert DialerCampaignLink().get_link(op, ti_key=Key()) == "https://ui.example/c/7"  # resumed after a deferral
    assert seen == [("t", "_link_DialerCampaignLink")]
    assert DialerListLink().get_link(Op(), ti_key=Key()) == ""

    def broken(*, ti_key, key):
        raise RuntimeError("no supervisor")

    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(broken))
    assert DialerCampaignLink().get_link(op, ti_key=Key()) == ""


def test_check_and_remember_links_on_an_operator(monkeypatch):
    set_conn(monkeypatch, "xc", "xcally", "motion.example.com", {"list_link_template": "{origin}/lists/{list_id}"})
    hook = get_dialer_hook("xc")
    op = Op()
    check_links(op, hook)
    assert op.dialer_links == {}
    remember_links(op, hook, {"list_name": "leads"})  # the id is not known yet
    assert op.dialer_links == {}
    remember_links(op, hook, {"list_id": 12, "campaign_id": 5})
    assert op.dialer_links == {"list": "https://motion.example.com/lists/12"}

    class NoLinks:  # a hook that does not build links: the operator simply has none
        pass

    other = Op()
    check_links(other, NoLinks())
    remember_links(other, NoLinks(), {"list_id": 1})
    assert other.dialer_links == {}


def test_link_classes_are_plain_operator_links():
    from airflow.sdk import BaseOperatorLink

    assert issubclass(DialerCampaignLink, BaseOperatorLink) and issubclass(DialerListLink, BaseOperatorLink)
    assert DialerCampaignLink().name == "Dialer campaign" and DialerListLink().name == "Dialer list"
    assert DialerCampaignLink().xcom_key == "_link_DialerCampaignLink"


def test_no_template_means_no_xcom_lookup(monkeypatch):
    """A connection without link templates: get_link answers "" without reading XCom (a missing XCom is an
    error-level log line in Airflow); a kind with a template still falls back to what a deferral stored."""
    from airflow.sdk.execution_time import xcom

    seen: list[str] = []

    def get_value(*, ti_key, key):
        seen.append(key)
        return "https://ui.example/stored"

    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(get_value))
    for conn_type in ("ucontact", "xcally", "voipex", "ujet"):
        set_conn(monkeypatch, "plain", conn_type, "acme", {})
        op = Op()
        check_links(op, get_dialer_hook("plain"))
        assert DialerListLink().get_link(op, ti_key=Key()) == ""
        assert DialerCampaignLink().get_link(op, ti_key=Key()) == ""
    assert seen == []

    set_conn(monkeypatch, "xc", "xcally", "motion.example.com", {"list_link_template": "{origin}/lists/{list_id}"})
    op = Op()
    check_links(op, get_dialer_hook("xc"))
    assert DialerListLink().get_link(op, ti_key=Key()) == "https://ui.example/stored"  # template set, id not known here
    assert DialerCampaignLink().get_link(op, ti_key=Key()) == ""
    assert seen == ["_link_DialerListLink"]


def test_a_try_that_never_deferred_reads_no_stored_link(monkeypatch):
    """Finalisation passes the running task instance: before any deferral of this try nothing can be
    stored, so the link reads no XCom; after a resume it reads what the deferral stored."""
    from airflow.sdk.execution_time import xcom

    seen: list[str] = []

    def get_value(*, ti_key, key):
        seen.append(key)
        return "https://ui.example/stored"

    monkeypatch.setattr(xcom.XCom, "get_value", staticmethod(get_value))
    set_conn(monkeypatch, "xc", "xcally", "motion.example.com", {"campaign_link_template": "{origin}/c/{campaign_id}"})

    class ServerContext:
        next_method: str | None = None

    class RunningTI(Key):
        _ti_context_from_server = ServerContext()

    op = Op()
    check_links(op, get_dialer_hook("xc"))  # a template, but no campaign id known to an upload
    assert DialerCampaignLink().get_link(op, ti_key=RunningTI()) == ""
    assert seen == []
    RunningTI._ti_context_from_server.next_method = "execute_complete"
    assert DialerCampaignLink().get_link(op, ti_key=RunningTI()) == "https://ui.example/stored"
    assert seen == ["_link_DialerCampaignLink"]
