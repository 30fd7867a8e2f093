"""Two versions' serving signatures side by side, and a digest that names a signature in a report."""
from __future__ import annotations

import hashlib
import json
from typing import Sequence

import pandas as pd

from client.protocol import SignatureSpec, TensorSpec

from dashboard.models import format_shape

ABSENT = "—"
SIGNATURE_ROW_COLUMNS = ["part", "name", "A", "B", "differs"]


def _tensor_json(tensor: TensorSpec) -> dict:
    return {"dtype": tensor.dtype, "shape": None if tensor.shape is None else list(tensor.shape)}


def signature_json(spec: SignatureSpec) -> str:
    """Canonical JSON of a signature: sorted keys, no spaces, so equal signatures give equal text."""
    body = {"name": spec.name, "method_name": spec.method_name,
            "inputs": {name: _tensor_json(t) for name, t in spec.inputs.items()},
            "outputs": {name: _tensor_json(t) for name, t in spec.outputs.items()}}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signature_digest(spec: SignatureSpec) -> str:
    """sha256 of `signature_json`, as "sha256:<hex>"."""
    return "sha256:" + hashlib.sha256(signature_json(spec).encode("utf-8")).hexdigest()


def _tensor_text(tensor: TensorSpec | None) -> str:
    return ABSENT if tensor is None else f"{tensor.dtype} {format_shape(tensor.shape)}"


def signature_rows(a: SignatureSpec, b: SignatureSpec, *, classes_a: Sequence[str] | None = None,
                   classes_b: Sequence[str] | None = None) -> pd.DataFrame:
    """part, name, A, B, differs — the signature's name and method, each input and output tensor (dtype and
    shape; "—" where one side lacks it) and, when given, the class names. Tensors are listed by name."""
    rows = [("signature", "name", a.name, b.name), ("signature", "method", a.method_name, b.method_name)]
    for part, tensors_a, tensors_b in (("input", a.inputs, b.inputs), ("output", a.outputs, b.outputs)):
        for name in sorted(set(tensors_a) | set(tensors_b)):
            rows.append((part, name, _tensor_text(tensors_a.get(name)), _tensor_text(tensors_b.get(name))))
    if classes_a is not None or classes_b is not None:
        rows.append(("classes", "names", ", ".join(classes_a or ()) or ABSENT, ", ".join(classes_b or ()) or ABSENT))
    frame = pd.DataFrame(rows, columns=SIGNATURE_ROW_COLUMNS[:4])
    frame["differs"] = frame["A"] != frame["B"]
    return frame
