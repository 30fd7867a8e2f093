"""Fixtures for the serving suite: test SavedModels built once per session, and servers running them."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.serving.grpc_support import rest_and_grpc_server
from tests.serving.model_builders import build_all
from tests.support import embedded_server

GRPC_MAX_REQUEST_BYTES = 4 * 1024 * 1024  # grpc_servers' --max_request_bytes (REST and gRPC)


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


@pytest.fixture(scope="session")
def grpc_servers(test_models, tmp_path_factory):
    """Like server_url's server, with the gRPC API on too (tests/serving/grpc_support.py Servers)."""
    config = write_config(tmp_path_factory.mktemp("grpc-config") / "models.config", test_models)
    with rest_and_grpc_server([f"--model_config_file={config}", f"--max_request_bytes={GRPC_MAX_REQUEST_BYTES}"],
                              wait_for_models={"half_plus_two": 2, "toolbox": 1}) as servers:
        yield servers


@pytest.fixture
def private_models(test_models, tmp_path) -> Path:
    """A writable copy of the test models, for tests that add or remove versions."""
    root = tmp_path / "models"
    shutil.copytree(test_models, root)
    return root
