"""What the schemas cannot see: probes ask for the pets model, references resolve, policies select the right
pods, pods run as non-root, the model volume and the config files line up. Rendered with kustomize, offline."""
from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from client import SignatureConfig
from pets import CLASS_NAMES, MODEL_NAME, VERSION_SIZES
from pets.serving_config import pets_server_config
from tests.deploy.manifests import (DEPLOY, KUBERNETES, KUSTOMIZATIONS, all_containers, container, container_port,
                                    data_keys, find, name_of, one, pod_labels, pod_spec, render, secret_value,
                                    selected_workloads, workloads)
from tests.support import ROOT

BASE = KUBERNETES / "base"
OVERLAYS = KUBERNETES / "overlays"
WITH_TF_SERVING = [d for d in KUSTOMIZATIONS if find(render(d), "Deployment", "tf-serving")]
WITH_DASHBOARD = [d for d in KUSTOMIZATIONS if find(render(d), "Deployment", "servescope-dashboard")]
PETS_STATUS_PATH = f"/v1/models/{MODEL_NAME}"
QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
SCALE = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30,
         "Ti": 2**40}


def quantity(text) -> float:
    match = QUANTITY.match(str(text))
    assert match, f"not a Kubernetes quantity: {text!r}"
    return float(match.group(1)) * SCALE[match.group(2)]


def args_of(c: dict) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in c.get("args", []) if "=" in arg)


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


def test_the_model_volume_is_built_by_the_init_container_and_read_by_tf_serving():
    serving = one(render(BASE), "Deployment", "tf-serving")
    build, server = container(serving, "pets-build"), container(serving, "tf-serving")
    assert build["command"] + build["args"] == ["python", "-m", "pets.build", "--output", "/models/pets"]
    assert build["image"].startswith("servescope-model-builder:")
    assert {"name": "models", "mountPath": "/models"} in build["volumeMounts"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in server["volumeMounts"]
    # pets.build writes models.config with base_path = the --output directory, i.e. valid in the server's mount.
    assert args_of(server)["model_config_file"] == "/models/pets/models.config"
    assert args_of(server)["allow_version_labels_for_unavailable_models"] == "true"
    assert "emptyDir" in [v for v in pod_spec(serving)["volumes"] if v["name"] == "models"][0]


@pytest.mark.parametrize("directory", WITH_TF_SERVING, ids=name_of)
def test_every_config_file_tf_serving_is_given_is_a_key_of_a_mounted_configmap(directory):
    objects = render(directory)
    serving = one(objects, "Deployment", "tf-serving")
    server = container(serving, "tf-serving")
    volumes = {v["name"]: v for v in pod_spec(serving)["volumes"]}
    flags = {flag: path for flag, path in args_of(server).items() if flag.endswith("_file")}
    assert set(flags) >= {"model_config_file", "batching_parameters_file", "monitoring_config_file"}
    assert args_of(server)["enable_batching"] == "true"
    for flag, path in flags.items():
        mount = max((m for m in server["volumeMounts"] if path.startswith(m["mountPath"] + "/")),
                    key=lambda m: len(m["mountPath"]), default=None)
        assert mount, f"--{flag}={path} is on no mounted volume"
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            config_map = one(objects, "ConfigMap", volume["configMap"]["name"])
            assert path.removeprefix(mount["mountPath"] + "/") in data_keys(config_map), f"--{flag}={path}"
        else:  # the model volume: written by the init container (previous test)
            assert flag == "model_config_file" and "emptyDir" in volume


def batching_parameters_type():
    """BatchingParameters as declared in TF Serving's session_bundle_config.proto (tensorflow-serving-api does
    not ship that module), built at run time so that text_format checks names, types and syntax."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import wrappers_pb2  # noqa: F401  (registers the wrapper types in the default pool)

    proto = descriptor_pb2.FileDescriptorProto(name="servescope_batching.proto", package="servescope",
                                               dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    wrapped = {"max_batch_size": "Int64Value", "batch_timeout_micros": "Int64Value",
               "max_enqueued_batches": "Int64Value", "num_batch_threads": "Int64Value",
               "thread_pool_name": "StringValue", "enable_large_batch_splitting": "BoolValue",
               "max_execution_batch_size": "Int64Value"}
    field = descriptor_pb2.FieldDescriptorProto
    for number, (name, wrapper) in enumerate(wrapped.items(), start=1):
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE, label=field.LABEL_OPTIONAL,
                          type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=20, type=field.TYPE_INT64, label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=21, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool = descriptor_pool.Default()
    try:
        descriptor = pool.FindMessageTypeByName("servescope.BatchingParameters")
    except KeyError:
        descriptor = pool.Add(proto).message_types_by_name["BatchingParameters"]
    return message_factory.GetMessageClass(descriptor)


def test_the_batching_parameters_parse_and_fit_the_clients_batches():
    config_map = one(render(BASE), "ConfigMap", "tf-serving-config")
    params = text_format.Parse(config_map["data"]["batching_parameters.txt"], batching_parameters_type()())
    assert params.enable_large_batch_splitting.value
    assert params.max_execution_batch_size.value <= params.max_batch_size.value
    assert params.max_batch_size.value >= 16  # the client's default --batch-size goes through unsplit
    assert params.batch_timeout_micros.value <= 10_000
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch_size: 32", batching_parameters_type()())  # a wrapper, not a scalar
    assert 'enable: true' in config_map["data"]["monitoring.txt"]


def test_the_gcs_models_config_serves_the_same_versions_and_labels_as_pets_build():
    config_map = [c for c in render(OVERLAYS / "gcs-model") if c["metadata"]["name"].startswith("tf-serving-models")]
    parsed = text_format.Parse(config_map[0]["data"]["models.config"], model_server_config_pb2.ModelServerConfig())
    model = parsed.model_config_list.config[0]
    assert model.base_path.startswith("gs://")
    expected = pets_server_config(ROOT / "pets", VERSION_SIZES)
    expected.model_config_list.config[0].base_path = model.base_path
    assert parsed == expected


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
        signature = SignatureConfig.from_json(json.loads(env["SERVESCOPE_SIGNATURE"]["value"]))
        assert signature.class_names == CLASS_NAMES
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
