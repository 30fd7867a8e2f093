"""Fixtures for the serving suite: test SavedModels built once per session, and servers running them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.serving.model_builders import build_all
from tests.support import embedded_server


def write_config(path: Path, models_root: Path, *, labels: dict[str, int] | None = None) -> Path:
    """A ModelServerConfig for the test models (half_plus_two serves all versions, with labels)."""
    labels = {"stable": 1, "canary": 2} if labels is None else labels
    label_text = " ".join(f'version_labels {{ key: "{k}" value: {v} }}' for k, v in labels.items())
    path.write_text(f"""model_config_list {{
  config {{ name: "half_plus_two" base_path: "{models_root / 'half_plus_two'}" model_platform: "tensorflow"
           model_version_policy {{ all {{}} }} {label_text} }}
  config {{ name: "toolbox" base_path: "{models_root / 'toolbox'}" model_platform: "tensorflow" }}
  config {{ name: "broken" base_path: "{models_root / 'broken'}" model_platform: "tensorflow" }}
}}
""")
    return path


@pytest.fixture(scope="session")
def test_models(tmp_path_factory) -> Path:
    return build_all(tmp_path_factory.mktemp("serving-models"))


@pytest.fixture(scope="session")
def server_url(test_models, tmp_path_factory) -> str:
    """One server for the read-only conformance tests: half_plus_two (v1, v2), toolbox (v1), broken (fails)."""
    config = write_config(tmp_path_factory.mktemp("serving-config") / "models.config", test_models)
    with embedded_server([f"--model_config_file={config}"],
                         wait_for_models={"half_plus_two": 2, "toolbox": 1}) as url:
        yield url


@pytest.fixture
def private_models(test_models, tmp_path) -> Path:
    """A writable copy of the test models, for tests that add or remove versions."""
    root = tmp_path / "models"
    shutil.copytree(test_models, root)
    return root
