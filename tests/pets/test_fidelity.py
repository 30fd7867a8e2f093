"""The Keras port reproduces the reference PyTorch EfficientNet-Lite0 logits (tests/fixtures, made by
scripts/make_reference_logits.py) on identical preprocessed inputs, directly and through the SavedModels."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from pets import VERSION_SIZES
from pets import reference_preprocessing as ref
from pets.imagenet_labels import imagenet_short_labels
from tests.support import SHARED_IMAGES

pytestmark = pytest.mark.slow   # each module starts the embedded server with TensorFlow models

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "efficientnet_lite0_reference.npz"
MAX_LOGIT_DIFFERENCE = 1e-4


def _fixture_rows(kind: str):
    with np.load(FIXTURE, allow_pickle=False) as data:
        records = json.loads(str(data["meta"]))["records"]
        logits = data["logits"]
    return [(record, row) for record, row in zip(records, logits) if record["kind"] == kind]


def _input_for(record) -> np.ndarray:
    if record["kind"] == "synthetic":
        data = ref.png_bytes(ref.synthetic_image(record["seed"], record["height"], record["width"]))
    else:
        path = SHARED_IMAGES / record["file"]
        if not path.exists():
            pytest.skip(f"shared test photo {path} not present")
        data = path.read_bytes()
        assert hashlib.sha1(data).hexdigest() == record["sha1"], f"{path} differs from the one in {FIXTURE.name}"
    return ref.crop_resize_scale(ref.decode_rgb(data), record["size"])


def _check_logits(backbones, record, expected):
    image = _input_for(record)
    logits = backbones[record["size"]](image[None], training=False)["imagenet_logits"].numpy()[0]
    difference = float(np.abs(logits - expected).max())
    assert difference <= MAX_LOGIT_DIFFERENCE, f"{record}: max |logit difference| {difference:.2e}"
    assert list(np.argsort(-logits)[:5]) == list(np.argsort(-expected)[:5]), record


def test_fixture_covers_both_sizes_and_all_kinds():
    sizes = {(r["kind"], r["size"]) for r, _ in _fixture_rows("synthetic") + _fixture_rows("shared")}
    assert sizes == {(kind, size) for kind in ("synthetic", "shared") for size in VERSION_SIZES.values()}


@pytest.mark.parametrize("index", range(8))
def test_synthetic_images_match_reference_logits(backbones, index):
    record, expected = _fixture_rows("synthetic")[index]
    _check_logits(backbones, record, expected)


@pytest.mark.parametrize("index", range(6))
def test_shared_photos_match_reference_logits(backbones, index):
    record, expected = _fixture_rows("shared")[index]
    _check_logits(backbones, record, expected)


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_saved_model_top5_matches_reference(loaded_versions, version):
    """The exported `predict_images` signature gives the reference top-5 classes and softmax scores."""
    rows = [(r, logits) for r, logits in _fixture_rows("synthetic") if r["size"] == VERSION_SIZES[version]]
    images = np.stack([_input_for(record) for record, _ in rows])
    out = loaded_versions[version].signatures["predict_images"](images=tf.constant(images))
    labels = imagenet_short_labels()
    for i, (_, expected) in enumerate(rows):
        softmax = np.exp(expected - expected.max())
        softmax /= softmax.sum()
        top = np.argsort(-softmax)[:5]
        assert [s.decode() for s in out["imagenet_top5_labels"].numpy()[i]] == [labels[k] for k in top]
        np.testing.assert_allclose(out["imagenet_top5_scores"].numpy()[i], softmax[top], atol=1e-5)
