"""Which output a classification reads, what its values mean, and how they become one number per class.

Output kinds (a profile's `output.kind`; inferred when not given):
- `probabilities`: one probability per class, checked to be a distribution (client.probabilities).
- `logits`: softmax applied; with one unit and two class names, the logistic sigmoid gives [1 - s, s]. The raw
  values are kept in the result's extras under the output's name.
- `sigmoid`: one unit and two class names: [1 - s, s]; k units: k independent scores in [0, 1], the top class
  being the highest, not a distribution (`OutputReading.distribution` is False). Raw values kept as for logits.
Not given: `sigmoid` when the output has one unit and there are two class names, else `probabilities`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from client.errors import InvalidArgumentError, SignatureError
from client.probabilities import distribution_problem, value_problem
from client.protocol import TensorSpec

__all__ = ["FLOAT_OUTPUT_TYPES", "OutputReading", "choose_output", "pick_tensor"]

FLOAT_OUTPUT_TYPES = frozenset({"DT_FLOAT", "DT_HALF", "DT_DOUBLE", "DT_BFLOAT16"})
_PREFERRED = {"probabilities": ("probabilities", "scores", "probs", "predictions"),
              "logits": ("logits", "scores", "predictions", "probabilities"),
              "sigmoid": ("probabilities", "scores", "probs", "predictions", "logits")}
_LOGITS_HINT = '; if it holds logits, set output.kind to "logits" in the model profile'


def _units(spec: TensorSpec) -> int:
    """Values per instance: the second dimension (-1 unknown), 1 for a rank-1 output."""
    assert spec.shape is not None
    return spec.shape[1] if len(spec.shape) == 2 else 1


def _shape(spec: TensorSpec) -> str:
    return "(unknown rank)" if spec.shape is None else "[" + ",".join(map(str, spec.shape)) + "]"


def _readable(spec: TensorSpec) -> bool:
    return spec.dtype in FLOAT_OUTPUT_TYPES and spec.shape is not None and len(spec.shape) in (1, 2)


def _fits(spec: TensorSpec, kind: str | None, names: int | None) -> bool:
    units = _units(spec)
    if len(spec.shape or ()) == 1 and names != 2:
        return False  # a rank-1 output is one score per instance: only for two class names
    if names is None or units in (names, -1):
        return True
    return units == 1 and names == 2 and kind in (None, "sigmoid", "logits")


def pick_tensor(candidates: Sequence[TensorSpec], preferred: Sequence[str]) -> TensorSpec | None:
    """The first of `preferred` names among `candidates`, else the only candidate, else None."""
    for name in preferred:
        for spec in candidates:
            if spec.name == name:
                return spec
    return candidates[0] if len(candidates) == 1 else None


@dataclass(frozen=True)
class OutputReading:
    """How to read one output: its name, kind and width (units, -1 unknown); `kind_given`: named by a profile."""

    name: str
    kind: str
    units: int
    kind_given: bool = False

    @property
    def binary(self) -> bool:
        """One unit standing for two classes ([1 - s, s])."""
        return self.kind in ("sigmoid", "logits") and self.units == 1

    @property
    def distribution(self) -> bool:
        """Whether the per-class values form a probability distribution (False: independent sigmoid scores)."""
        return self.kind != "sigmoid" or self.units in (1, -1)

    @property
    def keeps_raw(self) -> bool:
        """The raw output goes to the result's extras (its values are not the per-class numbers shown)."""
        return self.kind != "probabilities"

    def classes(self, names: int | None) -> int | None:
        """How many classes this output scores (two for one sigmoid unit), None when unknown."""
        if self.binary:
            return 2
        return None if self.units == -1 else self.units

    def scores(self, raw: Any, names: Sequence[str]) -> tuple[list[float], str | None]:
        """(per-class values, problem) for one instance's raw output; a problem is that input's error text."""
        values = [float(v) for v in raw] if isinstance(raw, list) else [float(raw)]
        binary = len(values) == 1 and len(names) == 2 and self.kind in ("sigmoid", "logits")
        if self.kind == "logits":
            bad = next((v for v in values if not math.isfinite(v)), None)
            if bad is not None:
                return values, f"output {self.name!r} holds a logit that is not finite ({bad})"
            if binary:
                s = 1.0 / (1.0 + math.exp(-values[0])) if values[0] >= 0 else math.exp(values[0]) / (
                    1.0 + math.exp(values[0]))
                return [1.0 - s, s], None
            exponent = np.exp(np.asarray(values, dtype=np.float64) - max(values))
            return (exponent / exponent.sum()).tolist(), None
        if self.kind == "sigmoid":
            problem = value_problem(dict(zip(names if not binary else names[1:], values)))
            if problem is not None:
                return values, f"output {self.name!r} is not a sigmoid score in [0, 1]: {problem}{_LOGITS_HINT}"
            return ([1.0 - values[0], values[0]] if binary else values), None
        problem = distribution_problem(dict(zip(names, values))) if len(names) == len(values) else None
        if problem is not None:
            hint = _LOGITS_HINT if not self.kind_given and not problem.endswith(("NaN", "Infinity")) else ""
            return values, f"output {self.name!r} is not a probability distribution: {problem}{hint}"
        return values, None


def choose_output(outputs: Mapping[str, TensorSpec], *, name: str | None, kind: str | None,
                  names: int | None, unusable: Callable[[str], SignatureError]) -> OutputReading:
    """The output to read: `name` (a profile's output.name) or the one float output that fits `names` class
    names (preferring probabilities, scores, probs, predictions; logits for kind logits), else the one float
    output there is whatever its width (the caller then refuses the class names' count). InvalidArgumentError
    names output.name when the named output is missing or not a float [-1, units]; `unusable(reason)` is the
    SignatureError when no output fits."""
    specs = list(outputs.values())
    if name is not None:
        spec = outputs.get(name)
        if spec is None:
            raise InvalidArgumentError("output.name", name, f"the signature has no such output; it has "
                                                            f"{', '.join(sorted(outputs)) or 'none'}")
        if not _readable(spec):
            raise InvalidArgumentError("output.name", name, f"is {spec.dtype} {_shape(spec)}; the output read "
                                                            "must be a float of shape [-1, units]")
    else:
        preferred = _PREFERRED[kind or "probabilities"]
        fitting = [s for s in specs if _readable(s) and _fits(s, kind, names)]
        spec = pick_tensor(fitting, preferred)
        if spec is None and names is not None:  # the one output there is: its width is the class names' error
            spec = pick_tensor([s for s in specs if _readable(s) and _fits(s, kind, None)], preferred)
        if spec is None:
            found = ", ".join(f"{s.name!r} {s.dtype} {_shape(s)}" for s in specs) or "none"
            wanted = f"[-1, {names}] for {names} class names" if names else "[-1, number of classes]"
            many = "; name one with output.name in a model profile" if len(fitting) > 1 else ""
            raise unusable(f"no single float output of shape {wanted} holds the class scores (outputs: "
                           f"{found}){many}")
    units = _units(spec)
    effective = kind or ("sigmoid" if units == 1 and names == 2 else "probabilities")
    return OutputReading(name=spec.name, kind=effective, units=units, kind_given=kind is not None)
