"""What client.core asks of a transport, and the one rule for reading an answer into the client's dataclasses."""
from __future__ import annotations

from typing import Any, Callable, Protocol, TypeVar

from client.batching import SendBatch
from client.errors import UnexpectedAnswerError, bounded
from client.plan import ClassifyPlan
from client.protocol import ModelMetadata, PredictResponse, VersionStatus

__all__ = ["Transport", "parsed_answer"]

Parsed = TypeVar("Parsed")


class Transport(Protocol):
    """One model server, reached one way. Every method raises only client.errors.TFServingError subclasses."""

    address: str  # what messages name: the REST base URL or grpc://host:port

    def where(self, api: str, model: str, *, version: int | None = None,
              label: str | None = None) -> tuple[str, str]:
        """(method, url) naming a call of `api` ("status", "metadata" or "predict") for an error message."""

    def status(self, model: str, *, version: int | None, label: str | None) -> tuple[VersionStatus, ...]: ...

    def metadata(self, model: str, *, version: int | None, label: str | None) -> ModelMetadata: ...

    def raw_answer(self, model: str, *, version: int | None, label: str | None,
                   metadata: bool) -> dict[str, Any]:
        """The status (or metadata) answer as TF Serving's REST API writes it, unparsed."""

    def predict(self, model: str, *, instances: Any, inputs: Any, signature_name: str | None,
                version: int | None, label: str | None) -> PredictResponse: ...

    def sender(self, model: str, plan: ClassifyPlan, *, version: int | None, label: str | None) -> SendBatch:
        """Sends one batch of plan.instance() instances; returns one output row per instance."""

    def close(self) -> None: ...


def parsed_answer(parse: Callable[[Any], Parsed], answer: Any, *, method: str, url: str) -> Parsed:
    """`parse(answer)`; an answer of the wrong shape is an UnexpectedAnswerError naming the call. It is a foreign
    answer too: TF Serving always answers in its own shape, so e.g. KServe's readiness answer
    {"name": ..., "ready": true} on GET /v1/models/NAME means this route has no TF Serving status API."""
    try:
        return parse(answer)
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
        raise UnexpectedAnswerError(bounded(f"unexpected answer: {type(exc).__name__}: {exc}"),
                                    method=method, url=url, status=200, foreign_answer=True) from None
