"""client/transport/tfs.proto against TensorFlow Serving's own messages: the committed generated modules are what
the pinned generator writes, the bytes on the wire are interchangeable field by field with tensorflow_serving.apis',
both sets of descriptors live in one process, and the oldest grpcio and protobuf the `grpc` extra declares run the
client. Slow: TensorFlow's protos load TensorFlow, and the pinned tools are installed with pip."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from google.protobuf import json_format

from client.transport import tfs_pb2 as ours
from client.transport.grpc import SIGNATURE_DEF_MAP_TYPE, metadata_json
from tests.support import ROOT, png_bytes

pytestmark = pytest.mark.slow
predict_pb2 = pytest.importorskip("tensorflow_serving.apis.predict_pb2", reason="needs the serving extra")
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))
import protos  # noqa: E402  (scripts/protos.py: the pinned generator)


def _dict(message) -> dict:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def official_request() -> "predict_pb2.PredictRequest":
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "pets"
    request.model_spec.version.value = 2
    request.model_spec.signature_name = "predict_images"
    request.output_filter.append("probabilities")
    pixels = request.inputs["images"]
    pixels.dtype = 1
    for size in (2, 4, 4, 3):
        pixels.tensor_shape.dim.add(size=size)
    pixels.tensor_content = np.linspace(-1, 1, 96, dtype="<f4").tobytes()
    images = request.inputs["image_bytes"]
    images.dtype = 7
    images.tensor_shape.dim.add(size=2)
    images.string_val.extend([png_bytes((1, 2, 3)), b"\x00\xff"])
    halves = request.inputs["h"]
    halves.dtype = 19
    halves.half_val.extend([15360, 0, 65535])
    numbers = request.inputs["n"]
    numbers.dtype = 9
    numbers.int64_val.extend([-1, 2 ** 62])
    numbers.version_number = 3
    return request


def test_a_predict_request_is_the_same_bytes_and_fields_both_ways():
    official = official_request()
    wire = official.SerializeToString(deterministic=True)
    mine = ours.PredictRequest.FromString(wire)
    assert mine.SerializeToString(deterministic=True) == wire
    assert _dict(mine) == _dict(official)
    assert mine.model_spec.version.value == 2 and mine.inputs["images"].tensor_content == \
        official.inputs["images"].tensor_content
    back = predict_pb2.PredictRequest.FromString(mine.SerializeToString())
    assert back == official


def test_a_label_and_the_answers_messages_read_the_same_both_ways():
    spec = ours.ModelSpec(name="pets", version_label="canary")
    official_spec = predict_pb2.PredictRequest.FromString(ours.PredictRequest(model_spec=spec).SerializeToString())
    assert official_spec.model_spec.WhichOneof("version_choice") == "version_label"
    assert official_spec.model_spec.version_label == "canary"
    status = get_model_status_pb2.GetModelStatusResponse()
    entry = status.model_version_status.add(version=2, state=get_model_status_pb2.ModelVersionStatus.LOADING)
    entry.status.error_code = 13
    entry.status.error_message = "Loading failed"
    mine = ours.GetModelStatusResponse.FromString(status.SerializeToString())
    assert _dict(mine) == _dict(status) == {"model_version_status": [
        {"version": "2", "state": "LOADING", "status": {"error_code": "INTERNAL", "error_message": "Loading failed"}}]}
    answer = predict_pb2.PredictResponse()
    answer.model_spec.name = "pets"
    answer.outputs["probabilities"].dtype = 1
    answer.outputs["probabilities"].float_val.extend([0.25, 0.75])
    assert _dict(ours.PredictResponse.FromString(answer.SerializeToString())) == _dict(answer)


def test_metadata_is_read_from_the_any_by_its_type_url():
    signatures = get_model_metadata_pb2.SignatureDefMap()
    signature = signatures.signature_def["serving_default"]
    signature.method_name = "tensorflow/serving/predict"
    signature.inputs["image_bytes"].name = "image_bytes:0"
    signature.inputs["image_bytes"].dtype = 7
    signature.inputs["image_bytes"].tensor_shape.dim.add(size=-1)
    answer = get_model_metadata_pb2.GetModelMetadataResponse()
    answer.model_spec.name = "pets"
    answer.model_spec.version.value = 1
    answer.metadata["signature_def"].Pack(signatures)
    assert answer.metadata["signature_def"].type_url == SIGNATURE_DEF_MAP_TYPE
    mine = ours.GetModelMetadataResponse.FromString(answer.SerializeToString())
    assert metadata_json(mine) == {
        "model_spec": {"name": "pets", "version": "1", "signature_name": ""},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"image_bytes": {"name": "image_bytes:0", "dtype": "DT_STRING",
                                       "tensor_shape": {"dim": [{"size": "-1", "name": ""}], "unknown_rank": False}}},
            "outputs": {}, "method_name": "tensorflow/serving/predict", "defaults": {}}}}}}


def test_the_private_package_lives_beside_tensorflows_descriptors():
    assert ours.DESCRIPTOR.package == "servescope.tfs"
    assert predict_pb2.DESCRIPTOR.package == "tensorflow.serving"
    assert ours.PredictRequest.DESCRIPTOR.full_name != predict_pb2.PredictRequest.DESCRIPTOR.full_name


@pytest.fixture(scope="module")
def pinned_tools(tmp_path_factory) -> Path:
    """scripts/protos.py's TOOLS (grpcio-tools, and the oldest grpcio and protobuf the grpc extra declares),
    installed with pip into a folder of their own."""
    tools = tmp_path_factory.mktemp("proto-tools")
    protos.install_tools(tools)
    return tools


def test_the_committed_modules_are_what_the_pinned_generator_writes(pinned_tools, tmp_path):
    protos.generate(tmp_path, pinned_tools)
    for name in protos.GENERATED:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes(), f"{name} is stale: run `make protos`"


OLDEST_CLIENT = """
import grpc, google.protobuf, sys
print("runtimes", grpc.__version__, google.protobuf.__version__)
from client import TFServingClient
with TFServingClient(sys.argv[1], "pets", timeout=10) as tfs:
    print("status", [(s.version, s.state) for s in tfs.status()])
    print("metadata", sorted(tfs.metadata(version=1).default.inputs))
    print("raw", tfs.raw_answer())
    for result in tfs.classify([("cat.png", bytes.fromhex(sys.argv[2]))]):
        print("result", result.label, result.version, result.error)
"""


def test_the_oldest_declared_grpcio_and_protobuf_run_the_client(pinned_tools):
    grpc_fake = pytest.importorskip("tests.client.grpc_fake")
    fake = grpc_fake.FakeGrpcServing().start()
    try:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(pinned_tools), str(ROOT)]))
        result = subprocess.run([sys.executable, "-c", OLDEST_CLIENT, fake.address, png_bytes((250, 5, 5)).hex()],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    finally:
        fake.stop()
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == [
        "runtimes 1.64.3 5.26.1", "status [(1, 'AVAILABLE')]", "metadata ['image_bytes']",
        "raw {'model_version_status': [{'version': '1', 'state': 'AVAILABLE'}]}", "result cat 1 None"]
