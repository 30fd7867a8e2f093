"""Per-input classification outcome."""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

from client.schema import result_row

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

    @property
    def top_class(self) -> str | None:
        """The predicted class (client.schema's name for `label`)."""
        return self.label if self.ok else None

    @property
    def confidence(self) -> float | None:
        """The top class's probability."""
        return max(self.probabilities.values()) if self.ok and self.probabilities else None

    def as_row(self, class_names: Sequence[str], *, model: str | None = None, target: str | None = None,
               ground_truth: str | None = None, profile: str | None = None) -> dict[str, Any]:
        """A row in client.schema's columns (see schema.result_row); `profile` is the profile's digest."""
        return result_row(self, class_names, model=model, target=target, ground_truth=ground_truth,
                          profile=profile)
