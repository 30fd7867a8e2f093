"""The design card's dependency rules, checked on the source and at import time.

pages -> dashboard -> client; serving/ and client/ never import each other; nothing imports pages;
only dashboard/state.py (and the UI files) import streamlit; the dashboard runs without TensorFlow.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("client", "serving", "pets", "dashboard")


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    return files


# package -> top-level modules it must never import
FORBIDDEN = {
    "client": {"streamlit", "tensorflow", "serving", "dashboard", "pages", "pets"},
    "serving": {"streamlit", "client", "dashboard", "pages"},
    "pets": {"streamlit", "client", "dashboard", "pages", "torch"},
    "dashboard": {"tensorflow", "serving", "pets", "pages"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package):
    violations = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in python_files(package)
    }
    assert {k: v for k, v in violations.items() if v} == {}


def test_only_the_state_module_of_dashboard_imports_streamlit():
    importers = [
        str(path.relative_to(ROOT))
        for path in python_files("dashboard")
        if "streamlit" in imported_top_levels(path)
    ]
    assert importers == ["dashboard/state.py"]


def test_nothing_imports_pages():
    sources = [ROOT / "streamlit_app.py", *(p for pkg in PACKAGES for p in python_files(pkg))]
    sources += sorted((ROOT / "pages").glob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    assert [str(p.relative_to(ROOT)) for p in sources if "pages" in imported_top_levels(p)] == []


BLOCK_HEAVY_IMPORTS = """
import sys
for name in ("tensorflow", "tensorflow_serving", "tqdm", "torch", "keras"):
    sys.modules[name] = None  # any import of these now raises ImportError
import client, client.cli, dashboard.state, dashboard.launch
import importlib, pkgutil
for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
    importlib.import_module(info.name)
for info in pkgutil.walk_packages(client.__path__, "client."):
    if info.name != "client.__main__":
        importlib.import_module(info.name)
print("imported without TensorFlow or tqdm")
"""


def test_dashboard_and_client_import_without_tensorflow_or_cli_extras():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_HEAVY_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported without TensorFlow or tqdm" in result.stdout


def test_base_dependencies_are_the_dashboard_set():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]}
    assert names == {"streamlit", "requests", "pillow", "numpy", "pandas", "altair"}
