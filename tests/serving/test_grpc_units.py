"""The gRPC pieces on their own (no server): flags, the status table's gRPC column, TensorProto <-> numpy."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving.cli import parse_args
from serving.errors import (
    GRPC_CODE_BY_CODE,
    HTTP_STATUS_BY_CODE,
    InvalidArgument,
    PayloadTooLarge,
    grpc_status_of,
)
from serving.grpc_tensors import array_to_proto, proto_to_array

MODEL = ["--model_name=m", "--model_base_path=/m"]


def test_grpc_flags_default_like_tensorflow_model_server():
    args = parse_args(MODEL)
    assert (args.port, args.rest_api_port, args.grpc_channel_arguments) == (8500, 8501, [])
    assert args.grpc_max_threads == 4 * (os.cpu_count() or 1)
    assert args.enable_serialization_as_tensor_content is True  # ours; TF Serving's default is false


def test_channel_arguments_are_key_value_pairs_with_int32_values_as_integers():
    args = parse_args([*MODEL, "--grpc_channel_arguments=grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb,"
                                 "grpc.big=4294967296"])
    assert args.grpc_channel_arguments == [("grpc.max_connection_age_ms", 2000), ("grpc.lb_policy_name", "grpclb"),
                                           ("grpc.big", "4294967296")]
    assert parse_args([*MODEL, "--port=0", "--enable_serialization_as_tensor_content=false"]).port == 0


@pytest.mark.parametrize("argv, message", [
    (["--port=8501"], "--port (gRPC) and --rest_api_port must differ; both are 8501"),
    (["--port=-1"], "--port must be >= 0"),
    (["--grpc_max_threads=0"], "--grpc_max_threads must be positive"),
    (["--grpc_channel_arguments=a=1,b"], "expected comma-separated key=value pairs, got 'b'"),
    (["--grpc_channel_arguments==1"], "expected comma-separated key=value pairs, got '=1'"),
])
def test_bad_grpc_flags_exit_2_naming_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        parse_args([*MODEL, *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_every_code_has_a_grpc_status_and_413_is_resource_exhausted():
    assert set(GRPC_CODE_BY_CODE) == set(HTTP_STATUS_BY_CODE)
    assert GRPC_CODE_BY_CODE["PAYLOAD_TOO_LARGE"] == "RESOURCE_EXHAUSTED"
    assert all(GRPC_CODE_BY_CODE[code] == code for code in GRPC_CODE_BY_CODE if code != "PAYLOAD_TOO_LARGE")
    assert grpc_status_of(PayloadTooLarge("too big")) == ("RESOURCE_EXHAUSTED", "PAYLOAD_TOO_LARGE", "too big")
    assert grpc_status_of(tf.errors.NotFoundError(None, None, "gone")) == ("NOT_FOUND", "NOT_FOUND", "gone")
    assert grpc_status_of(KeyError("x")) == ("INTERNAL", "INTERNAL", "KeyError: 'x'")


def test_long_grpc_messages_are_cut_like_tf_servings_to_grpc_status():
    assert grpc_status_of(InvalidArgument("x" * 1025)) == ("INVALID_ARGUMENT", "INVALID_ARGUMENT",
                                                          "x" * 1024 + "...TRUNCATED")
    assert grpc_status_of(InvalidArgument("x" * 1024))[2] == "x" * 1024


ARRAYS = [
    np.array([[0.1, -2.5, 3e-39]], np.float32), np.array([1.0, np.nan], np.float64), np.array([255, 0], np.uint8),
    np.array([-3, 7], np.int16), np.array([[2**40]], np.int64), np.array([2**32 - 1], np.uint32),
    np.array([True, False]), np.array([1.5, -2.0], np.float16), np.array([1.5], tf.bfloat16.as_numpy_dtype),
    np.array([1 + 2j], np.complex64), np.array(4.5, np.float32), np.zeros((0, 3), np.float32),
]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{list(a.shape)}")
@pytest.mark.parametrize("tensor_content", [True, False])
def test_outputs_round_trip_bit_for_bit_in_both_encodings(array, tensor_content):
    proto = array_to_proto(array, tensor_content=tensor_content)
    assert bool(proto.tensor_content) == (tensor_content and array.size > 0)
    for decoded in (tf.make_ndarray(proto), proto_to_array(proto, "x")):  # TensorFlow's reader and ours
        assert decoded.dtype == array.dtype and decoded.shape == array.shape
        assert decoded.tobytes() == array.tobytes()


def test_typed_fields_are_the_ones_tf_serving_writes():
    proto = array_to_proto(np.array([2.0, 3.5], np.float32), tensor_content=False)
    assert (proto.dtype, list(proto.float_val), [d.size for d in proto.tensor_shape.dim]) == (
        types_pb2.DT_FLOAT, [2.0, 3.5], [2])
    assert list(array_to_proto(np.array([7], np.uint8), tensor_content=False).int_val) == [7]
    assert list(array_to_proto(np.array([1.0], np.float16), tensor_content=False).half_val) == [0x3C00]


def test_strings_travel_in_string_val():
    proto = array_to_proto(np.array([[b"cat", b"\xff"]], dtype=object))
    assert (proto.dtype, list(proto.string_val), proto.tensor_content) == (types_pb2.DT_STRING, [b"cat", b"\xff"], b"")
    assert proto_to_array(proto, "x").tolist() == [[b"cat", b"\xff"]]


def test_request_tensors_follow_tensor_from_proto():
    proto = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT)
    proto.tensor_shape.dim.add().size = 3
    proto.float_val.append(2.0)  # fewer values than elements: the last repeats
    assert proto_to_array(proto, "x").tolist() == [2.0, 2.0, 2.0]
    del proto.float_val[:]  # none at all: zeros
    assert proto_to_array(proto, "x").tolist() == [0.0, 0.0, 0.0]
    content = np.array([1, 2, 3], np.float32).tobytes()
    proto.tensor_content = content
    decoded = proto_to_array(proto, "x")
    assert decoded.tolist() == [1.0, 2.0, 3.0] and not decoded.flags.owndata  # a view of the request's bytes


def _proto(dtype=types_pb2.DT_FLOAT, dims=(2,), **fields) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype, **fields)
    for size in dims:
        proto.tensor_shape.dim.add().size = size
    return proto


@pytest.mark.parametrize("proto", [
    _proto(tensor_content=b"\x00" * 7),              # 7 bytes cannot be two floats
    _proto(float_val=[1.0, 2.0, 3.0]),               # more values than the shape holds
    _proto(dims=(-1,), float_val=[1.0]),             # unknown dimension
    _proto(dtype=types_pb2.DT_INVALID),              # no dtype
    _proto(dtype=types_pb2.DT_STRING, tensor_content=b"ab"),
    _proto(dtype=types_pb2.DT_RESOURCE),
    tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, tensor_shape={"unknown_rank": True}),
], ids=["short-content", "too-many-values", "negative-dim", "no-dtype", "string-content", "resource",
        "unknown-rank"])
def test_what_tensorflow_refuses_is_a_tensor_parsing_error_naming_the_input(proto):
    with pytest.raises(InvalidArgument) as error:
        proto_to_array(proto, "images")
    assert error.value.message == "tensor parsing error: images"
