"""get_provider_info(): valid against Airflow's schemas, true to the package, cheap to import."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.resources import files

import jsonschema

from airflow_provider_dialer import get_provider_info
from airflow_provider_dialer.hooks.registry import HOOKS_BY_CONN_TYPE


def test_validates_against_runtime_schema():
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_validates_against_development_schema_with_conn_fields():
    schema = json.loads(files("airflow").joinpath("provider.yaml.schema.json").read_text())
    info = {**get_provider_info(), "state": "ready", "source-date-epoch": 1}
    jsonschema.validate(info, schema)


def test_package_name_is_canonical_distribution_name():
    from importlib.metadata import distribution

    assert get_provider_info()["package-name"] == distribution("airflow-provider-dialer").metadata["Name"]


def test_connection_types_match_hook_registry_and_secrets_are_password_fields():
    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    assert set(types) == set(HOOKS_BY_CONN_TYPE) == {"ucontact", "xcally", "voipex", "ujet"}
    for conn_type, entry in types.items():
        assert entry["hook-class-name"] == HOOKS_BY_CONN_TYPE[conn_type]
    assert types["ucontact"]["conn-fields"]["api_token"]["schema"]["format"] == "password"
    assert types["ucontact"]["conn-fields"]["integra_token"]["schema"]["format"] == "password"
    assert types["xcally"]["conn-fields"]["api_key"]["schema"]["format"] == "password"
    assert types["ujet"]["conn-fields"]["rate_limit_per_second"]["schema"]["default"] == 10


def test_extra_links_are_listed_and_match_the_operators_and_the_connection_forms():
    from airflow.sdk import BaseOperatorLink

    from airflow_provider_dialer.link_templates import TEMPLATE_EXTRAS
    from airflow_provider_dialer.links import DialerLink
    from airflow_provider_dialer.operators.campaign import ControlCampaignOperator, CreateCampaignOperator
    from airflow_provider_dialer.operators.contacts import RemoveLeadsOperator
    from airflow_provider_dialer.operators.fresh_leads import PushFreshLeadsOperator
    from airflow_provider_dialer.operators.lists import UploadListOperator
    from airflow_provider_dialer.sensors.wait import ImportJobSensor, ListLoadedSensor

    info = get_provider_info()
    listed = info["extra-links"]
    assert listed == [
        "airflow_provider_dialer.links.DialerCampaignLink",
        "airflow_provider_dialer.links.DialerListLink",
        "airflow_provider_dialer.run_report.RunReportLink",
    ]
    classes = set()
    for path in listed:
        module, _, name = path.rpartition(".")
        cls = getattr(importlib.import_module(module), name)
        assert issubclass(cls, BaseOperatorLink)
        classes.add(cls)
    from airflow_provider_dialer.operators.dialer_task import AddToDialerTaskOperator
    from airflow_provider_dialer.run_report import RunReportLink

    used = {
        type(link)
        for op in (
            CreateCampaignOperator,
            ControlCampaignOperator,
            RemoveLeadsOperator,
            UploadListOperator,
            PushFreshLeadsOperator,
            AddToDialerTaskOperator,
            ImportJobSensor,
            ListLoadedSensor,
        )
        for link in op.operator_extra_links
    }
    assert used == classes and all(issubclass(c, DialerLink) for c in used - {RunReportLink})
    # each connection form offers exactly the link templates its hook can fill
    for entry in info["connection-types"]:
        module, _, name = entry["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        offered = {field for field in entry["conn-fields"] if field.endswith("_link_template")}
        assert offered == {TEMPLATE_EXTRAS[kind] for kind in hook.link_placeholders}, entry["connection-type"]
        for field in offered:
            assert entry["conn-fields"][field]["schema"]["type"] == ["string", "null"]
            # the 3.3 form drops placeholders of extra fields: the example lives in the description
            assert "Example: " in entry["conn-fields"][field]["description"]
            assert "{" in entry["conn-fields"][field]["description"].split("Example: ")[1]


def test_the_connection_form_marks_no_extra_required_and_drops_no_placeholder():
    """The 3.3 form shows a red 'required' mark on an extra whose schema refuses null, and silently
    drops placeholders given for extra fields; an empty extra means the hook's default."""
    for entry in get_provider_info()["connection-types"]:
        placeholders = entry["ui-field-behaviour"]["placeholders"]
        assert set(placeholders) <= {"host", "schema", "login", "password", "port", "description"}, entry[
            "connection-type"
        ]
        for name, field in entry["conn-fields"].items():
            kinds = field["schema"]["type"]
            assert isinstance(kinds, list) and "null" in kinds, (entry["connection-type"], name)


def test_every_declared_module_imports():
    info = get_provider_info()
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[section]:
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for entry in info["connection-types"]:
        module, _, cls = entry["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == entry["connection-type"]
        assert hook.hook_name == entry["hook-name"]
        assert hasattr(hook, "test_connection")


def test_provider_package_import_is_light():
    code = "import sys, airflow_provider_dialer; print(sorted(m for m in ('airflow', 'httpx', 'phonenumbers', 'pydantic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_provider_info_reads_the_registry_without_heavy_imports():
    """get_provider_info() takes the connection types from hooks/registry.py at every DAG parse."""
    code = (
        "import sys, airflow_provider_dialer as p; p.get_provider_info(); "
        "print(sorted(m for m in ('airflow', 'httpx', 'phonenumbers', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_sixth_vendor_is_one_registry_line(monkeypatch):
    """A connection type added to the registry alone appears in the provider info, with the common fields."""
    from airflow_provider_dialer.hooks import registry

    monkeypatch.setitem(registry.HOOKS_BY_CONN_TYPE, "sixth", "airflow_provider_dialer.hooks.sixth.SixthHook")
    types = {c["connection-type"]: c for c in get_provider_info()["connection-types"]}
    assert list(types) == list(registry.HOOKS_BY_CONN_TYPE)
    assert types["sixth"]["hook-class-name"] == "airflow_provider_dialer.hooks.sixth.SixthHook"
    assert {"verify_ssl", "read_timeout", "max_attempts"} <= set(types["sixth"]["conn-fields"])
    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_cli_lists_the_provider_and_its_connection_types(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({"AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"})
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    providers = subprocess.run(
        [airflow, "providers", "list", "-o", "json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert providers.returncode == 0, providers.stderr[-2000:]
    assert any(p["package_name"] == "airflow-provider-dialer" for p in json.loads(providers.stdout))
    hooks = subprocess.run(
        [airflow, "providers", "hooks", "-o", "json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    ours = {h["connection_type"]: h for h in json.loads(hooks.stdout) if h["package_name"] == "airflow-provider-dialer"}
    assert set(ours) == {"ucontact", "xcally", "voipex", "ujet"}
    assert ours["xcally"]["class"] == "airflow_provider_dialer.hooks.xcally.XCallyHook"
    links = subprocess.run(
        [airflow, "providers", "links", "-o", "json"], env=env, capture_output=True, text=True, timeout=120
    )
    assert links.returncode == 0, links.stderr[-2000:]
    names = {entry["extra_link_class_name"] for entry in json.loads(links.stdout)}
    assert {"airflow_provider_dialer.links.DialerCampaignLink", "airflow_provider_dialer.links.DialerListLink"} <= names
