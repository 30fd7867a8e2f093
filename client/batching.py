"""Run one batch: read and check each image, send the good ones, and isolate bad instances.

TF Serving fails a whole predict request when one instance is bad (HTTP 400). The batch is then
split in halves and each half retried, recursively, so one bad instance costs about
2·log2(batch) extra requests and every good instance still gets its answer.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from client.plan import ClassifyPlan
from client.errors import (ImageError, InvalidInputError, ModelNotFoundError, TFServingError,
                           VersionNotAvailableError)
from client.results import ClassificationResult
from client.sources import Loader

__all__ = ["SendBatch", "run_batch"]

# Sends instances, returns one output row per instance (raises TFServingError subclasses).
SendBatch = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
# A missing model or version stops the run (every later batch would fail the same way); any other
# failure of one request (unreachable, timeout, 5xx, a malformed answer) becomes rows for its inputs.
_FATAL_ERRORS = (ModelNotFoundError, VersionNotAvailableError)


def _send_isolating(entries: list[tuple[int, str, dict[str, Any]]], plan: ClassifyPlan, send: SendBatch,
                    version: int | None, out: list[ClassificationResult | None]) -> None:
    started = time.perf_counter()
    try:
        rows = send([instance for _, _, instance in entries])
    except InvalidInputError as exc:
        if len(entries) == 1:
            index, source, _ = entries[0]
            out[index] = ClassificationResult.failed(
                source, exc, version=version, message=f"{source}: rejected by the server ({exc.status}): {exc.error}")
            return
        middle = len(entries) // 2
        _send_isolating(entries[:middle], plan, send, version, out)
        _send_isolating(entries[middle:], plan, send, version, out)
        return
    except _FATAL_ERRORS:
        raise
    except (TFServingError, ValueError) as exc:  # ValueError: an answer that does not parse
        for index, source, _ in entries:
            out[index] = ClassificationResult.failed(source, exc, version=version)
        return
    latency_ms = (time.perf_counter() - started) * 1000.0
    if len(rows) != len(entries):
        error = ValueError(f"server answered {len(rows)} predictions for {len(entries)} instances")
        for index, source, _ in entries:
            out[index] = ClassificationResult.failed(source, error, version=version, latency_ms=latency_ms)
        return
    for (index, source, _), row in zip(entries, rows):
        try:
            prediction = plan.read(row)
        except ValueError as exc:
            out[index] = ClassificationResult.failed(source, exc, version=version, latency_ms=latency_ms,
                                                     message=f"{source}: {exc}")
            continue
        out[index] = ClassificationResult(
            source=source, label=prediction.label, probabilities=prediction.probabilities, version=version,
            latency_ms=latency_ms, error=None, extras=prediction.extras)


def run_batch(items: Sequence[tuple[str, Loader]], plan: ClassifyPlan, send: SendBatch,
              version: int | None) -> list[ClassificationResult]:
    """Classify `items` (name, loader) and return one result per item, in order."""
    out: list[ClassificationResult | None] = [None] * len(items)
    entries: list[tuple[int, str, dict[str, Any]]] = []
    for index, (source, load) in enumerate(items):
        try:
            data = load()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise ImageError(source, f"expected bytes, got {type(data).__name__} (open files in binary mode)")
            if not isinstance(data, bytes):
                data = bytes(data)  # bytes itself is not copied: the loaded payload is the one held
            entries.append((index, source, plan.instance(source, data)))
        except ImageError as exc:
            out[index] = ClassificationResult.failed(source, exc, version=version)
        except Exception as exc:  # noqa: BLE001 - decoders and readers raise anything; one file, one row
            detail = str(exc) or type(exc).__name__
            message = detail if detail.startswith(source) else f"{source}: {detail}"
            out[index] = ClassificationResult.failed(source, exc, version=version, message=message)
    if entries:
        _send_isolating(entries, plan, send, version, out)
    missing = [items[i][0] for i, result in enumerate(out) if result is None]
    if missing:
        raise RuntimeError(f"no result recorded for {missing}")  # a bug here, not bad input
    return out  # type: ignore[return-value]
