"""In-graph image preprocessing shared by both signatures and by training.

Matches the EfficientNet-Lite evaluation recipe: centre crop of side shorter_side * size / (size + 32),
bilinear resize to size x size, then scale pixels with (pixel - 127) / 128.
"""
from __future__ import annotations

import tensorflow as tf

CROP_PADDING = 32
PIXEL_MEAN = 127.0
PIXEL_SCALE = 128.0


def center_crop_size(shorter_side, size: int):
    """Side of the square centre crop; integer arithmetic so graph and tests agree exactly."""
    return (shorter_side * size) // (size + CROP_PADDING)


def crop_resize_scale(image: tf.Tensor, size: int) -> tf.Tensor:
    """uint8 [H, W, 3] -> float32 [size, size, 3] scaled to about [-1, 1]."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    crop = tf.maximum(center_crop_size(tf.minimum(height, width), size), 1)
    top = (height - crop + 1) // 2
    left = (width - crop + 1) // 2
    cropped = tf.image.crop_to_bounding_box(image, top, left, crop, crop)
    resized = tf.image.resize(tf.cast(cropped, tf.float32), [size, size], method="bilinear", antialias=False)
    return (resized - PIXEL_MEAN) / PIXEL_SCALE


def decode_rgb(image_bytes: tf.Tensor) -> tf.Tensor:
    """Encoded JPEG/PNG/GIF/BMP -> uint8 [H, W, 3]; undecodable bytes raise InvalidArgumentError.

    JPEGs take the accurate integer IDCT (decode_image's default is the fast one, a level or two off),
    so served pixels equal what Pillow/libjpeg decode, which the port-fidelity check relies on.
    """
    image = tf.cond(
        tf.io.is_jpeg(image_bytes),
        lambda: tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"),
        lambda: tf.io.decode_image(image_bytes, channels=3, expand_animations=False, dtype=tf.uint8),
    )
    image.set_shape([None, None, 3])
    return image


def preprocess_encoded_batch(image_bytes: tf.Tensor, size: int) -> tf.Tensor:
    """string [N] -> float32 [N, size, size, 3]."""
    return tf.map_fn(
        lambda one: crop_resize_scale(decode_rgb(one), size),
        image_bytes,
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32),
    )
