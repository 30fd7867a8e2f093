"""TF Serving REST wire format: frozen dataclasses parsed from its JSON, and request bodies.

Only this module looks inside TF Serving's JSON; everything else sees the dataclasses.
Reference: tensorflow_serving/g3doc/api_rest.md (model status, metadata, predict APIs).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping, Sequence

__all__ = [
    "VersionStatus",
    "TensorSpec",
    "SignatureSpec",
    "ModelMetadata",
    "PredictResponse",
    "predict_body",
    "model_path",
]


def model_path(model: str, *, version: int | None = None, label: str | None = None) -> str:
    """`/v1/models/NAME[/versions/N | /labels/L]` — the same target syntax for every API."""
    if version is not None and label is not None:
        raise ValueError("give version or label, not both")
    path = f"/v1/models/{model}"
    if version is not None:
        if isinstance(version, bool) or int(version) != version or version < 0:
            raise ValueError(f"version must be a non-negative integer, got {version!r}")
        return f"{path}/versions/{int(version)}"
    if label is not None:
        if not label or "/" in label:
            raise ValueError(f"label must be a non-empty name without '/', got {label!r}")
        return f"{path}/labels/{label}"
    return path


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class VersionStatus:
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
            version=int(entry["version"]),
            state=str(entry.get("state", "UNKNOWN")),
            error_code=str(status.get("error_code", "OK")),
            error_message=str(status.get("error_message", "")),
        )

    @classmethod
    def list_from_json(cls, body: Mapping[str, Any]) -> tuple["VersionStatus", ...]:
        """Parse a `GET /v1/models/NAME` body into versions sorted by number."""
        entries = body.get("model_version_status")
        if not isinstance(entries, list):
            raise ValueError(f"model status has no 'model_version_status' list: {str(body)[:200]}")
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
            shape = tuple(int(d.get("size", -1)) for d in tensor_shape.get("dim", []))
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
        """The named signature (None = serving_default), or a KeyError listing the real ones."""
        name = name or "serving_default"
        try:
            return self.signatures[name]
        except KeyError:
            raise KeyError(f"model {self.name!r} version {self.version} has no signature {name!r}; "
                           f"it has {sorted(self.signatures)}") from None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> "ModelMetadata":
        spec = body.get("model_spec") or {}
        try:
            defs = body["metadata"]["signature_def"]["signature_def"]
        except (KeyError, TypeError):
            raise ValueError(f"metadata has no metadata.signature_def.signature_def: {str(body)[:200]}") from None
        return cls(
            name=str(spec.get("name", "")),
            version=int(spec.get("version", 0)),
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
        raise ValueError(f"predict answer has neither 'predictions' nor 'outputs': {str(body)[:200]}")

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


def _json_default(value: Any) -> Any:
    # bytes follow TF Serving's binary convention; numpy values become plain lists/numbers.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot send a {type(value).__name__} to TF Serving")


def predict_body(*, instances: Any = None, inputs: Any = None, signature_name: str | None = None) -> bytes:
    """Encode a predict request in row (`instances`) or columnar (`inputs`) form."""
    if (instances is None) == (inputs is None):
        raise ValueError("give exactly one of instances= (row form) or inputs= (columnar form)")
    body: dict[str, Any] = {"instances": instances} if instances is not None else {"inputs": inputs}
    if signature_name:
        body["signature_name"] = signature_name
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode("utf-8")
