"""Tensors -> TF Serving's JSON responses: predict (row/columnar), classify and regress results."""
from __future__ import annotations

import base64
import json
from typing import Any, Mapping, Optional

import numpy as np

from serving.errors import InvalidArgument
from serving.jsonvalues import format_decimal
from serving.tensors import COLUMNAR


def _scalar_text(value: Any, kind: str, as_bytes: bool) -> str:
    if kind == "f4":
        return format_decimal(float(value), np.float32)
    if kind == "f8":
        return format_decimal(float(value), np.float64)
    if kind == "b":
        return "true" if value else "false"
    if kind == "S":
        raw = bytes(value)
        if as_bytes:
            return '{"b64": "' + base64.b64encode(raw).decode("ascii") + '"}'
        return json.dumps(raw.decode("utf-8", errors="replace"), ensure_ascii=False)
    return str(int(value))


def _kind(array: np.ndarray, name: str) -> str:
    if array.dtype == np.float32:
        return "f4"
    if array.dtype == np.float64:
        return "f8"
    if array.dtype == np.bool_:
        return "b"
    if array.dtype == object or array.dtype.kind == "S":
        return "S"
    if array.dtype.kind in "iu":
        return "i"
    raise InvalidArgument(f"Failed to write JSON value for tensor type: {array.dtype.name} (output {name})")


_SPECIAL = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _decimal_texts(array: np.ndarray) -> list[str]:
    """format_decimal of every value of a float array, formatted in bulk: one %-format call for all of them,
    one numpy parse to find the few that need 9 (float) or 17 (double) digits to round-trip."""
    flat = array.reshape(-1)
    numbers = flat.tolist()
    texts = ("%g," * len(numbers) % tuple(numbers)).split(",")
    texts.pop()
    back = np.array(texts, dtype=np.float64).astype(flat.dtype)
    digits = 9 if flat.dtype == np.float32 else 17
    for index in np.flatnonzero((back != flat) & np.isfinite(flat)).tolist():
        texts[index] = "%.*g" % (digits, numbers[index])
    return [text if "." in text or "e" in text else _SPECIAL.get(text, text + ".0") for text in texts]


def _float_rows(array: np.ndarray) -> list[str]:
    """The JSON text of each array[i] (each value when the array has one dimension) of a non-empty float array."""
    items = _decimal_texts(array)
    for size in reversed(array.shape[1:]):
        items = ["[" + ", ".join(items[start:start + size]) + "]" for start in range(0, len(items), size)]
    return items


def _array_text(array: Any, kind: str, as_bytes: bool) -> str:
    if not isinstance(array, np.ndarray):  # one element of an object (string) array is plain bytes
        return _scalar_text(array, kind, as_bytes)
    if kind in ("f4", "f8") and array.size:
        return _float_rows(array.reshape(1, *array.shape))[0]
    if array.ndim == 0:
        return _scalar_text(array[()], kind, as_bytes)
    if array.ndim == 1:
        return "[" + ", ".join(_scalar_text(v, kind, as_bytes) for v in array) + "]"
    return "[" + ", ".join(_array_text(sub, kind, as_bytes) for sub in array) + "]"


def encode_predict_response(outputs: Mapping[str, np.ndarray], request_format: str) -> str:
    """Outputs -> TF Serving's JSON: {"predictions": [...]} (row) or {"outputs": ...} (columnar).

    Outputs whose name ends in `_bytes` (string tensors) are written as {"b64": ...} objects.
    """
    if not outputs:
        raise InvalidArgument("Cannot convert empty tensor map to JSON")
    names = sorted(outputs)
    kinds = {n: _kind(outputs[n], n) for n in names}
    as_bytes = {n: kinds[n] == "S" and n.endswith("_bytes") for n in names}
    if request_format == COLUMNAR:
        parts = {n: _array_text(outputs[n], kinds[n], as_bytes[n]) for n in names}
        if len(names) == 1:
            return '{"outputs": ' + parts[names[0]] + "}"
        return '{"outputs": {' + ", ".join(f"{json.dumps(n)}: {parts[n]}" for n in names) + "}}"
    batch_size = 0
    for name in names:
        array = outputs[name]
        if array.ndim == 0:
            raise InvalidArgument(f"Tensor name: {name} has no shape information ")
        if array.shape[0] < 1:
            raise InvalidArgument(f"Tensor name: {name} has invalid batch size: {array.shape[0]}")
        if batch_size and array.shape[0] != batch_size:
            raise InvalidArgument(f"Tensor name: {name} has inconsistent batch size: {array.shape[0]} "
                                  f"expecting: {batch_size}")
        batch_size = array.shape[0]
    if len(names) == 1 and kinds[names[0]] in ("f4", "f8") and outputs[names[0]].size:
        return '{"predictions": [' + ", ".join(_float_rows(outputs[names[0]])) + "]}"
    rows = {n: _float_rows(outputs[n]) for n in names if kinds[n] in ("f4", "f8") and outputs[n].size}
    items = []
    for row in range(batch_size):
        if len(names) == 1:
            items.append(_array_text(outputs[names[0]][row], kinds[names[0]], as_bytes[names[0]]))
        else:
            items.append("{" + ", ".join(
                f"{json.dumps(n)}: {rows[n][row] if n in rows else _array_text(outputs[n][row], kinds[n], as_bytes[n])}"
                for n in names) + "}")
    return '{"predictions": [' + ", ".join(items) + "]}"


def encode_classify_response(classes: Optional[np.ndarray], scores: Optional[np.ndarray]) -> str:
    """{"results": [[[label, score], ...] per example]}; a missing classes/scores output reads as ""/0.0."""
    batch = len(classes) if classes is not None else len(scores)
    rows = []
    for index in range(batch):
        labels = [bytes(c).decode("utf-8", "replace") for c in classes[index]] if classes is not None else None
        values = [float(s) for s in scores[index]] if scores is not None else None
        count = len(labels) if labels is not None else len(values)
        pairs = [(labels[i] if labels else "", values[i] if values else 0.0) for i in range(count)]
        rows.append("[" + ", ".join(f"[{json.dumps(label, ensure_ascii=False)}, {format_decimal(score)}]"
                                    for label, score in pairs) + "]")
    return '{"results": [' + ", ".join(rows) + "]}"


def encode_regress_response(values: np.ndarray) -> str:
    if not (values.ndim == 1 or (values.ndim == 2 and values.shape[1] == 1)):
        raise InvalidArgument(f"Expected output Tensor shape to be either [batch_size] or [batch_size, 1] but got "
                              f"{list(values.shape)}")
    return '{"results": [' + ", ".join(format_decimal(float(v)) for v in values.reshape(-1)) + "]}"
