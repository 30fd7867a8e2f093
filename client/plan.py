"""How to classify with a given signature: what to send, and how to read the answer.

`ClassifyPlan.from_signature` reads the signature once (input kind and size, which output holds
probabilities, where the label names come from) so each batch only encodes and decodes.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from client.images import MAX_SIDE, ImageScaling, encode_for_wire, pixels_for_model
from client.protocol import SignatureSpec, TensorSpec

__all__ = ["ClassifyPlan", "Prediction"]

_FLOAT_TYPES = frozenset({"DT_FLOAT", "DT_HALF", "DT_DOUBLE", "DT_BFLOAT16"})
_PROBABILITY_NAMES = ("probabilities", "scores", "probs", "predictions")
_LABEL_NAMES = ("classes", "labels", "class_names")
_PIXEL_DECIMALS = 5  # JSON size: 5 decimals are far below one grey level (1/128 after scaling)


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: Mapping[str, float]
    extras: Mapping[str, tuple]


def _is_image_float_input(spec: TensorSpec) -> bool:
    shape = spec.shape
    return (spec.dtype in _FLOAT_TYPES and shape is not None and len(shape) == 4
            and shape[1] > 0 and shape[2] > 0 and shape[3] == 3)


def _pick(candidates: Sequence[TensorSpec], preferred: Sequence[str]) -> TensorSpec | None:
    for name in preferred:
        for spec in candidates:
            if spec.name == name:
                return spec
    return candidates[0] if len(candidates) == 1 else None


def _plain(value: Any) -> Any:
    # String outputs whose name ends in "_bytes" come back as {"b64": ...}.
    if isinstance(value, dict) and set(value) == {"b64"}:
        raw = base64.b64decode(value["b64"])
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
    return value


@dataclass(frozen=True)
class ClassifyPlan:
    signature_name: str
    input_name: str
    pixel_size: tuple[int, int] | None  # (height, width) for a float input; None = encoded bytes
    probabilities_output: str
    labels_output: str | None
    labels: tuple[str, ...] | None  # fixed names when the model has no string output
    output_names: tuple[str, ...]
    scaling: ImageScaling = ImageScaling()
    max_side: int = MAX_SIDE

    @classmethod
    def from_signature(cls, signature: SignatureSpec, *, labels: Sequence[str] | None = None,
                       scaling: ImageScaling = ImageScaling(), max_side: int = MAX_SIDE) -> "ClassifyPlan":
        where = f"signature {signature.name!r}"
        inputs = list(signature.inputs.values())
        usable = [s for s in inputs if s.dtype == "DT_STRING" or _is_image_float_input(s)]
        if len(inputs) != 1 or not usable:
            raise ValueError(f"{where} cannot classify images: it needs one input, either DT_STRING "
                             f"(encoded image) or float [-1, H, W, 3]; it has "
                             f"{[(s.name, s.dtype, s.shape) for s in inputs]}")
        image_input = usable[0]
        pixel_size = None if image_input.dtype == "DT_STRING" else (image_input.shape[1], image_input.shape[2])

        outputs = list(signature.outputs.values())
        width = len(labels) if labels else None
        floats = [s for s in outputs if s.dtype in _FLOAT_TYPES and s.shape is not None and len(s.shape) == 2
                  and (width is None or s.shape[1] in (width, -1))]
        probabilities = _pick(floats, _PROBABILITY_NAMES)
        if probabilities is None:
            raise ValueError(f"{where}: no single float output of shape [-1, n_labels] to read probabilities "
                             f"from (outputs: {[(s.name, s.dtype, s.shape) for s in outputs]})")
        n_labels = probabilities.shape[1]
        strings = [s for s in outputs if s.dtype == "DT_STRING" and s.shape is not None and len(s.shape) == 2
                   and s.shape[1] == n_labels and s.name != probabilities.name]
        label_output = _pick(strings, _LABEL_NAMES)
        if label_output is None and not labels:
            raise ValueError(f"{where}: no string output of shape [-1, {n_labels}] names the classes; "
                             "pass labels=[...]")
        return cls(signature_name=signature.name, input_name=image_input.name, pixel_size=pixel_size,
                   probabilities_output=probabilities.name,
                   labels_output=None if labels else label_output.name,
                   labels=tuple(labels) if labels else None,
                   output_names=tuple(s.name for s in outputs), scaling=scaling, max_side=max_side)

    def instance(self, source: str, data: bytes) -> dict[str, Any]:
        """The row-format instance for one image (raises ImageError for unusable input)."""
        if self.pixel_size is None:
            return {self.input_name: encode_for_wire(source, data, max_side=self.max_side)}
        height, width = self.pixel_size
        pixels = pixels_for_model(source, data, height=height, width=width, scaling=self.scaling,
                                  max_side=self.max_side)
        return {self.input_name: np.round(pixels, _PIXEL_DECIMALS)}

    def read(self, row: Mapping[str, Any]) -> Prediction:
        """Turn one instance's outputs into a label, probabilities by label, and extras."""
        try:
            scores = [float(p) for p in row[self.probabilities_output]]
            names = self.labels or tuple(str(_plain(n)) for n in row[self.labels_output])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"answer lacks a usable {exc} output: got outputs {sorted(row)}") from None
        if len(names) != len(scores) or not scores:
            raise ValueError(f"{len(scores)} probabilities for {len(names)} labels {list(names)}")
        best = int(np.argmax(scores))
        extras = {name: tuple(_plain(v) for v in value) if isinstance(value, list) else (_plain(value),)
                  for name, value in row.items()
                  if name not in (self.probabilities_output, self.labels_output)}
        return Prediction(label=names[best], probabilities=MappingProxyType(dict(zip(names, scores))),
                          extras=MappingProxyType(extras))
