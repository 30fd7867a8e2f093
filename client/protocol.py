"""TF Serving REST wire format: frozen dataclasses parsed from its JSON, and request bodies.

Only this module looks inside TF Serving's JSON; everything else sees the dataclasses.
Reference: tensorflow_serving/g3doc/api_rest.md (model status, metadata, predict APIs).
"""
from __future__ import annotations

import base64
import json
import numbers
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np
import orjson

from client.errors import InvalidArgumentError, SignatureError, bounded

__all__ = [
    "VersionStatus",
    "TensorSpec",
    "SignatureSpec",
    "ModelMetadata",
    "PredictResponse",
    "predict_body",
    "encode_json",
    "model_path",
    "check_name",
    "check_version",
    "MAX_VERSION",
]

# TF Serving's version numbers are int64 (protobuf JSON writes them as strings); the client takes 0..2^63-1.
MAX_VERSION = 2 ** 63 - 1


# Model names and version labels as they appear in `/v1/models/NAME/labels/LABEL`: TF Serving's REST
# router takes any run of characters but '/' and ':', so anything beyond this safe set (spaces, commas,
# '..', non-ASCII that would need percent-encoding) is refused here, naming the field, before a URL exists.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", re.ASCII)
MAX_NAME_LENGTH = 255


def check_name(field: str, value: object) -> str:
    """`value` if it is a usable model name or version label, else InvalidArgumentError naming `field`."""
    if not isinstance(value, str):
        raise InvalidArgumentError(field, value, f"must be text, not {type(value).__name__}")
    if not value:
        raise InvalidArgumentError(field, value, "must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(field, value, f"is {len(value)} characters long; at most {MAX_NAME_LENGTH}")
    if not _NAME.fullmatch(value):
        bad = next((c for c in value if not _NAME.fullmatch(c.replace(".", "_").replace("-", "_"))), None)
        problem = f"contains {bad!r}" if bad else f"starts with {value[0]!r}"
        raise InvalidArgumentError(field, value, f"{problem}; use ASCII letters, digits, '_', '.' and '-' "
                                                 "(not '.' or '-' first)")
    return value


def check_version(value: object) -> int:
    """`value` as an int if it is a usable version number (an integer in 0..2^63-1, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InvalidArgumentError("version", value, "must be a non-negative integer")
    if int(value) > MAX_VERSION:
        raise InvalidArgumentError("version", value, "is above 2^63-1, the largest version TF Serving has (int64)")
    return int(value)


def model_path(model: str, *, version: int | None = None, label: str | None = None) -> str:
    """`/v1/models/NAME[/versions/N | /labels/L]` — the same target syntax for every API.

    Raises InvalidArgumentError (field "model", "version", "label" or "version/label").
    """
    path = f"/v1/models/{check_name('model', model)}"
    if version is not None and label is not None:
        raise InvalidArgumentError("version/label", (version, label), "give a version or a label, not both")
    if version is not None:
        return f"{path}/versions/{check_version(version)}"
    if label is not None:
        return f"{path}/labels/{check_name('label', label)}"
    return path


def _int(value: Any, what: str) -> int:
    # Parse errors name the field, never quote the server's value (it may be anything).
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} is not an integer ({type(value).__name__})") from None


_DIGITS = re.compile(r"-?[0-9]+", re.ASCII)


def _version(value: Any, what: str) -> int:
    """A version number from the server's JSON: an integer (or protobuf's decimal string) in 0..2^63-1, else
    ValueError naming the field (never quoting the value)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        digits = value.strip().lstrip("-").lstrip("0")
        number = int(value) if len(digits) <= 20 else MAX_VERSION + 1  # no int() of a thousand digits
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    else:
        raise ValueError(f"{what} is not an integer ({type(value).__name__})")
    if not 0 <= number <= MAX_VERSION:
        raise ValueError(f"{what} is outside 0..2^63-1 (TF Serving's versions are int64)")
    return number


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class VersionStatus:
    """One version's entry of a status answer; its texts are cut by client.errors.bounded."""

    version: int
    state: str
    error_code: str
    error_message: str

    @property
    def available(self) -> bool:
        return self.state == "AVAILABLE"

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> "VersionStatus":
        status = entry.get("status") or {}
        return cls(
            version=_version(entry["version"], "model_version_status[].version"),
            state=bounded(str(entry.get("state", "UNKNOWN"))),
            error_code=bounded(str(status.get("error_code", "OK"))),
            error_message=bounded(str(status.get("error_message", ""))),
        )

    @classmethod
    def list_from_json(cls, body: Mapping[str, Any]) -> tuple["VersionStatus", ...]:
        """Parse a `GET /v1/models/NAME` body into versions sorted by number."""
        entries = body.get("model_version_status")
        if not isinstance(entries, list):
            raise ValueError("model status has no 'model_version_status' list")
        return tuple(sorted((cls.from_json(e) for e in entries), key=lambda s: s.version))


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str
    shape: tuple[int, ...] | None  # -1 = unknown dimension; None = unknown rank

    @classmethod
    def from_json(cls, name: str, info: Mapping[str, Any]) -> "TensorSpec":
        tensor_shape = info.get("tensor_shape") or {}
        shape: tuple[int, ...] | None
        if tensor_shape.get("unknown_rank"):
            shape = None
        else:
            # Protobuf JSON writes int64 as strings ("-1"); a missing "dim" list is a scalar.
            shape = tuple(_int(d.get("size", -1), f"{name}: tensor_shape.dim[].size")
                          for d in tensor_shape.get("dim", []))
        return cls(name=name, dtype=str(info.get("dtype", "DT_INVALID")), shape=shape)


@dataclass(frozen=True)
class SignatureSpec:
    name: str
    method_name: str
    inputs: Mapping[str, TensorSpec]
    outputs: Mapping[str, TensorSpec]

    @classmethod
    def from_json(cls, name: str, info: Mapping[str, Any]) -> "SignatureSpec":
        def tensors(key: str) -> Mapping[str, TensorSpec]:
            items = info.get(key) or {}
            return _frozen({n: TensorSpec.from_json(n, t) for n, t in sorted(items.items())})

        return cls(name=name, method_name=str(info.get("method_name", "")),
                   inputs=tensors("inputs"), outputs=tensors("outputs"))


@dataclass(frozen=True)
class ModelMetadata:
    name: str
    version: int
    signatures: Mapping[str, SignatureSpec]

    @property
    def default(self) -> SignatureSpec:
        return self.signature("serving_default")

    def signature(self, name: str | None) -> SignatureSpec:
        """The named signature (None = serving_default), or a SignatureError listing the real ones."""
        name = name or "serving_default"
        try:
            return self.signatures[name]
        except KeyError:
            callable_ = sorted(n for n in self.signatures if not n.startswith("__"))
            raise SignatureError(f"model {self.name!r} version {self.version} has no signature {name!r}; "
                                 f"it has {callable_}", signature=name) from None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "ModelMetadata":
        spec = body.get("model_spec") or {}
        try:
            defs = body["metadata"]["signature_def"]["signature_def"]
        except (KeyError, TypeError):
            raise ValueError("metadata has no metadata.signature_def.signature_def") from None
        return cls(
            name=str(spec.get("name", "")),
            version=_version(spec.get("version", 0), "model_spec.version"),
            signatures=_frozen({n: SignatureSpec.from_json(n, d) for n, d in sorted(defs.items())}),
        )


@dataclass(frozen=True)
class PredictResponse:
    outputs: Mapping[str, Any] | list  # as returned: "predictions" (row) or "outputs" (columnar)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "PredictResponse":
        if "predictions" in body:
            return cls(outputs=body["predictions"])
        if "outputs" in body:
            outputs = body["outputs"]
            return cls(outputs=_frozen(outputs) if isinstance(outputs, dict) else outputs)
        raise ValueError("predict answer has neither 'predictions' nor 'outputs'")

    def per_instance(self, output_names: Sequence[str]) -> list[dict[str, Any]]:
        """One {output name: value} dict per instance, whichever format the server answered in.

        TF Serving drops the names when a signature has a single output (a bare list, in
        either format), so `output_names` (from the signature) supplies them.
        """
        names = list(output_names)
        if isinstance(self.outputs, list):
            if all(isinstance(row, dict) for row in self.outputs):
                return [dict(row) for row in self.outputs]
            if len(names) == 1:
                return [{names[0]: row} for row in self.outputs]
            raise ValueError(f"unnamed predictions for a signature with outputs {names}")
        columns = dict(self.outputs)
        lengths = {len(v) for v in columns.values() if isinstance(v, list)}
        if len(lengths) != 1:
            raise ValueError(f"columnar outputs of unequal batch sizes: {sorted(lengths)}")
        count = lengths.pop()
        return [{n: v[i] for n, v in columns.items()} for i in range(count)]


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _json_default(value: Any) -> Any:
    """What orjson does not write itself: bytes follow TF Serving's binary convention ({"b64": ...}); numpy
    arrays and numbers are written by orjson from their memory (object arrays become plain lists)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype != object:
        if value.dtype == np.float32 and value.size and np.abs(value).max() == _FLOAT32_MAX:
            # Its shortest text, 3.4028235e38, reads as a double above the float maximum, which TF Serving
            # refuses; the exact double of every value reads back as the same float32.
            value = value.astype(np.float64)
        return orjson.Fragment(orjson.dumps(np.ascontiguousarray(value) if value.ndim else value,
                                            option=orjson.OPT_SERIALIZE_NUMPY))
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send a {type(value).__name__} to TF Serving")


_NULL_VALUE = re.compile(rb"[\[,:]null[,\]}]")  # null as a value (not inside base64 text, which has no [,:)


def encode_json(body: Any) -> bytes:
    """`body` as compact UTF-8 JSON; numpy arrays are written by orjson straight from their memory.

    A float32 array's numbers are written in the shortest form that reads back as the same float32, so the
    server's tensor holds exactly the client's values. Non-finite floats are written as NaN/Infinity (TF
    Serving reads them), and what orjson cannot write (integers beyond 64 bits, non-text keys) is written by
    the standard library's encoder; only values neither can write raise TypeError/ValueError.
    """
    try:
        data = orjson.dumps(body, default=_json_default)
    except orjson.JSONEncodeError:
        data = None
    # orjson writes NaN and ±Infinity as null: a body with any null is written again (rarely needed) so that
    # those numbers travel as TF Serving's NaN/Infinity; a null that was None stays null.
    if data is None or (b"null" in data and _NULL_VALUE.search(data)):
        data = json.dumps(body, default=_plain_json, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return data


def _plain_json(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send a {type(value).__name__} to TF Serving")


def predict_body(*, instances: Any = None, inputs: Any = None, signature_name: str | None = None) -> bytes:
    """Encode a predict request in row (`instances`) or columnar (`inputs`) form (encode_json)."""
    if (instances is None) == (inputs is None):
        raise InvalidArgumentError("instances/inputs", (type(instances).__name__, type(inputs).__name__),
                                   "give exactly one of instances= (row form) or inputs= (columnar form)")
    body: dict[str, Any] = {"instances": instances} if instances is not None else {"inputs": inputs}
    if signature_name:
        body["signature_name"] = signature_name
    return encode_json(body)
