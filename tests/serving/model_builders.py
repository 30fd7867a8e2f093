"""Build the SavedModels the serving conformance tests run against (small, fast, built once per session).

- `half_plus_two` (TF Serving's classic test model, TF1 graph export so it can carry classify/regress
  methods): version 1 computes y = 0.5·x + 2, version 2 computes y = 0.5·x + 3 (so tests can tell them apart).
  Signatures: serving_default (predict x[-1] -> y[-1]), classify_x_to_y (classify, Example feature x -> scores),
  regress_x_to_y (regress, Example feature x -> outputs).
- `toolbox` (TF2 tf.Module): serving_default (text_bytes -> echo_bytes, length), image_size (image_bytes ->
  height_width, decodes images in-graph), add (two named inputs a, b -> sum), spin (n -> count after
  busy-looping n times: slow on purpose).
- `broken`: version 1 whose saved_model.pb is garbage (must fail to load without harming the server).
- `CONVENTIONS`: the ways teams export image classifiers (issue 19): the TF 2.0-era Keras tutorial signature, a
  Keras-1/2 `input_1` with 1001 logits, DT_UINT8, dynamic [-1,-1,-1,3], NCHW, DT_HALF, DT_DOUBLE, Keras 3
  `model.export()` and Keras 3 through tf.saved_model.save; each builder returns the model's in-process reference.

TF Serving's own testdata, rebuilt the way its `saved_model_half_plus_two.py` builds it (TF1 graph, the
serialized-Example placeholder without a shape, `x` = the parsed feature [-1,1] fed directly, the same signature
names) in zero-padded version folders: `saved_model_half_plus_two_cpu/00000123`,
`saved_model_half_plus_three/00000123` (y = 0.5·x + 3) and `saved_model_half_plus_two_2_versions/00000123`
and `/00000124`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf


def build_half_plus_two(export_dir: Path, offset: float) -> None:
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        a = v1.Variable(0.5, name="a")
        b = v1.Variable(offset, name="b")
        x = v1.placeholder(tf.float32, shape=[None], name="x")
        y = tf.add(tf.multiply(a, x), b, name="y")
        serialized = v1.placeholder(tf.string, shape=[None], name="tf_example")
        parsed = v1.io.parse_example(serialized, {"x": v1.io.FixedLenFeature([1], tf.float32)})
        y_from_example = tf.add(tf.multiply(a, parsed["x"]), b, name="y_from_example")  # [-1, 1]
        info = v1.saved_model.utils.build_tensor_info
        signatures = {
            "serving_default": v1.saved_model.signature_def_utils.build_signature_def(
                inputs={"x": info(x)}, outputs={"y": info(y)}, method_name="tensorflow/serving/predict"),
            "classify_x_to_y": v1.saved_model.signature_def_utils.classification_signature_def(
                examples=serialized, classes=None, scores=y_from_example),
            "regress_x_to_y": v1.saved_model.signature_def_utils.regression_signature_def(
                examples=serialized, predictions=y_from_example),
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()


class Toolbox(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text_bytes")])
    def echo(self, text_bytes):
        return {"echo_bytes": text_bytes, "length": tf.strings.length(text_bytes)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def image_size(self, image_bytes):
        def size(data):
            image = tf.io.decode_image(data, channels=3, expand_animations=False)
            return tf.shape(image)[:2]
        return {"height_width": tf.map_fn(size, image_bytes, fn_output_signature=tf.int32)}

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="a"),
                                  tf.TensorSpec([None, 2], tf.float32, name="b")])
    def add(self, a, b):
        return {"sum": a + b}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="n")])
    def spin(self, n):
        """Busy-loops n[0] times: a deliberately slow signature for the request-timeout test."""
        count = tf.while_loop(lambda i: i < n[0], lambda i: i + 1, [tf.constant(0, tf.int64)])[0]
        return {"count": tf.reshape(count, [1])}


def build_toolbox(export_dir: Path) -> None:
    module = Toolbox()
    tf.saved_model.save(module, str(export_dir), signatures={
        "serving_default": module.echo, "image_size": module.image_size, "add": module.add,
        "spin": module.spin})


def build_tf_serving_half_plus(export_dir: Path, offset: float = 2.0) -> None:
    """y = 0.5·x + offset, y2 = 0.5·x + 3, y3 = 0.5·x2 + 3, with TF Serving's testdata signatures."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        a, b, c = v1.Variable(0.5, name="a"), v1.Variable(offset, name="b"), v1.Variable(3.0, name="c")
        serialized = v1.placeholder(tf.string, name="tf_example")  # no shape at all: unknown rank
        features = v1.io.parse_example(serialized, {
            "x": v1.io.FixedLenFeature([1], tf.float32),
            "x2": v1.io.FixedLenFeature([1], tf.float32, default_value=[0.0])})
        for feature in features.values():  # what older TF inferred for an unknown-rank input; no runtime check
            feature.set_shape([None, 1])
        x = tf.identity(features["x"], name="x")
        y = tf.identity(a * x + b, name="y")
        y2 = tf.identity(a * x + c, name="y2")
        x2 = tf.identity(features["x2"], name="x2")
        a2, c2 = v1.Variable(0.5, name="a2"), v1.Variable(3.0, name="c2")
        y3 = tf.identity(a2 * x2 + c2, name="y3")
        info = v1.saved_model.utils.build_tensor_info

        def signature(inputs: dict, outputs: dict, method: str):
            return v1.saved_model.signature_def_utils.build_signature_def(
                {k: info(t) for k, t in inputs.items()}, {k: info(t) for k, t in outputs.items()},
                f"tensorflow/serving/{method}")

        signatures = {
            "regress_x_to_y": signature({"inputs": serialized}, {"outputs": y}, "regress"),
            "regress_x_to_y2": signature({"inputs": serialized}, {"outputs": y2}, "regress"),
            "regress_x2_to_y3": signature({"inputs": x2}, {"outputs": y3}, "regress"),
            "classify_x_to_y": signature({"inputs": serialized}, {"scores": y}, "classify"),
            "serving_default": signature({"x": x}, {"y": y}, "predict"),
        }
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            builder = v1.saved_model.Builder(str(export_dir))
            builder.add_meta_graph_and_variables(session, ["serve"], signature_def_map=signatures)
            builder.save()


TF_SERVING_MODELS = {  # model name -> {version folder: offset b}
    "saved_model_half_plus_two_cpu": {"00000123": 2.0},
    "saved_model_half_plus_three": {"00000123": 3.0},
    "saved_model_half_plus_two_2_versions": {"00000123": 2.0, "00000124": 2.0},
}


def build_tf_serving_testdata(root: Path) -> Path:
    for model, versions in TF_SERVING_MODELS.items():
        for folder, offset in versions.items():
            build_tf_serving_half_plus(root / model / folder, offset)
    return root


def build_all(root: Path) -> Path:
    """Build every test model under root/<name>/<version>; returns root."""
    build_half_plus_two(root / "half_plus_two" / "1", offset=2.0)
    build_half_plus_two(root / "half_plus_two" / "2", offset=3.0)
    build_toolbox(root / "toolbox" / "1")
    broken = root / "broken" / "1"
    broken.mkdir(parents=True)
    (broken / "saved_model.pb").write_bytes(b"this is not a SavedModel protobuf")
    return root


# ---- export conventions (issue 19 §4): the ways teams export image classifiers --------------------------------
# Each builder saves one small classifier to export_dir and returns the model's own serving function, to call
# in-process on the same tensor as the server (the reference). Weights come from fixed seeds.
Reference = Callable[[np.ndarray], dict[str, np.ndarray]]


class TinyClassifier(tf.Module):
    """A 3×3 stride-2 convolution with ReLU, global average pooling and a dense layer: small, but a real CNN."""

    def __init__(self, classes: int, seed: int, dtype=tf.float32):
        super().__init__()
        rng = np.random.RandomState(seed)
        self.kernel = tf.Variable(rng.normal(0, 0.5, (3, 3, 3, 8)), dtype=dtype, name="conv/kernel")
        self.dense_w = tf.Variable(rng.normal(0, 1.0, (8, classes)), dtype=dtype, name="dense/kernel")
        self.dense_b = tf.Variable(rng.normal(0, 0.1, (classes,)), dtype=dtype, name="dense/bias")

    def logits(self, images_nhwc: tf.Tensor) -> tf.Tensor:
        features = tf.nn.relu(tf.nn.conv2d(images_nhwc, self.kernel, strides=2, padding="SAME"))
        return tf.matmul(tf.reduce_mean(features, axis=[1, 2]), self.dense_w) + self.dense_b


def _save(module: tf.Module, export_dir: Path, spec: tf.TensorSpec, outputs: Callable) -> Reference:
    serve = tf.function(outputs, input_signature=[spec])
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": serve})
    return lambda batch: {key: value.numpy() for key, value in serve(tf.constant(batch)).items()}


def build_tutorial_sigmoid(export_dir: Path) -> Reference:
    """The TF 2.0-era Keras MobileNetV2 tutorial signature: `mobilenetv2_1.00_128_input` float [-1,128,128,3] in
    [-1,1], one sigmoid unit `dense` [-1,1] (Cat/Dog)."""
    model = TinyClassifier(classes=1, seed=1)
    spec = tf.TensorSpec([None, 128, 128, 3], tf.float32, name="mobilenetv2_1.00_128_input")
    return _save(model, export_dir, spec, lambda x: {"dense": tf.sigmoid(model.logits(x))})


def build_keras2_logits_1001(export_dir: Path) -> Reference:
    """A Keras-1/2 style name (`input_1`), [0,1] input, 1001 ImageNet logits (background class first)."""
    model = TinyClassifier(classes=1001, seed=2)
    spec = tf.TensorSpec([None, 32, 32, 3], tf.float32, name="input_1")
    return _save(model, export_dir, spec, lambda x: {"logits": model.logits(x)})


def build_uint8(export_dir: Path) -> Reference:
    """DT_UINT8 pixels [-1,32,32,3] (0..255), scaled inside the graph; softmax over 3 classes."""
    model = TinyClassifier(classes=3, seed=3)
    spec = tf.TensorSpec([None, 32, 32, 3], tf.uint8, name="images")
    return _save(model, export_dir, spec,
                 lambda x: {"probabilities": tf.nn.softmax(model.logits(tf.cast(x, tf.float32) / 255.0))})


def build_dynamic(export_dir: Path) -> Reference:
    """Float [-1,-1,-1,3]: any image size (pooling makes the output size-independent)."""
    model = TinyClassifier(classes=3, seed=4)
    spec = tf.TensorSpec([None, None, None, 3], tf.float32, name="image")
    return _save(model, export_dir, spec, lambda x: {"probabilities": tf.nn.softmax(model.logits(x))})


def build_nchw(export_dir: Path) -> Reference:
    """Channels first, [-1,3,24,24] (a PyTorch-converted model); flattened features, so other sizes cannot fit."""
    model = TinyClassifier(classes=3, seed=5)
    model.flat_w = tf.Variable(np.random.RandomState(6).normal(0, 0.1, (12 * 12 * 8, 3)), dtype=tf.float32,
                               name="flat/kernel")

    def outputs(x):
        features = tf.nn.relu(tf.nn.conv2d(tf.transpose(x, [0, 2, 3, 1]), model.kernel, strides=2, padding="SAME"))
        return {"probabilities": tf.nn.softmax(tf.matmul(tf.reshape(features, [-1, 12 * 12 * 8]), model.flat_w))}
    return _save(model, export_dir, tf.TensorSpec([None, 3, 24, 24], tf.float32, name="input"), outputs)


def build_half(export_dir: Path) -> Reference:
    """DT_HALF pixels [-1,8,8,3]; float outputs."""
    model = TinyClassifier(classes=3, seed=7)
    spec = tf.TensorSpec([None, 8, 8, 3], tf.float16, name="pixels")
    return _save(model, export_dir, spec,
                 lambda x: {"probabilities": tf.nn.softmax(model.logits(tf.cast(x, tf.float32)))})


def build_double(export_dir: Path) -> Reference:
    """DT_DOUBLE pixels [-1,8,8,3], computed and answered in double."""
    model = TinyClassifier(classes=3, seed=8, dtype=tf.float64)
    spec = tf.TensorSpec([None, 8, 8, 3], tf.float64, name="pixels")
    return _save(model, export_dir, spec, lambda x: {"probabilities": tf.nn.softmax(model.logits(x))})


def _keras_model():
    import keras  # Keras 3 (the `serving` extra's TensorFlow brings it)
    keras.utils.set_random_seed(9)
    inputs = keras.Input((32, 32, 3), name="pixels")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="dense")(x))


def build_keras3_export(export_dir: Path) -> Reference:
    """Keras 3 `model.export(format="tf_saved_model")`: endpoint `serve` plus `serving_default`, [0,255] input with
    Rescaling(1/255) inside, output `output_0`."""
    model = _keras_model()
    model.export(str(export_dir), format="tf_saved_model", verbose=False)
    return lambda batch: {"output_0": model(batch, training=False).numpy()}


def build_keras3_saved_model(export_dir: Path) -> Reference:
    """The same Keras 3 model saved with tf.saved_model.save: its restore op leaves the variables unset (TF Serving
    cannot run it)."""
    model = _keras_model()
    tf.saved_model.save(model, str(export_dir))
    return lambda batch: {"output_0": model(batch, training=False).numpy()}


class Scaler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.float32, name="scale")])
    def scale(self, x, scale=tf.constant(2.0)):
        return {"y": x * scale}


def build_with_default(export_dir: Path) -> None:
    """y = x · scale, where the signature gives `scale` a default (SignatureDef.defaults: scale = 2.0)."""
    module = Scaler()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.scale})


CONVENTIONS: dict[str, Callable[[Path], Reference]] = {
    "tutorial_sigmoid": build_tutorial_sigmoid, "keras2_logits_1001": build_keras2_logits_1001,
    "uint8": build_uint8, "dynamic": build_dynamic, "nchw": build_nchw, "half": build_half, "double": build_double,
    "keras3_export": build_keras3_export, "keras3_saved_model": build_keras3_saved_model,
}


def build_conventions(root: Path) -> dict[str, Reference]:
    """Every convention as root/<name>/1; returns each model's in-process reference."""
    return {name: build(root / name / "1") for name, build in CONVENTIONS.items()}
