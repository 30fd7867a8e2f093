"""TensorProto <-> numpy for the gRPC API.

In: what TensorFlow's Tensor::FromProto accepts, as TF Serving feeds it. `tensor_content` (raw little-endian
bytes, the fast path: one buffer view, no per-value work) or the typed `*_val` fields (fewer values than the
shape holds repeat the last one; none at all means zeros); DT_STRING through `string_val`. Anything else (an
unknown or negative dimension, a byte count that does not fit the shape, more values than the shape holds, an
unsupported dtype) is refused as TF Serving refuses it: `tensor parsing error: <input alias>`.

Out: numeric tensors as `tensor_content` (TF Serving's `--enable_serialization_as_tensor_content`) or, when that
is off, in the typed fields as TF Serving writes them by default (Tensor::AsProtoField); strings in `string_val`.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2, types_pb2

from serving.errors import InvalidArgument

# numpy dtype -> the TensorProto field AsProtoField writes (float16/bfloat16 go to half_val as their bits).
_FIELD_BY_DTYPE = {
    np.dtype(np.float32): "float_val", np.dtype(np.float64): "double_val",
    np.dtype(np.int32): "int_val", np.dtype(np.int16): "int_val", np.dtype(np.int8): "int_val",
    np.dtype(np.uint8): "int_val", np.dtype(np.uint16): "int_val",
    np.dtype(np.int64): "int64_val", np.dtype(np.uint32): "uint32_val", np.dtype(np.uint64): "uint64_val",
    np.dtype(np.bool_): "bool_val",
    np.dtype(np.float16): "half_val", np.dtype(tf.bfloat16.as_numpy_dtype): "half_val",  # as uint16 bits
    np.dtype(np.complex64): "scomplex_val", np.dtype(np.complex128): "dcomplex_val",  # real, imag, real, ...
}


def _shape(proto: tensor_pb2.TensorProto) -> list[int]:
    if proto.tensor_shape.unknown_rank:
        raise ValueError("a tensor's shape must have a known rank")
    shape = [dim.size for dim in proto.tensor_shape.dim]
    if any(size < 0 for size in shape):
        raise ValueError("a tensor's dimensions must be known (>= 0)")
    return shape


def _to_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    shape = _shape(proto)
    dtype = tf.dtypes.as_dtype(proto.dtype)  # TypeError for DT_INVALID and unknown enum values
    if dtype.base_dtype != dtype or dtype in (tf.resource, tf.variant):
        raise TypeError(f"unsupported tensor dtype {dtype.name}")
    content = proto.tensor_content  # read once: each read of a bytes field copies it out of the message
    if content:
        if dtype == tf.string:
            raise ValueError("string tensors travel in string_val")
        np_dtype = np.dtype(dtype.as_numpy_dtype)
        count = int(np.prod(shape, dtype=np.int64))
        if len(content) != count * np_dtype.itemsize:
            raise ValueError("tensor_content does not hold the shape's number of elements")
        # A read-only view of those bytes: no further copy until the model run needs one.
        return np.frombuffer(content, dtype=np_dtype).reshape(shape)
    return tf.make_ndarray(proto)  # typed fields, with Tensor::FromProto's fill rules


def proto_to_array(proto: tensor_pb2.TensorProto, alias: str) -> np.ndarray:
    """A request tensor as numpy; InvalidArgument `tensor parsing error: <alias>` when TensorFlow would refuse it."""
    try:
        return _to_array(proto)
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgument(f"tensor parsing error: {alias}") from None


def array_to_proto(value, *, tensor_content: bool = True) -> tensor_pb2.TensorProto:
    """A model output as a TensorProto: strings in string_val, numbers as tensor_content or typed fields."""
    array = np.asarray(value)
    proto = tensor_pb2.TensorProto()
    for size in array.shape:
        proto.tensor_shape.dim.add().size = size
    if array.dtype == object or array.dtype.kind in "SU":
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(item if isinstance(item, bytes) else str(item).encode("utf-8")
                                for item in array.ravel())
        return proto
    proto.dtype = tf.dtypes.as_dtype(array.dtype).as_datatype_enum
    field = None if tensor_content else _FIELD_BY_DTYPE.get(array.dtype)
    if field is None:  # (types without a typed field, e.g. float8, always travel as tensor_content)
        proto.tensor_content = np.ascontiguousarray(array).tobytes()
        return proto
    flat = np.ascontiguousarray(array).ravel()
    if field == "half_val":
        flat = flat.view(np.uint16)
    elif field in ("scomplex_val", "dcomplex_val"):
        flat = flat.view(flat.real.dtype)
    getattr(proto, field).extend(flat.tolist())
    return proto
