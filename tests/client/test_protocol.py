"""Parsing TF Serving's JSON into the frozen dataclasses, and encoding request bodies."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from client import (InvalidArgumentError, ModelMetadata, PredictResponse, SignatureError, TensorSpec, TFServingClient,
                    VersionStatus)
from client.protocol import model_path, predict_body

STATUS_JSON = {"model_version_status": [
    {"version": "2", "state": "LOADING", "status": {"error_code": "OK", "error_message": ""}},
    {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}},
    {"version": "3", "state": "END", "status": {"error_code": "NOT_FOUND", "error_message": "gone"}},
]}

METADATA_JSON = {
    "model_spec": {"name": "pets", "signature_name": "", "version": "2"},
    "metadata": {"signature_def": {"signature_def": {
        "serving_default": {
            "inputs": {"image_bytes": {"dtype": "DT_STRING", "tensor_shape": {
                "dim": [{"size": "-1", "name": ""}], "unknown_rank": False}, "name": "serving_default_image_bytes:0"}},
            "outputs": {"probabilities": {"dtype": "DT_FLOAT", "tensor_shape": {
                "dim": [{"size": "-1", "name": ""}, {"size": "3", "name": ""}], "unknown_rank": False},
                "name": "StatefulPartitionedCall:0"}},
            "method_name": "tensorflow/serving/predict"},
        "__saved_model_init_op": {
            "inputs": {},
            "outputs": {"__saved_model_init_op": {"dtype": "DT_INVALID", "tensor_shape": {
                "dim": [], "unknown_rank": True}, "name": "NoOp"}},
            "method_name": ""},
    }}},
}


def test_status_is_sorted_and_frozen():
    statuses = VersionStatus.list_from_json(STATUS_JSON)
    assert statuses == (
        VersionStatus(1, "AVAILABLE", "OK", ""),
        VersionStatus(2, "LOADING", "OK", ""),
        VersionStatus(3, "END", "NOT_FOUND", "gone"),
    )
    assert [s.available for s in statuses] == [True, False, False]
    with pytest.raises(dataclasses.FrozenInstanceError):
        statuses[0].state = "END"


def test_status_without_list_is_rejected():
    with pytest.raises(ValueError, match="model_version_status"):
        VersionStatus.list_from_json({"error": "x"})


def test_metadata_shapes_dtypes_and_unknown_rank():
    metadata = ModelMetadata.from_json(METADATA_JSON)
    assert (metadata.name, metadata.version) == ("pets", 2)
    assert sorted(metadata.signatures) == ["__saved_model_init_op", "serving_default"]
    default = metadata.default
    assert default.method_name == "tensorflow/serving/predict"
    assert default.inputs["image_bytes"] == TensorSpec("image_bytes", "DT_STRING", (-1,))
    assert default.outputs["probabilities"] == TensorSpec("probabilities", "DT_FLOAT", (-1, 3))
    init = metadata.signatures["__saved_model_init_op"].outputs["__saved_model_init_op"]
    assert init.shape is None
    with pytest.raises(SignatureError) as caught:
        metadata.signature("nope")
    assert caught.value.error == "model 'pets' version 2 has no signature 'nope'; it has ['serving_default']"
    assert caught.value.signature == "nope"


def test_scalar_tensor_has_empty_shape():
    assert TensorSpec.from_json("x", {"dtype": "DT_INT64", "tensor_shape": {}}).shape == ()


def test_predict_response_row_columnar_and_single_output():
    row = PredictResponse.from_json({"predictions": [{"a": [1.0], "b": "x"}, {"a": [2.0], "b": "y"}]})
    assert row.per_instance(["a", "b"]) == [{"a": [1.0], "b": "x"}, {"a": [2.0], "b": "y"}]
    columnar = PredictResponse.from_json({"outputs": {"a": [[1.0], [2.0]], "b": ["x", "y"]}})
    assert columnar.per_instance(["a", "b"]) == [{"a": [1.0], "b": "x"}, {"a": [2.0], "b": "y"}]
    single = PredictResponse.from_json({"predictions": [[0.1, 0.9], [0.8, 0.2]]})
    assert single.per_instance(["scores"]) == [{"scores": [0.1, 0.9]}, {"scores": [0.8, 0.2]}]
    with pytest.raises(ValueError, match="neither 'predictions' nor 'outputs'"):
        PredictResponse.from_json({"result": []})


def test_predict_body_encodes_bytes_as_b64_and_numpy_as_lists():
    body = json.loads(predict_body(instances=[{"image_bytes": b"\x00\xff", "x": np.array([1.5, 2.0])}],
                                   signature_name="serving_default"))
    assert body == {"instances": [{"image_bytes": {"b64": "AP8="}, "x": [1.5, 2.0]}],
                    "signature_name": "serving_default"}
    assert json.loads(predict_body(inputs={"x": [1]})) == {"inputs": {"x": [1]}}
    with pytest.raises(InvalidArgumentError, match="exactly one of instances") as caught:
        predict_body(instances=[1], inputs={"x": [1]})
    assert caught.value.field == "instances/inputs"


def test_model_path_targets():
    assert model_path("pets") == "/v1/models/pets"
    assert model_path("pets", version=2) == "/v1/models/pets/versions/2"
    assert model_path("pets", version=np.int64(2)) == "/v1/models/pets/versions/2"
    assert model_path("pets", label="canary") == "/v1/models/pets/labels/canary"
    assert model_path("half_plus-two.v1", label="v1.2_rc-3") == "/v1/models/half_plus-two.v1/labels/v1.2_rc-3"
    assert model_path("m" * 255) == "/v1/models/" + "m" * 255


LONG = "x" * 256
ALLOWED = "use ASCII letters, digits, '_', '.' and '-' (not '.' or '-' first)"


@pytest.mark.parametrize("field, value, reason", [
    ("label", "a,,b", f"contains ','; {ALLOWED}"),
    ("label", "../x", f"contains '/'; {ALLOWED}"),
    ("label", "..", f"starts with '.'; {ALLOWED}"),
    ("label", "-rf", f"starts with '-'; {ALLOWED}"),
    ("label", "stable ", f"contains ' '; {ALLOWED}"),
    ("label", " a , b", f"contains ' '; {ALLOWED}"),
    ("label", "canary:predict", f"contains ':'; {ALLOWED}"),
    ("label", "a?b=1", f"contains '?'; {ALLOWED}"),
    ("label", "a%2Fb", f"contains '%'; {ALLOWED}"),
    ("label", "ünïcödé", f"contains 'ü'; {ALLOWED}"),
    ("label", "\u0663", f"contains '\u0663'; {ALLOWED}"),  # ARABIC-INDIC DIGIT THREE: a digit, not ASCII
    ("label", "tab\there", f"contains '\\t'; {ALLOWED}"),
    ("label", "", "must not be empty"),
    ("label", LONG, "is 256 characters long; at most 255"),
    ("label", 7, "must be text, not int"),
    ("model", "a,,b", f"contains ','; {ALLOWED}"),
    ("model", "../x", f"contains '/'; {ALLOWED}"),
    ("model", "my model", f"contains ' '; {ALLOWED}"),
    ("model", "pêts", f"contains 'ê'; {ALLOWED}"),
    ("model", "", "must not be empty"),
    ("model", LONG, "is 256 characters long; at most 255"),
    ("model", None, "must be text, not NoneType"),
])
def test_bad_names_are_refused_naming_the_field(field, value, reason):
    with pytest.raises(InvalidArgumentError) as caught:
        model_path(value, label="ok") if field == "model" else model_path("pets", label=value)
    exc = caught.value
    assert (exc.field, exc.value, exc.status, exc.method, exc.url) == (field, value, None, "", "")
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    assert exc.error == f"{field} {shown}: {reason}"
    assert str(exc) == exc.error


@pytest.mark.parametrize("version", [-1, "2", "a,,b", 2.0, 2.5, float("nan"), float("inf"), True, b"2", [2], -10 ** 30])
def test_bad_versions_are_refused(version):
    with pytest.raises(InvalidArgumentError) as caught:
        model_path("pets", version=version)
    assert (caught.value.field, caught.value.error) == (
        "version", f"version {version!r}: must be a non-negative integer")


def test_version_and_label_together_are_refused():
    with pytest.raises(InvalidArgumentError) as caught:
        model_path("pets", version=1, label="stable")
    assert (caught.value.field, caught.value.error) == (
        "version/label", "version/label (1, 'stable'): give a version or a label, not both")


def test_parse_errors_never_quote_the_answer():
    secret = "password=hunter2"
    with pytest.raises(ValueError) as caught:
        VersionStatus.list_from_json({"model_version_status": [{"version": secret}]})
    assert str(caught.value) == "model_version_status[].version is not an integer (str)"
    with pytest.raises(ValueError) as caught:
        ModelMetadata.from_json({"secret": secret})
    assert secret not in str(caught.value)
    with pytest.raises(ValueError) as caught:
        PredictResponse.from_json({"secret": secret})
    assert secret not in str(caught.value)


def test_raw_answer_returns_tf_servings_json_unparsed(fake_server):
    from tests.support import fake_model_handler
    server = fake_server(fake_model_handler(version=3))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        status = tfs.raw_answer()
        metadata = tfs.raw_answer(version=3, metadata=True)
    assert status["model_version_status"][0]["version"] == "3"
    assert metadata["model_spec"]["version"] == "3"
    assert "signature_def" in metadata["metadata"]
