""":predict bodies read by simdjson: exact float32 round trips from the client's encoder, and the same tensors or
the same TF Serving errors as the standard parser for every body (the per-value rules still decide)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from client.protocol import predict_body
from serving.errors import InvalidArgument
from serving.jsonvalues import DenseNumbers, parse_json_object, parse_predict_object
from serving.responses import encode_predict_response
from serving.jsonvalues import format_decimal
from serving.tensors import ROW, decode_predict_request


def infos(dtype: int = types_pb2.DT_FLOAT, names=("images",)) -> dict:
    return {name: meta_graph_pb2.TensorInfo(name=f"{name}:0", dtype=dtype) for name in names}


def decoded(parse, body: bytes, signature: dict):
    """(tensors as {name: (dtype, shape, bytes)}, format) or the InvalidArgument message."""
    try:
        arrays, request_format = decode_predict_request(parse(body), signature, "")
    except InvalidArgument as exc:
        return exc.message
    return {name: (a.dtype.str, a.shape, a.tobytes()) for name, a in arrays.items()}, request_format


def every_finite_float32(count: int, seed: int) -> np.ndarray:
    """Random bit patterns: every exponent, subnormals, both zeros; never NaN or infinity."""
    bits = np.random.default_rng(seed).integers(0, 2**32, size=count, dtype=np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    extremes = np.array([0.0, -0.0, 1.0, np.finfo(np.float32).max, -np.finfo(np.float32).max,
                         np.finfo(np.float32).tiny, np.finfo(np.float32).smallest_subnormal, 1 / 3, 0.1], np.float32)
    return np.concatenate([extremes, values])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_float32_tensors_survive_client_encode_and_server_decode_bit_for_bit(seed):
    values = every_finite_float32(3 * 16 * 16 * 3 * 2, seed)[:3 * 16 * 16 * 3]
    images = values.reshape(3, 16, 16, 3)
    body = predict_body(instances=[{"images": image} for image in images], signature_name="predict_images")
    assert parse_predict_object(body)["instances"][0]["images"].as_array(np.float32) is not None  # the fast path
    (arrays, request_format) = decoded(parse_predict_object, body, infos())
    dtype, shape, data = arrays["images"]
    assert (dtype, shape, request_format) == ("<f4", (3, 16, 16, 3), ROW)
    assert np.array_equal(np.frombuffer(data, np.uint32), images.view(np.uint32).reshape(-1))
    # ... and columnar, the whole batch as one dense array
    body = predict_body(inputs=images)
    (arrays, _) = decoded(parse_predict_object, body, infos())
    assert np.array_equal(np.frombuffer(arrays["images"][2], np.uint32), images.view(np.uint32).reshape(-1))


def test_dense_numbers_are_read_without_python_numbers():
    doc = parse_predict_object(b'{"instances": [[[1.5, 2], [3, 4]], [[5, 6], [7, 8.25]]], "signature_name": "s"}')
    rows = doc["instances"]
    assert [type(row) for row in rows] == [DenseNumbers, DenseNumbers] and doc["signature_name"] == "s"
    assert rows[1].values.tolist() == [[5.0, 6.0], [7.0, 8.25]] and rows[1].to_python() == [[5, 6], [7, 8.25]]
    named = parse_predict_object(b'{"inputs": {"a": [[1, 2]], "b": [{"b64": "aGk="}]}}')["inputs"]
    assert named["a"].values.dtype == np.int64 and named["b"] == [{"b64": "aGk="}]


# Bodies where the per-value rules (or the standard parser) must decide: each gets exactly what it got before.
SAME_AS_BEFORE = [
    (b'{"instances": [[1.0, 2.0], [3.0]]}', types_pb2.DT_FLOAT),                    # ragged
    (b'{"instances": [[[1.0], [2.0, 3.0]], [[4.0], [5.0]]]}', types_pb2.DT_FLOAT),  # ragged, same count
    (b'{"inputs": [[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]]}', types_pb2.DT_FLOAT),    # ragged, count of the dense shape
    (b'{"inputs": [[1.0], 2.0]}', types_pb2.DT_FLOAT),                              # a leaf at the wrong level
    (b'{"inputs": [[1.5, true]]}', types_pb2.DT_FLOAT),
    (b'{"inputs": [[1.5, null]]}', types_pb2.DT_FLOAT),
    (b'{"inputs": [[1.5, "2"]]}', types_pb2.DT_FLOAT),
    (b'{"inputs": [[1.5, 16777217]]}', types_pb2.DT_FLOAT),                        # int past 2^24
    (b'{"inputs": [[1.5, 16777216]]}', types_pb2.DT_FLOAT),
    (b'{"inputs": [[1.5, 3e38, 4e38]]}', types_pb2.DT_FLOAT),                       # past FLT_MAX
    (b'{"inputs": [[1.5, 3e38, 16777217.0]]}', types_pb2.DT_FLOAT),                 # large floats are fine
    (b'{"inputs": [[1.5, 3e38, 16777217]]}', types_pb2.DT_FLOAT),                   # ... large integers not
    (b'{"inputs": [[1.5, 9007199254740993]]}', types_pb2.DT_DOUBLE),
    (b'{"inputs": [[1, 2.5]]}', types_pb2.DT_INT32),
    (b'{"inputs": [[1, 2147483648]]}', types_pb2.DT_INT32),
    (b'{"inputs": [[1, -1]]}', types_pb2.DT_UINT8),
    (b'{"inputs": [[1, 255]]}', types_pb2.DT_UINT8),
    (b'{"inputs": [[1, 18446744073709551615]]}', types_pb2.DT_UINT64),
    (b'{"inputs": [[1, 0]]}', types_pb2.DT_BOOL),
    (b'{"inputs": [[1, 0]]}', types_pb2.DT_STRING),
    (b'{"inputs": [[NaN, Infinity]]}', types_pb2.DT_FLOAT),                          # simdjson refuses NaN
    (b'{"inputs": [[1.0]], "inputs": [[2.0, 3.0]]}', types_pb2.DT_FLOAT),           # a repeated key: the last
    (b'{"instances": [[]]}', types_pb2.DT_FLOAT),
    (b'{"instances": [1.0, 2.0, -0.0]}', types_pb2.DT_FLOAT),
    (b'{"instances": [{"images": [1.0, 2.0]}, [3.0]]}', types_pb2.DT_FLOAT),
    (b'{"instances": [{"images": [1.0, 2.0]}, {"images": [3.0]}]}', types_pb2.DT_FLOAT),
    (b'{"signature_name": [1.0, 2.0], "instances": [1.0]}', types_pb2.DT_FLOAT),
    (b'{"instances": [[1.0, 2.0], [3.0, 4.0]], "inputs": [1.0]}', types_pb2.DT_FLOAT),
    (b'[1.0, 2.0]', types_pb2.DT_FLOAT),
    (b'{"instances": "\\ud800"}', types_pb2.DT_FLOAT),
]


@pytest.mark.parametrize("body, dtype", SAME_AS_BEFORE)
def test_the_fast_reader_decodes_exactly_like_the_standard_parser(body, dtype):
    def before(data: bytes):
        try:
            return decoded(parse_json_object, data, infos(dtype))
        except InvalidArgument as exc:  # a parse error (decode_predict_request never ran)
            return exc.message

    def after(data: bytes):
        try:
            return decoded(parse_predict_object, data, infos(dtype))
        except InvalidArgument as exc:
            return exc.message

    assert after(body) == before(body)


numbers = (st.floats(width=32, allow_nan=False, allow_infinity=False) | st.integers(-2**25, 2**25)
           | st.sampled_from([True, None, "x", 2**64, 1e39]))
nested = st.recursive(numbers, lambda inner: st.lists(inner, min_size=0, max_size=3), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=nested, dtype=st.sampled_from([types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE, types_pb2.DT_INT32,
                                            types_pb2.DT_UINT8, types_pb2.DT_BOOL]),
       columnar=st.booleans())
def test_random_number_arrays_decode_like_the_standard_parser(value, dtype, columnar):
    body = json.dumps({"inputs": value} if columnar else {"instances": [value, value]}).encode()
    results = []
    for parse in (parse_json_object, parse_predict_object):
        results.append(decoded(parse, body, infos(dtype)))
    assert results[1] == results[0]


def test_float_answers_are_written_like_tf_serving_value_by_value():
    values = np.concatenate([every_finite_float32(4000, 5),
                             np.array([np.nan, np.inf, -np.inf, 3.0, 9e6, 1e-5, 123456789], np.float32)])
    for dtype, kind in ((np.float32, np.float32), (np.float64, np.float64)):
        column = values.astype(dtype).reshape(-1, 1)
        expected = '{"predictions": [' + ", ".join(f"[{format_decimal(float(v), kind)}]" for v in column[:, 0]) + "]}"
        assert encode_predict_response({"p": column}, ROW) == expected
