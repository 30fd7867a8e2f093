"""Both SavedModels expose exactly the contract's signatures (read from saved_model.pb) and behave."""
from __future__ import annotations

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from pets import CLASS_NAMES, VERSION_SIZES
from pets import reference_preprocessing as ref
from pets.imagenet_labels import imagenet_short_labels

pytestmark = pytest.mark.slow   # the module starts the embedded server with the pets models

OUTPUTS = {
    "probabilities": (types_pb2.DT_FLOAT, [-1, 3]),
    "classes": (types_pb2.DT_STRING, [-1, 3]),
    "imagenet_top5_labels": (types_pb2.DT_STRING, [-1, 5]),
    "imagenet_top5_scores": (types_pb2.DT_FLOAT, [-1, 5]),
}


def _signatures(directory):
    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((directory / "saved_model.pb").read_bytes())
    (meta_graph,) = saved_model.meta_graphs
    assert list(meta_graph.meta_info_def.tags) == ["serve"]
    return meta_graph.signature_def


def _describe(tensor_infos):
    return {name: (info.dtype, [d.size for d in info.tensor_shape.dim]) for name, info in tensor_infos.items()}


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_signature_defs(pets_build_dir, version):
    size = VERSION_SIZES[version]
    signatures = _signatures(pets_build_dir / str(version))
    assert set(signatures) - {"__saved_model_init_op"} == {"serving_default", "predict_images"}
    serving, images = signatures["serving_default"], signatures["predict_images"]
    assert serving.method_name == images.method_name == "tensorflow/serving/predict"
    assert _describe(serving.inputs) == {"image_bytes": (types_pb2.DT_STRING, [-1])}
    assert _describe(images.inputs) == {"images": (types_pb2.DT_FLOAT, [-1, size, size, 3])}
    assert _describe(serving.outputs) == OUTPUTS
    assert _describe(images.outputs) == OUTPUTS


def _png(seed, height=180, width=240):
    return ref.png_bytes(ref.synthetic_image(seed, height, width))


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_serving_default_outputs(loaded_versions, version):
    gif = io.BytesIO()
    Image.fromarray(ref.synthetic_image(3, 100, 90)).save(gif, format="GIF")
    out = loaded_versions[version].signatures["serving_default"](
        image_bytes=tf.constant([_png(1), _png(2, 90, 300), gif.getvalue()]))
    probabilities = out["probabilities"].numpy()
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert out["classes"].numpy().tolist() == [[c.encode() for c in CLASS_NAMES]] * 3
    scores = out["imagenet_top5_scores"].numpy()
    assert scores.shape == (3, 5) and np.all(np.diff(scores, axis=1) <= 0) and np.all(scores > 0)
    known = set(imagenet_short_labels())
    assert all(label.decode() in known for label in out["imagenet_top5_labels"].numpy().ravel())


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_serving_default_equals_predict_images_on_preprocessed_pixels(loaded_versions, version):
    size = VERSION_SIZES[version]
    blobs = [_png(4), _png(5, 300, 120)]
    signatures = loaded_versions[version].signatures
    from_bytes = signatures["serving_default"](image_bytes=tf.constant(blobs))
    pixels = np.stack([ref.crop_resize_scale(ref.decode_rgb(b), size) for b in blobs])
    from_pixels = signatures["predict_images"](images=tf.constant(pixels))
    np.testing.assert_allclose(from_bytes["probabilities"].numpy(), from_pixels["probabilities"].numpy(), atol=1e-5)
    assert from_bytes["imagenet_top5_labels"].numpy().tolist() == from_pixels["imagenet_top5_labels"].numpy().tolist()


def test_undecodable_bytes_fail_with_invalid_argument(loaded_versions):
    serve = loaded_versions[1].signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="Unknown image file format"):
        serve(image_bytes=tf.constant([_png(1), b"\x00\x01 not an image"]))


def test_truncated_jpeg_fails_with_invalid_argument(loaded_versions):
    jpeg = io.BytesIO()
    Image.fromarray(ref.synthetic_image(8, 120, 120)).save(jpeg, format="JPEG")
    with pytest.raises(tf.errors.InvalidArgumentError):
        loaded_versions[2].signatures["serving_default"](image_bytes=tf.constant([jpeg.getvalue()[:200]]))


@pytest.mark.parametrize("version", sorted(VERSION_SIZES))
def test_empty_batch_gives_empty_outputs(loaded_versions, version):
    out = loaded_versions[version].signatures["serving_default"](image_bytes=tf.constant([], dtype=tf.string))
    assert {name: tuple(value.shape) for name, value in out.items()} == {
        "probabilities": (0, 3), "classes": (0, 3), "imagenet_top5_labels": (0, 5), "imagenet_top5_scores": (0, 5)}


def test_imagenet_labels_file():
    from pets.imagenet_labels import imagenet_synonyms

    synonyms = imagenet_synonyms()
    assert len(synonyms) == 1000
    assert synonyms[0] == "tench, Tinca tinca"
    assert synonyms[281] == "tabby, tabby cat" and synonyms[285] == "Egyptian cat"
    assert synonyms[151] == "Chihuahua" and synonyms[268] == "Mexican hairless"
    assert synonyms[999] == "toilet tissue, toilet paper, bathroom tissue"
    assert imagenet_short_labels()[388] == "giant panda"
