"""ModelProfile: how a model wants its pixels prepared and what its outputs mean (docs/client.md#model-profiles).

TF Serving's metadata says an input's dtype and shape, never its range, crop, channel order or mean/std, nor
whether an output holds probabilities, logits or a sigmoid score. A profile says so: a JSON object checked on
reading (client.profile_format: every problem is an InvalidArgumentError naming the key, before anything is
sent), a named preset plus the keys that override it. Without a profile the client assumes DEFAULT_PROFILE
(the pets preset) and says so (ClassifyPlan.profile_assumed, ClassifyPlan.preparation).
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from client.errors import InvalidArgumentError
from client.pixels import FLOAT_DTYPES, INTEGER_DTYPES, PixelRecipe
from client.profile_format import (DEFAULT_PRESET, PRESET_CONVENTIONS, PRESETS, check_per_channel, check_profile,
                                   resolve)

__all__ = ["DEFAULT_ASSUMPTION", "DEFAULT_PROFILE", "MAX_PROFILE_BYTES", "ModelProfile", "PRESETS"]

MAX_PROFILE_BYTES = 1 << 20  # a profile file
MAX_CLASS_NAMES_BYTES = 8 << 20  # a class_names_file
_SCALE_INPUT_KEYS = ("scale", "mean", "std")


def _read_class_names(name: str, base_dir: Path | None) -> tuple[str, ...]:
    """One class name per line; a name repeated in the file (ImageNet's 'crane', 'maillot') gets its index."""
    path = Path(name) if base_dir is None else Path(base_dir) / name
    try:
        if path.stat().st_size > MAX_CLASS_NAMES_BYTES:
            raise InvalidArgumentError("class_names_file", name, f"{path} is larger than "
                                                                 f"{MAX_CLASS_NAMES_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidArgumentError("class_names_file", name, f"{path} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidArgumentError("class_names_file", name, f"cannot read {path} "
                                                             f"({exc.strerror or type(exc).__name__})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise InvalidArgumentError("class_names_file", name, f"{path} holds no class names")
    blank = next((number for number, line in enumerate(lines, 1) if not line), None)
    if blank is not None:
        raise InvalidArgumentError("class_names_file", name, f"{path} line {blank} is empty")
    seen: set[str] = set()
    names = []
    for index, line in enumerate(lines):
        names.append(line if line not in seen else f"{line} ({index})")
        seen.add(line)
    return tuple(names)


def _json_ready(data: Any) -> Any:
    return json.loads(json.dumps(data, allow_nan=False))


class ModelProfile:
    """A checked model profile. Build one with from_dict, from_json, from_file or preset; it never changes.

    `to_dict()` is the profile as given; `resolved()` every effective setting after the preset, class names
    read from their file; `digest` identifies the resolved profile ("sha256:<hex>" of its canonical JSON), so
    two profiles that prepare and read alike have the same digest.
    """

    def __init__(self, data: Mapping[str, Any], *, base_dir: str | Path | None = None) -> None:
        check_profile(data)
        self._given = _json_ready(data)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        if "class_names_file" in self._given:
            names: tuple[str, ...] | None = _read_class_names(self._given["class_names_file"], self.base_dir)
        else:
            names = tuple(self._given["class_names"]) if "class_names" in self._given else None
        self._resolved = {"class_names": list(names) if names is not None else None, **resolve(self._given)}
        canonical = json.dumps(self._resolved, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        self.digest = "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
        self.class_names = names

    # -- building -------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path | None = None) -> "ModelProfile":
        """A profile from its JSON object; `class_names_file` is read relative to `base_dir` (default: the
        working directory)."""
        return cls(data, base_dir=base_dir)

    @classmethod
    def from_json(cls, text: str | bytes, *, base_dir: str | Path | None = None) -> "ModelProfile":
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgumentError("profile", _shown(text), f"is not JSON ({exc})") from None
        return cls(data, base_dir=base_dir)

    @classmethod
    def from_file(cls, path: str | Path) -> "ModelProfile":
        """A profile file (JSON, at most 1 MiB); its class_names_file is relative to it. Errors keep the key's
        field and name the file."""
        path = Path(path)
        try:
            if path.stat().st_size > MAX_PROFILE_BYTES:
                raise InvalidArgumentError("profile", str(path), f"is larger than {MAX_PROFILE_BYTES >> 20} MiB")
            text = path.read_bytes()
        except OSError as exc:
            raise InvalidArgumentError("profile", str(path), f"cannot be read ({exc.strerror or exc})") from None
        try:
            return cls.from_json(text, base_dir=path.parent)
        except InvalidArgumentError as exc:
            raise InvalidArgumentError(exc.field, exc.value, f"{exc.reason} (in {path})") from None

    @classmethod
    def preset(cls, name: str) -> "ModelProfile":
        """The named preset alone (PRESETS; each is described in PRESET_CONVENTIONS)."""
        if name not in PRESETS:
            raise InvalidArgumentError("preset", name, f"must be one of {', '.join(PRESETS)}")
        return cls({"preset": name})

    def overridden(self, **keys: Any) -> "ModelProfile":
        """This profile with top-level keys replaced (e.g. class_names=[...]), checked again."""
        return ModelProfile({**self._given, **keys}, base_dir=self.base_dir)

    # -- reading --------------------------------------------------------------------------------------
    def to_dict(self, *, inline_class_names: bool = False) -> dict[str, Any]:
        """The profile as given (JSON-ready); with inline_class_names, a class_names_file is replaced by the
        class_names read from it (a profile that stands alone, e.g. to store with a run)."""
        given = copy.deepcopy(self._given)
        if inline_class_names and "class_names_file" in given:
            del given["class_names_file"]
            given = {"class_names": list(self.class_names or ()), **given}
        return given

    def to_json(self) -> str:
        return json.dumps(self._given, ensure_ascii=False, indent=2)

    def resolved(self) -> dict[str, Any]:
        """Every effective setting: class_names, signature_name, input {...}, output {...}. None means
        inferred from the signature (input size, channels, layout; output name and kind)."""
        return copy.deepcopy(self._resolved)

    @property
    def says_preparation(self) -> bool:
        """Whether the profile itself says how to prepare pixels (a preset or input settings); otherwise the
        default preparation is assumed."""
        return "preset" in self._given or "input" in self._given

    @property
    def preset_name(self) -> str:
        return self._given.get("preset", DEFAULT_PRESET)

    @property
    def signature_name(self) -> str | None:
        return self._resolved["signature_name"]

    @property
    def output_name(self) -> str | None:
        return self._resolved["output"]["name"]

    @property
    def output_kind(self) -> str | None:
        return self._resolved["output"]["kind"]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelProfile) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def __repr__(self) -> str:
        return f"ModelProfile({json.dumps(self._given, ensure_ascii=False)[:200]}, digest={self.digest[:19]}…)"

    # -- pixels ---------------------------------------------------------------------------------------
    def recipe(self, dtype: str, shape: Sequence[int] | None) -> PixelRecipe:
        """The concrete preparation for an image input of `dtype` and `shape` (batch dimension included,
        -1 for unknown). InvalidArgumentError names the profile key that does not fit the input (input.size,
        input.layout, input.channels, input.scale, input.mean, input.std)."""
        return _recipe(self._resolved["input"], self._given.get("input", {}), self.preset_name, dtype, shape)

    def prepare(self, image: Image.Image | np.ndarray, *, dtype: str, shape: Sequence[int]) -> np.ndarray:
        """One instance's input tensor (no batch dimension) for an upright RGB picture (PixelRecipe.prepare)."""
        return self.recipe(dtype, shape).prepare(image)

    def seen_image(self, array: np.ndarray, *, shape: Sequence[int]) -> Image.Image:
        """What the model saw: the prepared tensor (from prepare) back as a picture, values mapped to 0..255,
        channels shown in the order sent."""
        dtype = "DT_UINT8" if np.issubdtype(np.asarray(array).dtype, np.integer) else "DT_FLOAT"
        return self.recipe(dtype, shape).seen_image(array)

    def describe(self, dtype: str, shape: Sequence[int] | None) -> str:
        """One plain line: size, resize/crop, channels, scale, mean/std, layout and the dtype actually sent."""
        if dtype == "DT_STRING":
            return "the encoded image is sent (the model decodes and prepares it; input settings do not apply)"
        return self.recipe(dtype, shape).describe()


def _shown(text: str | bytes) -> str:
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _shape_text(shape: Sequence[int] | None) -> str:
    return "unknown rank" if shape is None else "[" + ", ".join(map(str, shape)) + "]"


def _layout(setting: str | None, shape: Sequence[int]) -> str:
    """NHWC or NCHW: as given (checked against the shape), else inferred; NHWC (TensorFlow's) when the shape
    allows both."""
    fits = {"NHWC": shape[3] in (1, 3, -1), "NCHW": shape[1] in (1, 3, -1)}
    if setting is not None:
        if not fits[setting]:
            raise InvalidArgumentError("input.layout", setting, f"does not fit the input shape "
                                                                f"{_shape_text(shape)} (no 1 or 3 channels there)")
        return setting
    if not fits["NHWC"] and not fits["NCHW"]:
        raise InvalidArgumentError("input.layout", None, f"the input shape {_shape_text(shape)} has no channel "
                                                         "dimension of 1 or 3")
    if fits["NCHW"] and not fits["NHWC"]:
        return "NCHW"
    if fits["NCHW"] and shape[1] != -1 and shape[3] == -1:  # [-1, 3, -1, -1]
        return "NCHW"
    return "NHWC"


def _recipe(settings: Mapping[str, Any], given: Mapping[str, Any], preset: str, dtype: str,
            shape: Sequence[int] | None) -> PixelRecipe:
    if dtype not in FLOAT_DTYPES and dtype not in INTEGER_DTYPES:
        raise InvalidArgumentError("input", dtype, "an image input must be a float or an integer type that "
                                                   "holds 0..255 (or DT_STRING for encoded images)")
    if shape is None or len(shape) != 4:
        raise InvalidArgumentError("input", _shape_text(shape), "an image input must have rank 4 "
                                                                "([-1, H, W, C] or [-1, C, H, W])")
    layout = _layout(settings["layout"], shape)
    height, width, count = (shape[1], shape[2], shape[3]) if layout == "NHWC" else (shape[2], shape[3], shape[1])
    channels = settings["channels"] or ("L" if count == 1 else "RGB")
    if count != -1 and (count == 1) != (channels == "L"):
        raise InvalidArgumentError("input.channels", channels, f"does not fit the input's {count} channel"
                                                               f"{'s' if count > 1 else ''} ({_shape_text(shape)})")
    size = settings["size"]
    if size is None and (height == -1 or width == -1):
        raise InvalidArgumentError("input.size", None, f"is needed: the input {_shape_text(shape)} takes any "
                                                       "height or width, so give [height, width]")
    if size is not None:
        for given_side, model_side, name in ((size[0], height, "height"), (size[1], width, "width")):
            if model_side != -1 and given_side != model_side:
                raise InvalidArgumentError("input.size", size, f"the input {_shape_text(shape)} takes {name} "
                                                               f"{model_side}, not {given_side}")
        height, width = size
    low, high = settings["scale"]
    mean, std = settings["mean"], settings["std"]
    dropped = False
    if dtype in INTEGER_DTYPES:
        if "scale" in given and list(given["scale"]) != [0, 255]:
            raise InvalidArgumentError("input.scale", given["scale"], f"an integer input ({dtype}) takes the "
                                                                      "0..255 values; only [0, 255] fits")
        for key in ("mean", "std"):
            if key in given:
                raise InvalidArgumentError(f"input.{key}", given[key], f"an integer input ({dtype}) takes the "
                                                                       "0..255 values; no mean/std applies")
        dropped = (low, high) != (0, 255) or mean is not None or std is not None
        low, high, mean, std = 0, 255, None, None
    check_per_channel({"mean": mean, "std": std}, 1 if channels == "L" else 3, given=given, preset=preset)
    return PixelRecipe(dtype=dtype, height=height, width=width, layout=layout, channels=channels,
                       resize=settings["resize"], crop_fraction=settings["crop_fraction"],
                       resample=settings["resample"], offset=-low * 255.0 / (high - low),
                       divisor=255.0 / (high - low), mean=tuple(mean) if mean is not None else None,
                       std=tuple(std) if std is not None else None, preset_values_dropped=dropped)


DEFAULT_PROFILE = ModelProfile.preset(DEFAULT_PRESET)
DEFAULT_ASSUMPTION = (f"preset {DEFAULT_PRESET} ({PRESET_CONVENTIONS[DEFAULT_PRESET]}); integer inputs get "
                      "0..255")
