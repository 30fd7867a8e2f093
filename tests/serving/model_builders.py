"""Build the SavedModels the serving conformance tests run against (small, fast, built once per session).

- `half_plus_two` (TF Serving's classic test model, TF1 graph export so it can carry classify/regress
  methods): version 1 computes y = 0.5·x + 2, version 2 computes y = 0.5·x + 3 (so tests can tell them apart).
  Signatures: serving_default (predict x[-1] -> y[-1]), classify_x_to_y (classify, Example feature x -> scores),
  regress_x_to_y (regress, Example feature x -> outputs).
- `toolbox` (TF2 tf.Module): serving_default (text_bytes -> echo_bytes, length), image_size (image_bytes ->
  height_width, decodes images in-graph), add (two named inputs a, b -> sum), spin (n -> count after
  busy-looping n times: slow on purpose).
- `broken`: version 1 whose saved_model.pb is garbage (must fail to load without harming the server).

TF Serving's own testdata, rebuilt the way its `saved_model_half_plus_two.py` builds it (TF1 graph, the
serialized-Example placeholder without a shape, `x` = the parsed feature [-1,1] fed directly, the same signature
names) in zero-padded version folders: `saved_model_half_plus_two_cpu/00000123`,
`saved_model_half_plus_three/00000123` (y = 0.5·x + 3) and `saved_model_half_plus_two_2_versions/00000123`
and `/00000124`.
"""
from __future__ import annotations

from pathlib import Path

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
