"""JSON -> tensors for :predict, following TF Serving's json_tensor.cc (row and columnar formats)."""
from __future__ import annotations

import base64
import binascii
import itertools
import re
from typing import Any, Mapping

import numpy as np
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2

from serving.errors import InvalidArgument, ServingError, Unimplemented
from serving.jsonvalues import DenseNumbers, json_type_name, value_to_string

# DataType enum -> (numpy dtype, TensorFlow's DataTypeString name used in error messages).
DTYPES = {
    types_pb2.DT_FLOAT: (np.float32, "float"),
    types_pb2.DT_DOUBLE: (np.float64, "double"),
    types_pb2.DT_INT32: (np.int32, "int32"),
    types_pb2.DT_INT16: (np.int16, "int16"),
    types_pb2.DT_INT8: (np.int8, "int8"),
    types_pb2.DT_UINT8: (np.uint8, "uint8"),
    types_pb2.DT_INT64: (np.int64, "int64"),
    types_pb2.DT_UINT32: (np.uint32, "uint32"),
    types_pb2.DT_UINT64: (np.uint64, "uint64"),
    types_pb2.DT_BOOL: (np.bool_, "bool"),
    types_pb2.DT_STRING: (object, "string"),
}
# JSON integers each integer dtype takes (rapidjson's IsInt, IsInt64, IsUint, IsUint64 in AddValueToTensor). INT8,
# INT16 and UINT8 take any int32, like TF Serving: the value travels in the TensorProto's int_val and
# Tensor::FromProto narrows it as C++ does (300 -> 44 for uint8, 200 -> -56 for int8).
_INT_RANGES = {
    types_pb2.DT_INT32: (-2**31, 2**31 - 1), types_pb2.DT_INT16: (-2**31, 2**31 - 1),
    types_pb2.DT_INT8: (-2**31, 2**31 - 1), types_pb2.DT_UINT8: (-2**31, 2**31 - 1),
    types_pb2.DT_INT64: (-2**63, 2**63 - 1), types_pb2.DT_UINT32: (0, 2**32 - 1),
    types_pb2.DT_UINT64: (0, 2**64 - 1),
}
_NARROWED = (types_pb2.DT_INT16, types_pb2.DT_INT8, types_pb2.DT_UINT8)  # carried as int32, then cast
_FLOATS = (types_pb2.DT_FLOAT, types_pb2.DT_DOUBLE)
TOO_BIG_FOR_DOUBLE = "JSON Parse error: Number too big to be stored in double."

ROW, COLUMNAR = "row", "columnar"
MAX_RANK = 64  # numpy's limit on dimensions (TensorFlow's is 254); deeper lists are refused up front
# absl::Base64Unescape, which TF Serving uses: standard alphabet only (no web-safe "-_"), ASCII whitespace
# skipped anywhere, and either no padding or exactly the right padding ("=" or ".").
_ASCII_SPACE = re.compile(r"[ \t\n\v\f\r]")
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/]*")


def dtype_name(dtype: int) -> str:
    """TensorFlow's DataTypeString: DT_FLOAT -> "float", DT_HALF -> "half"."""
    return DTYPES[dtype][1] if dtype in DTYPES else types_pb2.DataType.Name(dtype)[3:].lower()


def is_b64_object(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("b64"), str)


def decode_b64(value: Any) -> bytes:
    if not is_b64_object(value):
        raise InvalidArgument(f"JSON Value: {value_to_string(value)} not formatted correctly for base64 data")
    text = value["b64"]
    if len(text) % 4 == 0 and text.isascii():
        # The common case (what every encoder writes: standard alphabet, "=" padding, no whitespace) decodes
        # straight from the JSON string with no intermediate copies; anything else takes absl's rules below.
        try:
            return binascii.a2b_base64(text, strict_mode=True)
        except binascii.Error:
            pass
    text = _ASCII_SPACE.sub("", text)
    body = text.rstrip("=.")
    padding = len(text) - len(body)
    if (not _BASE64_BODY.fullmatch(body) or len(body) % 4 == 1
            or padding not in (0, -len(body) % 4)):
        raise InvalidArgument("Unable to base64 decode")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("Unable to base64 decode") from None


def _type_error(value: Any, dtype: int) -> InvalidArgument:
    return InvalidArgument(f"JSON Value: {value_to_string(value)} Type: {json_type_name(value)} "
                           f"is not of expected type: {dtype_name(dtype)}")


def convert_scalar(value: Any, dtype: int) -> Any:
    """One JSON leaf -> a Python value of the tensor's dtype (AddValueToTensor)."""
    if isinstance(value, dict):
        if dtype == types_pb2.DT_STRING:
            return decode_b64(value)
        raise _type_error(value, dtype)
    if dtype in _FLOATS:
        # Any JSON number, as rapidjson's GetDouble/GetFloat give it: an integer becomes the nearest double, and
        # a float tensor takes that double rounded to float (16777217 -> 16777216.0, 1e39 -> inf): no error.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(value, dtype)
        return value
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _type_error(value, dtype)
        return value
    if dtype == types_pb2.DT_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, dtype)
        return value
    if dtype == types_pb2.DT_STRING:
        if not isinstance(value, str):
            raise _type_error(value, dtype)
        return value.encode("utf-8")
    raise Unimplemented(f"Conversion of JSON Value: {value_to_string(value)} to type: {dtype_name(dtype)}")


def dense_shape(value: Any) -> list[int]:
    """Shape implied by nested lists, following first elements (GetDenseTensorShape)."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _fill(value: Any, level: int, shape: list[int], dtype: int, out: list) -> None:
    rank = len(shape)
    if not isinstance(value, list):
        if level != rank:
            raise InvalidArgument(f"JSON Value: {value_to_string(value)} found at incorrect level: {level + 1} "
                                  f"in the JSON DOM. Expected at level: {rank}")
        out.append(convert_scalar(value, dtype))
        return
    if level >= rank:
        raise InvalidArgument(f"Encountered list at unexpected level: {level} expected < {rank}")
    if len(value) != shape[level]:
        raise InvalidArgument(f"Encountered list at unexpected size: {len(value)} at level: {level} "
                              f"expected size: {shape[level]}")
    for item in value:
        _fill(item, level + 1, shape, dtype, out)


def _whole_numeric(value: list, shape: list[int], dtype: int) -> np.ndarray | None:
    """The common case converted in C: a rectangular nest of plain JSON numbers for a number tensor (pixels).

    None when anything is unusual (another leaf type, a ragged or mis-nested list, a value out of range), so that
    the value-by-value walk finds it and says it in TF Serving's words.
    """
    if (dtype not in _FLOATS and dtype not in _INT_RANGES) or not shape or 0 in shape:
        return None
    leaves: Any = value
    try:
        for _ in range(len(shape) - 1):
            leaves = itertools.chain.from_iterable(leaves)
        kinds = set(map(type, leaves))
    except TypeError:  # a number where a list should be
        return None
    if not kinds <= ({int, float} if dtype in _FLOATS else {int}):  # bool is its own type: never taken here
        return None
    try:
        array = np.asarray(value, dtype=np.float64 if dtype in _FLOATS else np.int64)
    except (ValueError, OverflowError):  # ragged, or an integer past int64 / a double's range
        return None
    if list(array.shape) != shape:
        return None
    if dtype in _INT_RANGES:
        low, high = _INT_RANGES[dtype]
        if array.min() < low or array.max() > high:
            return None
    return _numeric_array(array, dtype)


def _numeric_array(flat: list | np.ndarray, dtype: int) -> np.ndarray:
    """Converted leaves -> numpy, with TF Serving's conversions: integers go through double for float tensors, and
    INT8/INT16/UINT8 take the int32 values narrowed as Tensor::FromProto narrows them."""
    np_dtype = DTYPES[dtype][0]
    if dtype in _FLOATS:
        try:
            doubles = np.asarray(flat, dtype=np.float64)
        except OverflowError:  # an integer literal past a double's range: rapidjson refuses it while parsing
            raise InvalidArgument(TOO_BIG_FOR_DOUBLE) from None
        if np_dtype is np.float64:
            return doubles
        with np.errstate(over="ignore"):
            return doubles.astype(np.float32)
    if dtype in _NARROWED:
        return np.asarray(flat, dtype=np.int32).astype(np_dtype)
    return np.asarray(flat, dtype=np_dtype)


def json_to_array(value: Any, dtype: int, max_rank: int = MAX_RANK) -> np.ndarray:
    """A JSON value (scalar, b64 object or nested lists) -> a dense numpy array of the given DataType."""
    if isinstance(value, DenseNumbers):  # read by simdjson without a Python number per value
        array = value.as_array(DTYPES[dtype][0]) if dtype in DTYPES else None
        if array is not None and array.ndim <= max_rank:
            return array
        value = value.to_python()  # the per-value rules decide, and word any error
    shape = dense_shape(value)
    if len(shape) > max_rank:
        raise InvalidArgument(f"JSON value is nested {len(shape)} lists deep; a tensor has at most {max_rank} "
                              "dimensions here")
    fast = _whole_numeric(value, shape, dtype)
    if fast is not None:
        return fast
    flat: list = []
    _fill(value, 0, shape, dtype, flat)  # an unsupported dtype fails on the first leaf, as in TF Serving
    if dtype not in DTYPES:  # (no leaf at all: an empty list)
        raise Unimplemented(f"Conversion of JSON Value: {value_to_string(value)} to type: {dtype_name(dtype)}")
    np_dtype = DTYPES[dtype][0]
    if np_dtype is object:
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    return _numeric_array(flat, dtype).reshape(shape)


def _shape_text(shape) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _instances_to_arrays(instances: list, infos: Mapping[str, meta_graph_pb2.TensorInfo]) -> dict:
    if not isinstance(instances[0], dict) and len(infos) > 1:
        raise InvalidArgument("instances is a plain list, but expecting list of objects as multiple input "
                              "tensors required as per tensorinfo_map")
    is_named = lambda v: isinstance(v, dict) and not is_b64_object(v)  # noqa: E731
    named = is_named(instances[0])
    input_names = sorted(infos)
    rows: dict[str, list[np.ndarray]] = {}

    def add(item: Any, name: str) -> None:
        if name not in infos:
            raise InvalidArgument(f"JSON object: does not have named input: {name}")
        array = json_to_array(item, infos[name].dtype, MAX_RANK - 1)  # instances are stacked: one more dimension
        if rows.get(name):
            first = rows[name][0]
            if first.size != array.size:
                raise InvalidArgument(f"Expecting tensor size: {first.size} but got: {array.size}")
            if first.shape != array.shape:
                raise InvalidArgument(f"Expecting shape {_shape_text(first.shape)} but got: "
                                      f"{_shape_text(array.shape)}")
        rows.setdefault(name, []).append(array)

    for index, element in enumerate(instances):
        if named:
            if not is_named(element):
                raise InvalidArgument(f"Expecting object but got list at item {index} of input list")
            for name, item in element.items():
                try:
                    add(item, name)
                except ServingError as exc:  # wrapped as INVALID_ARGUMENT whatever its own code (status.ToString())
                    raise InvalidArgument(f"Failed to process element: {index} key: {name} of 'instances' list. "
                                          f"Error: {exc.code}: {exc.message}") from None
            if sorted(element) != input_names:
                raise InvalidArgument(f"Failed to process element: {index} of 'instances' list. JSON object: "
                                      f"{value_to_string(element)} must only have keys: {','.join(input_names)}")
        else:
            if is_named(element):
                raise InvalidArgument(f"Expecting value/list but got object at item {index} of input list")
            try:
                add(element, input_names[0])
            except ServingError as exc:
                raise InvalidArgument(f"Failed to process element: {index} of 'instances' list. "
                                      f"Error: {exc.code}: {exc.message}") from None
    return {name: np.stack(arrays) for name, arrays in rows.items()}


def _inputs_to_arrays(inputs: Any, infos: Mapping[str, meta_graph_pb2.TensorInfo]) -> dict:
    if not isinstance(inputs, dict) or is_b64_object(inputs):
        if len(infos) > 1:
            raise InvalidArgument("inputs is a plain value/list, but expecting an object as multiple input "
                                  "tensors required as per tensorinfo_map")
        name = next(iter(infos))
        return {name: json_to_array(inputs, infos[name].dtype)}
    arrays = {}
    for name in sorted(infos):
        if name not in inputs:
            raise InvalidArgument(f"Missing named input: {name} in 'inputs' object.")
        arrays[name] = json_to_array(inputs[name], infos[name].dtype)
    return arrays


def decode_predict_request(doc: dict, infos: Mapping[str, meta_graph_pb2.TensorInfo],
                           signature_name: str) -> tuple[dict[str, np.ndarray], str]:
    """The request's input tensors (keyed by signature input name) and its format (ROW or COLUMNAR)."""
    if not infos:
        raise InvalidArgument(f"Failed to get input map for signature: {signature_name or 'DEFAULT'}")
    has_instances, has_inputs = "instances" in doc, "inputs" in doc
    if has_instances and has_inputs:
        raise InvalidArgument(f"JSON Value: {value_to_string(doc)} Not formatted correctly expecting only one of "
                              "'inputs' or 'instances' keys to exist ")
    if has_instances:
        instances = doc["instances"]
        if not isinstance(instances, list):
            raise InvalidArgument(f"JSON Value: {value_to_string(doc)} Excepting 'instances' to be an list/array")
        if not instances:
            raise InvalidArgument(f"JSON Value: {value_to_string(doc)} No values in 'instances' array")
        arrays, request_format = _instances_to_arrays(instances, infos), ROW
    elif has_inputs:
        arrays, request_format = _inputs_to_arrays(doc["inputs"], infos), COLUMNAR
    else:
        raise InvalidArgument("Missing 'inputs' or 'instances' key")
    # Shapes are TensorFlow's business, as in TF Serving: the model run reports a tensor it cannot take.
    return arrays, request_format

