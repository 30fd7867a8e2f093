"""numpy arrays <-> TF Serving's TensorProto (client.transport.tfs_pb2): numbers travel as raw little-endian bytes
(`tensor_content`), strings as `string_val`; answers are read from either form, with TensorFlow's rule that a
shorter `*_val` list repeats its last value. A tensor whose shape claims more bytes than the caller allows is refused
before anything is allocated. Needs protobuf (the `grpc` extra), not TensorFlow."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from client.transport import tfs_pb2 as pb

__all__ = ["NUMPY_DTYPES", "tensor_from_values", "array_from_tensor", "rows_from_outputs", "plain_value",
           "input_columns"]

# TF dtype name -> (numpy dtype on the wire, the TensorProto field holding values when tensor_content is empty)
NUMPY_DTYPES: Mapping[str, tuple[str, str]] = {
    "DT_FLOAT": ("<f4", "float_val"), "DT_DOUBLE": ("<f8", "double_val"), "DT_HALF": ("<f2", "half_val"),
    "DT_BFLOAT16": ("<u2", "half_val"), "DT_INT8": ("i1", "int_val"), "DT_UINT8": ("u1", "int_val"),
    "DT_INT16": ("<i2", "int_val"), "DT_UINT16": ("<u2", "int_val"), "DT_INT32": ("<i4", "int_val"),
    "DT_INT64": ("<i8", "int64_val"), "DT_UINT32": ("<u4", "uint32_val"), "DT_UINT64": ("<u8", "uint64_val"),
    "DT_BOOL": ("?", "bool_val"),
}


def _bfloat16_bits(values: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), rounded to nearest even as TensorFlow rounds."""
    bits = np.ascontiguousarray(values, dtype="<f4").view("<u4").astype(np.uint64)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2")


def _shape_proto(shape: Sequence[int]) -> pb.TensorShapeProto:
    return pb.TensorShapeProto(dim=[pb.TensorShapeProto.Dim(size=int(size)) for size in shape])


def _is_text(value: Any) -> bool:
    return isinstance(value, (bytes, bytearray, memoryview, str))


def _inferred_dtype(array: np.ndarray, from_lists: bool) -> str:
    """The TF dtype for numpy values when the signature is unknown: Python floats as DT_FLOAT (what a float input
    of TF Serving's REST API reads them as), an array's own type otherwise."""
    if from_lists and array.dtype.kind == "f":
        return "DT_FLOAT"
    for name, (wire, _) in NUMPY_DTYPES.items():
        if name != "DT_BFLOAT16" and np.dtype(wire) == array.dtype.newbyteorder("<"):
            return name
    raise TypeError(f"cannot send {array.dtype} values")


def tensor_from_values(values: Any, dtype: str | None = None) -> pb.TensorProto:
    """A TensorProto of `values` (an array, or nested lists of numbers, bytes or str) as `dtype` (e.g. "DT_FLOAT";
    None: inferred by _inferred_dtype, or DT_STRING for text). Strings go in string_val (str as UTF-8), numbers as
    tensor_content. Raises ValueError or TypeError for values that do not make such a tensor."""
    from_lists = not isinstance(values, np.ndarray)
    array = np.asarray(values, dtype=object) if from_lists else values
    if array.dtype == object:
        flat = array.reshape(-1)
        texts = flat.size > 0 and all(_is_text(v) for v in flat)
        if dtype == "DT_STRING" or (dtype is None and texts):
            if not texts and flat.size:
                raise TypeError("a DT_STRING tensor takes bytes or text only")
            strings = [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in flat]
            return pb.TensorProto(dtype=pb.DT_STRING, tensor_shape=_shape_proto(array.shape), string_val=strings)
        array = np.asarray(values)  # numbers (a ragged list raises ValueError)
    dtype = dtype or _inferred_dtype(array, from_lists)
    if dtype not in NUMPY_DTYPES:
        raise TypeError(f"cannot send values as {dtype}")
    wire = _bfloat16_bits(array) if dtype == "DT_BFLOAT16" else np.ascontiguousarray(array, NUMPY_DTYPES[dtype][0])
    return pb.TensorProto(dtype=pb.DataType.Value(dtype), tensor_shape=_shape_proto(array.shape),
                          tensor_content=wire.tobytes())


def array_from_tensor(tensor: pb.TensorProto, *, max_bytes: int) -> np.ndarray:
    """The tensor's values as a numpy array of its shape (DT_STRING: an object array of bytes; bfloat16: float32).

    Raises ValueError naming the defect (unknown dtype, content of the wrong size, a shape claiming more than
    `max_bytes` of values) and never quoting values."""
    dtype = pb.DataType.Name(tensor.dtype) if tensor.dtype in pb.DataType.values() else f"dtype {tensor.dtype}"
    shape = tuple(int(d.size) for d in tensor.tensor_shape.dim)
    if any(size < 0 for size in shape):
        raise ValueError(f"a {dtype} tensor has a negative dimension")
    count = math.prod(shape)
    if dtype == "DT_STRING":
        if count > max_bytes:
            raise ValueError(f"a DT_STRING tensor claims {count:,} values, more than the answer may hold")
        values = list(tensor.string_val)
        if len(values) > count or (count and not values):
            raise ValueError(f"a DT_STRING tensor of shape {list(shape)} has {len(values)} values")
        values += values[-1:] * (count - len(values))  # TensorFlow repeats the last value
        array = np.empty(count, dtype=object)
        array[:] = values
        return array.reshape(shape)
    if dtype not in NUMPY_DTYPES:
        raise ValueError(f"cannot read a {dtype} tensor")
    wire, field = NUMPY_DTYPES[dtype]
    if count * np.dtype(wire).itemsize > max_bytes:
        raise ValueError(f"a {dtype} tensor of shape {list(shape)} is larger than the answer may hold")
    content = tensor.tensor_content  # read once: each read of a bytes field copies it out of the message
    if content:
        if len(content) != count * np.dtype(wire).itemsize:
            raise ValueError(f"a {dtype} tensor of shape {list(shape)} has {len(content)} bytes of content")
        array = np.frombuffer(content, dtype=wire)
    else:
        listed = getattr(tensor, field)
        if len(listed) > count or (count and not listed):
            raise ValueError(f"a {dtype} tensor of shape {list(shape)} has {len(listed)} values")
        kind = "<u2" if field == "half_val" else wire  # half_val holds the 16-bit patterns in int32s
        array = np.asarray(listed, dtype=np.int64 if field == "half_val" else wire).astype(kind)
        if len(array) < count:  # TensorFlow repeats the last value
            array = np.concatenate([array, np.full(count - len(array), array[-1], dtype=array.dtype)])
        if field == "half_val" and dtype == "DT_HALF":
            array = array.view("<f2")
    if dtype == "DT_BFLOAT16":
        array = (array.astype("<u4") << 16).view("<f4")
    return array.reshape(shape)


def plain_value(value: Any) -> Any:
    """An array element or sub-array as the REST API's JSON gives it: lists of Python numbers, strings decoded
    as UTF-8 (bytes kept when they are not UTF-8)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [plain_value(v) for v in value]
        return value.tolist()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def rows_from_outputs(outputs: Mapping[str, pb.TensorProto], *, max_bytes: int) -> list[dict[str, Any]]:
    """One {output name: value} dict per instance (the first dimension of every output), values as plain_value
    gives them. ValueError for outputs without a batch dimension or of unequal batch sizes."""
    arrays = {name: array_from_tensor(tensor, max_bytes=max_bytes) for name, tensor in sorted(outputs.items())}
    lengths = {len(a) if a.ndim else None for a in arrays.values()}
    if None in lengths or len(lengths) != 1:
        shown = sorted("scalar" if n is None else str(n) for n in lengths)
        raise ValueError(f"outputs of unequal batch sizes: {shown}")
    count = lengths.pop()
    return [{name: plain_value(array[i]) for name, array in arrays.items()} for i in range(count)]


def input_columns(instances: Any, inputs: Any, input_names: list[str]) -> dict[str, Any]:
    """{input name: values with the batch first} from the REST API's row or columnar form; a bare value (no input
    names) goes to the signature's only input."""
    only = input_names[0] if len(input_names) == 1 else None
    if inputs is not None:
        if isinstance(inputs, Mapping):
            return dict(inputs)
        if only is None:
            raise ValueError("inputs without names need a signature with exactly one input")
        return {only: inputs}
    if not isinstance(instances, (list, tuple)) or not instances:
        raise ValueError("instances must be a non-empty list")
    if all(isinstance(row, Mapping) for row in instances):
        names = list(instances[0])
        if any(set(row) != set(names) for row in instances):
            raise ValueError("every instance must name the same inputs")
        return {name: [row[name] for row in instances] for name in names}
    if only is None:
        raise ValueError("instances without names need a signature with exactly one input")
    return {only: list(instances)}
