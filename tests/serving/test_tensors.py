"""The JSON ⇄ tensor codec on its own (no server): number formatting, dtypes, shapes, b64."""
from __future__ import annotations

import numpy as np
import pytest
from tensorflow.core.framework import types_pb2

from serving.errors import InvalidArgument
from serving.jsonvalues import format_decimal
from serving.responses import encode_predict_response
from serving.tensors import COLUMNAR, ROW, json_to_array


@pytest.mark.parametrize("value, dtype, text", [
    (3.0, np.float32, "3.0"), (0.1, np.float32, "0.1"), (1e-5, np.float32, "1e-05"), (9000000.0, np.float32, "9e+06"),
    (float(np.float32(0.2) + np.float32(1e-7)), np.float32, "0.200000107"),  # needs 9 digits to round-trip
    (0.1 + 0.2, np.float64, "0.30000000000000004"), (float("nan"), np.float32, "NaN"),
    (float("-inf"), np.float64, "-Infinity"),
])
def test_decimals_are_written_like_tf_serving(value, dtype, text):
    assert format_decimal(value, dtype) == text


def test_arrays_get_the_signature_dtype_and_dense_shape():
    array = json_to_array([[1, 2.5], [3, 4]], types_pb2.DT_FLOAT)
    assert array.dtype == np.float32 and array.tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert json_to_array([1, 2], types_pb2.DT_INT64).dtype == np.int64
    assert json_to_array([True], types_pb2.DT_BOOL).tolist() == [True]
    strings = json_to_array(["a", {"b64": "/+8="}, {"b64": "/+8"}], types_pb2.DT_STRING)  # padding is optional
    assert strings.tolist() == [b"a", b"\xff\xef", b"\xff\xef"]


@pytest.mark.parametrize("value, dtype, message", [
    ([1.5], types_pb2.DT_INT32, "JSON Value: 1.5 Type: Number is not of expected type: int32"),
    ([2**31], types_pb2.DT_UINT8, "JSON Value: 2147483648 Type: Number is not of expected type: uint8"),
    ([{"b64": "%%%"}], types_pb2.DT_STRING, "Unable to base64 decode"),
    ([{"b64": "_-8="}], types_pb2.DT_STRING, "Unable to base64 decode"),  # absl: standard alphabet only
    ([{"b64": "YQ="}], types_pb2.DT_STRING, "Unable to base64 decode"),   # padding present but short
    ([{"b64": "YWJjZ"}], types_pb2.DT_STRING, "Unable to base64 decode"),  # a lone 6-bit group
    ([{"b64": "YQ==", "x": 1}], types_pb2.DT_STRING,
     'JSON Value: {\n    "b64": "YQ==",\n    "x": 1\n} not formatted correctly for base64 data'),
    ([[1], [[2]]], types_pb2.DT_FLOAT, "Encountered list at unexpected level: 2 expected < 2"),
    ([[1], 2], types_pb2.DT_FLOAT, "JSON Value: 2 found at incorrect level: 2 in the JSON DOM. Expected at level: 2"),
    ([None], types_pb2.DT_FLOAT, "JSON Value: null Type: Null is not of expected type: float"),
])
def test_bad_values_raise_tf_servings_messages(value, dtype, message):
    with pytest.raises(InvalidArgument) as error:
        json_to_array(value, dtype)
    assert error.value.message == message


def test_row_and_columnar_encoding():
    outputs = {"scores": np.array([[0.5, 0.25]], np.float32), "label_bytes": np.array([b"\x00"], object),
               "label": np.array([b"cat"], object)}
    assert encode_predict_response(outputs, ROW) == (
        '{"predictions": [{"label": "cat", "label_bytes": {"b64": "AA=="}, "scores": [0.5, 0.25]}]}')
    assert encode_predict_response({"y": np.array([1, 2], np.int64)}, COLUMNAR) == '{"outputs": [1, 2]}'
    with pytest.raises(InvalidArgument) as error:
        encode_predict_response({"a": np.zeros([2]), "b": np.zeros([3])}, ROW)
    assert error.value.message == "Tensor name: b has inconsistent batch size: 3 expecting: 2"
