"""What the server says about a model: versions and states, which label points where, and the signatures of a
bounded number of versions.

One status request lists every version, one metadata request per label finds where the labels point, and metadata
is read for at most SIGNATURES_SHOWN available versions (the newest, unless the caller names others): a model with
10,000 versions costs 1 + labels + 20 requests, never one per version. Server texts (states, errors) are bounded
by client.store.texts.bounded_text.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import pandas as pd

from client import InvalidInputError, TFServingClient, TFServingError, VersionNotAvailableError
from dashboard.config import DEFAULT_LABELS, STATUS_TIMEOUT_S
from client.store.texts import bounded_text

SIGNATURES_SHOWN = 20   # available versions whose metadata one overview reads


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
    signature_versions: tuple[int, ...] = ()   # the versions whose metadata was read, newest first

    @property
    def available_versions(self) -> list[int]:
        return [int(v) for v, state in zip(self.versions["version"], self.versions["state"]) if state == "AVAILABLE"]

    def with_signatures(self, versions: Sequence[int], signatures: pd.DataFrame,
                        errors: dict[int, str]) -> "ModelOverview":
        """This overview with the signatures (or metadata errors) of more versions, read elsewhere."""
        added = [int(v) for v in versions if int(v) not in self.signature_versions]
        if not added:
            return self
        new = signatures[signatures["version"].isin(added)]
        frames = [frame for frame in (self.signatures, new) if not frame.empty]
        merged = pd.concat(frames, ignore_index=True) if frames else self.signatures
        return replace(self, signatures=merged.reindex(columns=SIGNATURE_COLUMNS),
                       metadata_errors={**self.metadata_errors, **{v: e for v, e in errors.items() if v in added}},
                       signature_versions=tuple(sorted({*self.signature_versions, *added}, reverse=True)))


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


def newest_versions(versions: Iterable[int], count: int = SIGNATURES_SHOWN) -> list[int]:
    """The `count` highest version numbers, highest first."""
    return sorted(set(versions), reverse=True)[:count]


def read_signatures(client: TFServingClient, versions: Iterable[int]) -> tuple[pd.DataFrame, dict[int, str]]:
    """One metadata request per version (at most SIGNATURES_SHOWN of them): their signatures, and the error of each
    version whose metadata failed (reported, not raised)."""
    rows: list[dict] = []
    errors: dict[int, str] = {}
    for version in list(versions)[:SIGNATURES_SHOWN]:
        try:
            rows += _signature_rows(version, client.metadata(version=version))
        except TFServingError as exc:
            errors[version] = bounded_text(getattr(exc, "error", None) or str(exc))
    return pd.DataFrame(rows, columns=SIGNATURE_COLUMNS), errors


def fetch_signatures(url: str, model: str, versions: Sequence[int],
                     timeout: float = STATUS_TIMEOUT_S) -> tuple[pd.DataFrame, dict[int, str]]:
    """read_signatures over a client of its own. Raises the client's errors only when it cannot be built."""
    with TFServingClient(url, model, timeout=timeout, retries=1) as client:
        return read_signatures(client, versions)


def fetch_model_overview(url: str, model: str, labels: tuple[str, ...] = DEFAULT_LABELS,
                         timeout: float = STATUS_TIMEOUT_S, *,
                         signature_versions: Sequence[int] | None = None) -> ModelOverview:
    """Status, labels, and the signatures of `signature_versions` (those of them that are available; None: the
    newest SIGNATURES_SHOWN available versions). Raises the client's errors when the server is unreachable or has
    no such model; a version whose metadata fails is reported, not raised."""
    with TFServingClient(url, model, timeout=timeout, retries=1) as client:
        statuses = client.status()
        found_labels = _probe_labels(client, labels)
        available = [s.version for s in statuses if s.available]
        if signature_versions is None:
            chosen = newest_versions(available)
        else:
            offered = set(available)
            chosen = [v for v in dict.fromkeys(signature_versions) if v in offered][:SIGNATURES_SHOWN]
        signatures, metadata_errors = read_signatures(client, chosen)
    labels_of: dict[int, list[str]] = {}
    for name, version in sorted(found_labels.items()):
        labels_of.setdefault(version, []).append(name)
    version_rows = [{
        "version": s.version, "state": bounded_text(s.state),
        "labels": ", ".join(labels_of.get(s.version, ())),
        "error": bounded_text(s.error_message or s.error_code) if s.error_code not in ("", "OK") else "",
    } for s in statuses]
    return ModelOverview(url=url, model=model, versions=pd.DataFrame(version_rows, columns=VERSION_COLUMNS),
                         labels=found_labels, signatures=signatures, metadata_errors=metadata_errors,
                         signature_versions=tuple(chosen))
