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
from client.errors import InvalidArgumentError, SignatureError
from client.protocol import SignatureSpec, TensorSpec, encode_json, predict_body

__all__ = ["ClassifyPlan", "Prediction", "SignatureConfig", "check_class_names"]

_FLOAT_TYPES = frozenset({"DT_FLOAT", "DT_HALF", "DT_DOUBLE", "DT_BFLOAT16"})
_PROBABILITY_NAMES = ("probabilities", "scores", "probs", "predictions")
_LABEL_NAMES = ("classes", "labels", "class_names")


@dataclass(frozen=True)
class Prediction:
    label: str
    probabilities: Mapping[str, float]
    extras: Mapping[str, tuple]


def _is_image_float_input(spec: TensorSpec) -> bool:
    shape = spec.shape
    return (spec.dtype in _FLOAT_TYPES and shape is not None and len(shape) == 4
            and shape[1] > 0 and shape[2] > 0 and shape[3] == 3)


def _shape(spec: TensorSpec) -> str:
    return "(unknown rank)" if spec.shape is None else "[" + ",".join(map(str, spec.shape)) + "]"


def check_class_names(field: str, names: Sequence[str]) -> tuple[str, ...]:
    """Class names in model order: non-empty, distinct text (else InvalidArgumentError naming `field`)."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise InvalidArgumentError(field, names, "must be a list of class names")
    names = tuple(names)
    if not all(isinstance(n, str) and n.strip() for n in names):
        raise InvalidArgumentError(field, names, "every class name must be non-empty text")
    if len(set(names)) != len(names):
        raise InvalidArgumentError(field, names, "class names must be distinct")
    return names


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


_DTYPES = frozenset({"DT_STRING"}) | _FLOAT_TYPES


@dataclass(frozen=True)
class SignatureConfig:
    """What `/metadata` would say, for servers that do not serve it (a KServe route exposing only
    predict). Used only when the metadata API is missing; the server's own metadata wins otherwise.

    `input_shape` is [-1] for encoded images (DT_STRING) or [-1, H, W, 3] for pixels (a float dtype).
    `probabilities_output` names the output holding one probability per class, in `class_names` order.
    """

    class_names: tuple[str, ...]
    input_name: str = "image_bytes"
    input_dtype: str = "DT_STRING"
    input_shape: tuple[int, ...] = (-1,)
    probabilities_output: str = "probabilities"
    signature_name: str = "serving_default"

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_names", check_class_names("signature.class_names", self.class_names))
        for field in ("input_name", "probabilities_output", "signature_name"):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                raise InvalidArgumentError(f"signature.{field}", value, "must be non-empty text")
        if self.input_dtype not in _DTYPES:
            raise InvalidArgumentError("signature.input_dtype", self.input_dtype,
                                       f"must be one of {sorted(_DTYPES)}")
        try:
            shape = tuple(int(d) for d in self.input_shape)
        except (TypeError, ValueError, OverflowError):
            raise InvalidArgumentError("signature.input_shape", self.input_shape,
                                       "must be a list of integers") from None
        object.__setattr__(self, "input_shape", shape)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "SignatureConfig":
        """From {"class_names": [...], "input_name": ..., ...} (e.g. a JSON setting); unknown keys are refused."""
        if not isinstance(body, Mapping):
            raise InvalidArgumentError("signature", body, "must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(map(str, body)) - known)
        if unknown:
            raise InvalidArgumentError("signature", unknown, f"unknown keys; known: {sorted(known)}")
        if "class_names" not in body:
            raise InvalidArgumentError("signature.class_names", None, "is required")
        values = dict(body)
        for key in ("class_names", "input_shape"):
            if isinstance(values.get(key), list):
                values[key] = tuple(values[key])
        return cls(**values)

    def to_signature(self) -> SignatureSpec:
        """The signature this configuration declares (planned and checked like one read from metadata)."""
        image = TensorSpec(self.input_name, self.input_dtype, self.input_shape)
        scores = TensorSpec(self.probabilities_output, "DT_FLOAT", (-1, len(self.class_names)))
        return SignatureSpec(name=self.signature_name, method_name="tensorflow/serving/predict",
                             inputs=MappingProxyType({image.name: image}),
                             outputs=MappingProxyType({scores.name: scores}))


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
    input_dtype: str = "DT_STRING"  # the image input's type (DT_STRING, or the float type pixels are sent as)

    @classmethod
    def from_signature(cls, signature: SignatureSpec, *, labels: Sequence[str] | None = None,
                       scaling: ImageScaling = ImageScaling(), max_side: int = MAX_SIDE,
                       url: str = "") -> "ClassifyPlan":
        """The plan for `signature`, or SignatureError naming the tensor that does not fit.

        `labels` (class names, model order) replace a string output naming the classes. `url` is where
        the signature came from (its metadata URL), for the error.
        """
        labels = check_class_names("labels", labels) if labels else None
        where = f"signature {signature.name!r}"

        def unusable(reason: str) -> SignatureError:
            return SignatureError(f"{where} cannot classify images: {reason}", signature=signature.name,
                                  method="GET" if url else "", url=url)

        inputs = list(signature.inputs.values())
        usable = [s for s in inputs if s.dtype == "DT_STRING" or _is_image_float_input(s)]
        if len(inputs) != 1 or not usable:
            found = ", ".join(f"input {s.name!r} is {s.dtype} {_shape(s)}" for s in inputs) or "it has no input"
            raise unusable(f"{found}; an image classifier needs one input, DT_STRING [-1] (encoded images) "
                           "or DT_FLOAT [-1, H, W, 3] (pixels)")
        image_input = usable[0]
        pixel_size = None if image_input.dtype == "DT_STRING" else (image_input.shape[1], image_input.shape[2])

        outputs = list(signature.outputs.values())
        width = len(labels) if labels else None
        floats = [s for s in outputs if s.dtype in _FLOAT_TYPES and s.shape is not None and len(s.shape) == 2
                  and (width is None or s.shape[1] in (width, -1))]
        probabilities = _pick(floats, _PROBABILITY_NAMES)
        if probabilities is None:
            found = ", ".join(f"{s.name!r} {s.dtype} {_shape(s)}" for s in outputs) or "none"
            wanted = f"[-1, {width}] for {width} labels" if width else "[-1, number of classes]"
            raise unusable(f"no single float output of shape {wanted} holds the probabilities "
                           f"(outputs: {found})")
        n_labels = probabilities.shape[1]
        strings = [s for s in outputs if s.dtype == "DT_STRING" and s.shape is not None and len(s.shape) == 2
                   and s.shape[1] == n_labels and s.name != probabilities.name]
        label_output = _pick(strings, _LABEL_NAMES)
        if label_output is None and not labels:
            raise unusable(f"no string output of shape [-1, {n_labels}] names the classes; "
                           "give the class names (labels=[...] or SignatureConfig.class_names)")
        return cls(signature_name=signature.name, input_name=image_input.name, pixel_size=pixel_size,
                   probabilities_output=probabilities.name,
                   labels_output=None if labels else label_output.name,
                   labels=tuple(labels) if labels else None,
                   output_names=tuple(s.name for s in outputs), scaling=scaling, max_side=max_side,
                   input_dtype=image_input.dtype)

    def instance(self, source: str, data: bytes) -> dict[str, Any]:
        """The row-format instance for one image (raises ImageError for unusable input)."""
        if self.pixel_size is None:
            return {self.input_name: encode_for_wire(source, data, max_side=self.max_side)}
        height, width = self.pixel_size
        pixels = pixels_for_model(source, data, height=height, width=width, scaling=self.scaling,
                                  max_side=self.max_side)
        return {self.input_name: pixels}  # float32, sent at full precision (protocol.encode_json)

    def request_body(self, instances: list[dict[str, Any]]) -> bytes:
        """The predict body for instances made by instance(), the same bytes protocol.predict_body writes.

        Encoded images are written straight into the JSON as {"b64": "..."}: base64 text needs no
        escaping, so the megabytes of a batch are not run through the JSON encoder (a third of the
        client's time per image)."""
        if self.pixel_size is not None or not instances or not self.signature_name:
            return predict_body(instances=instances, signature_name=self.signature_name)
        key = encode_json(self.input_name)
        between = b'"}},{' + key + b':{"b64":"'
        parts = [b'{"instances":[{' + key + b':{"b64":"']
        for instance in instances:
            parts += (base64.b64encode(instance[self.input_name]), between)
        parts[-1] = b'"}}],"signature_name":' + encode_json(self.signature_name) + b"}"
        return b"".join(parts)  # one join: one copy of the megabytes, not two

    def read(self, row: Mapping[str, Any]) -> Prediction:
        """Turn one instance's outputs into a label, probabilities by label, and extras.

        Raises ValueError (only) for an answer that does not fit the plan; its text names outputs,
        never quotes their values.
        """
        try:
            scores = [float(p) for p in row[self.probabilities_output]]
            names = self.labels or tuple(str(_plain(n)) for n in row[self.labels_output])
            extras = {name: tuple(_plain(v) for v in value) if isinstance(value, list) else (_plain(value),)
                      for name, value in row.items()
                      if name not in (self.probabilities_output, self.labels_output)}
        except KeyError as exc:
            raise ValueError(f"answer lacks the {exc} output: got outputs {sorted(map(str, row))}") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ValueError(f"answer has an unusable output ({type(exc).__name__}): got outputs "
                             f"{sorted(map(str, row))}") from None
        if len(names) != len(scores) or not scores:
            raise ValueError(f"{len(scores)} probabilities for {len(names)} labels")
        best = int(np.argmax(scores))
        return Prediction(label=names[best], probabilities=MappingProxyType(dict(zip(names, scores))),
                          extras=MappingProxyType(extras))
