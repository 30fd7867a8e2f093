"""Small SavedModels exported the ways real teams export image classifiers, each with its correct model profile and
an independent in-process reference (issue 19).

Every model is the same kind of tiny, seeded network (3×3 convolution, ReLU, area pooling onto a 4×4 grid, dense),
scaled so that its outputs move with the input it expects: the point is preprocessing fidelity, not accuracy. A
convention fixes the input (dtype, shape, layout, range) and the output (probabilities, logits, one sigmoid unit);
its `reference` prepares a photo the way that convention's own library does (Keras's load_img and
preprocess_input, tf.image ops) and calls the SavedModel in-process, giving the per-class probabilities the
client must reproduce through `python -m serving`. Imports TensorFlow and Keras: test code only.
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from pets.reference_preprocessing import synthetic_image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PETS = ["cat", "dog", "other"]
IMAGENET_LABELS = ROOT / "pets" / "imagenet_labels.txt"
GRID = 4  # the area-pooled grid the dense layer reads
FILTERS = 8


def _seed(name: str) -> int:
    return zlib.crc32(name.encode())


def calibration_images(height: int, width: int, count: int = 16) -> np.ndarray:
    """uint8 [count, height, width, 3]: seeded smooth colour blobs with grain (pets' synthetic test images)."""
    return np.stack([synthetic_image(seed, height, width) for seed in range(count)])


class TinyNet(tf.Module):
    """conv 3×3/2 (8 filters) → ReLU → area resize to 4×4 → dense; seeded. `input_spread` is the typical spread
    of the values the model expects (0.3 for [0, 1], 60 for caffe's BGR − mean), so its hidden units see values of
    about one; `calibrate` then sets the dense layer so that, on correctly prepared synthetic images, the logits
    are centred with a spread of `logit_spread`: outputs that move with the photo, not pinned at 0 or 1."""

    def __init__(self, name: str, *, units: int, input_spread: float, logit_spread: float = 2.5) -> None:
        super().__init__(name=name.replace("-", "_"))
        self.rng = np.random.default_rng(_seed(name))
        kernel = self.rng.normal(size=(3, 3, 3, FILTERS)) / (input_spread * np.sqrt(27))
        self.kernel = tf.Variable(kernel.astype(np.float32))
        self.bias = tf.Variable(self.rng.normal(scale=0.5, size=FILTERS).astype(np.float32))
        self.units, self.logit_spread = units, logit_spread
        self.dense = tf.Variable(np.zeros((GRID * GRID * FILTERS, units), dtype=np.float32))
        self.dense_bias = tf.Variable(np.zeros(units, dtype=np.float32))

    def features(self, nhwc: tf.Tensor) -> tf.Tensor:
        hidden = tf.nn.relu(tf.nn.conv2d(nhwc, self.kernel, strides=2, padding="SAME") + self.bias)
        return tf.reshape(tf.image.resize(hidden, [GRID, GRID], method="area"), [-1, GRID * GRID * FILTERS])

    def logits(self, nhwc: tf.Tensor) -> tf.Tensor:
        return self.features(nhwc) @ self.dense + self.dense_bias

    def calibrate(self, prepared: np.ndarray) -> "TinyNet":
        """Fit the dense layer's scale and bias to correctly prepared inputs (NHWC floats)."""
        weights, bias = _calibrated_dense(self.features(tf.constant(prepared, tf.float32)).numpy(), self.units,
                                          self.logit_spread, self.rng)
        self.dense.assign(weights)
        self.dense_bias.assign(bias)
        return self


def _calibrated_dense(features: np.ndarray, units: int, spread: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    weights = rng.normal(size=(features.shape[1], units))
    logits = features @ weights
    weights *= spread / max(float(logits.std(axis=0).mean()), 1e-6)
    return weights.astype(np.float32), (-(features @ weights).mean(axis=0)).astype(np.float32)


def _export(module: tf.Module, function: Any, path: Path) -> None:
    tf.saved_model.save(module, str(path), signatures={"serving_default": function})


# -- builders: one SavedModel each, into a version directory --------------------------------------------------
IMAGENET_MEAN, IMAGENET_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68])


def keras_tf(pixels: np.ndarray) -> np.ndarray:
    return pixels / 127.5 - 1


def unit(pixels: np.ndarray) -> np.ndarray:
    return pixels / 255.0


def caffe(pixels: np.ndarray) -> np.ndarray:
    return pixels[..., ::-1] - CAFFE_MEAN_BGR


def torch(pixels: np.ndarray) -> np.ndarray:
    return (pixels / 255.0 - IMAGENET_MEAN) / IMAGENET_STD


def _net(name: str, prepare: Callable[[np.ndarray], np.ndarray], *, units: int = 3, input_spread: float,
         size: tuple[int, int] = (96, 96), logit_spread: float = 2.5) -> TinyNet:
    net = TinyNet(name, units=units, input_spread=input_spread, logit_spread=logit_spread)
    return net.calibrate(prepare(calibration_images(*size).astype(np.float64)))


def build_tutorial_sigmoid(path: Path) -> None:
    """The tutorial's Keras MobileNetV2 signature: `mobilenetv2_1.00_128_input` DT_FLOAT [-1,128,128,3] on [-1, 1],
    one sigmoid unit `dense` [-1,1] (Cat/Dog)."""
    net = _net("tutorial", keras_tf, units=1, input_spread=0.6, size=(128, 128))
    spec = tf.TensorSpec([None, 128, 128, 3], tf.float32, name="mobilenetv2_1.00_128_input")
    serve = tf.function(lambda images: {"dense": tf.sigmoid(net.logits(images))}, input_signature=[spec])
    _export(net, serve, path)


def build_unit_logits(path: Path) -> None:
    """[0, 1] input DT_FLOAT [-1,96,96,3] and logits [-1,3] (no softmax in the graph)."""
    net = _net("unit-logits", unit, input_spread=0.3)
    spec = tf.TensorSpec([None, 96, 96, 3], tf.float32, name="images")
    _export(net, tf.function(lambda images: {"logits": net.logits(images)}, input_signature=[spec]), path)


def build_keras_rescaling(path: Path) -> None:
    """A Keras 3 model with Rescaling(1/255) inside, so it takes 0..255; exported with model.export()."""
    keras.utils.set_random_seed(_seed("keras-rescaling") % 2**31)
    inputs = keras.Input((96, 96, 3))
    hidden = keras.layers.Rescaling(1 / 255)(inputs)
    hidden = keras.layers.Conv2D(FILTERS, 3, strides=2, padding="same", activation="relu",
                                 kernel_initializer=keras.initializers.RandomNormal(stddev=1 / (0.3 * 27 ** 0.5)),
                                 bias_initializer=keras.initializers.RandomNormal(stddev=0.5))(hidden)
    hidden = keras.layers.AveragePooling2D(12)(hidden)  # 48×48 -> 4×4
    features = keras.layers.Flatten()(hidden)
    dense = keras.layers.Dense(3)
    outputs = keras.layers.Softmax()(dense(features))
    model = keras.Model(inputs, outputs)
    sample = calibration_images(96, 96).astype(np.float32)
    weights, bias = _calibrated_dense(keras.Model(inputs, features)(sample).numpy(), 3, 2.5,
                                      np.random.default_rng(_seed("keras-rescaling")))
    dense.set_weights([weights, bias])
    model.export(str(path), verbose=False)


def build_uint8(path: Path) -> None:
    """DT_UINT8 [-1,96,96,3] (the model casts and scales itself), probabilities [-1,3]."""
    net = _net("uint8", unit, input_spread=0.3)
    spec = tf.TensorSpec([None, 96, 96, 3], tf.uint8, name="images")
    serve = tf.function(lambda images: {"probabilities": tf.nn.softmax(net.logits(tf.cast(images, tf.float32) / 255))},
                        input_signature=[spec])
    _export(net, serve, path)


def build_dynamic(path: Path) -> None:
    """DT_FLOAT [-1,-1,-1,3] on [0, 1]: any size (the pooling fits any grid), probabilities [-1,3]."""
    net = _net("dynamic", unit, input_spread=0.3, size=(160, 120))
    spec = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    serve = tf.function(lambda images: {"probabilities": tf.nn.softmax(net.logits(images))}, input_signature=[spec])
    _export(net, serve, path)


def build_caffe(path: Path) -> None:
    """Keras "caffe" input (VGG, ResNet50 v1): BGR in 0..255 minus ImageNet's mean; softmax `predictions`."""
    net = _net("caffe", caffe, input_spread=60.0)
    spec = tf.TensorSpec([None, 96, 96, 3], tf.float32, name="input_1")
    serve = tf.function(lambda input_1: {"predictions": tf.nn.softmax(net.logits(input_1))}, input_signature=[spec])
    _export(net, serve, path)


def build_torch(path: Path) -> None:
    """Keras "torch" input (DenseNet): [0, 1] then ImageNet mean/std; softmax `predictions`."""
    net = _net("torch", torch, input_spread=1.0)
    spec = tf.TensorSpec([None, 96, 96, 3], tf.float32, name="input_1")
    serve = tf.function(lambda input_1: {"predictions": tf.nn.softmax(net.logits(input_1))}, input_signature=[spec])
    _export(net, serve, path)


def build_nchw(path: Path) -> None:
    """A PyTorch-style export: `pixel_values` DT_FLOAT [-1,3,96,96] normalised like torchvision, logits [-1,3]."""
    net = _net("nchw", torch, input_spread=1.0)
    spec = tf.TensorSpec([None, 3, 96, 96], tf.float32, name="pixel_values")
    serve = tf.function(lambda pixel_values: {"logits": net.logits(tf.transpose(pixel_values, [0, 2, 3, 1]))},
                        input_signature=[spec])
    _export(net, serve, path)


def build_imagenet_1001(path: Path) -> None:
    """TF Hub's ImageNet classifiers: [0, 1] input, 1001 logits, class 0 being "background"."""
    net = _net("imagenet-1001", unit, units=1001, input_spread=0.3, logit_spread=4.0)
    spec = tf.TensorSpec([None, 96, 96, 3], tf.float32, name="images")
    _export(net, tf.function(lambda images: {"logits": net.logits(images)}, input_signature=[spec]), path)


# -- references: the convention's own library prepares the photo; the SavedModel runs in-process ---------------
def _keras_pixels(photo: Path, size: tuple[int, int]) -> np.ndarray:
    """keras.utils.load_img with bilinear resizing, as a float array of 0..255 (Keras's documented way)."""
    image = keras.utils.load_img(str(photo), target_size=size, interpolation="bilinear")
    return keras.utils.img_to_array(image)


def _tf_pixels(photo: Path, size: tuple[int, int]) -> tf.Tensor:
    """tf.io.decode_jpeg (libjpeg's accurate IDCT, as Pillow) and tf.image.resize (bilinear), 0..255 floats."""
    image = tf.io.decode_jpeg(tf.io.read_file(str(photo)), channels=3, dct_method="INTEGER_ACCURATE")
    return tf.image.resize(tf.cast(image, tf.float32), size, method="bilinear", antialias=False)


def _run(model: Any, batch: Any) -> np.ndarray:
    (output,) = model.signatures["serving_default"](tf.constant(batch)).values()
    return output.numpy()[0].astype(np.float64)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exponent = np.exp(logits - logits.max())
    return exponent / exponent.sum()


def reference_tutorial_sigmoid(model: Any, photo: Path) -> np.ndarray:
    pixels = keras.applications.mobilenet_v2.preprocess_input(_keras_pixels(photo, (128, 128)))
    (dog,) = _run(model, pixels[None])
    return np.array([1 - dog, dog])


def reference_unit_logits(model: Any, photo: Path) -> np.ndarray:
    return _softmax(_run(model, (_tf_pixels(photo, (96, 96)) / 255.0)[None]))


def reference_keras_rescaling(model: Any, photo: Path) -> np.ndarray:
    return _run(model, _keras_pixels(photo, (96, 96))[None])


def reference_uint8(model: Any, photo: Path) -> np.ndarray:
    return _run(model, _keras_pixels(photo, (96, 96)).astype(np.uint8)[None])


def reference_dynamic(model: Any, photo: Path) -> np.ndarray:
    return _run(model, (_tf_pixels(photo, (160, 120)) / 255.0)[None])


def reference_caffe(model: Any, photo: Path) -> np.ndarray:
    pixels = keras.applications.imagenet_utils.preprocess_input(_keras_pixels(photo, (96, 96)), mode="caffe")
    return _run(model, pixels[None])


def reference_torch(model: Any, photo: Path) -> np.ndarray:
    pixels = keras.applications.imagenet_utils.preprocess_input(_keras_pixels(photo, (96, 96)), mode="torch")
    return _run(model, pixels[None])


def reference_nchw(model: Any, photo: Path) -> np.ndarray:
    pixels = keras.applications.imagenet_utils.preprocess_input(_keras_pixels(photo, (96, 96)), mode="torch")
    return _softmax(_run(model, pixels.transpose(2, 0, 1)[None]))


def reference_imagenet_1001(model: Any, photo: Path) -> np.ndarray:
    return _softmax(_run(model, (_tf_pixels(photo, (96, 96)) / 255.0)[None]))


def imagenet_1001_labels() -> str:
    """TF Hub's ImageNetLabels.txt shape: "background", then each class's first name (crane and maillot twice)."""
    names = [line.split(",")[0].strip() for line in IMAGENET_LABELS.read_text().splitlines()]
    return "\n".join(["background", *names]) + "\n"


@dataclass(frozen=True)
class Convention:
    """One way of exporting a classifier: its model name, builder, correct profile and reference."""

    name: str
    build: Callable[[Path], None]
    profile: dict[str, Any]
    reference: Callable[[Any, Path], np.ndarray]
    files: dict[str, Callable[[], str]] = field(default_factory=dict)  # written beside the profile

    def write_profile(self, folder: Path) -> Path:
        for file_name, text in self.files.items():
            (folder / file_name).write_text(text())
        path = folder / f"{self.name}.json"
        path.write_text(json.dumps(self.profile, indent=2))
        return path


CONVENTIONS = (
    Convention("tutorial_sigmoid", build_tutorial_sigmoid,
               {"class_names": ["Cat", "Dog"], "preset": "keras-tf", "output": {"name": "dense", "kind": "sigmoid"}},
               reference_tutorial_sigmoid),
    Convention("unit_logits", build_unit_logits,
               {"class_names": PETS, "preset": "unit", "input": {"resample": "tf_bilinear"},
                "output": {"kind": "logits"}}, reference_unit_logits),
    Convention("keras_rescaling", build_keras_rescaling, {"class_names": PETS, "preset": "raw"},
               reference_keras_rescaling),
    Convention("uint8", build_uint8, {"class_names": PETS, "preset": "raw"}, reference_uint8),
    Convention("dynamic", build_dynamic, {"class_names": PETS, "preset": "unit",
                                          "input": {"size": [160, 120], "resample": "tf_bilinear"}},
               reference_dynamic),
    Convention("caffe", build_caffe, {"class_names": PETS, "preset": "keras-caffe"}, reference_caffe),
    Convention("torch", build_torch, {"class_names": PETS, "preset": "keras-torch"}, reference_torch),
    Convention("nchw", build_nchw, {"class_names": PETS, "preset": "keras-torch", "output": {"kind": "logits"}},
               reference_nchw),
    Convention("imagenet_1001", build_imagenet_1001,
               {"class_names_file": "imagenet_1001_labels.txt", "preset": "unit", "input": {"resample": "tf_bilinear"},
                "output": {"kind": "logits"}}, reference_imagenet_1001,
               files={"imagenet_1001_labels.txt": imagenet_1001_labels}),
)
BY_NAME = {convention.name: convention for convention in CONVENTIONS}


def build_all(base: Path) -> str:
    """Every convention's SavedModel as `base/<name>/1`; returns a ModelServerConfig text serving them all."""
    entries = []
    for convention in CONVENTIONS:
        convention.build(base / convention.name / "1")
        entries.append(f'  config {{\n    name: "{convention.name}"\n    base_path: "{base / convention.name}"\n'
                       f'    model_platform: "tensorflow"\n  }}\n')
    return "model_config_list {\n" + "".join(entries) + "}\n"


def build_served(base: Path) -> dict[str, Path]:
    """Every convention built under `base` with `base/models.config` serving them all and each correct profile
    written to `base/profiles/`; returns convention name -> its profile file."""
    (base / "models.config").write_text(build_all(base))
    folder = base / "profiles"
    folder.mkdir()
    return {convention.name: convention.write_profile(folder) for convention in CONVENTIONS}
