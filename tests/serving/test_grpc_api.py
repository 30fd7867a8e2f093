"""TF Serving's gRPC API on the embedded server: Predict, GetModelMetadata and GetModelStatus with the official
stubs, on the `grpc_servers` process (tests/serving/conftest.py), which serves REST and gRPC from the same models."""
from __future__ import annotations

import re

import numpy as np
import pytest
import requests
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    predict_pb2,
)

from tests.serving.conftest import GRPC_MAX_REQUEST_BYTES as LIMIT
from tests.serving.grpc_support import RPC_TIMEOUT, failure, outputs_of, predict_request

pytestmark = pytest.mark.slow  # the module starts the embedded server with TensorFlow models


def spec(name: str, version: int, signature: str = "serving_default") -> model_pb2.ModelSpec:
    result = model_pb2.ModelSpec(name=name, signature_name=signature)
    result.version.value = version
    return result


X = np.array([1.0, 2.0], np.float32)


@pytest.mark.parametrize("selector, version, y", [
    ({}, 2, [3.5, 4.0]), ({"version": 1}, 1, [2.5, 3.0]), ({"label": "stable"}, 1, [2.5, 3.0]),
    ({"label": "canary"}, 2, [3.5, 4.0]),
])
def test_predict_by_latest_version_and_label_answers_tensor_content(grpc_servers, selector, version, y):
    response = grpc_servers.predictions.Predict(predict_request("half_plus_two", {"x": X}, **selector), RPC_TIMEOUT)
    assert response.model_spec == spec("half_plus_two", version)
    (name, proto), = response.outputs.items()
    assert (name, proto.dtype, [d.size for d in proto.tensor_shape.dim]) == ("y", types_pb2.DT_FLOAT, [2])
    assert proto.tensor_content == np.array(y, np.float32).tobytes() and not proto.float_val


def test_typed_float_val_inputs_as_tf_servings_own_test_client_sends_them(grpc_servers):
    request = predict_pb2.PredictRequest()  # VerifyPredictRequest in tensorflow_model_server_test_base.py
    request.model_spec.name = "half_plus_two"
    request.model_spec.version.value = 1
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(2.0)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    request.output_filter.append("y")
    response = grpc_servers.predictions.Predict(request, RPC_TIMEOUT)
    assert outputs_of(response)["y"].tolist() == [3.0]


def test_strings_in_and_out_through_string_val_with_every_output(grpc_servers):
    text = np.array([b"hi", "é".encode(), b"\x00\xff"], dtype=object)
    response = grpc_servers.predictions.Predict(predict_request("toolbox", {"text_bytes": text}), RPC_TIMEOUT)
    assert sorted(response.outputs) == ["echo_bytes", "length"]
    assert list(response.outputs["echo_bytes"].string_val) == [b"hi", "é".encode(), b"\x00\xff"]
    assert outputs_of(response)["length"].tolist() == [2, 2, 2]


def test_output_filter_picks_outputs(grpc_servers):
    request = predict_request("toolbox", {"text_bytes": np.array([b"abc"], dtype=object)})
    request.output_filter.append("length")
    assert list(grpc_servers.predictions.Predict(request, RPC_TIMEOUT).outputs) == ["length"]


def test_grpc_and_rest_return_the_same_float32_bits(grpc_servers):
    rng = np.random.default_rng(20)
    a = rng.standard_normal((16, 2)).astype(np.float32) * np.float32(1e3)
    b = rng.standard_normal((16, 2)).astype(np.float32) / np.float32(7)
    response = grpc_servers.predictions.Predict(predict_request("toolbox", {"a": a, "b": b}, signature="add"), RPC_TIMEOUT)
    over_grpc = outputs_of(response)["sum"]
    reply = requests.post(f"{grpc_servers.rest}/v1/models/toolbox:predict", timeout=30, json={
        "signature_name": "add", "inputs": {"a": a.tolist(), "b": b.tolist()}})
    over_rest = np.array(reply.json()["outputs"], np.float32)
    assert over_grpc.dtype == np.float32 and over_grpc.tobytes() == over_rest.tobytes() == (a + b).tobytes()


def test_a_request_over_max_request_bytes_is_resource_exhausted_naming_both_sizes(grpc_servers):
    request = predict_request("half_plus_two", {"x": np.zeros(LIMIT // 4 + 1, np.float32)})
    assert failure(grpc_servers.predictions.Predict, request) == (
        "RESOURCE_EXHAUSTED", f"SERVER: Received message larger than max ({request.ByteSize()} vs. {LIMIT})")
    just_fits = predict_request("half_plus_two", {"x": np.zeros(LIMIT // 4 - 64, np.float32)})
    assert just_fits.ByteSize() <= LIMIT
    assert outputs_of(grpc_servers.predictions.Predict(just_fits, RPC_TIMEOUT))["y"].shape == (LIMIT // 4 - 64,)


def _with(request, edit):
    edit(request)
    return request


FLOAT_X = {"x": X}
PREDICT_ERRORS = [
    (predict_request("nope", FLOAT_X), "NOT_FOUND", "Servable not found for request: Latest(nope)"),
    (predict_request("half_plus_two", FLOAT_X, version=9), "NOT_FOUND",
     "Servable not found for request: Specific(half_plus_two, 9)"),
    (predict_request("half_plus_two", FLOAT_X, label="nope"), "INVALID_ARGUMENT",
     "Unrecognized servable version label: nope"),
    (predict_request("", FLOAT_X), "INVALID_ARGUMENT", "ModelSpec has no name specified."),
    (predict_pb2.PredictRequest(), "INVALID_ARGUMENT", "Missing ModelSpec"),
    (predict_request("half_plus_two", FLOAT_X, signature="nope"), "FAILED_PRECONDITION",
     'Serving signature key "nope" not found.'),
    (predict_request("half_plus_two", {"x": X, "z": X}), "INVALID_ARGUMENT",
     "input size does not match signature: 2!=1 len({x,z}) != len({x}). Sent extra: {z}. Missing but required: {}."),
    (predict_request("toolbox", {"a": np.ones((1, 2), np.float32)}, signature="add"), "INVALID_ARGUMENT",
     "input size does not match signature: 1!=2 len({a}) != len({a,b}). Sent extra: {}. Missing but required: {b}."),
    (predict_request("half_plus_two", {"z": X}), "INVALID_ARGUMENT",
     "Signature input alias: x(feed name: x:0) not found in request and no default value provided. Inputs "
     "expected to be in the request {z}, or default input alias set: "),
    (_with(predict_request("half_plus_two", FLOAT_X), lambda r: setattr(r.inputs["x"], "tensor_content", b"1234567")),
     "INVALID_ARGUMENT", "tensor parsing error: x"),
    (_with(predict_request("half_plus_two", FLOAT_X), lambda r: r.output_filter.append("nope")), "INVALID_ARGUMENT",
     "output tensor alias not found in signature: nope Outputs expected to be in the set {y}."),
    (_with(predict_request("half_plus_two", FLOAT_X), lambda r: r.output_filter.extend(["y", "y"])),
     "INVALID_ARGUMENT", "duplicate output tensor alias: y"),
    # A wrong dtype is refused before the run with the Session's wording, as TF Serving (which runs every model
    # in a Session) answers; what TensorFlow refuses during the run keeps TensorFlow's code and message (the
    # function's generated name, __inference_add_<n>, depends on the build).
    (predict_request("half_plus_two", {"x": np.array([1, 2], np.int32)}), "INVALID_ARGUMENT",
     "Expects arg[0] to be float but int32 is provided"),
    (predict_request("toolbox", {"a": np.ones((1, 2), np.float32), "b": np.ones((1, 3), np.float32)}, signature="add"),
     "INVALID_ARGUMENT", re.compile(r"Incompatible shapes: \[1,2\] vs\. \[1,3\]\n\t "
                                    r"\[\[\{\{function_node __inference_add_\d+\}\}\{\{node add\}\}\]\]")),
]


@pytest.mark.parametrize("request_, code, details", PREDICT_ERRORS)
def test_predict_errors_are_tf_servings_status_and_message(grpc_servers, request_, code, details):
    got_code, got_details = failure(grpc_servers.predictions.Predict, request_)
    assert got_code == code
    if isinstance(details, re.Pattern):
        assert details.fullmatch(got_details), got_details
    else:
        assert got_details == details


def metadata_request(name: str, *fields: str, **selector) -> get_model_metadata_pb2.GetModelMetadataRequest:
    request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=list(fields))
    request.model_spec.name = name
    if "version" in selector:
        request.model_spec.version.value = selector["version"]
    if "label" in selector:
        request.model_spec.version_label = selector["label"]
    return request


@pytest.mark.parametrize("selector, version", [({}, 2), ({"version": 1}, 1), ({"label": "stable"}, 1)])
def test_metadata_is_the_signature_def_map_rest_prints(grpc_servers, selector, version):
    response = grpc_servers.predictions.GetModelMetadata(metadata_request("half_plus_two", "signature_def", **selector),
                                                    RPC_TIMEOUT)
    expected_spec = model_pb2.ModelSpec(name="half_plus_two")
    expected_spec.version.value = version
    assert response.model_spec == expected_spec and list(response.metadata) == ["signature_def"]
    packed = response.metadata["signature_def"]
    assert packed.type_url == "type.googleapis.com/tensorflow.serving.SignatureDefMap"
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert packed.Unpack(signature_map)
    assert sorted(signature_map.signature_def) == ["classify_x_to_y", "regress_x_to_y", "serving_default"]
    rest = requests.get(f"{grpc_servers.rest}/v1/models/half_plus_two/versions/{version}/metadata", timeout=30).json()
    assert json_format.MessageToDict(signature_map, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True) == rest["metadata"]["signature_def"]


@pytest.mark.parametrize("request_, code, details", [
    (metadata_request("half_plus_two"), "INVALID_ARGUMENT",
     "GetModelMetadataRequest must specify at least one metadata_field"),
    (metadata_request("half_plus_two", "signature_def", "graph"), "INVALID_ARGUMENT",
     "Metadata field graph is not supported"),
    (get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"]), "INVALID_ARGUMENT",
     "Missing ModelSpec"),
    (metadata_request("nope", "signature_def"), "NOT_FOUND", "Servable not found for request: Latest(nope)"),
    (metadata_request("half_plus_two", "signature_def", label="nope"), "INVALID_ARGUMENT",
     "Unrecognized servable version label: nope"),
])
def test_metadata_errors(grpc_servers, request_, code, details):
    assert failure(grpc_servers.predictions.GetModelMetadata, request_) == (code, details)


def status_request(name: str, **selector) -> get_model_status_pb2.GetModelStatusRequest:
    return get_model_status_pb2.GetModelStatusRequest(model_spec=metadata_request(name, **selector).model_spec)


def statuses(response) -> list[tuple[int, str, int, str]]:
    State = get_model_status_pb2.ModelVersionStatus.State  # noqa: N806
    return [(s.version, State.Name(s.state), s.status.error_code, s.status.error_message)
            for s in response.model_version_status]


def test_model_status_lists_versions_newest_first_and_ignores_labels(grpc_servers):
    everything = [(2, "AVAILABLE", 0, ""), (1, "AVAILABLE", 0, "")]
    assert statuses(grpc_servers.models.GetModelStatus(status_request("half_plus_two"), RPC_TIMEOUT)) == everything
    assert statuses(grpc_servers.models.GetModelStatus(status_request("half_plus_two", label="stable"), RPC_TIMEOUT)) == (
        everything)
    assert statuses(grpc_servers.models.GetModelStatus(status_request("half_plus_two", version=1), RPC_TIMEOUT)) == [
        (1, "AVAILABLE", 0, "")]
    (version, state, code, message), = statuses(grpc_servers.models.GetModelStatus(status_request("broken"), RPC_TIMEOUT))
    assert (version, state, code) == (1, "END", 2)  # UNKNOWN, with the load error
    assert message.startswith("DecodeError: Error parsing message")


@pytest.mark.parametrize("request_, code, details", [
    (status_request("nope"), "NOT_FOUND", "Could not find any versions of model nope"),
    (status_request("half_plus_two", version=9), "NOT_FOUND", "Could not find version 9 of model half_plus_two"),
    (get_model_status_pb2.GetModelStatusRequest(), "INVALID_ARGUMENT", "Missing ModelSpec"),
])
def test_model_status_errors(grpc_servers, request_, code, details):
    assert failure(grpc_servers.models.GetModelStatus, request_) == (code, details)


def _count(metrics: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    match = re.search(r"^serving_requests_total\{" + re.escape(wanted) + r"\} (\S+)$", metrics, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_grpc_calls_are_counted_in_the_prometheus_metrics_by_rpc_name(grpc_servers):
    def counts():
        text = requests.get(f"{grpc_servers.rest}/monitoring/prometheus/metrics", timeout=30).text
        return (_count(text, api="Predict", code="OK", model="half_plus_two", version="1"),
                _count(text, api="Predict", code="NOT_FOUND", model="<unknown>", version=""))

    before = counts()
    for _ in range(3):
        grpc_servers.predictions.Predict(predict_request("half_plus_two", {"x": X}, version=1), RPC_TIMEOUT)
    failure(grpc_servers.predictions.Predict, predict_request("made-up-model", {"x": X}))
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (3.0, 1.0)
