"""Model warmup: records in assets.extra are replayed before a version turns AVAILABLE; bad ones fail the load."""
from __future__ import annotations

import functools
import shutil

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2, regression_pb2
from tensorflow_serving.config import model_server_config_pb2

from serving.loader import load_version
from serving.repository import ModelRepository
from serving.warmup import WARMUP_FILE, load_and_warm_up, warm_up


def predict_log(values, dtype=np.float32) -> prediction_log_pb2.PredictionLog:
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "serving_default"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.array(values, dtype)))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))


def regress_log(x: float) -> prediction_log_pb2.PredictionLog:
    request = regression_pb2.RegressionRequest()
    request.model_spec.signature_name = "regress_x_to_y"
    example = example_pb2.Example()
    example.features.feature["x"].float_list.value.append(x)
    request.input.example_list.examples.append(example)
    return prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=request))


def write_records(version_dir, records) -> None:
    path = version_dir / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record if isinstance(record, bytes) else record.SerializeToString())


class CountingRuns:
    """The real loader (and warmup), with every model run recorded: we see the warmup happen before AVAILABLE."""

    def __init__(self):
        self.runs: list[str] = []

    def __call__(self, name, version, path, *, warmup=True):
        servable = load_version(name, version, path)
        real_run = servable.run

        def recording_run(signature, inputs):
            self.runs.append(signature)
            return real_run(signature, inputs)

        servable.run = recording_run
        if warmup:
            warm_up(servable)
        return servable


def repository(base, loader) -> ModelRepository:
    repo = ModelRepository(loader=loader)
    repo.apply_config([text_format.Parse(f'name: "m" base_path: "{base}" model_version_policy {{ all {{}} }}',
                                         model_server_config_pb2.ModelConfig())])
    repo.reconcile()
    return repo


def test_warmup_records_are_replayed_before_available(test_models, tmp_path):
    base = tmp_path / "m"
    shutil.copytree(test_models / "half_plus_two" / "1", base / "1")
    write_records(base / "1", [predict_log([1.0, 2.0]), regress_log(3.0), predict_log([[4.0]])])
    counting = CountingRuns()
    repo = repository(base, counting)
    assert [(s.version, s.state) for s in repo.version_states("m")] == [(1, "AVAILABLE")]
    assert counting.runs == ["serving_default", "regress_x_to_y", "serving_default"]
    counting.runs.clear()
    repo = repository(base, functools.partial(counting, warmup=False))  # --enable_model_warmup=false
    assert counting.runs == [] and repo.resolve("m").version == 1


def test_a_warmup_file_that_cannot_be_replayed_fails_the_load(test_models, tmp_path):
    base = tmp_path / "m"
    for version, records in ((1, [b"\x01not a PredictionLog"]), (2, [predict_log([b"text"], object)])):
        shutil.copytree(test_models / "half_plus_two" / "1", base / str(version))
        write_records(base / str(version), records)
    repo = repository(base, load_and_warm_up)
    states = {s.version: (s.state, s.error_code, s.error_message) for s in repo.version_states("m")}
    assert states[1][:2] == ("END", "UNKNOWN") and "Error parsing message" in states[1][2]  # not a PredictionLog
    assert states[2][:2] == ("END", "INVALID_ARGUMENT")  # TensorFlow refuses a string for x
