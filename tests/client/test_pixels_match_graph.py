"""Client-side preprocessing for float inputs reproduces the pets model's in-graph preprocessing.

Uses TensorFlow (tests may; client/ never does) on lossless PNGs so both sides see the same pixels.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from client.images import pixels_for_model

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("shape", [(225, 225), (400, 300), (333, 500), (97, 1000), (31, 17)])
@pytest.mark.parametrize("size", [128, 224])
def test_pixels_equal_the_graph(shape, size):
    tf = pytest.importorskip("tensorflow")
    from pets.preprocessing import crop_resize_scale

    rng = np.random.default_rng(sum(shape) + size)
    image = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    png = io.BytesIO()
    Image.fromarray(image).save(png, format="PNG")
    mine = pixels_for_model("random.png", png.getvalue(), height=size, width=size)
    graph = crop_resize_scale(tf.constant(image), size).numpy()
    assert mine.shape == graph.shape == (size, size, 3)
    np.testing.assert_array_equal(mine, graph)  # the TF kernel's arithmetic: equal, not only close
