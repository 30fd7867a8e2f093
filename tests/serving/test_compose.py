"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The file is validated against the Compose Specification JSON schema that check-jsonschema vendors
(`--builtin-schema vendor.compose-spec`, offline), then the references inside it are checked.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from pets import VERSION_LABELS
from tests.support import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return YAML(typ="safe").load(COMPOSE_FILE.read_text())


def test_compose_file_matches_the_compose_specification_schema():
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE_FILE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_rejects_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  serving:\n    image: tensorflow/serving:2.19.1\n    ports: 8501\n"
                      "    depends_on:\n      x: {condition: when_it_feels_like_it}\n")
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(broken)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1


def test_services_wiring(compose):
    services = compose["services"]
    assert set(services) == {"pets-build", "serving", "dashboard"}
    serving = services["serving"]
    assert re.fullmatch(r"tensorflow/serving:\d+\.\d+\.\d+", serving["image"])  # pinned, never :latest
    assert "--model_config_file=/models/pets/models.config" in serving["command"]
    assert any(arg.startswith("--model_config_file_poll_wait_seconds=") for arg in serving["command"])
    assert "ports" not in serving and set(serving["expose"]) == {"8500", "8501"}
    assert serving["depends_on"] == {"pets-build": {"condition": "service_completed_successfully"}}
    dashboard = services["dashboard"]
    assert dashboard["environment"]["TF_SERVING_URL"] == "http://serving:8501"
    assert dashboard["ports"] == ["8502:8502"]
    assert dashboard["depends_on"] == {"serving": {"condition": "service_healthy"}}
    for name in ("serving", "dashboard"):
        assert services[name]["healthcheck"]["test"][0] == "CMD"
    build = services["pets-build"]
    assert "python -m pets.build --output /models/pets" in " ".join(build["command"])
    assert build["build"]["target"] == "model-builder" and dashboard["build"]["target"] == "dashboard"


def test_volumes_build_contexts_and_dockerfile_targets_exist(compose):
    declared_volumes = set(compose.get("volumes") or {})
    dockerfile_text = ""
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind-mount source {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        if "build" in service:
            context = ROOT / service["build"]["context"]
            dockerfile = context / service["build"].get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"{name}: {dockerfile} is missing"
            dockerfile_text = dockerfile.read_text()
            targets = re.findall(r"(?im)^FROM\s+\S+\s+AS\s+(\S+)", dockerfile_text)
            assert service["build"]["target"] in targets
    # Every path the Dockerfile copies must exist in the build context (and not be excluded by .dockerignore).
    ignored = (ROOT / ".dockerignore").read_text().split()
    for line in re.findall(r"(?m)^COPY\s+(.+)$", dockerfile_text):
        for source in line.split()[:-1]:
            assert source.rstrip("/") not in ignored, f"COPY {source} is excluded by .dockerignore"
            assert (ROOT / source).exists(), f"Dockerfile copies {source}, which does not exist"


def test_real_tf_serving_may_start_with_the_pets_version_labels(compose):
    # TF Serving's ServerCore::ReloadConfig applies version_labels before any version has loaded, so a config
    # with labels makes the official image exit with FAILED_PRECONDITION at startup unless this flag is set.
    assert VERSION_LABELS, "the pets config has no version labels; this check would be moot"
    assert "--allow_version_labels_for_unavailable_models=true" in compose["services"]["serving"]["command"]
