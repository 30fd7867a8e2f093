"""Pooled 1280-d EfficientNet-Lite0 features for image files, with the same preprocessing as the served model."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from pets.preprocessing import preprocess_encoded_batch

BATCH_SIZE = 32


class FeatureExtractor:
    def __init__(self, backbone: keras.Model, size: int):
        self.size = size
        self._backbone = backbone
        self._run = tf.function(
            lambda image_bytes: self._backbone(preprocess_encoded_batch(image_bytes, size), training=False),
            input_signature=[tf.TensorSpec([None], tf.string)],
        )

    def encoded(self, blobs: Sequence[bytes]) -> dict[str, np.ndarray]:
        """Features and ImageNet logits for encoded images (one batch)."""
        out = self._run(tf.constant(list(blobs), dtype=tf.string))
        return {name: value.numpy() for name, value in out.items()}

    def files(self, paths: Sequence[Path], batch_size: int = BATCH_SIZE) -> np.ndarray:
        chunks = []
        for start in range(0, len(paths), batch_size):
            blobs = []
            for path in paths[start:start + batch_size]:
                blobs.append(Path(path).read_bytes())
            try:
                chunks.append(self.encoded(blobs)["features"])
            except tf.errors.InvalidArgumentError as exc:
                raise ValueError(f"cannot decode one of {paths[start:start + batch_size]}: {exc.message}") from exc
        return np.concatenate(chunks) if chunks else np.zeros((0, 1280), np.float32)
