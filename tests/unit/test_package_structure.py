"""The house rules that no linter runs: a module over 500 lines says why at its top, and no private name
is imported from another module of the package (read with ``ast``, so a name imported inside a function
counts too)."""

from __future__ import annotations

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "airflow_provider_dialer"
MODULES = sorted(PACKAGE.rglob("*.py"))
LIMIT = 500


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_from(path: pathlib.Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``import from`` names, relative imports resolved."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_imports(path: pathlib.Path, text: str | None = None) -> list[str]:
    found = []
    source_text = path.read_text(encoding="utf-8") if text is None else text
    for node in ast.walk(ast.parse(source_text)):
        if not isinstance(node, ast.ImportFrom):
            continue
        source = imported_from(path, node)
        if not source.startswith("airflow_provider_dialer") or source == module_name(path):
            continue
        for alias in node.names:
            if alias.name.startswith("_") and not alias.name.startswith("__"):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} imports {alias.name} from {source}")
    return found


def test_a_long_module_says_why_at_its_top():
    unexplained = []
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        lines = text.count("\n") + 1
        if lines > LIMIT and "Over 500 lines because" not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained.append(f"{path.relative_to(PACKAGE.parent)}: {lines} lines")
    assert unexplained == [], "a module over 500 lines says why at its top ('Over 500 lines because ...')"
    assert any(len(p.read_text(encoding="utf-8").splitlines()) > LIMIT for p in MODULES)  # the check reads files


def test_no_private_name_is_imported_across_modules():
    found = [line for path in MODULES for line in private_imports(path)]
    assert found == []


def test_the_checks_see_what_they_look_for():
    """The checker finds a private import, absolute and relative, and passes a public one."""
    probe = PACKAGE / "operators" / "probe.py"  # not written: its text is given, its place resolves ".."
    text = (
        "from airflow_provider_dialer.delivery import _private\n"
        "from ..leads import _hidden, public\n"
        "from airflow_provider_dialer.delivery import ChunkDelivery\n"
        "from .base import _same_package_other_module\n"
    )
    found = [line.split(" imports ")[1] for line in private_imports(probe, text)]
    assert found == [
        "_private from airflow_provider_dialer.delivery",
        "_hidden from airflow_provider_dialer.leads",
        "_same_package_other_module from airflow_provider_dialer.operators.base",
    ]
