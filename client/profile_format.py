"""The model profile's file format: its JSON Schema, the presets, and checking a profile as given.

`check_profile` validates a profile (a JSON object) against `PROFILE_SCHEMA` with jsonschema and then the
rules a schema cannot state (class_names and class_names_file together, scale's order, finite numbers, mean
and std against the channel count); every problem is an InvalidArgumentError whose `field` is the key's path
("input.std", "output.kind", "class_names"). `resolve` applies the preset: the effective settings.
"""
from __future__ import annotations

import copy
import math
from typing import Any, Mapping

from jsonschema import Draft202012Validator

from client.errors import InvalidArgumentError

__all__ = ["CHANNELS", "DEFAULT_PRESET", "LAYOUTS", "OUTPUT_KINDS", "PRESETS", "PRESET_CONVENTIONS",
           "PROFILE_SCHEMA", "RESAMPLES", "RESIZES", "channel_count", "check_per_channel", "check_profile",
           "resolve"]

PRESETS = ("pets", "keras-tf", "keras-torch", "keras-caffe", "unit", "raw")
DEFAULT_PRESET = "pets"  # what ServeScope assumes without a profile, and where a profile without a preset starts
RESIZES = ("stretch", "center_crop", "letterbox")
RESAMPLES = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming", "tf_bilinear")
CHANNELS = ("RGB", "BGR", "L")
LAYOUTS = ("NHWC", "NCHW")
OUTPUT_KINDS = ("probabilities", "logits", "sigmoid")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]  # ImageNet's mean in 0..255, in BGR order (Keras "caffe" mode)

# Every input setting before a preset: None means "inferred from the signature" (size, channels, layout),
# "size/(size+32)" (crop_fraction) or "none" (mean, std).
_BASE_INPUT: dict[str, Any] = {"size": None, "resize": "stretch", "crop_fraction": None, "resample": "bilinear",
                               "channels": None, "layout": None, "scale": [0, 255], "mean": None, "std": None}
_PRESET_INPUT: dict[str, dict[str, Any]] = {
    "pets": {"resize": "center_crop", "resample": "tf_bilinear", "scale": [-0.9921875, 1.0]},
    "keras-tf": {"scale": [-1, 1]},
    "keras-torch": {"scale": [0, 1], "mean": IMAGENET_MEAN, "std": IMAGENET_STD},
    "keras-caffe": {"channels": "BGR", "scale": [0, 255], "mean": CAFFE_MEAN_BGR},
    "unit": {"scale": [0, 1]},
    "raw": {"scale": [0, 255]},
}
# What each preset matches (docs/client.md repeats this table).
PRESET_CONVENTIONS = {
    "pets": "ServeScope's demo model: centre crop of size/(size+32) of the shorter side, tf.image.resize "
            "bilinear, (p - 127) / 128",
    "keras-tf": "Keras preprocess_input mode 'tf' (MobileNet, MobileNetV2, InceptionV3, Xception, NASNet): "
                "p / 127.5 - 1",
    "keras-torch": "Keras preprocess_input mode 'torch' (DenseNet) and torchvision: p / 255, then ImageNet "
                   "mean/std",
    "keras-caffe": "Keras preprocess_input mode 'caffe' (VGG16/19, ResNet50 v1): BGR, ImageNet mean "
                   "subtracted in 0..255",
    "unit": "TF Hub image models (the common image signature): p / 255 in [0, 1]",
    "raw": "models that scale inside (Keras Rescaling layer, EfficientNet, ConvNeXt, Keras 3 "
           "include_preprocessing): 0..255 as floats",
}


def _array(items: dict[str, Any], description: str, **limits: Any) -> dict[str, Any]:
    return {"type": "array", "items": items, "description": description, **limits}


_NUMBER = {"type": "number"}
PROFILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "ServeScope model profile",
    "type": "object",
    "description": "a JSON object",
    "additionalProperties": False,
    "properties": {
        "class_names": _array({"type": "string", "pattern": r"\S"}, "a list of non-empty class names, in the "
                              "model's output order", minItems=1),
        "class_names_file": {"type": "string", "minLength": 1,
                             "description": "a file name (one class name per line, relative to the profile)"},
        "signature_name": {"type": "string", "minLength": 1, "description": "a signature name"},
        "preset": {"enum": list(PRESETS), "description": "one of " + ", ".join(PRESETS)},
        "input": {
            "type": "object", "additionalProperties": False, "description": "an object of input settings",
            "properties": {
                "size": _array({"type": "integer", "minimum": 1, "maximum": 16384},
                               "[height, width]: two positive integers", minItems=2, maxItems=2),
                "resize": {"enum": list(RESIZES), "description": "one of " + ", ".join(RESIZES)},
                "crop_fraction": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                                  "description": "a number above 0 and at most 1"},
                "resample": {"enum": list(RESAMPLES), "description": "one of " + ", ".join(RESAMPLES)},
                "channels": {"enum": list(CHANNELS), "description": "one of " + ", ".join(CHANNELS)},
                "layout": {"enum": list(LAYOUTS), "description": "one of " + ", ".join(LAYOUTS)},
                "scale": _array(_NUMBER, "[lo, hi]: two numbers, lo below hi (0..255 is mapped onto them)",
                                minItems=2, maxItems=2),
                "mean": _array(_NUMBER, "one number per channel", minItems=1, maxItems=3),
                "std": _array({"type": "number", "exclusiveMinimum": 0},
                              "one number above 0 per channel (a std of 0 would divide by zero)",
                              minItems=1, maxItems=3),
            },
        },
        "output": {
            "type": "object", "additionalProperties": False, "description": "an object of output settings",
            "properties": {
                "name": {"type": "string", "minLength": 1, "description": "the name of one of the signature's "
                                                                          "outputs"},
                "kind": {"enum": list(OUTPUT_KINDS), "description": "one of " + ", ".join(OUTPUT_KINDS)},
            },
        },
    },
}
_VALIDATOR = Draft202012Validator(PROFILE_SCHEMA)


def _field(path: list[Any]) -> str:
    """The key path of a schema error without list indices: ["input", "std", 1] -> "input.std"."""
    return ".".join(str(part) for part in path if not isinstance(part, int))


def _schema_at(field: str) -> dict[str, Any]:
    node = PROFILE_SCHEMA
    for key in field.split(".") if field else []:
        node = node["properties"][key]
    return node


def _schema_error(data: Any) -> InvalidArgumentError | None:
    errors = sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if not errors:
        return None
    error = errors[0]
    path = list(error.absolute_path)
    field = _field(path)
    if error.validator == "additionalProperties":
        known = sorted(_schema_at(field)["properties"])
        unknown = sorted(set(map(str, error.instance)) - set(known))[0]
        name = f"{field}.{unknown}" if field else unknown
        return InvalidArgumentError(name, error.instance[unknown],
                                    f"unknown key; the keys here are {', '.join(known)}")
    value, item = error.instance, ""
    if path and isinstance(path[-1], int):  # show the whole list, name the bad item
        item = f"item {path[-1]} ({value!r}) does not fit; "
        value = _value_at(data, path[:-1])
    return InvalidArgumentError(field or "profile", value, f"{item}must be {_schema_at(field)['description']}")


def _value_at(data: Any, path: list[Any]) -> Any:
    for part in path:
        data = data[part]
    return data


def _check_numbers(given: Mapping[str, Any]) -> None:
    for key in ("scale", "mean", "std", "crop_fraction"):
        value = given.get(key)
        values = value if isinstance(value, list) else [value] if value is not None else []
        if not all(math.isfinite(v) for v in values):
            raise InvalidArgumentError(f"input.{key}", value, "must hold finite numbers (not NaN or Infinity)")
    scale = given.get("scale")
    if scale is not None and not scale[0] < scale[1]:
        raise InvalidArgumentError("input.scale", scale, "lo must be below hi")


def channel_count(channels: str | None) -> int | None:
    return None if channels is None else (1 if channels == "L" else 3)


def check_per_channel(settings: Mapping[str, Any], channels: int, *, given: Mapping[str, Any],
                      preset: str) -> None:
    """mean and std must have one value per channel (InvalidArgumentError naming input.mean / input.std)."""
    for key in ("mean", "std"):
        value = settings.get(key)
        if value is not None and len(value) != channels:
            origin = "" if key in given else f" (from preset {preset})"
            raise InvalidArgumentError(f"input.{key}", value, f"has {len(value)} values{origin} for {channels} "
                                                              f"channel{'s' if channels > 1 else ''}")


def check_profile(data: Any) -> None:
    """Raise InvalidArgumentError naming the first bad key of a profile as given; return when it is usable."""
    error = _schema_error(data)
    if error is not None:
        raise error
    if "class_names" in data and "class_names_file" in data:
        raise InvalidArgumentError("class_names_file", data["class_names_file"],
                                   "give class_names or class_names_file, not both")
    if "class_names" in data and len(set(data["class_names"])) != len(data["class_names"]):
        repeated = sorted({n for n in data["class_names"] if data["class_names"].count(n) > 1})
        raise InvalidArgumentError("class_names", data["class_names"], f"names must be distinct; repeated: "
                                                                       f"{', '.join(map(repr, repeated))}")
    given = data.get("input", {})
    _check_numbers(given)
    settings = resolve(data)["input"]
    count = channel_count(settings["channels"])
    if count is not None:
        check_per_channel(settings, count, given=given, preset=data.get("preset", DEFAULT_PRESET))


def resolve(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every effective setting of a checked profile after its preset (class names excluded: the caller
    reads class_names_file). None = inferred from the signature, or the default noted in _BASE_INPUT."""
    preset = data.get("preset", DEFAULT_PRESET)
    settings = {**_BASE_INPUT, **_PRESET_INPUT[preset], **data.get("input", {})}
    output = {"name": None, "kind": None, **data.get("output", {})}
    return {"signature_name": data.get("signature_name"), "input": copy.deepcopy(settings),
            "output": dict(output)}
