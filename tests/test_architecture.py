"""The design card's dependency rules, checked on the source and at import time.

app_pages -> dashboard -> client; serving/ and client/ never import each other; nothing imports app_pages;
only the Streamlit-facing dashboard modules (and the UI files) import streamlit; the dashboard runs without TensorFlow.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("client", "serving", "pets", "dashboard", "launcher")
UI = "app_pages"  # the page scripts st.navigation runs (not `pages/`, which would switch Streamlit to its v1 mode)
# Session keys and accessors (state.py), shared widgets (widgets.py), and the views pages render, named *_view.py
# (evaluation_view.py, decision_view.py, history_view.py...). Everything else in dashboard/ is plain Python.
STREAMLIT_FACING = ("dashboard/state.py", "dashboard/widgets.py")


def is_streamlit_facing(path: Path) -> bool:
    return str(path.relative_to(ROOT)) in STREAMLIT_FACING or path.name.endswith("_view.py")


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
    "client": {"streamlit", "tensorflow", "serving", "dashboard", UI, "pets", "launcher"},
    "serving": {"streamlit", "client", "dashboard", UI, "launcher"},
    "pets": {"streamlit", "client", "dashboard", UI, "torch", "launcher"},
    "dashboard": {"tensorflow", "serving", "pets", UI, "launcher", "sklearn", "scipy"},
    # The process supervisor starts the server and the dashboard as processes (it reads dashboard.config only).
    "launcher": {"streamlit", "tensorflow", "serving", UI, "pets"},
}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_dependency_direction(package):
    violations = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in python_files(package)
    }
    assert {k: v for k, v in violations.items() if v} == {}


def test_only_the_streamlit_facing_modules_of_dashboard_import_streamlit():
    importers = [
        str(path.relative_to(ROOT))
        for path in python_files("dashboard")
        if "streamlit" in imported_top_levels(path)
    ]
    allowed = [str(path.relative_to(ROOT)) for path in python_files("dashboard") if is_streamlit_facing(path)]
    assert set(STREAMLIT_FACING) <= set(allowed)
    assert set(importers) <= set(allowed), sorted(set(importers) - set(allowed))


def test_nothing_imports_the_page_scripts_and_pages_never_read_session_state():
    sources = [ROOT / "streamlit_app.py", *(p for pkg in PACKAGES for p in python_files(pkg))]
    sources += python_files(UI) + sorted((ROOT / "tests").rglob("*.py"))
    assert [str(p.relative_to(ROOT)) for p in sources if UI in imported_top_levels(p)] == []
    assert not (ROOT / "pages").exists(), "a pages/ folder switches Streamlit to file-based (v1) navigation"
    # Pages go through dashboard.state's accessors (typed, page-prefixed keys), never the raw session dict.
    readers = [str(p.relative_to(ROOT)) for p in [ROOT / "streamlit_app.py", *python_files(UI)]
               if "session_state" in p.read_text()]
    assert readers == []


BLOCK_HEAVY_IMPORTS = """
import sys
for name in ("tensorflow", "tensorflow_serving", "tqdm", "torch", "keras", "sklearn", "scipy", "vl_convert"):
    sys.modules[name] = None  # any import of these now raises ImportError
import client, client.cli, dashboard.state, dashboard.widgets, launcher, launcher.__main__
import importlib, pkgutil
for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
    importlib.import_module(info.name)
for info in pkgutil.walk_packages(client.__path__, "client."):
    if info.name != "client.__main__":
        importlib.import_module(info.name)
print("imported without TensorFlow, tqdm, scikit-learn, scipy or vl-convert")
"""


def test_dashboard_and_client_import_without_tensorflow_or_cli_extras():
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_HEAVY_IMPORTS], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported without TensorFlow, tqdm, scikit-learn, scipy or vl-convert" in result.stdout


def test_base_dependencies_are_the_dashboard_set():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("=")[0].split("[")[0].strip() for dep in project["dependencies"]}
    # sqlalchemy and psycopg: the run store (SQLite by default, PostgreSQL when SERVESCOPE_DB names one).
    assert names == {"streamlit", "requests", "pillow", "numpy", "pandas", "altair", "sqlalchemy", "psycopg"}
