"""Warmup records for the pets SavedModels: `assets.extra/tf_serving_warmup_requests`, as TF Serving reads them.

TF Serving (and `python -m serving`) replay these PredictionLog records before a version turns AVAILABLE, so
the first real request does not pay for TensorFlow's lazy set-up. The images are synthetic and generated from
fixed numbers, so two builds write byte-identical files.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from pets import MODEL_NAME

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
# The client's default batch (16) and a single image: the batch sizes requests most often have.
WARMUP_BATCH_SIZES = (1, 16)


def synthetic_jpeg(index: int, width: int = 320, height: int = 240) -> bytes:
    """A smooth colour gradient with a bright disc: photo-like enough to exercise decoding and resizing."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    disc = ((x - (80 + 40 * index)) ** 2 + (y - 120) ** 2 < 60 ** 2) * 90.0
    pixels = np.stack([x / width * 255, y / height * 255, (x + y + 37 * index) % 256], axis=-1) + disc[..., None]
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def warmup_records(size: int) -> list[bytes]:
    """Serialized PredictionLogs: serving_default with 1 and 16 encoded images, predict_images with one image."""
    records = []
    for batch in WARMUP_BATCH_SIZES:
        request = predict_pb2.PredictRequest()
        request.model_spec.name = MODEL_NAME
        request.model_spec.signature_name = "serving_default"
        request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([synthetic_jpeg(i % 4) for i in range(batch)]))
        records.append(prediction_log_pb2.PredictionLog(
            predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString(deterministic=True))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = MODEL_NAME
    request.model_spec.signature_name = "predict_images"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros([1, size, size, 3], np.float32)))
    records.append(prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString(deterministic=True))
    return records


def write_warmup_requests(export_dir: Path, size: int) -> Path:
    path = Path(export_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in warmup_records(size):
            writer.write(record)
    return path
