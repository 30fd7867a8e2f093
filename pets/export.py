"""Save backbone + head as a SavedModel with the two serving signatures, in a form TF Serving can restore.

Loaded the way TF Serving loads a SavedModel (a Session plus the SavedModel's restore op), every variable the
signatures read is restored. A Keras 3 model saved inside a tf.Module with `tf.saved_model.save` is not: its
checkpoint restores a copy of each variable, never the one the signatures read (tensorflow/tensorflow#72963,
keras-team/keras#20095). `keras.export.ExportArchive` avoids that but saves the variables in an order that changes
from run to run, so two builds would differ.
"""
from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from pets import CLASS_NAMES
from pets.head import Head
from pets.imagenet_labels import imagenet_short_labels
from pets.preprocessing import preprocess_encoded_batch

TOP_K = 5


class PetsOutputs:
    """Preprocessed images [N, size, size, 3] -> the four outputs both signatures return."""

    def __init__(self, backbone: keras.Model, head: Head):
        self.backbone = backbone
        self.head_weights = tf.Variable(head.weights, dtype=tf.float32, trainable=False, name="head_weights")
        self.head_bias = tf.Variable(head.bias, dtype=tf.float32, trainable=False, name="head_bias")
        self.class_names = tf.constant(CLASS_NAMES)
        self.imagenet_labels = tf.constant(imagenet_short_labels())

    def __call__(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        # Convolutions reject an empty batch; answer it with empty outputs instead of an error.
        return tf.cond(tf.shape(images)[0] > 0, lambda: self._predict(images), self._empty_outputs)

    def _empty_outputs(self) -> dict[str, tf.Tensor]:
        return {
            "probabilities": tf.zeros([0, len(CLASS_NAMES)], tf.float32),
            "classes": tf.zeros([0, len(CLASS_NAMES)], tf.string),
            "imagenet_top5_labels": tf.zeros([0, TOP_K], tf.string),
            "imagenet_top5_scores": tf.zeros([0, TOP_K], tf.float32),
        }

    def _predict(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        net = self.backbone(images, training=False)
        probabilities = tf.nn.softmax(tf.matmul(net["features"], self.head_weights) + self.head_bias)
        batch = tf.shape(images)[0]
        classes = tf.ensure_shape(tf.broadcast_to(self.class_names, tf.stack([batch, len(CLASS_NAMES)])),
                                  [None, len(CLASS_NAMES)])
        top = tf.math.top_k(tf.nn.softmax(net["imagenet_logits"]), k=TOP_K)
        return {
            "probabilities": probabilities,
            "classes": classes,
            "imagenet_top5_labels": tf.gather(self.imagenet_labels, top.indices),
            "imagenet_top5_scores": top.values,
        }


def export_saved_model(backbone: keras.Model, head: Head, size: int, directory: Path) -> None:
    """Write the SavedModel: `serving_default` (input `image_bytes`, encoded images) and `predict_images`
    (input `images`, pixels preprocessed as pets.preprocessing does), both returning PetsOutputs' outputs.

    The root tracks exactly the tf.Variables the signatures read, in the backbone's weight order (so two builds
    write identical files): each Keras variable's `.value`, never the Keras model or its variable wrappers, whose
    checkpoint entries would restore copies and leave the read handles unset.
    """
    outputs = PetsOutputs(backbone, head)
    root = tf.Module(name=f"pets_{size}")
    root.backbone_variables = [weight.value for weight in backbone.weights]
    root.head_weights = outputs.head_weights
    root.head_bias = outputs.head_bias

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
    def serve_image_bytes(image_bytes):
        return outputs(preprocess_encoded_batch(image_bytes, size))

    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32, name="images")])
    def predict_images(images):
        return outputs(images)

    tf.saved_model.save(root, str(directory),
                        signatures={"serving_default": serve_image_bytes, "predict_images": predict_images})
