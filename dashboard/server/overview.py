"""What the server says about a model: versions and states, which label points where, and each signature."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from client import InvalidInputError, TFServingClient, TFServingError, VersionNotAvailableError
from dashboard.config import DEFAULT_LABELS, STATUS_TIMEOUT_S


def format_shape(shape: tuple[int, ...] | None) -> str:
    """TF's view of a shape: None is unknown rank, -1 an unknown dimension."""
    if shape is None:
        return "unknown rank"
    return "[" + ", ".join(str(dim) for dim in shape) + "]"


@dataclass(frozen=True)
class ModelOverview:
    """Plain data only (DataFrames, dicts), so st.cache_data can pickle it."""

    url: str
    model: str
    versions: pd.DataFrame          # version, state, labels, error
    labels: dict[str, int]          # label -> version, for the probed labels that exist
    signatures: pd.DataFrame        # version, signature, method, role, tensor, dtype, shape
    metadata_errors: dict[int, str] = field(default_factory=dict)

    @property
    def available_versions(self) -> list[int]:
        return [int(v) for v, state in zip(self.versions["version"], self.versions["state"]) if state == "AVAILABLE"]


VERSION_COLUMNS = ["version", "state", "labels", "error"]
SIGNATURE_COLUMNS = ["version", "signature", "method", "role", "tensor", "dtype", "shape"]


def _probe_labels(client: TFServingClient, labels: tuple[str, ...]) -> dict[str, int]:
    """TF Serving's REST API cannot list labels, so ask for each candidate; unknown ones are left out."""
    found: dict[str, int] = {}
    for label in labels:
        try:
            found[label] = client.resolve_version(label=label)
        except (VersionNotAvailableError, InvalidInputError):
            continue
    return found


def _signature_rows(version: int, metadata) -> list[dict]:
    rows = []
    for sig_name, sig in sorted(metadata.signatures.items()):
        if sig_name.startswith("__"):
            continue  # TF's internal init op (__saved_model_init_op): not something a client can call
        for role, tensors in (("input", sig.inputs), ("output", sig.outputs)):
            for key, spec in sorted(tensors.items()):
                rows.append({"version": version, "signature": sig_name, "method": sig.method_name, "role": role,
                             "tensor": key, "dtype": spec.dtype, "shape": format_shape(spec.shape)})
    return rows


def fetch_model_overview(url: str, model: str, labels: tuple[str, ...] = DEFAULT_LABELS,
                         timeout: float = STATUS_TIMEOUT_S) -> ModelOverview:
    """Status, labels and signatures of every available version. Raises the client's errors when the server
    is unreachable or has no such model; a version whose metadata fails is reported, not raised."""
    with TFServingClient(url, model, timeout=timeout, retries=1) as client:
        statuses = client.status()
        found_labels = _probe_labels(client, labels)
        signature_rows: list[dict] = []
        metadata_errors: dict[int, str] = {}
        for status in statuses:
            if not status.available:
                continue
            try:
                signature_rows += _signature_rows(status.version, client.metadata(version=status.version))
            except TFServingError as exc:
                metadata_errors[status.version] = getattr(exc, "error", None) or str(exc)
    version_rows = [{
        "version": s.version, "state": s.state,
        "labels": ", ".join(sorted(name for name, v in found_labels.items() if v == s.version)),
        "error": s.error_message if s.error_code not in ("", "OK") else "",
    } for s in statuses]
    return ModelOverview(url=url, model=model, versions=pd.DataFrame(version_rows, columns=VERSION_COLUMNS),
                         labels=found_labels, signatures=pd.DataFrame(signature_rows, columns=SIGNATURE_COLUMNS),
                         metadata_errors=metadata_errors)
