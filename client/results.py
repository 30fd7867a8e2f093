"""Per-input classification outcome."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

__all__ = ["ClassificationResult"]


@dataclass(frozen=True)
class ClassificationResult:
    """One input's answer, or the reason it has none.

    `version` is the concrete version that answered (a label is resolved to its version first
    and the request is sent to that version). `latency_ms` is the round trip of the
    request that carried this input (shared by its batch). `error_type` names the exception
    class behind `error` (e.g. "ImageError", "InvalidInputError", "ServerUnavailableError").
    """

    source: str
    label: str | None
    probabilities: Mapping[str, float]
    version: int | None
    latency_ms: float | None
    error: str | None
    extras: Mapping[str, tuple] = field(default_factory=lambda: MappingProxyType({}))
    error_type: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def failed(cls, source: str, error: BaseException, *, version: int | None = None,
               latency_ms: float | None = None, message: str | None = None) -> "ClassificationResult":
        return cls(source=source, label=None, probabilities=MappingProxyType({}), version=version,
                   latency_ms=latency_ms, error=message or str(error), error_type=type(error).__name__)

    def as_row(self, labels: list[str] | tuple[str, ...]) -> dict[str, Any]:
        """A flat row: source, label, prob_<label>…, version, latency_ms, error, error_type."""
        row: dict[str, Any] = {"source": self.source, "label": self.label}
        for name in labels:
            row[f"prob_{name}"] = self.probabilities.get(name)
        row.update(version=self.version,
                   latency_ms=None if self.latency_ms is None else round(self.latency_ms, 2),
                   error=self.error, error_type=self.error_type)
        return row
