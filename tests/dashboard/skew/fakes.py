"""A fake TF Serving pixel model for fast tests of the skew finder's own logic (tests/support.py's fake server).

`colour_model` serves one model whose input is a pixel tensor (DT_FLOAT [-1, 4, 4, 3] by default, or DT_UINT8) and
whose answer depends on how the pixels were prepared: it names the dominant channel (red cat, green dog, blue
other) only when every value lies in [0, 1] (a float input) in RGB order, so the `unit` preparation is the right
one; out of range it answers "other" with probability 0.8. A uint8 input is divided by 255 first (any range is
right). Photos are solid colours (tests.support.png_bytes), so a centre crop sends the same values as a stretch.
"""
from __future__ import annotations

import json

import numpy as np
from werkzeug.wrappers import Request, Response

from tests.support import FAKE_LABELS, _tensor, fake_status, json_response, png_bytes

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
OUT_OF_RANGE = [0.1, 0.1, 0.8]


def colour_metadata(dtype: str = "DT_FLOAT", *, version: int = 1, model: str = "colours") -> dict:
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"images": _tensor(dtype, -1, 4, 4, 3, name="images:0")},
            "outputs": {"probabilities": _tensor("DT_FLOAT", -1, 3), "classes": _tensor("DT_STRING", -1, 3)},
            "method_name": "tensorflow/serving/predict"}}}},
    }


def colour_answer(pixels: np.ndarray, dtype: str) -> dict:
    values = pixels / 255.0 if dtype == "DT_UINT8" else pixels
    if values.min() < 0 or values.max() > 1:
        return {"probabilities": OUT_OF_RANGE, "classes": list(FAKE_LABELS)}
    means = values.reshape(-1, 3).mean(axis=0)
    return {"probabilities": (means / means.sum()).tolist(), "classes": list(FAKE_LABELS)}


def colour_model(dtype: str = "DT_FLOAT", *, version: int = 1):
    """The handler (see the module docstring); `handler.predicts` counts predict requests."""
    def handle(request: Request) -> Response:
        if request.method == "GET" and request.path.endswith("/metadata"):
            return json_response(colour_metadata(dtype, version=version))
        if request.method == "GET":
            return json_response(fake_status(version))
        handle.predicts += 1
        instances = json.loads(request.get_data())["instances"]
        return json_response({"predictions": [colour_answer(np.asarray(item["images"], dtype=float), dtype)
                                              for item in instances]})
    handle.predicts = 0
    return handle


def colour_photos(per_class: int = 2) -> tuple[list[tuple[str, bytes]], dict[str, str]]:
    """(name, PNG bytes) items named by class folder, and their truth."""
    items, truth = [], {}
    for label, colour in zip(FAKE_LABELS, (RED, GREEN, BLUE)):
        for index in range(per_class):
            name = f"{label}/{label}{index}.png"
            items.append((name, png_bytes(colour, size=(12, 8))))
            truth[name] = label
    return items, truth
