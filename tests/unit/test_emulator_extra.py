"""The provider runs without the emulator's server: its packages come with the ``emulator`` extra, no module outside
the emulator needs them, and the emulator says which extra to install when they are missing."""

from __future__ import annotations

import ast
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap
import tomllib
from importlib.metadata import packages_distributions

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "airflow_provider_dialer"
EMULATOR = PACKAGE / "emulator"
#: the emulator's HTTP layer; everything else in emulator/ is plain Python (an import contract keeps it so)
SERVER_FILES = ("app.py", "http.py", "faults.py", "__main__.py", "*/routes.py", "*/query.py")

#: run first in a subprocess: the server's packages cannot be imported, as on a worker without the extra
WITHOUT_SERVER = textwrap.dedent(
    """
    import importlib.abc, sys

    SERVER = {"starlette", "uvicorn", "python_multipart", "multipart"}

    class Uninstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in SERVER:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Uninstalled())
    for name in [m for m in sys.modules if m.split(".")[0] in SERVER]:
        del sys.modules[name]
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=240,
    )


def _modules_outside_emulator() -> list[str]:
    """Every module of the package but the emulator's, named from the files on disk (not by importing)."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).with_suffix("")
        parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
        if "emulator" not in parts:
            names.append(".".join(parts))
    return names


def test_every_provider_module_imports_without_the_emulator_server():
    """Operators, hooks, sensors, triggers, the pipeline and the leads layer import on a worker without the extra,
    and none of them loads the emulator (nor does the pytest plugin pytest loads from the entry point)."""
    modules = _modules_outside_emulator()
    assert len(modules) > 40  # the walk found the package (hooks of four vendors, operators, leads, ...)
    result = _run(
        f"""
        import importlib, json
        modules = {modules!r} + ["airflow_provider_dialer.emulator.pytest_plugin"]
        failed = {{}}
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failed[name] = repr(exc)
        from airflow_provider_dialer import get_provider_info
        get_provider_info()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in SERVER or m.startswith("airflow_provider_dialer.emulator."))
        print(json.dumps({{"failed": failed, "loaded": loaded, "imported": len(modules)}}))
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["failed"] == {}
    assert report["imported"] == len(modules) + 1
    # the plugin module itself only; the server modules load when a fixture starts the emulator
    assert report["loaded"] == ["airflow_provider_dialer.emulator.pytest_plugin"]


@pytest.mark.parametrize("package", ["starlette", "uvicorn", "python_multipart"])
def test_the_emulator_names_the_extra_when_its_server_is_missing(package):
    """Starting the emulator without one of its packages fails at import with the pip line that fixes it, not a
    bare ``No module named ...`` deep in a fixture or, for the multipart parser, as a 500 on the first upload."""
    result = _run(
        f"""
        SERVER.clear()
        SERVER.add({package!r})
        try:
            import airflow_provider_dialer.emulator.app
        except ModuleNotFoundError as exc:
            print("refused |", exc)
        else:
            print("imported |")
        """
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outcome, _, text = result.stdout.strip().splitlines()[-1].partition(" | ")
    assert outcome == "refused"
    assert package in text and "pip install 'airflow-provider-dialer[emulator]'" in text


def _third_party_imports(paths: list[pathlib.Path]) -> set[str]:
    found: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m not in {"airflow_provider_dialer", "__future__"}}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;\s]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_emulator_extra_holds_exactly_what_only_its_server_imports():
    """Computed from the source, not from a list: the distributions the emulator's HTTP layer imports and no module
    outside the emulator does are the ``emulator`` extra, none of them is a core dependency, and every target that
    runs the emulator (``make test``/``demo``, the ``test`` and ``bench`` extras) installs it."""
    server = [path for pattern in SERVER_FILES for path in EMULATOR.glob(pattern)]
    outside = [path for path in PACKAGE.rglob("*.py") if EMULATOR not in path.parents]
    only_server = _third_party_imports(server) - _third_party_imports(outside)
    distributions = packages_distributions()
    wanted = {_name(dist) for module in only_server for dist in distributions[module]}
    assert wanted  # the server does need something the provider does not

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert {_name(r) for r in extras["emulator"]} == wanted
    assert not wanted & {_name(r) for r in project["dependencies"]}
    for extra in ("test", "bench"):
        assert "airflow-provider-dialer[emulator]" in extras[extra], extra
    install = re.search(r'-e "\.\[([^\]]*)\]"', (ROOT / "Makefile").read_text(encoding="utf-8"))
    assert install is not None and "emulator" in install.group(1).split(",")
