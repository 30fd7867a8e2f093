"""Trained twins of tests/conventions.py's export conventions, for the skew finder's tests (issue 19 section 3).

tests/conventions.py's models are seeded random networks: they reproduce each convention's signature, input
range and output kind, but know nothing of cats and dogs, so their accuracy on photos is chance under any
preparation and cannot tell the right one. A twin keeps a convention's signature (input name, dtype, shape and
layout; output name and kind) and its correct profile (conventions.BY_NAME[name].profile), but classifies: its
graph undoes the convention's preparation (range, mean/std, channel order, layout) back to 0..255 RGB, resizes to
128×128 and runs pets' backbone (EfficientNet-Lite0 with ImageNet weights, pets/) and a cat/dog/other head
trained here on ../shared/train photos prepared the conventions' way: stretched (not centre-cropped, as pets' own
heads were), so that the stretch the conventions document is what the classifier learnt. Prepared the convention's
way, the classifier sees what it was trained on; prepared any other way it sees shifted, scaled, colour-swapped or
cropped pixels. imagenet_1001 answers with the backbone's own ImageNet logits behind a "background" logit, as TF
Hub's classifiers do. Imports TensorFlow and Keras: test code only.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

from client.images import open_image, upright_rgb  # noqa: E402
from client.profile import ModelProfile  # noqa: E402
from pets.efficientnet_lite import pretrained_backbone  # noqa: E402
from pets.head import Head  # noqa: E402
from pets.train import fit_softmax, read_manifest  # noqa: E402
from tests.conventions import CAFFE_MEAN_BGR, IMAGENET_MEAN, IMAGENET_STD  # noqa: E402

SIZE = 128                 # pets version 1's input size
TRAIN_SIDE = 96            # the training photos are stretched to 96×96 (most conventions' size), then to SIZE
BATCH = 64
BACKGROUND_LOGIT = -10.0   # imagenet_1001's class 0: never the top class
# ImageNet class indices (0-based, of the 1000) of domestic cats and of dogs: what "cat" and "dog" mean to
# imagenet_1001 (add 1 for its background class).
IMAGENET_CATS = range(281, 286)   # tabby, tiger cat, Persian, Siamese, Egyptian cat
IMAGENET_DOGS = range(151, 269)   # Chihuahua .. Mexican hairless


class Twin(tf.Module):
    """0..255 RGB floats [N, H, W, 3] -> (cat/dog/other logits [N, 3], ImageNet logits [N, 1000])."""

    def __init__(self, name: str, backbone, head) -> None:
        super().__init__(name=name)
        self.backbone = backbone
        self.head_weights = tf.Variable(head.weights, dtype=tf.float32, trainable=False)
        self.head_bias = tf.Variable(head.bias, dtype=tf.float32, trainable=False)

    def logits(self, rgb: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        rgb = tf.image.resize(rgb, [SIZE, SIZE], method="bilinear", antialias=False)
        net = self.backbone((rgb - 127.0) / 128.0, training=False)
        return tf.matmul(net["features"], self.head_weights) + self.head_bias, net["imagenet_logits"]


def _from_unit(x):
    return x * 255.0


def _from_keras_tf(x):
    return (x + 1.0) * 127.5


def _from_raw(x):
    return tf.cast(x, tf.float32)


def _from_caffe(x):
    return tf.reverse(x + tf.constant(CAFFE_MEAN_BGR, tf.float32), axis=[-1])


def _from_torch(x):
    return (x * tf.constant(IMAGENET_STD, tf.float32) + tf.constant(IMAGENET_MEAN, tf.float32)) * 255.0


def _from_torch_nchw(x):
    return _from_torch(tf.transpose(x, [0, 2, 3, 1]))


# name -> (input name, dtype, shape, to 0..255 RGB NHWC, outputs from (pets logits, ImageNet logits))
SPECS: dict[str, tuple[str, tf.DType, list, Callable, Callable]] = {
    "tutorial_sigmoid": ("mobilenetv2_1.00_128_input", tf.float32, [None, 128, 128, 3], _from_keras_tf,
                         lambda out: {"dense": tf.sigmoid(out[0][:, 1:2] - out[0][:, 0:1])}),
    "unit_logits": ("images", tf.float32, [None, 96, 96, 3], _from_unit, lambda out: {"logits": out[0]}),
    "keras_rescaling": ("keras_tensor", tf.float32, [None, 96, 96, 3], _from_raw,
                        lambda out: {"output_0": tf.nn.softmax(out[0])}),
    "uint8": ("images", tf.uint8, [None, 96, 96, 3], _from_raw,
              lambda out: {"probabilities": tf.nn.softmax(out[0])}),
    "dynamic": ("images", tf.float32, [None, None, None, 3], _from_unit,
                lambda out: {"probabilities": tf.nn.softmax(out[0])}),
    "caffe": ("input_1", tf.float32, [None, 96, 96, 3], _from_caffe,
              lambda out: {"predictions": tf.nn.softmax(out[0])}),
    "torch": ("input_1", tf.float32, [None, 96, 96, 3], _from_torch,
              lambda out: {"predictions": tf.nn.softmax(out[0])}),
    "nchw": ("pixel_values", tf.float32, [None, 3, 96, 96], _from_torch_nchw, lambda out: {"logits": out[0]}),
    "imagenet_1001": ("images", tf.float32, [None, 96, 96, 3], _from_unit,
                      lambda out: {"logits": tf.concat([tf.fill([tf.shape(out[1])[0], 1], BACKGROUND_LOGIT),
                                                        out[1]], axis=1)}),
    # Not one of tests/conventions.py's: a torch-style model that names its classes (as pets does), for the browser
    # test's mis-profiled model (no profile needed to read it).
    "torch_named": ("images", tf.float32, [None, 96, 96, 3], _from_torch,
                    lambda out: {"probabilities": tf.nn.softmax(out[0]),
                                 "classes": tf.broadcast_to(tf.constant(["cat", "dog", "other"]),
                                                            [tf.shape(out[0])[0], 3])}),
}
NAMES = ("tutorial_sigmoid", "unit_logits", "keras_rescaling", "uint8", "dynamic", "caffe", "torch", "nchw",
         "imagenet_1001")   # tests/conventions.py's, in its order


def build_twin(name: str, path: Path, backbone, head) -> None:
    input_name, dtype, shape, to_rgb, outputs = SPECS[name]
    twin = Twin(name, backbone, head)

    def serve(images):
        return outputs(twin.logits(to_rgb(images)))

    function = tf.function(serve, input_signature=[tf.TensorSpec(shape, dtype, name=input_name)])
    tf.saved_model.save(twin, str(path), signatures={"serving_default": function})


def stretch_head(backbone, train_dir: Path) -> Head:
    """A cat/dog/other softmax over the backbone's pooled features of every training photo stretched to
    TRAIN_SIDE² (Pillow bilinear, what the `raw` preset sends) and resized to SIZE² as the twins do (pets.train's
    fit_softmax: class-balanced, deterministic)."""
    dataset = read_manifest(train_dir)
    recipe = ModelProfile.preset("raw").recipe("DT_FLOAT", [-1, TRAIN_SIDE, TRAIN_SIDE, 3])
    features = tf.function(lambda rgb: backbone(
        (tf.image.resize(rgb, [SIZE, SIZE], method="bilinear", antialias=False) - 127.0) / 128.0,
        training=False)["features"])
    chunks = []
    for start in range(0, len(dataset.paths), BATCH):
        pixels = [recipe.prepare(upright_rgb(open_image(str(path), path.read_bytes())))
                  for path in dataset.paths[start:start + BATCH]]
        chunks.append(features(tf.constant(np.stack(pixels))).numpy())
    weights, bias = fit_softmax(np.concatenate(chunks), dataset.labels)
    return Head(weights, bias, SIZE, {"trained": "stretched to 96 px, for the skew finder's twins"})


def cached_stretch_head(backbone, train_dir: Path, cache: Any = None) -> Head:
    """stretch_head, kept in pytest's cache (`config.cache`) under the training manifest's digest: deterministic,
    so a later session need not extract 1,300 photos' features again."""
    digest = hashlib.sha256((Path(train_dir) / "manifest.csv").read_bytes()).hexdigest()[:16]
    key = f"servescope/skew_twin_head/{digest}"
    kept = cache.get(key, None) if cache is not None else None
    if kept is not None:
        return Head(np.array(kept["weights"], np.float32), np.array(kept["bias"], np.float32), SIZE, {})
    head = stretch_head(backbone, train_dir)
    if cache is not None:
        cache.set(key, {"weights": head.weights.tolist(), "bias": head.bias.tolist()})
    return head


def build_twins(base: Path, train_dir: Path, names: tuple[str, ...] = NAMES, cache: Any = None) -> str:
    """Each twin's SavedModel as `base/<name>/1` (the head trained on `train_dir`, cached in `cache`); returns a
    ModelServerConfig text serving them all."""
    backbone = pretrained_backbone(SIZE)
    head = cached_stretch_head(backbone, train_dir, cache)
    entries = []
    for name in names:
        build_twin(name, base / name / "1", backbone, head)
        entries.append(f'  config {{\n    name: "{name}"\n    base_path: "{base / name}"\n'
                       f'    model_platform: "tensorflow"\n  }}\n')
    return "model_config_list {\n" + "".join(entries) + "}\n"


def imagenet_groups(class_names: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """"cat" and "dog" as the sets of imagenet_1001's class names (background first) that mean them."""
    return {"cat": frozenset(class_names[i + 1] for i in IMAGENET_CATS),
            "dog": frozenset(class_names[i + 1] for i in IMAGENET_DOGS)}

