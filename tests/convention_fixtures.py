"""What the convention tests share (tests/client/test_profiles_conventions.py, tests/dashboard/profiles/
test_conventions_dashboard.py): the nine conventions' names, the tolerance against the in-process reference, and
the fixtures for the photos, the embedded server serving the conventions and the references. Each test module
defines `built` (base folder, and what it needs of the build: tests.conventions.build_served) and imports these
fixtures by name. No TensorFlow at import: the fixtures import it when they run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import embedded_server

PHOTOS_PER_CLASS = 4
TOLERANCE = 1e-3
# The embedded server serves all of them as it is (TF2 functions: uint8, any size, NCHW, a dotted input name,
# Keras 3's model.export()); what issue 19 saw refused was the client's doing.
NAMES = ("tutorial_sigmoid", "unit_logits", "keras_rescaling", "uint8", "dynamic", "caffe", "torch", "nchw",
         "imagenet_1001")


@pytest.fixture(scope="module")
def photos(shared_images) -> list[Path]:
    return [path for label in ("cat", "dog", "other")
            for path in sorted((shared_images / label).glob("*.jpg"))[:PHOTOS_PER_CLASS]]


@pytest.fixture(scope="module")
def server_url(built):
    base, _ = built
    with embedded_server([f"--model_config_file={base / 'models.config'}"],
                         wait_for_models={name: 1 for name in NAMES}) as url:
        yield url


@pytest.fixture(scope="module")
def references(built, photos) -> dict[str, np.ndarray]:
    import tensorflow as tf
    from tests import conventions
    base, _ = built
    out = {}
    for name in NAMES:
        model = tf.saved_model.load(str(base / name / "1"))
        out[name] = np.array([conventions.BY_NAME[name].reference(model, photo) for photo in photos])
    return out
