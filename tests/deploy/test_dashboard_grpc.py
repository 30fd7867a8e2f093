"""The dashboard's container speaks gRPC: its image installs the `grpc` extra, and docker-compose offers the
serving container's gRPC API (grpc://serving:8500) next to REST, read by the dashboard's own settings parser."""
from __future__ import annotations

import re
import tomllib

from ruamel.yaml import YAML

from dashboard.config import Server, configured_servers
from tests.support import ROOT


def dockerfile_stage(name: str) -> str:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.split(r"(?m)^FROM\s+", text)
    [stage] = [s for s in stages if re.match(rf"\S+\s+AS\s+{name}\s*$", s.splitlines()[0], re.IGNORECASE)]
    return stage


def test_the_dashboard_image_installs_the_grpc_extra():
    installs = re.findall(r'(?m)^RUN pip install "?\.\[([a-z,]+)\]"?\s*$', dockerfile_stage("dashboard"))
    assert installs == ["grpc"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {re.split(r"[<>=]", requirement)[0] for requirement in extras["grpc"]} == {"grpcio", "protobuf"}
    assert not re.search(r"\[[a-z,]*serving", dockerfile_stage("dashboard"))  # no TensorFlow in its image


def test_compose_offers_the_serving_containers_grpc_api_to_the_dashboard():
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["dashboard"]["environment"]
    default = re.fullmatch(r"\$\{SERVESCOPE_SERVERS:-(.+)\}", environment["SERVESCOPE_SERVERS"]).group(1)
    servers = configured_servers({"SERVESCOPE_SERVERS": default})
    assert servers == (Server("serving", "http://serving:8501"), Server("serving-grpc", "grpc://serving:8500"))
    assert servers[0].url == environment["TF_SERVING_URL"]   # REST stays the default, as before
    assert {"8500", "8501"} <= set(compose["services"]["serving"]["expose"])
