"""The pets build writes TF Serving warmup records that parse, match the signatures, and replay cleanly."""
from __future__ import annotations

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from pets import VERSION_SIZES
from pets.warmup import WARMUP_FILE, synthetic_jpeg, warmup_records


def test_records_are_deterministic_and_images_decode():
    assert warmup_records(128) == warmup_records(128)
    image = tf.io.decode_jpeg(synthetic_jpeg(0))
    assert image.shape == (240, 320, 3)


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_built_versions_carry_warmup_records_for_both_signatures(pets_build_dir, version):
    path = pets_build_dir / str(version) / WARMUP_FILE
    records = [prediction_log_pb2.PredictionLog.FromString(raw)
               for raw in tf.data.TFRecordDataset(str(path)).as_numpy_iterator()]
    shapes = [(r.predict_log.request.model_spec.signature_name,
               {k: [d.size for d in v.tensor_shape.dim] for k, v in r.predict_log.request.inputs.items()})
              for r in records]
    size = VERSION_SIZES[version]
    assert shapes == [("serving_default", {"image_bytes": [1]}), ("serving_default", {"image_bytes": [16]}),
                      ("predict_images", {"images": [1, size, size, 3]})]


@pytest.mark.slow
def test_the_embedded_server_replays_them_before_the_version_is_available(pets_build_dir):
    from serving.loader import load_version
    from serving.warmup import warm_up

    servable = load_version("pets", 1, pets_build_dir / "1")
    assert warm_up(servable) == 3
