"""A fake TF Serving gRPC server for the client's gRPC tests: TF Serving's own servicers and messages
(tensorflow_serving.apis) around a scriptable table of versions and labels, on a free loopback port. The logic under
test is the client's; the fake only answers as TF Serving does (its status codes and texts)."""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent import futures
from typing import Any, Callable, Iterable, Mapping

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow_serving.apis import (get_model_metadata_pb2, get_model_status_pb2, model_service_pb2_grpc,
                                     predict_pb2, prediction_service_pb2_grpc)

from tests.support import BAD_MARK, FAKE_LABELS, fake_metadata, fake_prediction

Predict = Callable[[Mapping[str, np.ndarray]], Mapping[str, np.ndarray]]


def encoded_predict(inputs: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    """The fake pets model: probabilities from the solid test image's colour; a marked image fails the batch."""
    images = [bytes(image) for image in inputs["image_bytes"]]
    if any(BAD_MARK.encode() in image for image in images):
        raise ValueError("marked instance in batch")
    rows = [fake_prediction(image) for image in images]
    return {"probabilities": np.array([row["probabilities"] for row in rows], dtype=np.float32),
            "classes": np.array([[c.encode() for c in FAKE_LABELS]] * len(rows), dtype=object)}


class Abort(Exception):
    """Raised by a script entry: the call fails with this gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code, self.details = code, details


class FakeGrpcServing:
    """One model with `versions` (all AVAILABLE), `labels` (label -> version) and one signature map per version.

    `fail(method, code, details, times)` makes the next `times` calls of a method ("Predict", "GetModelMetadata",
    "GetModelStatus") fail with that status; `delay` makes every call wait that long first. `calls` records
    (method, model, version or None, label or None, signature_name) per call; `requests` keeps each PredictRequest.
    """

    def __init__(self, *, model: str = "pets", versions: Iterable[int] = (1,), labels: Mapping[str, int] | None = None,
                 metadata: Callable[..., dict] = fake_metadata, predict: Predict = encoded_predict,
                 max_receive_bytes: int | None = None) -> None:
        self.model = model
        self.versions = set(versions)
        self.labels = dict(labels or {})
        self.metadata = metadata
        self.predict = predict
        self.delay = 0.0
        self.calls: list[tuple[str, str, int | None, str | None, str]] = []
        self.requests: list[predict_pb2.PredictRequest] = []
        self.after_predicts: Callable[[int], None] | None = None  # called with the count of predicts answered
        self._script: deque[tuple[str, grpc.StatusCode, str]] = deque()
        self._lock = threading.Lock()
        options = [] if max_receive_bytes is None else [("grpc.max_receive_message_length", max_receive_bytes)]
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Prediction(self), self.server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(_Models(self), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.address = f"grpc://127.0.0.1:{self.port}"
        self.answered = 0

    def start(self) -> "FakeGrpcServing":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=None)

    def fail(self, method: str, code: grpc.StatusCode, details: str, times: int = 1) -> None:
        with self._lock:
            self._script.extend([(method, code, details)] * times)

    def count(self, method: str) -> int:
        return sum(call[0] == method for call in self.calls)

    # -- what every call does first ----------------------------------------------------------------------------
    def enter(self, method: str, spec: Any, context: grpc.ServicerContext) -> int | None:
        """Record the call, apply the script, and resolve the spec to a version as TF Serving does (aborting with
        its status and text otherwise). GetModelStatus without a version resolves nothing (None)."""
        version = spec.version.value if spec.HasField("version") else None
        label = spec.version_label if spec.HasField("version_label") else None
        with self._lock:
            self.calls.append((method, spec.name, version, label, spec.signature_name))
            scripted = self._script[0] if self._script and self._script[0][0] == method else None
            if scripted:
                self._script.popleft()
        if self.delay:
            time.sleep(self.delay)
        if scripted:
            context.abort(scripted[1], scripted[2])
        if method == "GetModelStatus" and spec.name != self.model:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Could not find any versions of model {spec.name}")
        if spec.name != self.model:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
        if method == "GetModelStatus" and version is None:
            return None
        if label is not None:
            if label not in self.labels:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"Unrecognized servable version label: {label}")
            version = self.labels[label]
        if version is None:
            if not self.versions:
                context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({spec.name})")
            return max(self.versions)
        if version not in self.versions:
            context.abort(grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Specific({spec.name}, "
                                                     f"{version})")
        return version


class _Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, fake: FakeGrpcServing) -> None:
        self.fake = fake

    def Predict(self, request, context):  # noqa: N802 - gRPC's method name
        version = self.fake.enter("Predict", request.model_spec, context)
        self.fake.requests.append(request)
        inputs = {name: tf.make_ndarray(tensor) for name, tensor in request.inputs.items()}
        try:
            outputs = self.fake.predict(inputs)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.fake.model
        response.model_spec.version.value = version
        response.model_spec.signature_name = request.model_spec.signature_name or "serving_default"
        for name, values in outputs.items():
            response.outputs[name].CopyFrom(tf.make_tensor_proto(values))
        with self.fake._lock:
            self.fake.answered += 1
            answered = self.fake.answered
        if self.fake.after_predicts is not None:
            self.fake.after_predicts(answered)
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        version = self.fake.enter("GetModelMetadata", request.model_spec, context)
        body = self.fake.metadata(model=self.fake.model, version=version)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        json_format.ParseDict(body["metadata"]["signature_def"], signatures)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.fake.model
        response.model_spec.version.value = version
        response.metadata["signature_def"].Pack(signatures)
        return response


class _Models(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, fake: FakeGrpcServing) -> None:
        self.fake = fake

    def GetModelStatus(self, request, context):  # noqa: N802
        spec = request.model_spec
        self.fake.enter("GetModelStatus", spec, context)
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(self.fake.versions):
            if spec.HasField("version") and version != spec.version.value:
                continue
            entry = response.model_version_status.add(version=version)
            entry.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response
