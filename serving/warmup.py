"""Model warmup (`--enable_model_warmup`, default true), as TF Serving does it.

Before a version turns AVAILABLE, the requests in `<version>/assets.extra/tf_serving_warmup_requests` (a TFRecord
file of PredictionLog protos) are replayed against it, so the first real request does not pay for TensorFlow's
lazy initialisation (graph optimisation, kernel and oneDNN primitive creation per shape). A warmup file that
cannot be read or replayed fails the load, as in TF Serving; at most 1000 records are allowed.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import input_pb2, prediction_log_pb2

from serving.errors import InvalidArgument
from serving.loader import DEFAULT_SIGNATURE, LoadedVersion, load_version

log = logging.getLogger("serving.warmup")

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
MAX_WARMUP_RECORDS = 1000


def _examples(request_input: input_pb2.Input) -> np.ndarray:
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = list(request_input.example_list.examples)
    elif kind == "example_list_with_context":
        context = request_input.example_list_with_context.context
        examples = []
        for example in request_input.example_list_with_context.examples:
            merged = type(context)()
            merged.CopyFrom(context)
            merged.MergeFrom(example)
            examples.append(merged)
    else:
        raise InvalidArgument("warmup classify/regress request has no examples")
    serialized = np.empty(len(examples), dtype=object)
    serialized[:] = [e.SerializeToString(deterministic=True) for e in examples]
    return serialized


def _replay(servable: LoadedVersion, record: prediction_log_pb2.PredictionLog) -> None:
    kind = record.WhichOneof("log_type")
    if kind == "predict_log":
        request = record.predict_log.request
        inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        servable.run(request.model_spec.signature_name or DEFAULT_SIGNATURE, inputs)
    elif kind in ("classify_log", "regress_log"):
        request = getattr(record, kind).request
        signature_name = request.model_spec.signature_name or DEFAULT_SIGNATURE
        signature = servable.signature(signature_name)
        servable.run(signature_name, {next(iter(signature.inputs)): _examples(request.input)})
    else:
        raise InvalidArgument(f"Unsupported log_type for warmup: {kind}")


def warm_up(servable: LoadedVersion, iterations: int = 1) -> int:
    """Replay the version's warmup records (each `iterations` times); returns how many records there were."""
    path = servable.path / WARMUP_FILE
    if not path.is_file():
        return 0
    count = 0
    for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator():
        count += 1
        if count > MAX_WARMUP_RECORDS:
            raise InvalidArgument(f"Number of warmup records exceeds the maximum ({MAX_WARMUP_RECORDS}) at {path}")
        record = prediction_log_pb2.PredictionLog.FromString(raw)
        for _ in range(iterations):
            _replay(servable, record)
    log.info("warmed up {name: %s version: %d} with %d records from %s", servable.name, servable.version, count,
             path)
    return count


def load_and_warm_up(name: str, version: int, export_dir: Path, *, warmup: bool = True) -> LoadedVersion:
    """The repository's loader: load the version, then (unless disabled) replay its warmup records."""
    servable = load_version(name, version, export_dir)
    if warmup:
        warm_up(servable)
    return servable
