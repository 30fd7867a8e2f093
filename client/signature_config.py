"""SignatureConfig: what `/metadata` would say, for servers that do not serve it; and the class-name check."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from client.errors import InvalidArgumentError
from client.pixels import FLOAT_DTYPES, INTEGER_DTYPES
from client.protocol import SignatureSpec, TensorSpec

__all__ = ["SignatureConfig", "check_class_names"]


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


_DTYPES = frozenset({"DT_STRING"}) | FLOAT_DTYPES.keys() | INTEGER_DTYPES.keys()


@dataclass(frozen=True)
class SignatureConfig:
    """What `/metadata` would say, for servers that do not serve it (a KServe route exposing only
    predict). Used only when the metadata API is missing; the server's own metadata wins otherwise.

    `input_shape` is [-1] for encoded images (DT_STRING) or the pixel shape ([-1, H, W, 3], a float or integer
    dtype; client.profile prepares them).
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
