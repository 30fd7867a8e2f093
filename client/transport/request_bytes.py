"""A PredictRequest for one batch of numeric instances, serialized around the instances' own buffers.

protobuf's Python messages copy a `bytes` field at each step: the batch into `tensor_content`, the tensor into the
request, the request into its serialized string. For a batch of pixels (9.6 MB for 16 images of 224×224×3 float32)
those copies cost the client more than its image decoding. Here protobuf serializes the small parts (the model
spec, the tensor's dtype and shape) and the one large field is framed as protobuf's wire format frames every
length-delimited field (field key, varint length, bytes), so the instances' bytes are copied once, by a single join.
The result equals protobuf's own SerializeToString of the same request, byte for byte (tests/client/
test_grpc_request_bytes.py). Needs protobuf (the `grpc` extra), not TensorFlow.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from client.transport import tfs_pb2 as pb
from client.transport.tensors import NUMPY_DTYPES

__all__ = ["predict_request_bytes", "FRAMED_DTYPES"]

# Field numbers from tfs.proto (TF Serving's): PredictRequest.inputs = 2, its map entry's key = 1 and value = 2,
# TensorProto.tensor_content = 4; every one length-delimited (wire type 2).
_INPUTS, _ENTRY_KEY, _ENTRY_VALUE, _TENSOR_CONTENT = 2, 1, 2, 4
# dtypes whose numpy form is their wire form (bfloat16 needs rounding: client.transport.tensors does that).
FRAMED_DTYPES = frozenset(name for name in NUMPY_DTYPES if name != "DT_BFLOAT16")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _key(field: int) -> bytes:
    return _varint(field << 3 | 2)  # wire type 2: length-delimited


def predict_request_bytes(spec: pb.ModelSpec, input_name: str, instances: Sequence[np.ndarray],
                          dtype: str) -> bytes:
    """The serialized PredictRequest whose only input `input_name` is the instances stacked along a new first
    dimension, as `dtype` (one of FRAMED_DTYPES) in tensor_content. ValueError for instances of unequal shapes,
    none at all, or a dtype outside FRAMED_DTYPES."""
    if dtype not in FRAMED_DTYPES:
        raise ValueError(f"cannot frame {dtype} values")
    if not instances:
        raise ValueError("no instances to send")
    wire = np.dtype(NUMPY_DTYPES[dtype][0])
    arrays = [np.asarray(instance, dtype=wire, order="C") for instance in instances]  # no copy when already so
    shape = arrays[0].shape
    if any(array.shape != shape for array in arrays):
        raise ValueError(f"instances of unequal shapes: {sorted({str(list(a.shape)) for a in arrays})}")
    tensor_head = pb.TensorProto(dtype=pb.DataType.Value(dtype), tensor_shape=pb.TensorShapeProto(
        dim=[pb.TensorShapeProto.Dim(size=size) for size in (len(arrays), *shape)])).SerializeToString()
    content_length = sum(array.nbytes for array in arrays)
    content_head = _key(_TENSOR_CONTENT) + _varint(content_length) if content_length else b""
    tensor_length = len(tensor_head) + len(content_head) + content_length
    name = input_name.encode("utf-8")
    entry_head = _key(_ENTRY_KEY) + _varint(len(name)) + name + _key(_ENTRY_VALUE) + _varint(tensor_length)
    entry_length = len(entry_head) + tensor_length
    spec_part = pb.PredictRequest(model_spec=spec).SerializeToString()
    return b"".join([spec_part, _key(_INPUTS), _varint(entry_length), entry_head, tensor_head, content_head,
                     *(memoryview(array.reshape(-1)).cast("B") for array in arrays if array.nbytes)])
