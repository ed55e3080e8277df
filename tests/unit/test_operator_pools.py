"""The lead operators' default pool: one per connection, when ``[dialer] connection_pool`` names them."""

from __future__ import annotations

import pytest
from airflow.sdk import DAG

from airflow_provider_dialer.exceptions import DialerConfigError
from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
from airflow_provider_dialer.operators.lists import UploadListOperator
from airflow_provider_dialer.operators.pools import connection_pool

ENV = "AIRFLOW__DIALER__CONNECTION_POOL"
AIRFLOW_DEFAULT_POOL = "default_pool"

OPERATORS = [
    (UploadListOperator, {"list_name": "l"}),
    (PushFreshLeadsOperator, {}),
    (AddToDialerTaskOperator, {"campaign": "X"}),
]


def build(cls, extra, **kw):
    return cls(task_id=kw.pop("task_id", "t"), conn_id=kw.pop("conn_id", "ujet_prod"), source=[], **extra, **kw)


@pytest.mark.parametrize(("cls", "extra"), OPERATORS)
def test_without_the_setting_airflow_default_pool(monkeypatch: pytest.MonkeyPatch, cls, extra) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert build(cls, extra).pool == AIRFLOW_DEFAULT_POOL


@pytest.mark.parametrize(("cls", "extra"), OPERATORS)
def test_the_setting_puts_each_connection_in_its_pool(monkeypatch: pytest.MonkeyPatch, cls, extra) -> None:
    monkeypatch.setenv(ENV, "dialer_{conn_id}")
    assert build(cls, extra).pool == "dialer_ujet_prod"
    assert build(cls, extra, conn_id="ucontact_default").pool == "dialer_ucontact_default"


def test_an_explicit_pool_and_default_args_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "dialer_{conn_id}")
    assert build(PushFreshLeadsOperator, {}, pool="vip").pool == "vip"
    with DAG("pools", schedule=None, default_args={"pool": "from_default_args"}):
        op = build(PushFreshLeadsOperator, {}, task_id="d")
    assert op.pool == "from_default_args"


def test_a_templated_conn_id_gets_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "dialer_{conn_id}")
    op = build(PushFreshLeadsOperator, {}, conn_id="{{ params.dialer }}")
    assert op.pool == AIRFLOW_DEFAULT_POOL


def test_a_setting_without_conn_id_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, "dialer_pool")  # one pool for every connection would share one vendor's rate with another's
    with pytest.raises(DialerConfigError, match=r"\{conn_id\}"):
        build(PushFreshLeadsOperator, {})
    monkeypatch.setenv(ENV, "  ")
    assert connection_pool("ujet_prod") is None


@pytest.mark.parametrize(("cls", "extra"), OPERATORS)
def test_a_mapped_task_is_put_in_its_connections_pool(monkeypatch: pytest.MonkeyPatch, cls, extra) -> None:
    # the scheduler places every mapped index from the partial's arguments, before any __init__ runs
    monkeypatch.setenv(ENV, "dialer_{conn_id}")
    with DAG("mapped_pools", schedule=None):
        mapped = cls.partial(task_id="m", conn_id="ujet_prod", **extra).expand(source=[[], []])
        own = cls.partial(task_id="own", conn_id="ujet_prod", pool="vip", **extra).expand(source=[[]])
        templated = cls.partial(task_id="tpl", conn_id="{{ params.c }}", **extra).expand(source=[[]])
    assert mapped.pool == "dialer_ujet_prod"
    assert own.pool == "vip"
    assert templated.pool == AIRFLOW_DEFAULT_POOL
    with DAG("mapped_default_args", schedule=None, default_args={"pool": "from_default_args"}):
        inherited = cls.partial(task_id="d", conn_id="ujet_prod", **extra).expand(source=[[]])
    assert inherited.pool == "from_default_args"
    monkeypatch.delenv(ENV)
    with DAG("mapped_unset", schedule=None):
        unset = cls.partial(task_id="u", conn_id="ujet_prod", **extra).expand(source=[[]])
    assert unset.pool == AIRFLOW_DEFAULT_POOL


def test_a_mapped_conn_id_gets_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # the connection of each index is only known when it runs: no pool can be chosen for it up front
    monkeypatch.setenv(ENV, "dialer_{conn_id}")
    with DAG("mapped_conn", schedule=None):
        mapped = PushFreshLeadsOperator.partial(task_id="m", source=[]).expand(conn_id=["a", "b"])
    assert mapped.pool == AIRFLOW_DEFAULT_POOL
