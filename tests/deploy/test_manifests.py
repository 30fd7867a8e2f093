"""deploy/ validated offline: every rendered object against the Kubernetes schemas (kubernetes-validate, strict:
unknown fields fail), the InferenceService against our schema derived from KServe's CRD."""
from __future__ import annotations

import copy
import json

import jsonschema
import kubernetes_validate
import pytest
from kubernetes_validate.utils import latest_version
from referencing import Registry, Resource

from tests.deploy.manifests import COMPONENTS, DEPLOY, KUSTOMIZATIONS, components_of, find, name_of, one, render

# The oldest Kubernetes release still widely run (autoscaling/v2, restricted Pod Security) and the newest bundled.
KUBERNETES_VERSIONS = ("1.30", latest_version())
KSERVE_SCHEMA = DEPLOY.parent / "tests" / "deploy" / "kserve_inferenceservice.schema.json"
CUSTOM_KINDS = {"InferenceService"}
EXPECTED = {"kserve", "kubernetes/base", "kubernetes/overlays/auth", "kubernetes/overlays/gcs-model",
            "kubernetes/overlays/kserve", "kubernetes/overlays/managed-postgres", "kubernetes/overlays/production"}


def kserve_validator() -> jsonschema.Draft202012Validator:
    # Our schema points at the Kubernetes definitions kubernetes-validate bundles (same release as above).
    definitions = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{latest_version()}-local-strict/_definitions.json", latest_version())
    registry = Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))
    return jsonschema.Draft202012Validator(json.loads(KSERVE_SCHEMA.read_text()), registry=registry)


def test_every_kustomization_is_checked_and_every_component_is_rendered_alone_by_an_overlay():
    assert {name_of(path) for path in KUSTOMIZATIONS} == EXPECTED
    for component in COMPONENTS:  # so a failure points at one component, not at a combination
        assert [d for d in KUSTOMIZATIONS if components_of(d) == {component}], name_of(component)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=name_of)
def test_rendered_objects_match_the_kubernetes_schemas(directory, version):
    objects = render(directory)
    core = [o for o in objects if o["kind"] not in CUSTOM_KINDS]
    assert core or directory.name == "kserve"
    for obj in core:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name_of(directory)}: {obj['kind']}/{obj['metadata']['name']} at "
                        f"{'.'.join(map(str, exc.absolute_path))}: {exc.message}")


@pytest.mark.parametrize("directory", [d for d in KUSTOMIZATIONS if "kserve" in name_of(d)], ids=name_of)
def test_the_inferenceservice_matches_the_kserve_schema(directory):
    services = find(render(directory), "InferenceService")
    assert len(services) == 1
    errors = sorted(kserve_validator().iter_errors(services[0]), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_kubernetes_validation_rejects_a_misspelt_field_and_a_wrong_type():
    deployment = one(render(DEPLOY / "kubernetes" / "base"), "Deployment", "tf-serving")
    misspelt = copy.deepcopy(deployment)
    misspelt["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "two"
    for broken in (misspelt, wrong_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(broken, latest_version(), strict=True)


@pytest.mark.parametrize("path, value", [
    (("spec", "predictor", "tensorflow", "storageURI"), "gs://bucket/pets"),   # misspelt field
    (("spec", "predictor", "scaleMetric"), "gpu"),                             # not in the CRD's enum
    (("spec", "predictor", "tensorflow", "securityContext", "runAsNonroot"), True),  # misspelt (core/v1 type)
    (("spec", "predictor", "tensorflow", "storageUri"), "/models/pets"),       # no scheme the initializer reads
])
def test_the_kserve_schema_rejects_broken_inferenceservices(path, value):
    service = copy.deepcopy(find(render(DEPLOY / "kserve"), "InferenceService")[0])
    target = service
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert list(kserve_validator().iter_errors(service))
