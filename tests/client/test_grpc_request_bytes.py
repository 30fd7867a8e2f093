"""client.transport.request_bytes: a batch of numeric instances framed into a PredictRequest equals protobuf's own
serialization of the same request, byte for byte, and parses back to the same tensor."""
from __future__ import annotations

import numpy as np
import pytest

from client.transport import tfs_pb2 as pb
from client.transport.request_bytes import FRAMED_DTYPES, predict_request_bytes
from client.transport.tensors import array_from_tensor, tensor_from_values


def _spec(**fields) -> pb.ModelSpec:
    spec = pb.ModelSpec(name="pets", signature_name=fields.pop("signature_name", "predict_images"))
    if "version" in fields:
        spec.version.value = fields["version"]
    if "label" in fields:
        spec.version_label = fields["label"]
    return spec


def _by_protobuf(spec: pb.ModelSpec, name: str, instances, dtype: str) -> bytes:
    request = pb.PredictRequest(model_spec=spec)
    request.inputs[name].CopyFrom(tensor_from_values(np.stack(instances), dtype))
    return request.SerializeToString()


@pytest.mark.parametrize("shape, count", [((224, 224, 3), 16), ((128, 128, 3), 1), ((3,), 200), ((), 5)])
@pytest.mark.parametrize("spec", [_spec(version=2), _spec(label="canary"), _spec(signature_name="")])
def test_the_bytes_are_protobufs_own_serialization(shape, count, spec):
    rng = np.random.default_rng(count)
    instances = [rng.random(shape, dtype=np.float32) for _ in range(count)]
    framed = predict_request_bytes(spec, "images", instances, "DT_FLOAT")
    assert framed == _by_protobuf(spec, "images", instances, "DT_FLOAT")
    tensor = pb.PredictRequest.FromString(framed).inputs["images"]
    assert np.array_equal(array_from_tensor(tensor, max_bytes=len(framed)), np.stack(instances))


@pytest.mark.parametrize("dtype", sorted(FRAMED_DTYPES))
def test_every_framed_dtype_converts_as_the_message_path_does(dtype):
    instances = [np.array([[0.0, 1.5, 200.0], [3.0, 255.0, 7.25]], dtype=np.float32)] * 3
    assert predict_request_bytes(_spec(), "x", instances, dtype) == _by_protobuf(_spec(), "x", instances, dtype)


def test_strided_instances_are_sent_in_c_order():
    base = np.arange(2 * 4 * 3, dtype=np.float32).reshape(4, 2, 3)
    strided = base.transpose(1, 0, 2)  # not C-contiguous
    framed = predict_request_bytes(_spec(), "images", [strided, strided], "DT_FLOAT")
    tensor = pb.PredictRequest.FromString(framed).inputs["images"]
    assert tensor.tensor_content == np.stack([strided, strided]).tobytes()


def test_a_name_past_127_bytes_and_content_past_two_varint_bytes_frame_correctly():
    name = "ü" * 100  # 200 UTF-8 bytes: a two-byte length
    instances = [np.zeros(70_000, dtype=np.float32)]  # 280,000 bytes: a three-byte length
    assert predict_request_bytes(_spec(), name, instances, "DT_FLOAT") == _by_protobuf(_spec(), name, instances,
                                                                                        "DT_FLOAT")


@pytest.mark.parametrize("instances, dtype, message", [
    ([np.zeros(3, np.float32), np.zeros(4, np.float32)], "DT_FLOAT", r"instances of unequal shapes: \['\[3\]', '\[4\]'\]"),
    ([], "DT_FLOAT", "no instances to send"),
    ([np.zeros(3, np.float32)], "DT_BFLOAT16", "cannot frame DT_BFLOAT16 values"),
    ([np.zeros(3, np.float32)], "DT_STRING", "cannot frame DT_STRING values"),
])
def test_what_cannot_be_framed_is_refused(instances, dtype, message):
    with pytest.raises(ValueError, match=message):
        predict_request_bytes(_spec(), "x", instances, dtype)
