"""TF Serving's gRPC services (PredictionService, ModelService) over the server's repository and model runner.

Every RPC runs its handler (grpc_handlers.py, grpc_examples.py) and turns any failure into a gRPC status through
errors.py's one table, with TF Serving's message limit; nothing a request does can end the server.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Optional

import grpc
from tensorflow_serving.apis import model_pb2, model_service_pb2_grpc, prediction_service_pb2_grpc

from serving import grpc_examples, grpc_handlers
from serving.app import UNKNOWN_MODEL_LABEL
from serving.errors import HTTP_STATUS_BY_CODE, grpc_status_of
from serving.grpc_handlers import Runner
from serving.metrics import ServerMetrics
from serving.repository import ModelRepository

log = logging.getLogger("serving.grpc")


class GrpcApi:
    """What every RPC shares: the repository, the runner (REST's: same thread limit, batching and timeout), the
    metrics, and how output tensors are written (tensor_content or typed fields)."""

    def __init__(self, repo: ModelRepository, run: Runner, metrics: Optional[ServerMetrics], *,
                 tensor_content: bool = True):
        self.repo, self.run, self.metrics, self.tensor_content = repo, run, metrics, tensor_content

    def answer(self, api: str, spec: Optional[model_pb2.ModelSpec], context: grpc.ServicerContext,
               handler: Callable[[], object]):
        """Run `handler`; its response, or abort the call with the error's gRPC status. `spec` (the request's
        model) labels the API's metrics; None for the APIs that are not counted (status, reload)."""
        started = time.perf_counter()
        try:
            response = handler()
        except Exception as exc:  # every failure becomes a status; nothing kills the server
            grpc_code, code, message = grpc_status_of(exc)
            if HTTP_STATUS_BY_CODE[code] >= 500:
                log.exception("gRPC %s failed", api)
        else:
            self._observe(api, spec, response, "OK", started)
            return response
        self._observe(api, spec, None, code, started)
        context.abort(grpc.StatusCode[grpc_code], message)

    def _observe(self, api: str, spec, response, code: str, started: float) -> None:
        if spec is None or self.metrics is None:
            return
        served = getattr(response, "model_spec", None)
        if served is None and response is not None and getattr(response, "results", None):
            served = response.results[0].model_spec  # MultiInference
        version: Optional[int] = None
        if served is not None and served.HasField("version"):
            version = served.version.value
        elif spec.WhichOneof("version_choice") == "version":
            version = spec.version.value
        known_model = self.repo.knows(spec.name)
        known_version = version is not None and self.repo.knows(spec.name, version)
        self.metrics.observe(model=spec.name if known_model else UNKNOWN_MODEL_LABEL,
                             version=str(version) if known_version else "", api=api, code=code,
                             seconds=time.perf_counter() - started)


def _spec(request) -> model_pb2.ModelSpec:
    return request.model_spec if request.HasField("model_spec") else model_pb2.ModelSpec()


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, api: GrpcApi):
        self.api = api

    def Predict(self, request, context):
        api = self.api
        return api.answer("Predict", _spec(request), context, lambda: grpc_handlers.predict(
            api.repo, api.run, request, tensor_content=api.tensor_content))

    def Classify(self, request, context):
        api = self.api
        return api.answer("Classify", _spec(request), context,
                          lambda: grpc_examples.classify(api.repo, api.run, request))

    def Regress(self, request, context):
        api = self.api
        return api.answer("Regress", _spec(request), context,
                          lambda: grpc_examples.regress(api.repo, api.run, request))

    def MultiInference(self, request, context):
        api = self.api
        spec = request.tasks[0].model_spec if request.tasks else model_pb2.ModelSpec()
        return api.answer("MultiInference", spec, context,
                          lambda: grpc_examples.multi_inference(api.repo, api.run, request))

    def GetModelMetadata(self, request, context):
        api = self.api
        return api.answer("GetModelMetadata", _spec(request), context,
                          lambda: grpc_handlers.get_model_metadata(api.repo, request))


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, api: GrpcApi):
        self.api = api

    def GetModelStatus(self, request, context):
        return self.api.answer("GetModelStatus", None, context,
                               lambda: grpc_handlers.get_model_status(self.api.repo, request))

    def HandleReloadConfigRequest(self, request, context):
        return self.api.answer("HandleReloadConfigRequest", None, context,
                               lambda: grpc_handlers.reload_config(self.api.repo, request))


def add_services(server: grpc.Server, api: GrpcApi) -> None:
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(api), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(api), server)
