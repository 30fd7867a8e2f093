"""How to classify with a given signature: what to send, and how to read the answer.

`ClassifyPlan.from_signature` reads the signature once, with the model profile in effect (client.profile):
the input kind (encoded images, or pixels prepared by the profile's recipe for the input's dtype and
shape), which output is read and as what (client.readout), where the class names come from. Each batch then
only prepares and decodes.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from client.errors import InvalidArgumentError, SignatureError
from client.images import MAX_SIDE, encode_for_wire, upright_pixels
from client.pixels import FLOAT_DTYPES, INTEGER_DTYPES, PixelRecipe
from client.profile import DEFAULT_PROFILE, ModelProfile
from client.protocol import SignatureSpec, TensorSpec, encode_json, predict_body
from client.readout import OutputReading, choose_output, pick_tensor
from client.signature_config import check_class_names

__all__ = ["ClassifyPlan", "Prediction"]

_LABEL_NAMES = ("classes", "labels", "class_names")


@dataclass(frozen=True)
class Prediction:
    """One instance read: the top class, one number per class, the other outputs; `problem` (None when
    the values are usable) is that input's InvalidProbabilitiesError text."""

    label: str
    probabilities: Mapping[str, float]
    extras: Mapping[str, tuple]
    problem: str | None = None


def _is_image_input(spec: TensorSpec) -> bool:
    """A pixel input: a float or 0..255 integer type, rank 4, with 1 or 3 (or unknown) channels first or last."""
    shape = spec.shape
    return (spec.dtype in FLOAT_DTYPES or spec.dtype in INTEGER_DTYPES) and shape is not None \
        and len(shape) == 4 and (shape[3] in (1, 3, -1) or shape[1] in (1, 3, -1))


def _names_field(profile: ModelProfile) -> str:
    return "class_names_file" if "class_names_file" in profile.to_dict() else "class_names"


def _shape(spec: TensorSpec) -> str:
    return "(unknown rank)" if spec.shape is None else "[" + ",".join(map(str, spec.shape)) + "]"


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
    """What to send for one signature and how to read its answer, decided once per run.

    `profile` is the model profile in effect (DEFAULT_PROFILE when none was given); `profile_assumed` is True
    for a pixel input when no profile said how to prepare it (no preset, no input settings): the default was;
    `recipe` prepares the pixels of a pixel input (None: encoded images, DT_STRING); `reading` says which
    output is read and as what (`output_kind`). `preparation` is one plain line saying what is sent.
    """

    signature_name: str
    input_name: str
    input_dtype: str
    input_shape: tuple[int, ...] | None
    probabilities_output: str  # the output read (probabilities, logits or sigmoid scores)
    labels_output: str | None
    labels: tuple[str, ...] | None  # fixed names when the model has no string output (or a profile names them)
    output_names: tuple[str, ...]
    reading: OutputReading
    profile: ModelProfile = DEFAULT_PROFILE
    profile_assumed: bool = False
    recipe: PixelRecipe | None = None
    max_side: int = MAX_SIDE

    @property
    def pixel_size(self) -> tuple[int, int] | None:
        """(height, width) sent for a pixel input; None for encoded images."""
        return None if self.recipe is None else (self.recipe.height, self.recipe.width)

    @property
    def output_kind(self) -> str:
        return self.reading.kind

    @property
    def preparation(self) -> str:
        """One plain line: what is sent for each image (see ModelProfile.describe)."""
        if self.recipe is None:
            return self.profile.describe("DT_STRING", self.input_shape)
        return self.recipe.describe()

    @classmethod
    def from_signature(cls, signature: SignatureSpec, *, labels: Sequence[str] | None = None,
                       profile: ModelProfile | None = None, max_side: int = MAX_SIDE,
                       url: str = "", labels_field: str = "labels") -> "ClassifyPlan":
        """The plan for `signature`, or SignatureError naming the tensor that does not fit, or
        InvalidArgumentError naming the profile key that does not fit it (nothing is sent either way).

        Class names come from `labels`, else the profile's, else a string output of the model. `url` is where
        the signature came from (its metadata URL), for the error; `labels_field` names where `labels` came
        from in errors.
        """
        assumed = profile is None or not profile.says_preparation
        profile = DEFAULT_PROFILE if profile is None else profile
        if labels:
            labels = check_class_names(labels_field, labels)
        elif profile.class_names:
            labels, labels_field = profile.class_names, _names_field(profile)
        else:
            labels = None
        where = f"signature {signature.name!r}"

        def unusable(reason: str) -> SignatureError:
            return SignatureError(f"{where} cannot classify images: {reason}", signature=signature.name,
                                  method="GET" if url else "", url=url)

        inputs = list(signature.inputs.values())
        usable = [s for s in inputs if s.dtype == "DT_STRING" or _is_image_input(s)]
        if len(inputs) != 1 or not usable:
            found = ", ".join(f"input {s.name!r} is {s.dtype} {_shape(s)}" for s in inputs) or "it has no input"
            raise unusable(f"{found}; an image classifier needs one input, DT_STRING [-1] (encoded images) "
                           "or a float or integer [-1, H, W, C] / [-1, C, H, W] (pixels)")
        image_input = usable[0]
        recipe = None if image_input.dtype == "DT_STRING" else profile.recipe(image_input.dtype, image_input.shape)

        reading = choose_output(signature.outputs, name=profile.output_name, kind=profile.output_kind,
                                names=len(labels) if labels else None, unusable=unusable)
        classes = reading.classes(len(labels) if labels else None)
        if labels and classes is not None and len(labels) != classes:
            raise InvalidArgumentError(labels_field, labels, f"{len(labels)} class names, but output "
                                                             f"{reading.name!r} ({reading.kind}, {reading.units} "
                                                             f"units) scores {classes} classes")
        outputs = list(signature.outputs.values())
        strings = [s for s in outputs if s.dtype == "DT_STRING" and s.shape is not None and len(s.shape) == 2
                   and s.shape[1] == classes and s.name != reading.name]
        label_output = pick_tensor(strings, _LABEL_NAMES)
        if label_output is None and not labels:
            raise unusable(f"no string output of shape [-1, {classes}] names the classes; "
                           "give the class names (a profile's class_names, labels=[...] or "
                           "SignatureConfig.class_names)")
        return cls(signature_name=signature.name, input_name=image_input.name, input_dtype=image_input.dtype,
                   input_shape=image_input.shape, probabilities_output=reading.name,
                   labels_output=None if labels else label_output.name,
                   labels=tuple(labels) if labels else None,
                   output_names=tuple(s.name for s in outputs), reading=reading, profile=profile,
                   profile_assumed=assumed and recipe is not None, recipe=recipe,
                   max_side=max_side)

    def instance(self, source: str, data: bytes) -> dict[str, Any]:
        """The row-format instance for one image (raises ImageError for unusable input). Pixels are prepared
        from the whole decoded image, upright per EXIF, in RGB."""
        if self.recipe is None:
            return {self.input_name: encode_for_wire(source, data, max_side=self.max_side)}
        pixels = self.recipe.prepare(upright_pixels(source, data))
        return {self.input_name: pixels}  # integers, or floats sent at full precision (protocol.encode_json)

    def request_body(self, instances: list[dict[str, Any]]) -> bytes:
        """The predict body for instances made by instance(), the same bytes protocol.predict_body writes.

        Encoded images are written straight into the JSON as {"b64": "..."}: base64 text needs no
        escaping, so the megabytes of a batch are not run through the JSON encoder (a third of the
        client's time per image)."""
        if self.recipe is not None or not instances or not self.signature_name:
            return predict_body(instances=instances, signature_name=self.signature_name)
        key = encode_json(self.input_name)
        between = b'"}},{' + key + b':{"b64":"'
        parts = [b'{"instances":[{' + key + b':{"b64":"']
        for instance in instances:
            parts += (base64.b64encode(instance[self.input_name]), between)
        parts[-1] = b'"}}],"signature_name":' + encode_json(self.signature_name) + b"}"
        return b"".join(parts)  # one join: one copy of the megabytes, not two

    def read(self, row: Mapping[str, Any]) -> Prediction:
        """Turn one instance's outputs into a label, one number per class (by class name), and extras.

        Raises ValueError (only) for an answer that does not fit the plan; its text names outputs,
        never quotes their values. Values that do not mean what the output kind says (a "distribution"
        summing to 3, a NaN logit) are the Prediction's `problem`.
        """
        reading = self.reading
        try:
            raw = row[self.probabilities_output]
            names = self.labels or tuple(str(_plain(n)) for n in row[self.labels_output])
            scores, problem = reading.scores(raw, names)
            kept = {self.labels_output} | (set() if reading.keeps_raw else {self.probabilities_output})
            extras = {name: tuple(_plain(v) for v in value) if isinstance(value, list) else (_plain(value),)
                      for name, value in row.items() if name not in kept}
        except KeyError as exc:
            raise ValueError(f"answer lacks the {exc} output: got outputs {sorted(map(str, row))}") from None
        except (TypeError, ValueError, ArithmeticError, AttributeError) as exc:
            raise ValueError(f"answer has an unusable output ({type(exc).__name__}): got outputs "
                             f"{sorted(map(str, row))}") from None
        if problem is not None:  # the values do not mean what the kind says: that input's error row
            return Prediction(label="", probabilities=MappingProxyType({}), extras=MappingProxyType(extras),
                              problem=problem)
        if len(names) != len(scores) or not scores:
            raise ValueError(f"{len(scores)} {'probabilities' if reading.distribution else 'scores'} for "
                             f"{len(names)} labels")
        best = int(np.argmax(scores))
        return Prediction(label=names[best], probabilities=MappingProxyType(dict(zip(names, scores))),
                          extras=MappingProxyType(extras), problem=problem)
