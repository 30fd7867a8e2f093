"""Signatures, fake servers and bad profiles for the model-profile tests (fake models answer from the pixels sent)."""
from __future__ import annotations

import json
from typing import Callable, Mapping, Sequence

import numpy as np
from werkzeug.wrappers import Request, Response

from client.protocol import SignatureSpec, TensorSpec
from tests.support import fake_model_handler, json_response

Tensors = Mapping[str, tuple[str, Sequence[int]]]  # name -> (dtype, shape)

# Profiles that are refused on reading: (profile, the field named, the reason given).
BAD_PROFILES = [
    ({"colour": "RGB"}, "colour", "unknown key; the keys here are class_names, class_names_file, input, output, "
                                  "preset, signature_name"),
    ({"input": {"sizes": [1, 2]}}, "input.sizes", "unknown key; the keys here are channels, crop_fraction, layout, "
                                                  "mean, resample, resize, scale, size, std"),
    ({"output": {"type": "logits"}}, "output.type", "unknown key; the keys here are kind, name"),
    ({"class_names": "cat,dog"}, "class_names", "must be a list of non-empty class names, in the model's output "
                                                "order"),
    ({"class_names": ["cat", " "]}, "class_names", "item 1 (' ') does not fit; must be a list of non-empty class "
                                                   "names, in the model's output order"),
    ({"class_names": ["cat", "cat"]}, "class_names", "names must be distinct; repeated: 'cat'"),
    ({"class_names": ["a"], "class_names_file": "l.txt"}, "class_names_file",
     "give class_names or class_names_file, not both"),
    ({"signature_name": 3}, "signature_name", "must be a signature name"),
    ({"preset": "keras"}, "preset", "must be one of pets, keras-tf, keras-torch, keras-caffe, unit, raw"),
    ({"input": {"size": [224]}}, "input.size", "must be [height, width]: two positive integers"),
    ({"input": {"size": [224, 0]}}, "input.size", "item 1 (0) does not fit; must be [height, width]: two positive "
                                                  "integers"),
    ({"input": {"size": [224, 22.5]}}, "input.size", "item 1 (22.5) does not fit; must be [height, width]: two "
                                                     "positive integers"),
    ({"input": {"resize": "crop"}}, "input.resize", "must be one of stretch, center_crop, letterbox"),
    ({"input": {"crop_fraction": 0}}, "input.crop_fraction", "must be a number above 0 and at most 1"),
    ({"input": {"crop_fraction": 1.5}}, "input.crop_fraction", "must be a number above 0 and at most 1"),
    ({"input": {"resample": "area"}}, "input.resample",
     "must be one of nearest, bilinear, bicubic, lanczos, box, hamming, tf_bilinear"),
    ({"input": {"channels": "rgb"}}, "input.channels", "must be one of RGB, BGR, L"),
    ({"input": {"layout": "HWC"}}, "input.layout", "must be one of NHWC, NCHW"),
    ({"input": {"scale": [1, -1]}}, "input.scale", "lo must be below hi"),
    ({"input": {"scale": [0, True]}}, "input.scale", "item 1 (True) does not fit; must be [lo, hi]: two numbers, "
                                                     "lo below hi (0..255 is mapped onto them)"),
    ({"input": {"scale": [0, float("nan")]}}, "input.scale", "must hold finite numbers (not NaN or Infinity)"),
    ({"input": {"std": [0.2, 0, 0.2]}}, "input.std", "item 1 (0) does not fit; must be one number above 0 per "
                                                     "channel (a std of 0 would divide by zero)"),
    ({"input": {"channels": "RGB", "mean": [0.5, 0.5]}}, "input.mean", "has 2 values for 3 channels"),
    ({"input": {"channels": "L", "std": [0.2, 0.2, 0.2]}}, "input.std", "has 3 values for 1 channel"),
    ({"preset": "keras-torch", "input": {"channels": "L"}}, "input.mean",
     "has 3 values (from preset keras-torch) for 1 channel"),
    ({"output": {"kind": "softmax"}}, "output.kind", "must be one of probabilities, logits, sigmoid"),
    ({"output": {"name": ""}}, "output.name", "must be the name of one of the signature's outputs"),
    ([], "profile", "must be a JSON object"),
]



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
