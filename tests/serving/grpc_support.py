"""Helpers for the gRPC suites: a model server with both APIs on free ports, stubs, and calls that expect failure."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from tests.support import free_port, serving_process, wait_until

RPC_TIMEOUT = 30.0


@dataclass
class Servers:
    """One `python -m serving` process: its REST base URL, its gRPC address and stubs on one channel."""

    rest: str
    grpc_address: str
    channel: grpc.Channel
    predictions: prediction_service_pb2_grpc.PredictionServiceStub
    models: model_service_pb2_grpc.ModelServiceStub
    process: object = None


def _grpc_answers(models: model_service_pb2_grpc.ModelServiceStub, model: str) -> bool:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = model
    try:
        models.GetModelStatus(request, timeout=2)
    except grpc.RpcError:
        return False
    return True


@contextlib.contextmanager
def rest_and_grpc_server(args: Sequence[str], *, wait_for_models: Mapping[str, int],
                         timeout: float = 240) -> Iterator[Servers]:
    """`python -m serving ARGS --port=<free>`; yields once the models are AVAILABLE over REST and gRPC answers."""
    port = free_port()
    with serving_process([*args, f"--port={port}"], wait_for_models=wait_for_models, timeout=timeout) as (proc, url):
        address = f"127.0.0.1:{port}"
        channel = grpc.insecure_channel(address)
        servers = Servers(url, address, channel, prediction_service_pb2_grpc.PredictionServiceStub(channel),
                          model_service_pb2_grpc.ModelServiceStub(channel), proc)
        try:
            wait_until(lambda: _grpc_answers(servers.models, next(iter(wait_for_models))), timeout=30,
                       what=f"gRPC at {address}")
            yield servers
        finally:
            channel.close()


def failure(method, request, timeout: float = RPC_TIMEOUT) -> tuple[str, str]:
    """(status code name, details) of a call that must fail."""
    with pytest.raises(grpc.RpcError) as error:
        method(request, timeout=timeout)
    return error.value.code().name, error.value.details()


def predict_request(model: str, inputs: Mapping[str, np.ndarray], *, signature: str = "", version: int | None = None,
                    label: str = "") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    if label:
        request.model_spec.version_label = label
    for name, value in inputs.items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
    return request


def outputs_of(response) -> dict[str, np.ndarray]:
    return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
