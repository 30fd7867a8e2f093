"""The design card's dependency rules, checked on the source and at import time.

app_pages -> dashboard -> client; serving/ and client/ never import each other; nothing imports app_pages;
only dashboard/ui/ and the *view.py modules import streamlit; the dashboard runs without TensorFlow. Inside
dashboard/, imports run one way: base modules -> server -> runs -> ui -> the feature packages -> skew/ (the
skew finder, built on compare/), and a feature imports no other feature except evaluate/ (which classify/ and
compare/ use). The run store is
client.store: the CLI records runs and datasets in it as the dashboard does.
"""
from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("client", "serving", "pets", "dashboard", "launcher")
UI = "app_pages"  # the page scripts st.navigation runs (not `pages/`, which would switch Streamlit to its v1 mode)
# dashboard/ui/ (session state, shared widgets, run progress) and the views pages render, named view.py or
# *_view.py (compare/view.py, compare/decision_view.py...). Everything else in dashboard/ is plain Python.
STREAMLIT_FACING = ("dashboard/ui/state.py", "dashboard/ui/widgets.py")


def is_streamlit_facing(path: Path) -> bool:
    relative = path.relative_to(ROOT)
    return relative.parts[:2] == ("dashboard", "ui") or path.name == "view.py" or path.name.endswith("_view.py")


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
    # Pages go through dashboard.ui.state's accessors (typed, page-prefixed keys), never the raw session dict.
    readers = [str(p.relative_to(ROOT)) for p in [ROOT / "streamlit_app.py", *python_files(UI)]
               if "session_state" in p.read_text()]
    assert readers == []


BLOCK_HEAVY_IMPORTS = """
import sys
for name in ("tensorflow", "tensorflow_serving", "tqdm", "torch", "keras", "sklearn", "scipy", "vl_convert"):
    sys.modules[name] = None  # any import of these now raises ImportError
import client, client.cli, dashboard.ui.state, dashboard.ui.widgets, launcher, launcher.__main__
import importlib, pkgutil
for info in pkgutil.walk_packages(dashboard.__path__, "dashboard."):
    importlib.import_module(info.name)
for info in pkgutil.walk_packages(client.__path__, "client."):
    if info.name != "client.__main__":
        importlib.import_module(info.name)
print("imported without TensorFlow, tqdm, scikit-learn, scipy or vl-convert")
"""


@pytest.mark.slow
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
    # sqlalchemy and psycopg: the run store (SQLite by default, PostgreSQL when SERVESCOPE_DB names one);
    # orjson: the client's request bodies (numpy arrays written from memory); jsonschema: the client's model
    # profiles (already there through altair, named because the client uses it); simplejpeg: JPEGs decoded
    # for pixel inputs straight into arrays.
    assert names == {"streamlit", "requests", "pillow", "numpy", "pandas", "altair", "sqlalchemy", "psycopg",
                     "orjson", "jsonschema", "simplejpeg"}


# -- inside dashboard/ ------------------------------------------------------------------------------------------
BASE_MODULES = {"config", "plain", "targets", "charts"}          # dashboard/*.py: import only each other
LAYERS = {"base": 0, "server": 2, "runs": 3, "ui": 4,
          "evaluate": 5, "classify": 5, "compare": 5, "history": 5, "models": 5, "datasets": 5,
          "skew": 6}   # the skew finder is built on Compare's engine (and its evaluation views)
FEATURE_MAY_IMPORT = {"classify": {"evaluate"}, "compare": {"evaluate"}, "history": {"evaluate"},
                      "datasets": {"evaluate"}}


def dashboard_part(module: str) -> str | None:
    """"server" for dashboard.server.watch, "base" for dashboard.plain; None outside dashboard."""
    parts = module.split(".")
    if parts[0] != "dashboard" or len(parts) < 2:
        return None
    return "base" if parts[1] in BASE_MODULES else parts[1]


def imported_modules(path: Path) -> set[str]:
    """Dotted modules a file imports; `from dashboard.x import y` counts as dashboard.x.y (y may be a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def back_imports(imports: dict[str, set[str]]) -> list[str]:
    """"importer -> imported" for every import that runs against the order (file path -> dotted modules)."""
    wrong = []
    for path, modules in sorted(imports.items()):
        importer = dashboard_part(path.removesuffix(".py").replace("/", "."))
        for module in sorted(modules):
            imported = dashboard_part(module)
            if importer is None or imported is None or imported == importer:
                continue
            if LAYERS[imported] > LAYERS[importer] or (
                    LAYERS[imported] == LAYERS[importer] == 5 and imported not in FEATURE_MAY_IMPORT.get(importer, ())):
                wrong.append(f"{path} -> {module}")
    return wrong


def test_dashboard_is_base_modules_and_known_packages():
    top = ROOT / "dashboard"
    modules = {p.stem for p in top.glob("*.py")} - {"__init__"}
    packages = {p.name for p in top.iterdir() if (p / "__init__.py").exists()}
    assert modules == BASE_MODULES
    assert packages == set(LAYERS) - {"base"}


def test_imports_inside_dashboard_run_one_way():
    imports = {str(p.relative_to(ROOT)): imported_modules(p) for p in python_files("dashboard")
               if p.name != "__init__.py"}
    assert back_imports(imports) == []


def test_the_order_check_finds_a_back_import():
    # The check itself can fail: a server module reaching up into ui/, a feature into another, base into runs.
    assert back_imports({"dashboard/server/watch.py": {"dashboard.ui.state"},
                         "dashboard/evaluate/view.py": {"dashboard.compare.decision"},
                         "dashboard/history/view.py": {"dashboard.classify.display"},
                         "dashboard/plain.py": {"dashboard.runs.manager"},
                         "dashboard/compare/view.py": {"dashboard.evaluate.metrics", "dashboard.ui.widgets"}}) == [
        "dashboard/evaluate/view.py -> dashboard.compare.decision",
        "dashboard/history/view.py -> dashboard.classify.display",
        "dashboard/plain.py -> dashboard.runs.manager",
        "dashboard/server/watch.py -> dashboard.ui.state"]


@pytest.mark.slow
@pytest.mark.parametrize("package", sorted(set(LAYERS) - {"base"}))
def test_each_package_exports_its_public_names_once(package):
    """Each dashboard package's __init__ re-exports its public names in one sorted __all__, each of which
    resolves and is defined in one of the package's own modules (no stale or foreign names)."""
    module = importlib.import_module(f"dashboard.{package}")
    names = module.__all__
    assert names == sorted(names) and len(set(names)) == len(names)
    for name in names:
        value = getattr(module, name)
        home = getattr(value, "__module__", None) or ""
        assert home.startswith(f"dashboard.{package}.") or not callable(value), (name, home)
