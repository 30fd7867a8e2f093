"""Fake pixel models for the dashboard's profile tests: each answers from the pixels it is sent, so a test knows
exactly what a preparation gives (tests/client/profile_fakes.py serves them)."""
from __future__ import annotations

import json

import numpy as np

from client.store.database import open_store
from tests.client.profile_fakes import pixel_model
from tests.support import wait_until

SIZE = 8
SIGMOID_PROFILE = {"class_names": ["Cat", "Dog"], "preset": "keras-tf", "output": {"name": "dense", "kind": "sigmoid"}}
GREY = (128, 128, 128)


def sigmoid_model():
    """The tutorial's signature in small: DT_FLOAT [-1, 8, 8, 3] on [-1, 1], one unit `dense` = (mean + 1) / 2, so a
    grey 128 image reads P(Dog) = 0.50196 under keras-tf ([-1, 1]) and 0.50391 under the default (pets)."""
    return pixel_model({"images": ("DT_FLOAT", [-1, SIZE, SIZE, 3])}, {"dense": ("DT_FLOAT", [-1, 1])},
                       lambda pixels: {"dense": [float(np.clip((pixels.mean() + 1) / 2, 0, 1))]})


def dog_share(value: float, preset: str) -> float:
    """P(Dog) of a solid image of grey `value` under the preset's scale, as sigmoid_model answers it (float32)."""
    scaled = {"keras-tf": np.float32(value) * np.float32(1 / 127.5) + np.float32(-1),
              "pets": np.float32(value) * np.float32(1 / 128) + np.float32(-127 / 128)}[preset]
    return float((np.float64(scaled) + 1) / 2)


def classes_model():
    """A pixel model that names its classes: DT_FLOAT [-1, 8, 8, 3], `probabilities` [-1, 3] from the mean of each
    channel, `classes` [-1, 3]: it needs no class names, so without a profile it runs on the default preparation."""
    def answer(pixels: np.ndarray) -> dict:
        means = pixels.reshape(-1, 3).mean(axis=0) + 1.5
        return {"probabilities": (means / means.sum()).tolist(), "classes": ["cat", "dog", "other"]}
    return pixel_model({"images": ("DT_FLOAT", [-1, SIZE, SIZE, 3])},
                       {"probabilities": ("DT_FLOAT", [-1, 3]), "classes": ("DT_STRING", [-1, 3])}, answer)


def write_profile(folder, name: str, data) -> None:
    (folder / name).write_text(data if isinstance(data, str) else json.dumps(data))


def two_version_sigmoid():
    """sigmoid_model served as versions 1 and 2 (the same graph), without labels: the Compare page's default
    targets are version 1 and version 2."""
    import re

    from tests.client.profile_fakes import metadata
    from tests.support import fake_status, json_response
    answer_metadata = metadata({"images": ("DT_FLOAT", [-1, SIZE, SIZE, 3])}, {"dense": ("DT_FLOAT", [-1, 1])})
    predict = sigmoid_model()

    def handle(request):
        path = request.path
        if request.method == "GET" and "/labels/" in path:
            return json_response({"error": "Unrecognized servable version label"}, 400)
        if request.method == "GET" and path.endswith("/metadata"):
            found = re.search(r"/versions/(\d+)/metadata$", path)
            return json_response(answer_metadata(version=int(found[1]) if found else 2))
        if request.method == "GET":
            found = re.search(r"/versions/(\d+)$", path)
            return json_response(fake_status(int(found[1])) if found else fake_status(1, 2))
        return predict(request)
    return handle


def finished_run(app, tmp_path, *, timeout: float = 60):
    """After Classify was pressed on `app` (an AppTest with its run store at tmp_path/runs.db): (the store, the run
    id), once the run has finished and the page has been drawn again."""
    value = app.query_params["run"]
    run_id = value if isinstance(value, str) else value[0]
    store = open_store(tmp_path / "runs.db")
    wait_until(lambda: store.get_run(run_id).finished, timeout=timeout, what="the run")
    app.run()
    return store, run_id
