"""Where a lead operator's leads came from and where they went: OpenLineage facets and Airflow asset events.

Two ways for the rest of a data platform to see an upload:

* **OpenLineage** (when ``apache-airflow-providers-openlineage`` is installed; the provider works
  without it): ``get_openlineage_facets_on_complete`` reports the source as the input dataset (a
  table of a SQL source, a file, or the XCom / ``dag_run.conf`` that carried the leads), the
  do-not-call source as a second input, and the dialer target as the output dataset, named by the
  connection and the target (namespace ``dialer://<conn_id>``, name ``list_id=7``,
  ``hub=sales,channel=telephony``, ``campaign=POWER``...). Row counts go in the standard statistics
  facets: rows read on the input, leads the dialer accepted on the output.
* **Airflow assets**: every ``Asset`` in the task's ``outlets`` gets the run's counts in its event's
  ``extra`` (``read``, ``prepared``, ``rejected``, ``accepted``, ...), so a DAG scheduled on it
  (a call-result export, a report) knows what went out; an ``AssetAlias`` in ``outlets`` gets an
  event for an asset named after the target the task actually loaded (``dialer_asset``).

Nothing here reads a secret: dataset names carry connection ids, hosts, table and file names, never
a login, password or token, and counts, never a lead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow.sdk import Asset

#: the OpenLineage namespace and asset URI scheme of a dialer target
SCHEME = "dialer"
#: the counts an asset event's ``extra`` carries, from the task's summary
ASSET_COUNTS = ("read", "prepared", "rejected", "held_back", "accepted", "unknown")


@dataclass(frozen=True)
class DatasetName:
    """A dataset by OpenLineage's naming: ``namespace`` (where it lives) and ``name`` (what it is there)."""

    namespace: str
    name: str


def target_label(target: dict[str, Any]) -> str:
    """The name of what the leads went into: the ledger's name of the target (``list_id=7``,
    ``hub=sales,channel=telephony``), else its scalar keys (``campaign=POWER<-``)."""
    from airflow_provider_dialer.exceptions import DialerConfigError
    from airflow_provider_dialer.pipeline.sync import target_name

    try:
        return target_name(target)
    except DialerConfigError:
        pass
    scalars = [f"{k}={v}" for k, v in sorted(target.items()) if isinstance(v, (str, int)) and v not in ("", None)]
    return ",".join(scalars) or "unnamed"


def target_dataset(conn_id: str, target: dict[str, Any]) -> DatasetName:
    """The dialer target as a dataset: namespace ``dialer://<conn_id>``, name from :func:`target_label`."""
    return DatasetName(f"{SCHEME}://{conn_id}", target_label(target))


def dialer_asset(conn_id: str, target: str, **kwargs: Any) -> Asset:
    """An Airflow ``Asset`` for a dialer target, to put in ``outlets`` and in a downstream ``schedule``.

    The URI is ``dialer://<conn_id>/<target>`` (the target URL-quoted), so two DAGs naming the same
    connection and target share the asset. ``target`` is any stable name the DAGs agree on
    (``"list=leads"``, ``"hub=sales"``); an ``AssetAlias`` in ``outlets`` instead gets an event for the
    asset named after the target the task loaded (``target_label``).

    :param conn_id: the dialer connection id.
    :param target: the target's name.
    :param kwargs: passed to ``Asset`` (``group``, ``extra``...); ``name`` defaults to the URI.
    """
    from airflow.sdk import Asset

    uri = f"{SCHEME}://{quote(conn_id, safe='')}/{quote(target, safe='=,')}"
    kwargs.setdefault("name", uri)
    return Asset(uri=uri, **kwargs)


def asset_extra(conn_id: str, target: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    """What an asset event says about the run: the connection, the target and the counts (never a lead)."""
    extra: dict[str, Any] = {"conn_id": conn_id, "target": target_label(target) if target else None}
    for key in ASSET_COUNTS:
        if key in summary:
            extra[key] = summary[key]
    extra["refused"] = sum((summary.get("refused_by_vendor") or {}).values())
    if summary.get("rejected_by_reason"):
        extra["rejected_by_reason"] = dict(summary["rejected_by_reason"])
    if summary.get("dry_run"):
        extra.update(dry_run=True, would_send=summary.get("would_send", 0))
    return extra


def emit_asset_events(operator: Any, context: Any, target: dict[str, Any], summary: dict[str, Any]) -> int:
    """Put the run's counts in the event of every ``Asset`` in ``operator.outlets``; add an event for the
    target's own asset through every ``AssetAlias`` there. Returns how many events were filled.

    Airflow emits a declared outlet's event when the task succeeds; this only fills its ``extra``.
    """
    outlets = list(getattr(operator, "outlets", None) or ())
    events = context.get("outlet_events") if hasattr(context, "get") else None
    if not outlets or events is None:
        return 0
    from airflow.sdk import Asset, AssetAlias

    extra = asset_extra(operator.conn_id, target, summary)
    filled = 0
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            events[outlet].add(dialer_asset(operator.conn_id, extra["target"] or "unnamed"), extra=dict(extra))
            filled += 1
        elif isinstance(outlet, Asset):
            events[outlet].extra.update(extra)
            filled += 1
    return filled


# --------------------------------------------------------------------------------------------
# The source as datasets
# --------------------------------------------------------------------------------------------


def _path_dataset(path: Any, conn_id: str | None = None) -> DatasetName:
    """A file: ``file`` + absolute path for a local one; ``scheme://bucket`` + key on object storage."""
    text = str(path)
    if "://" not in text:
        return DatasetName("file", os.path.abspath(os.path.expanduser(text)))
    from airflow.sdk import ObjectStoragePath

    store = (
        path
        if isinstance(path, ObjectStoragePath)
        else (ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text))
    )
    if store.protocol in ("file", "local"):
        return DatasetName("file", "/" + store.path.lstrip("/"))
    return DatasetName(store.namespace, store.key)


def _sql_datasets(conn_id: str, sql: str) -> list[DatasetName]:
    """The tables a SQL source reads, in the database's namespace (as common.sql names them when the
    hook can say, else ``<conn type>://<host>[:<port>]``, ``sqlite:///<file>``); the connection's
    ``<conn_id>.query`` when no table can be parsed."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    if conn.host:
        namespace = f"{conn.conn_type}://{conn.host}{':' + str(conn.port) if conn.port else ''}"
    elif conn.schema:  # a file database (SQLite): the file is its identity
        namespace = f"{conn.conn_type}:///{conn.schema.lstrip('/')}"
    else:
        namespace = f"{conn.conn_type}://{conn_id}"
    database = dialect = default_schema = None
    try:
        hook: Any = conn.get_hook()  # type: ignore[no-untyped-call]  # Connection.get_hook has no annotations
        info = hook.get_openlineage_database_info(conn)
        dialect = hook.get_openlineage_database_dialect(conn)
        if info is not None:  # a hook that names its database for OpenLineage names its default schema too
            namespace = f"{info.scheme}://{info.authority}" if info.authority else info.scheme
            database = info.database
            default_schema = hook.get_openlineage_default_schema()
    except Exception:  # noqa: BLE001 - lineage is best effort; the hook may not offer OpenLineage helpers
        pass
    tables: list[str] = []
    try:
        from airflow.providers.openlineage.sqlparser import SQLParser

        meta = SQLParser(dialect=dialect, default_schema=default_schema).parse(sql)
        for table in meta.in_tables if meta else ():
            parts = [p for p in (table.database or database, table.schema, table.name) if p]
            tables.append(".".join(parts))
    except Exception:  # noqa: BLE001 - an unparsable query still has its connection as the input
        tables = []
    return [DatasetName(namespace, t) for t in tables] or [DatasetName(namespace, f"{conn_id}.query")]


def source_datasets(source: Any, *, dag_id: str, task_id: str, origin: str | None = None) -> list[DatasetName]:
    """The datasets a lead source reads.

    :param source: the operator's rendered ``source`` (or ``dnc_source``).
    :param dag_id: the DAG, to name in-memory sources by.
    :param task_id: the task, to name in-memory sources by.
    :param origin: where an in-memory list came from, when the operator knows it (``"xcom:<task>[:<key>]"``
        for an upstream task's return value, ``"conf"`` for ``dag_run.conf``).
    :return: datasets; an in-memory list is ``airflow://<dag_id>`` + ``<task>.xcom[.<key>]``,
        ``dag_run.conf`` or ``<task_id>.source``.
    """
    from airflow_provider_dialer.leads.sources import CsvSource, JsonLinesSource, SqlSource

    if isinstance(source, SqlSource):
        return _sql_datasets(source.conn_id, source.sql)
    if isinstance(source, dict) and "sql" in source:
        return _sql_datasets(source["conn_id"], source["sql"])
    if isinstance(source, (CsvSource, JsonLinesSource)):
        return [_path_dataset(source.path, source.conn_id)]
    if isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith(("[", "(", "{")):
        return [_path_dataset(source)]
    if type(source).__name__ == "ObjectStoragePath":
        return [_path_dataset(source)]
    namespace = f"airflow://{dag_id}"
    if origin and origin.startswith("xcom:"):
        task, _, key = origin[5:].partition(":")
        return [DatasetName(namespace, f"{task}.xcom" + (f".{key}" if key else ""))]
    if origin == "conf":
        return [DatasetName(namespace, "dag_run.conf")]
    return [DatasetName(namespace, f"{task_id}.source")]


def source_origin(source: Any) -> str | None:
    """Where an unrendered ``source`` will come from: an upstream task's XCom or ``dag_run.conf``.

    Given the unrendered value (an ``XComArg`` or a template); None for a file, a table or a literal list.
    """
    import re

    operator = getattr(source, "operator", None)
    if operator is not None and hasattr(source, "key"):  # an XComArg (PlainXComArg)
        key = getattr(source, "key", None)
        return f"xcom:{operator.task_id}" + (f":{key}" if key and key != "return_value" else "")
    if isinstance(source, str):
        if "dag_run.conf" in source or re.search(r"\{\{\s*params\b", source):
            return "conf"
        match = re.search(r"xcom_pull\(\s*(?:task_ids\s*=\s*)?['\"]([\w.-]+)['\"]", source)
        if match:
            return f"xcom:{match.group(1)}"
    return None


# --------------------------------------------------------------------------------------------
# OpenLineage
# --------------------------------------------------------------------------------------------


def operator_lineage(operator: Any) -> Any:
    """The ``OperatorLineage`` of a lead operator after it ran, or None without the OpenLineage provider.

    Reads what the run left on the operator (``_lineage``: the target and the summary); a run that
    stopped before opening its target reports its inputs only.
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import (
            InputDataset,
            OutputDataset,
            OutputStatisticsOutputDatasetFacet,
        )
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    input_statistics: Any = None  # newer clients only; the output's statistics are the ones that matter
    try:
        from openlineage.client.generated.input_statistics_input_dataset import InputStatisticsInputDatasetFacet

        input_statistics = InputStatisticsInputDatasetFacet
    except ImportError:
        pass

    ran = getattr(operator, "_lineage", None) or {}
    summary: dict[str, Any] = ran.get("summary") or {}
    dag_id = getattr(operator, "dag_id", None) or "dag"
    # Airflow keeps the arguments the operator was made with, unrendered: an XComArg or a template
    # there still says where an in-memory list of leads came from
    made_with = getattr(operator, "_BaseOperator__init_kwargs", None) or {}
    origin = source_origin(made_with.get("source"))
    inputs = []
    for index, spec in enumerate((operator.source, getattr(operator, "dnc_source", None))):
        if spec is None or (index == 1 and not spec):
            continue
        try:
            names = source_datasets(
                spec, dag_id=dag_id, task_id=operator.task_id, origin=origin if index == 0 else None
            )
        except Exception:  # noqa: BLE001 - a source we cannot name must not break the lineage of the rest
            continue
        for name in names:
            facets: dict[str, Any] = {}
            if index == 0 and "read" in summary and input_statistics is not None:
                facets["inputStatistics"] = input_statistics(rowCount=int(summary["read"]))
            inputs.append(InputDataset(namespace=name.namespace, name=name.name, inputFacets=facets))
    outputs = []
    target = ran.get("target")
    if target:
        name = target_dataset(operator.conn_id, target)
        out_facets: dict[str, Any] = {}
        if "accepted" in summary:
            out_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=int(summary["accepted"]))
        outputs.append(OutputDataset(namespace=name.namespace, name=name.name, outputFacets=out_facets))
    return OperatorLineage(inputs=inputs, outputs=outputs)
