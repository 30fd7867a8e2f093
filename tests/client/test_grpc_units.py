"""The gRPC transport's own logic without a server: addresses, the status-code mapping, tensors to and from
TF Serving's TensorProto, and gRPC addresses in the dashboard's settings and the launcher's command."""
from __future__ import annotations

import numpy as np
import pytest

from client import (InvalidArgumentError, InvalidInputError, ModelNotFoundError, RequestTimeoutError,
                    ServerUnavailableError, TFServingClient, TFServingError, VersionNotAvailableError)
from client import arguments
from client.errors import error_for_grpc_status
from client.transport import tfs_pb2 as pb
from client.transport.tensors import array_from_tensor, rows_from_outputs, tensor_from_values
from dashboard import config
from launcher import supervise


@pytest.mark.parametrize("address, transport, expected", [
    ("grpc://127.0.0.1:8500", None, ("grpc", "grpc://127.0.0.1:8500")),
    ("grpc://tfs.example", None, ("grpc", "grpc://tfs.example:8500")),
    ("grpc://[::1]:9000/", None, ("grpc", "grpc://[::1]:9000")),
    ("localhost:8500", "grpc", ("grpc", "grpc://localhost:8500")),
    ("http://127.0.0.1:8501/", "rest", ("rest", "http://127.0.0.1:8501")),
])
def test_addresses_choose_the_transport(address, transport, expected):
    assert arguments.check_address(address, transport) == expected


@pytest.mark.parametrize("address, transport, field, reason", [
    ("grpc://h:8500/v1", None, "base_url", "a gRPC address has no path: grpc://host:port"),
    ("http://h:8501", "grpc", "transport", "does not fit the address http://h:8501 (rest)"),
    ("grpc://h:8500", "rest", "transport", "does not fit the address grpc://h:8500 (grpc)"),
    ("grpc://h:8500", "http2", "transport", "must be one of rest, grpc"),
])
def test_bad_addresses_are_refused_naming_the_field(address, transport, field, reason):
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient(address, "pets", transport=transport)
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_a_grpc_address_without_the_extra_names_it_everywhere(monkeypatch):
    monkeypatch.setattr(arguments, "grpc_installed", lambda: False)
    reason = "is a gRPC address, which needs the grpc extra (grpcio, protobuf): pip install 'servescope[grpc]'"
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient("grpc://127.0.0.1:8500", "pets")
    assert caught.value.reason == reason
    with pytest.raises(config.FieldError) as field:
        config.configured_servers({"SERVESCOPE_SERVERS": "prod=grpc://10.0.0.5:8500"})
    assert str(field.value) == f"SERVESCOPE_SERVERS (prod): 'grpc://10.0.0.5:8500' {reason}"
    assert config.check_url("http://127.0.0.1:8501", "TF_SERVING_URL") == "http://127.0.0.1:8501"  # REST unaffected


def test_a_session_is_refused_for_grpc():
    import requests
    with pytest.raises(InvalidArgumentError) as caught:
        TFServingClient("grpc://127.0.0.1:8500", "pets", session=requests.Session())
    assert caught.value.field == "session"


def test_servers_may_be_grpc_addresses():
    servers = config.configured_servers({"SERVESCOPE_SERVERS": "rest=http://127.0.0.1:8501,fast=grpc://127.0.0.1"})
    assert servers == (config.Server("rest", "http://127.0.0.1:8501"), config.Server("fast", "grpc://127.0.0.1:8500"))
    only = config.configured_servers({"TF_SERVING_URL": "grpc://127.0.0.1:9500"})
    assert only == (config.Server("127.0.0.1:9500", "grpc://127.0.0.1:9500"),)


def test_the_launcher_starts_the_server_on_the_grpc_port_for_a_grpc_url(tmp_path):
    command = supervise.serving_command("grpc://127.0.0.1:9500", tmp_path / "models.config")
    assert command[3:] == [f"--model_config_file={tmp_path / 'models.config'}", "--port=9500", "--host=127.0.0.1"]
    assert supervise.url_port("grpc://127.0.0.1") == 8500 and supervise.url_port("http://127.0.0.1") == 8501
    assert supervise.parse_args(["--url", "grpc://127.0.0.1"]).url == "grpc://127.0.0.1:8500"


@pytest.mark.parametrize("code, text, cls, status", [
    ("INVALID_ARGUMENT", "Expects arg[0] to be string but float is provided", InvalidInputError, 400),
    ("INVALID_ARGUMENT", "Unrecognized servable version label: canary", VersionNotAvailableError, 400),
    ("FAILED_PRECONDITION", "Serving signature key not found", InvalidInputError, 400),
    ("NOT_FOUND", "Servable not found for request: Specific(pets, 9)", VersionNotAvailableError, 404),
    ("NOT_FOUND", "Servable not found for request: Latest(nope)", ModelNotFoundError, 404),
    ("NOT_FOUND", "Could not find any versions of model nope", ModelNotFoundError, 404),
    ("UNAVAILABLE", "The batch scheduling queue is full", ServerUnavailableError, 503),
    ("RESOURCE_EXHAUSTED", "too many requests", ServerUnavailableError, 429),
    ("INTERNAL", "boom", ServerUnavailableError, 500),
    ("DEADLINE_EXCEEDED", "Deadline Exceeded", RequestTimeoutError, 504),
    ("PERMISSION_DENIED", "no", TFServingError, 403),
])
def test_grpc_codes_map_to_the_classes_of_their_http_status(code, text, cls, status):
    error = error_for_grpc_status(code, text, method="gRPC", url="grpc://h:8500/x")
    assert (type(error), error.status, error.grpc_code, error.error) == (cls, status, code, text)
    assert str(error) == f"gRPC grpc://h:8500/x -> {code}: {text}"


def test_pixels_travel_as_raw_float32_bytes_and_images_as_string_val():
    pixels = np.arange(24, dtype=np.float32).reshape(2, 2, 2, 3) / 7
    tensor = tensor_from_values(pixels, "DT_FLOAT")
    assert (tensor.dtype, [d.size for d in tensor.tensor_shape.dim]) == (pb.DT_FLOAT, [2, 2, 2, 3])
    assert tensor.tensor_content == pixels.astype("<f4").tobytes() and not tensor.float_val
    assert np.array_equal(array_from_tensor(tensor, max_bytes=1000), pixels)
    images = tensor_from_values([b"\xff\xd8jpeg", b"\x89PNG"], "DT_STRING")
    assert list(images.string_val) == [b"\xff\xd8jpeg", b"\x89PNG"] and not images.tensor_content
    assert [d.size for d in images.tensor_shape.dim] == [2]


def test_half_and_bfloat16_inputs_are_converted_as_tensorflow_rounds():
    values = np.array([1.0, 2.5, 1.00390625, 1.01171875], dtype=np.float32)  # the last two are bfloat16 ties
    half = tensor_from_values(values, "DT_HALF")
    assert half.tensor_content == values.astype("<f2").tobytes()
    bfloat = tensor_from_values(values, "DT_BFLOAT16")
    assert np.frombuffer(bfloat.tensor_content, "<u2").tolist() == [0x3F80, 0x4020, 0x3F80, 0x3F82]
    assert array_from_tensor(bfloat, max_bytes=100).tolist() == [1.0, 2.5, 1.0, 1.015625]


def test_answers_in_val_fields_repeat_their_last_value_as_tensorflow_does():
    shape = pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=2), pb.TensorShapeProto.Dim(size=2)])
    floats = pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=shape, float_val=[0.25, 0.75])
    assert array_from_tensor(floats, max_bytes=100).tolist() == [[0.25, 0.75], [0.75, 0.75]]
    halves = pb.TensorProto(dtype=pb.DT_HALF, tensor_shape=shape, half_val=[0x3C00])  # 1.0
    assert array_from_tensor(halves, max_bytes=100).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    strings = pb.TensorProto(dtype=pb.DT_STRING, tensor_shape=shape, string_val=[b"cat", b"dog"])
    assert array_from_tensor(strings, max_bytes=100).tolist() == [[b"cat", b"dog"], [b"dog", b"dog"]]


@pytest.mark.parametrize("tensor, message", [
    (pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=10**9)]),
                    float_val=[1.0]), "a DT_FLOAT tensor of shape [1000000000] is larger than the answer may hold"),
    (pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=3)]),
                    tensor_content=b"\0" * 8), "a DT_FLOAT tensor of shape [3] has 8 bytes of content"),
    (pb.TensorProto(dtype=pb.DT_FLOAT, tensor_shape=pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=1)]),
                    float_val=[1.0, 2.0]), "a DT_FLOAT tensor of shape [1] has 2 values"),
    (pb.TensorProto(dtype=pb.DT_COMPLEX64), "cannot read a DT_COMPLEX64 tensor"),
    (pb.TensorProto(dtype=pb.DT_STRING, tensor_shape=pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=10**9)]),
                    string_val=[b"x"]),
     "a DT_STRING tensor claims 1,000,000,000 values, more than the answer may hold"),
])
def test_tensors_that_do_not_fit_are_refused_before_allocating(tensor, message):
    with pytest.raises(ValueError) as caught:
        array_from_tensor(tensor, max_bytes=1 << 20)
    assert str(caught.value) == message


def test_rows_are_one_per_instance_with_strings_decoded():
    outputs = {"probabilities": tensor_from_values(np.array([[0.5, 0.5], [1.0, 0.0]], np.float32)),
               "classes": tensor_from_values([[b"cat", b"\xff"], [b"cat", b"\xff"]])}
    assert rows_from_outputs(outputs, max_bytes=1000) == [
        {"classes": ["cat", b"\xff"], "probabilities": [0.5, 0.5]},
        {"classes": ["cat", b"\xff"], "probabilities": [1.0, 0.0]}]
    with pytest.raises(ValueError, match=r"outputs of unequal batch sizes: \['1', '2'\]"):
        rows_from_outputs({"a": tensor_from_values(np.zeros((2, 1), np.float32)),
                           "b": tensor_from_values(np.zeros((1, 1), np.float32))}, max_bytes=1000)
