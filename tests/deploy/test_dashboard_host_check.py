"""Every deployment starts the dashboard through dashboard_app.py (the Host check against DNS rebinding), and lets
through the Host names its own parts use: the kubelet's probes, the Service's names, the ingress host behind the
sign-in proxy, and localhost for Docker's health check and published port."""
from __future__ import annotations

import re

import pytest
from ruamel.yaml import YAML

from dashboard.ui.allowed_hosts import host_name, parse_allowed_hosts
from tests.deploy.manifests import container, container_port, find, name_of, one, render, rendering
from tests.support import ROOT

WITH_DASHBOARD = rendering("Deployment", "servescope-dashboard")


def allowed_in(dashboard_container: dict) -> frozenset[str]:
    env = {e["name"]: e.get("value", "") for e in dashboard_container.get("env", [])}
    return frozenset({"localhost", "127.0.0.1", "::1"}) | parse_allowed_hosts(env.get("SERVESCOPE_ALLOWED_HOSTS", ""))


@pytest.mark.parametrize("directory", WITH_DASHBOARD, ids=name_of)
def test_the_cluster_starts_the_checked_entry_and_allows_its_own_host_names(directory):
    objects = render(directory)
    dashboard = one(objects, "Deployment", "servescope-dashboard")
    app = container(dashboard, "dashboard")
    assert app["command"] == ["streamlit", "run", "dashboard_app.py"] and (ROOT / "dashboard_app.py").is_file()
    allowed = allowed_in(app)
    # The kubelet would send the pod's IP as Host: each probe of the dashboard names an allowed host instead.
    for probe in (app["readinessProbe"], app["livenessProbe"]):
        assert container_port(dashboard, probe["httpGet"]["port"]) == 8502
        headers = {h["name"].lower(): h["value"] for h in probe["httpGet"].get("httpHeaders", [])}
        assert host_name(headers["host"]) in allowed
    namespace = dashboard["metadata"]["namespace"]
    service = one(objects, "Service", "servescope-dashboard")["metadata"]["name"]
    assert {service, f"{service}.{namespace}", f"{service}.{namespace}.svc.cluster.local"} <= allowed
    for ingress in find(objects, "Ingress"):
        assert {rule["host"] for rule in ingress["spec"]["rules"]} <= allowed  # forwarded by oauth2-proxy


def test_docker_starts_the_checked_entry_and_compose_passes_the_setting():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^CMD \["streamlit", "run", "dashboard_app.py"', dockerfile, re.MULTILINE)
    assert re.search(r"^COPY .*\bdashboard_app\.py\b", dockerfile, re.MULTILINE)
    # Docker's health check asks 127.0.0.1, an allowed name.
    assert "urlopen('http://127.0.0.1:8502/_stcore/health'" in dockerfile
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["dashboard"]["environment"]
    assert environment["SERVESCOPE_ALLOWED_HOSTS"] == "${SERVESCOPE_ALLOWED_HOSTS:-}"
    assert "http://127.0.0.1:8502/_stcore/health" in " ".join(compose["services"]["dashboard"]["healthcheck"]["test"])
