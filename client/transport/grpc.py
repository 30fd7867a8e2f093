"""TF Serving's gRPC API (port 8500): PredictionService.Predict and GetModelMetadata, ModelService.GetModelStatus.

Messages are client.transport.tfs_pb2 (a private copy of TF Serving's protos with the same field numbers, so no
TensorFlow is needed); the method paths are TF Serving's. Pixels travel as raw float bytes (`tensor_content`), encoded
images as `string_val`. Status and metadata answers are turned into the JSON TF Serving's REST API writes for them,
so client.protocol parses both transports' answers the same way.

Limits: `timeout` is each call's gRPC deadline (connect, send, answer; retries included). UNAVAILABLE is retried by
gRPC's own retry policy with exponential backoff (at most 4 retries, gRPC's cap; a server's retry pushback is
honoured). Answers are refused past `max_answer_bytes` (status, metadata) or `max_predict_answer_bytes` (predict): each
has its own channel whose receive limit is that size. Errors map through client.errors.error_for_grpc_status.
Every call made is reported to `hooks` (client.transport.grpc_calls: path, status code, sizes, time; no messages).
"""
from __future__ import annotations

import json
import re
import threading
import time
from typing import Any, Callable

import grpc
import numpy as np
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from client.answers import describe_bytes
from client.batching import SendBatch
from client.errors import (AnswerTooLargeError, InvalidArgumentError, PayloadTooLargeError, RequestTimeoutError,
                           ServerUnavailableError, TFServingError, UnexpectedAnswerError, bounded,
                           error_for_grpc_status)
from client.plan import ClassifyPlan
from client.protocol import ModelMetadata, PredictResponse, VersionStatus, check_name, check_version
from client.transport import tfs_pb2 as pb
from client.transport.base import Parsed, parsed_answer
from client.transport.grpc_calls import CallHook, GrpcCall, report
from client.transport.request_bytes import FRAMED_DTYPES, predict_request_bytes
from client.transport.tensors import input_columns, rows_from_outputs, tensor_from_values

__all__ = ["GrpcTransport", "PATHS", "SIGNATURE_DEF_MAP_TYPE", "MAX_RETRIES"]

PATHS = {"predict": "/tensorflow.serving.PredictionService/Predict",
         "metadata": "/tensorflow.serving.PredictionService/GetModelMetadata",
         "status": "/tensorflow.serving.ModelService/GetModelStatus"}
SIGNATURE_DEF_MAP_TYPE = "type.googleapis.com/tensorflow.serving.SignatureDefMap"
MAX_RETRIES = 4  # gRPC caps a retry policy at 5 attempts
_SERVICES = ("tensorflow.serving.PredictionService", "tensorflow.serving.ModelService")
# "Received message larger than max (5000000 vs. 4194304)": the receiving side's limit, on either side.
_TOO_LARGE = re.compile(r"message larger than max \((\d+) vs\. (\d+)\)")
# How grpc says that no connection could be made (then no answer came: .status is None, as for REST).
_CONNECT_CAUSES = (("connection refused", "connection refused"), ("connection reset", "connection reset"),
                   ("dns resolution failed", "host name not resolved"), ("name resolution", "host name not resolved"),
                   ("failed to connect", "network error"), ("socket closed", "connection closed"))


def _as_json(message: Message) -> dict[str, Any]:
    """A message as TF Serving's REST API writes it (proto field names, every field, int64 as text)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


def metadata_json(answer: pb.GetModelMetadataResponse) -> dict[str, Any]:
    """GetModelMetadata's answer as the REST API's metadata JSON; the signature map is read from the Any whose
    type_url is TF Serving's SignatureDefMap (any other Any is shown by its type only)."""
    metadata: dict[str, Any] = {}
    for key, packed in sorted(answer.metadata.items()):
        if packed.type_url == SIGNATURE_DEF_MAP_TYPE:
            signatures = pb.SignatureDefMap()
            try:
                signatures.ParseFromString(packed.value)
            except DecodeError:
                raise ValueError(f"metadata {key!r} is not a SignatureDefMap") from None
            metadata[key] = _as_json(signatures)
        else:
            metadata[key] = {"@type": bounded(packed.type_url, 120)}
    return {"model_spec": _as_json(answer.model_spec), "metadata": metadata}


def _spec(model: str, version: int | None, label: str | None, signature_name: str | None = None) -> pb.ModelSpec:
    spec = pb.ModelSpec(name=check_name("model", model), signature_name=signature_name or "")
    if version is not None and label is not None:
        raise InvalidArgumentError("version/label", (version, label), "give a version or a label, not both")
    if version is not None:
        spec.version.value = check_version(version)
    elif label is not None:
        spec.version_label = check_name("label", label)
    return spec


def _status(exc: grpc.RpcError) -> tuple[str, str]:
    """(the status code's name, its message bounded) of a failed call."""
    code = exc.code() if callable(getattr(exc, "code", None)) else grpc.StatusCode.UNKNOWN
    name = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    return name, bounded(str(exc.details() if callable(getattr(exc, "details", None)) else ""))


def _service_config(retries: int, backoff_factor: float) -> str:
    """gRPC's retry policy: UNAVAILABLE retried `retries` times, waits growing from `backoff_factor` seconds."""
    policy = {"maxAttempts": min(retries, MAX_RETRIES) + 1, "initialBackoff": f"{max(backoff_factor, 0.001):.3f}s",
              "maxBackoff": f"{max(backoff_factor * 2 ** MAX_RETRIES, 0.001):.3f}s", "backoffMultiplier": 2,
              "retryableStatusCodes": ["UNAVAILABLE"]}
    return json.dumps({"methodConfig": [{"name": [{"service": s} for s in _SERVICES], "retryPolicy": policy}]})


def _framed_request(spec: pb.ModelSpec, columns: dict[str, Any], dtypes: dict[str, str]) -> bytes | None:
    """The serialized request when its only input is a numeric array with a batch dimension whose signature type
    is known and framable (its bytes copied once: client.transport.request_bytes); None otherwise."""
    if len(columns) != 1:
        return None
    [(name, values)] = columns.items()
    dtype = dtypes.get(name)
    if (dtype not in FRAMED_DTYPES or not isinstance(values, np.ndarray) or values.ndim == 0 or not len(values)
            or values.dtype.kind not in "biuf"):
        return None
    return predict_request_bytes(spec, name, list(values), dtype)


class GrpcTransport:
    """TF Serving's gRPC API at `address` ("grpc://host:port")."""

    def __init__(self, address: str, *, timeout: float, retries: int, backoff_factor: float,
                 max_answer_bytes: int, max_predict_answer_bytes: int) -> None:
        self.address = address
        self.target = address.removeprefix("grpc://")
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.max_predict_answer_bytes = max_predict_answer_bytes
        self._options = [("grpc.max_send_message_length", -1),
                         # a server that went away is tried again within a second, not after gRPC's 2-minute backoff
                         ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
                         ("grpc.max_reconnect_backoff_ms", 1000),
                         ("grpc.enable_retries", 1 if retries else 0)]
        if retries:
            self._options.append(("grpc.service_config", _service_config(retries, backoff_factor)))
        self._channels: dict[int, grpc.Channel] = {}
        self._lock = threading.Lock()
        self.hooks: list[CallHook] = []  # told of every call made (client.transport.grpc_calls)
        self._dtypes: dict[tuple[str, int | None, str | None], dict[str, str]] = {}

    def _channel(self, limit: int) -> grpc.Channel:
        """One channel per answer limit (its receive limit), opened on first use."""
        with self._lock:
            if limit not in self._channels:
                self._channels[limit] = grpc.insecure_channel(
                    self.target, options=[*self._options, ("grpc.max_receive_message_length", limit)])
            return self._channels[limit]

    def close(self) -> None:
        with self._lock:
            channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            channel.close()

    def where(self, api: str, model: str, *, version: int | None = None,
              label: str | None = None) -> tuple[str, str]:
        target = f"version {version}" if version is not None else f"label {label!r}" if label else "latest"
        return "gRPC", f"{self.address}{PATHS[api]} (model {model!r}, {target})"

    # -- calls --------------------------------------------------------------------------------
    def call(self, api: str, request: Message | bytes, answer_type: type[Parsed], *, model: str,
             version: int | None, label: str | None) -> Parsed:
        """One RPC. `request` is a message, or a message already serialized (client.transport.request_bytes)."""
        predict = api == "predict"
        limit, what = ((self.max_predict_answer_bytes, "predict") if predict
                       else (self.max_answer_bytes, "status and metadata"))
        method, url = self.where(api, model, version=version, label=label)
        serialized = isinstance(request, bytes)
        stub = self._channel(limit).unary_unary(
            PATHS[api], request_serializer=None if serialized else type(request).SerializeToString,
            response_deserializer=answer_type.FromString)
        started = time.perf_counter()
        try:
            answer = stub(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            size = len(request) if serialized else request.ByteSize()
            if self.hooks:
                self._report(api, model, version, label, *_status(exc), size, None, started)
            raise self._error(exc, size, limit=limit, what=what, method=method, url=url) from None
        except ValueError as exc:  # grpc's "Cannot invoke RPC on closed channel!"
            raise ServerUnavailableError(f"cannot call the server ({exc})", method=method, url=url) from None
        if self.hooks:
            size = len(request) if serialized else request.ByteSize()
            self._report(api, model, version, label, "OK", "", size, answer.ByteSize(), started)
        return answer

    def _report(self, api: str, model: str, version: int | None, label: str | None, code: str, details: str,
                request_bytes: int, answer_bytes: int | None, started: float) -> None:
        target = f"version {version}" if version is not None else f"label {label!r}" if label else "latest"
        report(self.hooks, GrpcCall(url=self.address + PATHS[api], target=f"model {model!r}, {target}", code=code,
                                    details=details, request_bytes=request_bytes, answer_bytes=answer_bytes,
                                    seconds=time.perf_counter() - started))

    def _error(self, exc: grpc.RpcError, request_size: int, *, limit: int, what: str, method: str,
               url: str) -> TFServingError:
        name, details = _status(exc)
        details = details or name
        if name == "DEADLINE_EXCEEDED":  # the call's deadline (the client's timeout) passed
            return RequestTimeoutError(f"no complete answer within {self.timeout:g} s", method=method, url=url,
                                       grpc_code=name)
        lowered = details.lower()
        if name == "INTERNAL" and "deserializing response" in lowered:  # grpc could not parse the answer
            return UnexpectedAnswerError("the answer is not the API's protobuf message", method=method, url=url,
                                         foreign_answer=True, grpc_code=name)
        if name == "UNAVAILABLE":
            reason = next((text for cause, text in _CONNECT_CAUSES if cause in lowered), None)
            if reason is not None:  # no connection: no answer came
                return ServerUnavailableError(f"cannot reach the server ({reason})", method=method, url=url,
                                              grpc_code=name)
        too_large = _TOO_LARGE.search(details)
        if name == "RESOURCE_EXHAUSTED" and too_large:
            size, allowed = int(too_large.group(1)), int(too_large.group(2))
            if allowed == limit and size != request_size:
                return AnswerTooLargeError(f"the answer from {url} is larger than {describe_bytes(limit)}, the limit "
                                           f"for {what} answers; refused", method=method, url=url, grpc_code=name)
            return PayloadTooLargeError(f"the request ({size:,} bytes) is larger than the server accepts "
                                        f"({describe_bytes(allowed)}, its gRPC receive limit); send fewer images per "
                                        "request", method=method, url=url, status=413, grpc_code=name)
        return error_for_grpc_status(name, details, method=method, url=url, foreign_answer=name == "UNIMPLEMENTED")

    # -- model APIs ---------------------------------------------------------------------------
    def _parsed(self, api: str, request: Message, answer_type: type[Message], to_json: Callable[[Any], Any],
                parse: Callable[[Any], Parsed], *, model: str, version: int | None, label: str | None) -> Parsed:
        answer = self.call(api, request, answer_type, model=model, version=version, label=label)
        method, url = self.where(api, model, version=version, label=label)
        return parsed_answer(lambda message: parse(to_json(message)), answer, method=method, url=url)

    def status(self, model: str, *, version: int | None, label: str | None) -> tuple[VersionStatus, ...]:
        request = pb.GetModelStatusRequest(model_spec=_spec(model, version, label))
        return self._parsed("status", request, pb.GetModelStatusResponse, _as_json, VersionStatus.list_from_json,
                            model=model, version=version, label=label)

    def metadata(self, model: str, *, version: int | None, label: str | None) -> ModelMetadata:
        request = pb.GetModelMetadataRequest(model_spec=_spec(model, version, label), metadata_field=["signature_def"])
        return self._parsed("metadata", request, pb.GetModelMetadataResponse, metadata_json, ModelMetadata.from_json,
                            model=model, version=version, label=label)

    def raw_answer(self, model: str, *, version: int | None, label: str | None,
                   metadata: bool) -> dict[str, Any]:
        if metadata:
            request = pb.GetModelMetadataRequest(model_spec=_spec(model, version, label),
                                                 metadata_field=["signature_def"])
            return self._parsed("metadata", request, pb.GetModelMetadataResponse, metadata_json, lambda x: x,
                                model=model, version=version, label=label)
        request = pb.GetModelStatusRequest(model_spec=_spec(model, version, label))
        return self._parsed("status", request, pb.GetModelStatusResponse, _as_json, lambda x: x,
                            model=model, version=version, label=label)

    def _predict_rows(self, model: str, request: pb.PredictRequest | bytes, *, version: int | None,
                      label: str | None) -> tuple[list[dict[str, Any]], list[str]]:
        """(one {output: value} row per instance, the output names in the answer's order)."""
        answer = self.call("predict", request, pb.PredictResponse, model=model, version=version, label=label)
        method, url = self.where("predict", model, version=version, label=label)
        rows = parsed_answer(lambda message: rows_from_outputs(message.outputs,
                                                               max_bytes=self.max_predict_answer_bytes),
                             answer, method=method, url=url)
        return rows, sorted(answer.outputs)

    def predict(self, model: str, *, instances: Any, inputs: Any, signature_name: str | None,
                version: int | None, label: str | None) -> PredictResponse:
        """Row (`instances`) or columnar (`inputs`) values as tensors of the signature's input types (read from its
        metadata; inferred when that cannot be read), answered in the REST API's shape for that form."""
        method, url = self.where("predict", model, version=version, label=label)
        field = "instances" if instances is not None else "inputs"
        if (instances is None) == (inputs is None):
            raise InvalidArgumentError("instances/inputs", (type(instances).__name__, type(inputs).__name__),
                                       "give exactly one of instances= (row form) or inputs= (columnar form)")
        dtypes = self._input_dtypes(model, version, label, signature_name)
        spec = _spec(model, version, label, signature_name)
        try:
            columns = input_columns(instances, inputs, list(dtypes))
            request = _framed_request(spec, columns, dtypes)
            if request is None:
                request = pb.PredictRequest(model_spec=spec)
                for name, values in columns.items():
                    request.inputs[name].CopyFrom(tensor_from_values(values, dtypes.get(name)))
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidArgumentError(field, type(instances if instances is not None else inputs).__name__,
                                       f"cannot be sent as tensors ({exc})", method=method, url=url) from None
        rows, names = self._predict_rows(model, request, version=version, label=label)
        if not names:
            raise UnexpectedAnswerError("the predict answer has no outputs", method=method, url=url, status=200,
                                        foreign_answer=True)
        if instances is not None:
            return PredictResponse(outputs=[row[names[0]] for row in rows] if len(names) == 1 else rows)
        columns_out = {name: [row[name] for row in rows] for name in names}
        return PredictResponse(outputs=columns_out[names[0]] if len(names) == 1 else columns_out)

    def _input_dtypes(self, model: str, version: int | None, label: str | None,
                      signature_name: str | None) -> dict[str, str]:
        """{input name: dtype} of the signature, from its metadata; {} when that cannot be read (the values' own
        types are sent). Kept per explicit version (a served version never changes), asked again otherwise."""
        key = (model, version, signature_name)
        if version is not None and key in self._dtypes:
            return self._dtypes[key]
        try:
            dtypes = {name: spec.dtype for name, spec in
                      self.metadata(model, version=version, label=label).signature(signature_name).inputs.items()}
        except TFServingError:
            return {}
        if version is not None:
            self._dtypes[key] = dtypes
        return dtypes

    def sender(self, model: str, plan: ClassifyPlan, *, version: int | None, label: str | None) -> SendBatch:
        """Numeric instances (pixels) are serialized around their own buffers (client.transport.request_bytes);
        encoded images, and bfloat16, through protobuf's messages."""
        dtype = "DT_STRING" if plan.pixel_size is None else plan.input_dtype
        spec = _spec(model, version, label, plan.signature_name)

        def send(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
            values = [instance[plan.input_name] for instance in instances]
            if dtype in FRAMED_DTYPES:
                request: pb.PredictRequest | bytes = predict_request_bytes(spec, plan.input_name, values, dtype)
            else:
                request = pb.PredictRequest(model_spec=spec)
                request.inputs[plan.input_name].CopyFrom(
                    tensor_from_values(values if dtype == "DT_STRING" else np.stack(values), dtype))
            rows, _ = self._predict_rows(model, request, version=version, label=label)
            return rows

        return send

