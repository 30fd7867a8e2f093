"""Signatures and fake servers for the model-profile tests: any input and outputs, answered from the pixels sent."""
from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import numpy as np
from werkzeug.wrappers import Request, Response

from client.protocol import SignatureSpec, TensorSpec
from tests.support import fake_model_handler, json_response

Tensors = Mapping[str, tuple[str, Sequence[int]]]  # name -> (dtype, shape)


def signature(inputs: Tensors, outputs: Tensors, name: str = "serving_default") -> SignatureSpec:
    return SignatureSpec(name, "tensorflow/serving/predict",
                         inputs={n: TensorSpec(n, dtype, tuple(shape)) for n, (dtype, shape) in inputs.items()},
                         outputs={n: TensorSpec(n, dtype, tuple(shape)) for n, (dtype, shape) in outputs.items()})


def _tensor_json(dtype: str, shape: Sequence[int]) -> dict:
    return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in shape],
                                             "unknown_rank": False}, "name": ""}


def metadata(inputs: Tensors, outputs: Tensors, *, model: str = "mine") -> Callable[..., dict]:
    """TF Serving's metadata answer for one serving_default signature (a callable of version=, for
    fake_model_handler)."""
    def answer(version: int = 1) -> dict:
        return {"model_spec": {"name": model, "signature_name": "", "version": str(version)},
                "metadata": {"signature_def": {"signature_def": {"serving_default": {
                    "inputs": {n: _tensor_json(d, s) for n, (d, s) in inputs.items()},
                    "outputs": {n: _tensor_json(d, s) for n, (d, s) in outputs.items()},
                    "method_name": "tensorflow/serving/predict"}}}}}
    return answer


def pixel_model(inputs: Tensors, outputs: Tensors, answer: Callable[[np.ndarray], dict]):
    """A fake server whose predict answers `answer(pixels)` for each instance's array (its single input)."""
    (input_name,) = inputs

    def predict(request: Request) -> Response:
        instances = json.loads(request.get_data())["instances"]
        return json_response({"predictions": [answer(np.asarray(item[input_name])) for item in instances]})

    return fake_model_handler(metadata=metadata(inputs, outputs), predict=predict)


def posts(server) -> list[str]:
    return [path for method, path in server.calls if method == "POST"]
