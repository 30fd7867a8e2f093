"""Serving signatures: the one digest that names a signature (run records, History, Compare and the report), a
signature's tensors as text, and two versions' signatures side by side."""
from __future__ import annotations

import hashlib
import json
from typing import Mapping, Sequence

import pandas as pd

from client.protocol import SignatureSpec, TensorSpec
from dashboard.server.overview import format_shape

ABSENT = "—"   # a tensor, class list or signature one side lacks
SIGNATURE_ROW_COLUMNS = ["part", "name", "A", "B", "differs"]


DIGEST_PREFIX = "sha256:"


def signature_json(spec: SignatureSpec) -> str:
    """Canonical JSON of a signature (name, method, each tensor's dtype and shape by name; sorted keys), so
    equal signatures give equal text. Run records stored before the digest had its prefix hashed this text."""
    def tensors(specs: Mapping[str, TensorSpec]) -> dict[str, list]:
        return {name: [spec.dtype, None if spec.shape is None else list(spec.shape)]
                for name, spec in sorted(specs.items())}
    canonical = {"name": spec.name, "method": spec.method_name, "inputs": tensors(spec.inputs),
                 "outputs": tensors(spec.outputs)}
    return json.dumps(canonical, sort_keys=True)


def signature_digest(spec: SignatureSpec) -> str:
    """"sha256:<hex>" of `signature_json`: equal digests, same interface."""
    return DIGEST_PREFIX + hashlib.sha256(signature_json(spec).encode("utf-8")).hexdigest()


def tensor_text(tensor: TensorSpec | None) -> str:
    """"DT_FLOAT [-1, 224, 224, 3]", or ABSENT where a side has no such tensor."""
    return ABSENT if tensor is None else f"{tensor.dtype} {format_shape(tensor.shape)}"


def signature_rows(a: SignatureSpec, b: SignatureSpec, *, classes_a: Sequence[str] | None = None,
                   classes_b: Sequence[str] | None = None) -> pd.DataFrame:
    """part, name, A, B, differs — the signature's name and method, each input and output tensor (dtype and
    shape; "—" where one side lacks it) and, when given, the class names. Tensors are listed by name."""
    rows = [("signature", "name", a.name, b.name), ("signature", "method", a.method_name, b.method_name)]
    for part, tensors_a, tensors_b in (("input", a.inputs, b.inputs), ("output", a.outputs, b.outputs)):
        for name in sorted(set(tensors_a) | set(tensors_b)):
            rows.append((part, name, tensor_text(tensors_a.get(name)), tensor_text(tensors_b.get(name))))
    if classes_a is not None or classes_b is not None:
        rows.append(("classes", "names", ", ".join(classes_a or ()) or ABSENT, ", ".join(classes_b or ()) or ABSENT))
    frame = pd.DataFrame(rows, columns=SIGNATURE_ROW_COLUMNS[:4])
    frame["differs"] = frame["A"] != frame["B"]
    return frame
