"""TF Serving's own gRPC expectations, on models built like its testdata, with the official stubs as client.

The requests and expected answers are those of tensorflow/serving's `tensorflow_model_server_test.py` and
`tensorflow_model_server_test_base.py` (VerifyPredictRequest, _VerifyModelSpec, WaitForServerReady): the TF1
`saved_model_half_plus_two_cpu` served as `default`, `half_plus_three`, the native TF2 half_plus_two
(`saved_model_half_plus_two_tf2_cpu`, rebuilt from its `HalfPlusTwoModel`), and the two-version model with its
label. The server runs with TF Serving's defaults for these tests: Predict answers in the typed fields
(`--enable_serialization_as_tensor_content=false`), and testGoodGrpcChannelArgs' channel arguments.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import requests
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    inference_pb2,
    predict_pb2,
    regression_pb2,
)

from tests.serving.grpc_support import RPC_TIMEOUT, failure, outputs_of, predict_request, rest_and_grpc_server
from tests.serving.model_builders import build_tf_serving_testdata
from tests.serving.test_tf_serving_testdata import HALF_PLUS_TWO_METADATA, TWO_VERSIONS

pytestmark = pytest.mark.slow   # the module starts the embedded server with TensorFlow models

VERSION = 123


class HalfPlusTwoTf2(tf.Module):
    """saved_model_half_plus_two.py's native TF2 HalfPlusTwoModel (its signatures all say method 'predict')."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = tf.Variable(0.5, name="a"), tf.Variable(2.0, name="b"), tf.Variable(3.0, name="c")

    @staticmethod
    def _x(serialized):
        spec = {"x": tf.io.FixedLenFeature([1], tf.float32),
                "x2": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0])}
        return tf.io.parse_example(serialized, spec)["x"]

    @tf.function(input_signature=[tf.TensorSpec(shape=[1], dtype=tf.float32)])
    def predict(self, x):
        return {"y": self.a * x + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress_xy(self, serialized):
        return {"outputs": self.a * self._x(serialized) + self.b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def regress_xy2(self, serialized):
        return {"outputs": self.a * self._x(serialized) + self.c}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def classify_xy(self, serialized):
        return {"scores": self.a * self._x(serialized) + self.b}


def build_half_plus_two_tf2(export_dir: Path) -> None:
    model = HalfPlusTwoTf2()
    tf.saved_model.save(model, str(export_dir), signatures={
        "serving_default": model.predict, "regress_x_to_y": model.regress_xy, "regress_x_to_y2": model.regress_xy2,
        "classify_x_to_y": model.classify_xy})


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    root = build_tf_serving_testdata(tmp_path_factory.mktemp("tf-serving-testdata"))
    build_half_plus_two_tf2(root / "saved_model_half_plus_two_tf2_cpu" / "00000123")
    config = root / "models.config"
    config.write_text(f"""model_config_list {{
  config {{ name: "{TWO_VERSIONS}" base_path: "{root / TWO_VERSIONS}" model_platform: "tensorflow"
           model_version_policy {{ specific {{ versions: 123 }} }}
           version_labels {{ key: "Version_Label" value: 123 }} }}
  config {{ name: "default" base_path: "{root / 'saved_model_half_plus_two_cpu'}" model_platform: "tensorflow" }}
  config {{ name: "half_plus_three" base_path: "{root / 'saved_model_half_plus_three'}" }}
  config {{ name: "tf2" base_path: "{root / 'saved_model_half_plus_two_tf2_cpu'}" }}
}}
""")
    args = [f"--model_config_file={config}", "--enable_serialization_as_tensor_content=false",
            "--grpc_channel_arguments=grpc.max_connection_age_ms=2000,grpc.lb_policy_name=grpclb"]
    with rest_and_grpc_server(args, wait_for_models={"default": 1, TWO_VERSIONS: 1, "half_plus_three": 1,
                                                     "tf2": 1}) as running:
        yield running


def verify_model_spec(actual, name: str, signature_name: str, version: int = VERSION) -> None:
    """_VerifyModelSpec."""
    assert (actual.name, actual.signature_name, actual.version.value) == (name, signature_name, version)


@pytest.mark.parametrize("model, expected", [("default", 3.0), ("half_plus_three", 4.0), ("tf2", 3.0)])
@pytest.mark.parametrize("specify_output", [True, False])
def test_verify_predict_request(servers, model, expected, specify_output):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].dtype = types_pb2.DT_FLOAT
    request.inputs["x"].float_val.append(2.0)
    request.inputs["x"].tensor_shape.dim.add().size = 1
    if specify_output:
        request.output_filter.append("y")
    result = servers.predictions.Predict(request, RPC_TIMEOUT)
    assert "y" in result.outputs
    assert result.outputs["y"].dtype == types_pb2.DT_FLOAT
    assert list(result.outputs["y"].float_val) == [expected]  # TF Serving's default: typed fields
    verify_model_spec(result.model_spec, model, "serving_default")


def test_wait_for_server_ready_probe_names_the_servable(servers):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "intentionally_missing_model"
    assert failure(servers.predictions.Predict, request) == (
        "NOT_FOUND", "Servable not found for request: Latest(intentionally_missing_model)")


def test_get_model_status(servers):
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "default"
    result = servers.models.GetModelStatus(request, RPC_TIMEOUT)
    assert len(result.model_version_status) == 1
    assert result.model_version_status[0].version == VERSION
    assert result.model_version_status[0].status.error_code == 0


def test_get_model_metadata(servers):
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "default"
    request.metadata_field.append("signature_def")
    result = servers.predictions.GetModelMetadata(request, RPC_TIMEOUT)
    assert (result.model_spec.name, result.model_spec.version.value) == ("default", VERSION)
    assert list(result.metadata) == ["signature_def"]
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    result.metadata["signature_def"].Unpack(signature_map)
    # The same signatures as testdata/half_plus_two_model_metadata.json, which the REST test asserts.
    assert json_format.MessageToDict(signature_map, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True) == (
        HALF_PLUS_TWO_METADATA["metadata"]["signature_def"])


def example_x(request, x: float = 2.0):
    request.input.example_list.examples.add().features.feature["x"].float_list.value.extend([x])
    return request


@pytest.mark.parametrize("model", ["default", "tf2"])
def test_classify(servers, model):
    request = example_x(classification_pb2.ClassificationRequest())
    request.model_spec.name, request.model_spec.signature_name = model, "classify_x_to_y"
    result = servers.predictions.Classify(request, RPC_TIMEOUT)
    assert len(result.result.classifications) == 1 and len(result.result.classifications[0].classes) == 1
    assert result.result.classifications[0].classes[0].score == 3.0
    verify_model_spec(result.model_spec, model, "classify_x_to_y")


@pytest.mark.parametrize("model", ["default", "tf2"])
def test_regress(servers, model):
    request = example_x(regression_pb2.RegressionRequest())
    request.model_spec.name, request.model_spec.signature_name = model, "regress_x_to_y"
    result = servers.predictions.Regress(request, RPC_TIMEOUT)
    assert [r.value for r in result.result.regressions] == [3.0]
    verify_model_spec(result.model_spec, model, "regress_x_to_y")


@pytest.mark.parametrize("model", ["default", "tf2"])
def test_multi_inference(servers, model):
    request = example_x(inference_pb2.MultiInferenceRequest())
    for signature, method in (("regress_x_to_y", "regress"), ("classify_x_to_y", "classify")):
        task = request.tasks.add(method_name=f"tensorflow/serving/{method}")
        task.model_spec.name, task.model_spec.signature_name = model, signature
    result = servers.predictions.MultiInference(request, RPC_TIMEOUT)
    assert len(result.results) == 2
    assert result.results[0].regression_result.regressions[0].value == 3.0
    assert result.results[1].classification_result.classifications[0].classes[0].score == 3.0
    for index, signature in enumerate(("regress_x_to_y", "classify_x_to_y")):
        verify_model_spec(result.results[index].model_spec, model, signature)


def test_version_label_and_versions_outside_the_policy(servers):
    labelled = predict_request(TWO_VERSIONS, {"x": np.array([1.0, 2.0], np.float32)}, label="Version_Label")
    result = servers.predictions.Predict(labelled, RPC_TIMEOUT)
    assert (list(result.outputs["y"].float_val), result.model_spec.version.value) == ([2.5, 3.0], VERSION)
    unloaded = predict_request(TWO_VERSIONS, {"x": np.array([1.0], np.float32)}, version=124)
    assert failure(servers.predictions.Predict, unloaded) == (
        "NOT_FOUND", f"Servable not found for request: Specific({TWO_VERSIONS}, 124)")


def test_typed_field_answers_equal_rest_bit_for_bit(servers):
    x = (np.random.default_rng(7).standard_normal(64) * 1000).astype(np.float32)
    over_grpc = outputs_of(servers.predictions.Predict(predict_request("default", {"x": x}), RPC_TIMEOUT))["y"]
    reply = requests.post(f"{servers.rest}/v1/models/default:predict", json={"instances": x.tolist()}, timeout=30)
    over_rest = np.array(reply.json()["predictions"], np.float32)
    assert over_grpc.dtype == np.float32 and over_grpc.tobytes() == over_rest.tobytes()
    assert over_grpc.tobytes() == (np.float32(0.5) * x + np.float32(2.0)).tobytes()


def test_serves_on_after_max_connection_age_closes_the_connection(servers):
    # testGoodGrpcChannelArgs: grpc.max_connection_age_ms=2000 makes the server retire each connection after 2 s;
    # the channel reconnects and the next call is answered.
    request = predict_request("default", {"x": np.array([2.0], np.float32)})
    assert list(servers.predictions.Predict(request, RPC_TIMEOUT).outputs["y"].float_val) == [3.0]
    time.sleep(2.5)
    assert list(servers.predictions.Predict(request, RPC_TIMEOUT).outputs["y"].float_val) == [3.0]
