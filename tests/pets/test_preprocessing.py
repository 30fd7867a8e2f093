"""The in-graph preprocessing (decode, centre crop, bilinear resize, scale) against its NumPy twin."""
from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from pets import reference_preprocessing as ref
from pets.preprocessing import center_crop_size, crop_resize_scale, preprocess_encoded_batch


def encode(image: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("shorter_side, size, expected", [(256, 224, 224), (160, 128, 128), (200, 128, 160),
                                                            (225, 224, 196), (1, 224, 0)])
def test_crop_is_shorter_side_times_size_over_size_plus_32(shorter_side, size, expected):
    assert center_crop_size(shorter_side, size) == expected


@pytest.mark.parametrize("size", [128, 224])
@pytest.mark.parametrize("height, width", [(256, 256), (200, 300), (97, 131), (421, 260), (1, 1), (3, 500)])
def test_graph_matches_numpy_twin(size, height, width):
    image = ref.synthetic_image(7, height, width)
    graph = crop_resize_scale(tf.constant(image), size).numpy()
    expected = ref.crop_resize_scale(image, size)
    assert graph.shape == (size, size, 3)
    np.testing.assert_allclose(graph, expected, atol=1e-5, rtol=0)


def test_scaling_maps_pixel_127_to_zero_and_extremes_to_about_one():
    flat = np.full((40, 40, 3), 127, np.uint8)
    flat[:, :, 1], flat[:, :, 2] = 0, 255
    out = crop_resize_scale(tf.constant(flat), 128).numpy()
    np.testing.assert_allclose(out[..., 0], 0.0)
    np.testing.assert_allclose(out[..., 1], -127 / 128)
    np.testing.assert_allclose(out[..., 2], 1.0)


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("BMP", {}), ("GIF", {})])
def test_lossless_formats_decode_like_pillow(fmt, options):
    image = ref.synthetic_image(3, 150, 190)
    data = encode(image, fmt, **options)
    graph = preprocess_encoded_batch(tf.constant([data]), 128).numpy()[0]
    np.testing.assert_allclose(graph, ref.crop_resize_scale(ref.decode_rgb(data), 128), atol=1e-5, rtol=0)


@pytest.mark.parametrize("subsampling", [0, 2])  # 4:4:4 and 4:2:0 chroma
def test_jpeg_decodes_like_pillow(subsampling):
    image = ref.synthetic_image(4, 240, 320)
    data = encode(image, "JPEG", quality=90, subsampling=subsampling)
    graph = preprocess_encoded_batch(tf.constant([data]), 224).numpy()[0]
    expected = ref.crop_resize_scale(ref.decode_rgb(data), 224)
    np.testing.assert_allclose(graph, expected, atol=1e-5, rtol=0)


def test_grayscale_and_rgba_become_three_channels():
    gray = encode(ref.synthetic_image(5, 64, 64)[..., 0], "PNG")
    rgba = encode(np.dstack([ref.synthetic_image(6, 64, 64), np.full((64, 64), 200, np.uint8)]), "PNG")
    out = preprocess_encoded_batch(tf.constant([gray, rgba]), 128).numpy()
    assert out.shape == (2, 128, 128, 3)
    np.testing.assert_allclose(out[0, ..., 0], out[0, ..., 2])


def test_undecodable_bytes_raise_invalid_argument():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        preprocess_encoded_batch(tf.constant([b"definitely not an image"]), 128)


@pytest.mark.slow
def test_shared_photos_preprocess_like_the_numpy_twin(shared_images):
    paths = sorted(p for p in shared_images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    assert len(paths) >= 50
    for size in (128, 224):
        graph = preprocess_encoded_batch(tf.constant([p.read_bytes() for p in paths]), size).numpy()
        for path, pixels in zip(paths, graph):
            np.testing.assert_allclose(pixels, ref.preprocess_file(path, size), atol=1e-5, rtol=0, err_msg=str(path))
