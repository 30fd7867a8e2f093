"""NumPy/Pillow twin of the in-graph preprocessing, free of TensorFlow and torch.

Used on both sides of the port-fidelity check (scripts/make_reference_logits.py runs it under torch, the
tests under TensorFlow) so both networks see bit-identical float tensors; tests also compare it with the graph.
Also makes the seeded synthetic test images.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

CROP_PADDING = 32


def decode_rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _bilinear_axis(in_size: int, out_size: int):
    """Source indices and weights of TF's half-pixel-centre bilinear resize along one axis."""
    scale = np.float32(in_size) / np.float32(out_size)
    coords = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(coords)
    lower = np.maximum(floor, 0).astype(np.int64)
    upper = np.minimum(np.ceil(coords), in_size - 1).astype(np.int64)
    return lower, upper, (coords - floor).astype(np.float32)


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """float32 [H, W, C] -> [size, size, C], like tf.image.resize(method="bilinear", antialias=False)."""
    top, bottom, y_lerp = _bilinear_axis(image.shape[0], size)
    left, right, x_lerp = _bilinear_axis(image.shape[1], size)
    y_lerp, x_lerp = y_lerp[:, None, None], x_lerp[None, :, None]
    top_row = image[top][:, left] + (image[top][:, right] - image[top][:, left]) * x_lerp
    bottom_row = image[bottom][:, left] + (image[bottom][:, right] - image[bottom][:, left]) * x_lerp
    return top_row + (bottom_row - top_row) * y_lerp


def crop_resize_scale(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 [H, W, 3] -> float32 [size, size, 3]: centre crop, bilinear resize, (pixel - 127) / 128."""
    height, width = image.shape[:2]
    crop = max(min(height, width) * size // (size + CROP_PADDING), 1)
    top, left = (height - crop + 1) // 2, (width - crop + 1) // 2
    cropped = image[top:top + crop, left:left + crop].astype(np.float32)
    return (resize_bilinear(cropped, size) - np.float32(127)) / np.float32(128)


def preprocess_file(path: Path, size: int) -> np.ndarray:
    return crop_resize_scale(decode_rgb(Path(path).read_bytes()), size)


def synthetic_image(seed: int, height: int, width: int) -> np.ndarray:
    """A seeded uint8 RGB image: smooth colour blobs plus grain, so the network sees varied structure."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(6, 6, 3)).astype(np.float32)
    smooth = resize_bilinear(coarse, max(height, width))[:height, :width]
    grain = rng.normal(0, 12, size=(height, width, 3)).astype(np.float32)
    return np.clip(smooth + grain, 0, 255).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buffer, format="PNG")
    return buffer.getvalue()
