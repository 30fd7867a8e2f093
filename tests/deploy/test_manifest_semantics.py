"""What the schemas cannot see: probes ask for the pets model, references resolve, policies select the right
pods, pods run as non-root, the auth and KServe wiring holds. Rendered with kustomize, offline."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml

from client import SignatureConfig
from pets import CLASS_NAMES, MODEL_NAME
from tests.deploy.manifests import (DEPLOY, KUSTOMIZATIONS, OVERLAYS, all_containers, args_of, container,
                                    container_port, data_keys, find, name_of, one, pod_spec, render, rendering,
                                    secret_value, selected_workloads, workloads)
from tests.support import ROOT

WITH_TF_SERVING = rendering("Deployment", "tf-serving")
WITH_DASHBOARD = rendering("Deployment", "servescope-dashboard")
PETS_STATUS_PATH = f"/v1/models/{MODEL_NAME}"
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SCALE = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
         "Ti": 2**40}


def quantity(text) -> float:
    match = QUANTITY.match(str(text))
    assert match, f"not a Kubernetes quantity: {text!r}"
    return float(match.group(1)) * SCALE[match.group(2)]

@pytest.mark.parametrize("directory", WITH_TF_SERVING, ids=name_of)
def test_tf_serving_probes_ask_for_the_pets_model_on_the_rest_port(directory):
    serving = one(render(directory), "Deployment", "tf-serving")
    server = container(serving, "tf-serving")
    assert server["image"].startswith("tensorflow/serving:")
    for probe in ("startupProbe", "livenessProbe"):
        http = server[probe]["httpGet"]
        assert http["path"] == PETS_STATUS_PATH and container_port(serving, http["port"]) == 8501
    # Readiness needs an AVAILABLE version, which an HTTP status code alone cannot express.
    script = server["readinessProbe"]["exec"]["command"]
    assert script[:2] == ["bash", "-c"]
    assert "/dev/tcp/127.0.0.1/8501" in script[2] and f"GET {PETS_STATUS_PATH} HTTP/1.0" in script[2]
    assert "grep -q AVAILABLE" in script[2]


@pytest.mark.parametrize("directory", WITH_TF_SERVING, ids=name_of)
def test_tf_serving_offers_grpc_on_8500_to_the_dashboard(directory):
    objects = render(directory)
    serving = one(objects, "Deployment", "tf-serving")
    assert "port" not in args_of(container(serving, "tf-serving"))  # the image passes --port=8500 itself
    service_ports = {p["name"]: (p["port"], container_port(serving, p["targetPort"]))
                     for p in one(objects, "Service", "tf-serving")["spec"]["ports"]}
    assert service_ports == {"http": (8501, 8501), "grpc": (8500, 8500)}
    policy_ports = {port["port"] for policy in find(objects, "NetworkPolicy")
                    if selected_workloads(objects, policy["spec"]["podSelector"]) == {"tf-serving"}
                    for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert policy_ports == {8500, 8501}


@pytest.mark.parametrize("directory", WITH_TF_SERVING, ids=name_of)
def test_tf_serving_has_two_replicas_an_hpa_and_bounded_resources(directory):
    objects = render(directory)
    serving = one(objects, "Deployment", "tf-serving")
    hpa = one(objects, "HorizontalPodAutoscaler", "tf-serving")
    assert serving["spec"]["replicas"] >= 2 and hpa["spec"]["minReplicas"] >= 2
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "tf-serving"}
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]  # needs CPU requests, checked below
    for workload in workloads(objects):
        for c in all_containers(pod_spec(workload)):
            requests, limits = c["resources"]["requests"], c["resources"]["limits"]
            for resource in ("cpu", "memory"):
                assert quantity(requests[resource]) <= quantity(limits[resource]), (c["name"], resource)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_every_secret_and_configmap_reference_resolves(directory):
    objects = render(directory)
    for workload in workloads(objects):
        spec, where = pod_spec(workload), workload["metadata"]["name"]
        refs = []
        for c in all_containers(spec):
            for env in c.get("env", []):
                for kind, ref_field in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    ref = env.get("valueFrom", {}).get(ref_field)
                    if ref:
                        refs.append((kind, ref["name"], ref["key"]))
            for source in c.get("envFrom", []):
                for kind, ref_field in (("Secret", "secretRef"), ("ConfigMap", "configMapRef")):
                    if ref_field in source:
                        refs.append((kind, source[ref_field]["name"], None))
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                refs.append(("ConfigMap", volume["configMap"]["name"], None))
            if "secret" in volume:
                refs.append(("Secret", volume["secret"]["secretName"], None))
        assert refs or workload["kind"] == "StatefulSet"
        for kind, name, key in refs:
            target = one(objects, kind, name)
            assert target["metadata"].get("namespace") == workload["metadata"].get("namespace"), (where, name)
            assert key is None or key in data_keys(target), f"{where}: {kind} {name} has no key {key}"
        if "serviceAccountName" in spec:
            one(objects, "ServiceAccount", spec["serviceAccountName"])


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_every_service_reaches_a_declared_port_and_every_ingress_a_service(directory):
    objects = render(directory)
    for service in find(objects, "Service"):
        selected = [w for w in workloads(objects) if w["metadata"]["name"] in
                    selected_workloads(objects, {"matchLabels": service["spec"]["selector"]})]
        assert len(selected) == 1, service["metadata"]["name"]
        for port in service["spec"]["ports"]:
            container_port(selected[0], port["targetPort"])
    for ingress in find(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                ports = one(objects, "Service", backend["name"])["spec"]["ports"]
                assert backend["port"].get("name") in [p["name"] for p in ports]


@pytest.mark.parametrize("directory", WITH_DASHBOARD, ids=name_of)
def test_the_dashboard_listens_on_all_interfaces_and_its_urls_point_at_real_services(directory):
    objects = render(directory)
    dashboard = one(objects, "Deployment", "servescope-dashboard")
    app = container(dashboard, "dashboard")
    assert "--server.address=0.0.0.0" in app["args"] and container_port(dashboard, "http") == 8502
    env = {e["name"]: e for e in app["env"]}
    secret = one(objects, "Secret", env["TF_SERVING_URL"]["valueFrom"]["secretKeyRef"]["name"])
    for name in ("TF_SERVING_URL", "SERVESCOPE_DB"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": secret["metadata"]["name"], "key": name}
    serving_url = urlsplit(secret_value(secret, "TF_SERVING_URL"))
    namespace = dashboard["metadata"]["namespace"]
    if find(objects, "InferenceService"):  # KServe's predictor Service is created by KServe itself
        isvc = one(objects, "InferenceService", MODEL_NAME)
        assert serving_url.hostname == f"{isvc['metadata']['name']}-predictor.{namespace}.svc.cluster.local"
        assert env["SERVESCOPE_LABELS"]["value"] == ""
        reference = env["SERVESCOPE_SIGNATURE"]["valueFrom"]["configMapKeyRef"]
        config_map = [c for c in find(objects, "ConfigMap") if c["metadata"]["name"].startswith(reference["name"])]
        signature = SignatureConfig.from_json(json.loads(config_map[0]["data"][reference["key"]]))
        assert signature.class_names == CLASS_NAMES and signature.signature_name == "serving_default"
    else:
        service = one(objects, "Service", serving_url.hostname)
        assert serving_url.port in [p["port"] for p in service["spec"]["ports"]]
        assert selected_workloads(objects, {"matchLabels": service["spec"]["selector"]}) == {"tf-serving"}
    database = urlsplit(secret_value(secret, "SERVESCOPE_DB"))
    assert database.scheme == "postgresql"
    if find(objects, "StatefulSet", "postgres"):  # the reference database: same credentials on both sides
        postgres = one(objects, "Secret", "servescope-postgres")
        assert (database.username, database.password, database.path.lstrip("/")) == tuple(
            secret_value(postgres, key) for key in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"))
        assert database.port in [p["port"] for p in one(objects, "Service", database.hostname)["spec"]["ports"]]


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_network_policies_let_only_the_dashboard_reach_the_model_server_and_the_database(directory):
    objects = render(directory)
    expected = {"tf-serving": {"servescope-dashboard"}, "postgres": {"servescope-dashboard"}}
    guarded = set()
    for policy in find(objects, "NetworkPolicy"):
        spec = policy["spec"]
        targets = selected_workloads(objects, spec["podSelector"])
        assert len(targets) == 1, policy["metadata"]["name"]
        target = targets.pop()
        guarded.add(target)
        assert spec["policyTypes"] == ["Ingress"] and spec["ingress"]
        for rule in spec["ingress"]:
            assert rule["from"], "an empty `from` admits every source"
            pod_sources = [source for source in rule["from"] if "podSelector" in source]
            allowed = set().union(*(selected_workloads(objects, s["podSelector"]) for s in pod_sources))
            assert allowed == expected.get(target, set()), (policy["metadata"]["name"], allowed)
            workload = one(objects, next(w["kind"] for w in workloads(objects)
                                         if w["metadata"]["name"] == target), target)
            for port in rule["ports"]:
                container_port(workload, port["port"])
    present = {w["metadata"]["name"] for w in workloads(objects)}
    assert guarded >= set(expected) & present


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_every_pod_meets_the_restricted_pod_security_standard(directory):
    objects = render(directory)
    for namespace in find(objects, "Namespace"):
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in workloads(objects):
        spec = pod_spec(workload)
        pod = spec.get("securityContext", {})
        assert pod.get("seccompProfile") == {"type": "RuntimeDefault"}
        assert spec.get("automountServiceAccountToken") is False
        for c in all_containers(spec):
            own = c.get("securityContext", {})
            where = f"{workload['metadata']['name']}/{c['name']}"
            assert own.get("runAsNonRoot", pod.get("runAsNonRoot")) is True, where
            # A numeric non-zero uid: images that name their user by name cannot be verified by the kubelet.
            assert own.get("runAsUser", pod.get("runAsUser", 0)) > 0, where
            assert own["allowPrivilegeEscalation"] is False and own["capabilities"] == {"drop": ["ALL"]}, where
            assert own["readOnlyRootFilesystem"] is True, where
            assert not own.get("privileged", False), where
    for isvc in find(objects, "InferenceService"):
        context = isvc["spec"]["predictor"]["tensorflow"]["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] > 0


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_images_are_pinned_and_tf_serving_matches_docker_compose(directory):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    tf_serving_image = compose["services"]["serving"]["image"]
    for workload in workloads(render(directory)):
        for c in all_containers(pod_spec(workload)):
            name, _, tag = c["image"].rpartition(":")
            assert name and tag and tag != "latest", c["image"]
            if name == "tensorflow/serving":
                assert c["image"] == tf_serving_image
    for isvc in find(render(directory), "InferenceService"):
        assert isvc["spec"]["predictor"]["tensorflow"]["runtimeVersion"] == tf_serving_image.rpartition(":")[2]


def test_auth_overlay_routes_every_request_through_the_proxy_to_its_own_pods_streamlit():
    objects = render(OVERLAYS / "auth")
    dashboard = one(objects, "Deployment", "servescope-dashboard")
    proxy = container(dashboard, "oauth2-proxy")
    settings = args_of(proxy)
    assert settings["upstream"] == f"http://127.0.0.1:{container_port(dashboard, 'http')}/"
    assert settings["http-address"] == f"0.0.0.0:{container_port(dashboard, 'oauth2')}"
    assert settings["cookie-secure"] == "true" and settings["provider"] == "oidc"
    service = one(objects, "Service", "servescope-dashboard")
    assert [container_port(dashboard, p["targetPort"]) for p in service["spec"]["ports"]] == [4180]
    policy = one(objects, "NetworkPolicy", "dashboard-from-ingress-only")
    assert [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]] == [4180]
    ingress = one(objects, "Ingress", "servescope-dashboard")
    assert ingress["spec"]["tls"] and ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/affinity"]


def test_kserve_serves_pets_from_object_storage_and_replaces_the_tf_serving_deployment():
    isvc = one(render(DEPLOY / "kserve"), "InferenceService", MODEL_NAME)  # the name is TF Serving's model name
    predictor = isvc["spec"]["predictor"]
    assert predictor["minReplicas"] >= 2 and urlsplit(predictor["tensorflow"]["storageUri"]).scheme == "gs"
    overlay = render(OVERLAYS / "kserve")
    assert not [o for o in overlay if o["metadata"]["name"].startswith("tf-serving")]
    assert one(overlay, "InferenceService", MODEL_NAME)["metadata"]["namespace"] == "servescope"


def test_managed_postgres_overlay_drops_the_reference_database():
    objects = render(OVERLAYS / "managed-postgres")
    assert not [o for o in objects if "postgres" in o["metadata"]["name"] and o["kind"] != "Secret"]
    assert not find(objects, "Secret", "servescope-postgres")
    db = urlsplit(secret_value(one(objects, "Secret", "servescope-dashboard"), "SERVESCOPE_DB"))
    assert db.hostname != "postgres" and "sslmode=require" in db.query
