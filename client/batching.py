"""Run one batch: read and check each image, send the good ones, and isolate bad instances.

TF Serving fails a whole predict request when one instance is bad (HTTP 400). The batch is then
split in halves and each half retried, recursively, so one bad instance costs about
2·log2(batch) extra requests and every good instance still gets its answer.

Nothing here raises for a failed request: every input gets a result. When the model or version
disappears mid-run (404), the run's `RunState` remembers it and later batches are not sent (each
of their inputs gets a row naming the cause, without being read). An answer row whose values do not mean
what the plan reads them as (probabilities that are not a distribution, a sigmoid score outside [0, 1], a
NaN logit: client.readout) is that input's InvalidProbabilitiesError row.
"""
from __future__ import annotations

import os
import time
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Sequence

from client.errors import (ImageError, InvalidInputError, InvalidProbabilitiesError, ModelNotFoundError,
                           TFServingError, UnexpectedAnswerError, VersionNotAvailableError)
from client.plan import ClassifyPlan
from client.results import ClassificationResult
from client.sources import Loader, read_file

__all__ = ["ImageInput", "SendBatch", "RunState", "DEFAULT_BATCH_SIZE", "DEFAULT_CONCURRENCY", "named_loader",
           "batches", "run_batch"]

DEFAULT_BATCH_SIZE = 16
# Three requests in flight: with two, the server is left running one model call alone while an answer travels
# back and the next request is read, which costs throughput; more than three gains nothing.
DEFAULT_CONCURRENCY = 3

ImageInput = Any  # str | os.PathLike | bytes | binary file-like | (name, bytes) | (name, loader)

# Sends instances, returns one output row per instance (raises TFServingError subclasses).
SendBatch = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
# A missing model or version stops sending: every later batch would fail the same way.
_TARGET_GONE = (ModelNotFoundError, VersionNotAvailableError)


class RunState:
    """Shared by the batches of one run (worker threads): did anything answer, is the target gone?"""

    def __init__(self, model: str, version: int | None) -> None:
        self.model = model
        self.version = version
        self.answered = False
        self.gone: TFServingError | None = None  # set once; plain attribute writes are atomic

    def stop(self, exc: TFServingError) -> None:
        if self.gone is None:
            self.gone = exc

    def not_sent(self, source: str) -> ClassificationResult:
        """The row for an input that was not (or no longer) classified because the target is gone."""
        exc = self.gone
        assert exc is not None
        during = self.answered
        if isinstance(exc, VersionNotAvailableError) and self.version is not None:
            what = f"version {self.version} of model '{self.model}' is no longer available"
            why = " (unloaded during the run)" if during else ""
        elif isinstance(exc, VersionNotAvailableError):
            what, why = f"the requested version of model '{self.model}' is not available", ""
        else:
            what = f"model '{self.model}' is no longer served" if during else f"model '{self.model}' is not served"
            why = " (removed during the run)" if during else ""
        message = f"{source}: not classified: {what}{why}; the server said: {exc.error}"
        return ClassificationResult.failed(source, exc, version=self.version, message=message)


def _send_isolating(entries: list[tuple[int, str, dict[str, Any]]], plan: ClassifyPlan, send: SendBatch,
                    state: RunState, out: list[ClassificationResult | None]) -> None:
    if state.gone is not None:
        for index, source, _ in entries:
            out[index] = state.not_sent(source)
        return
    version = state.version
    started = time.perf_counter()
    try:
        rows = send([instance for _, _, instance in entries])
    except InvalidInputError as exc:
        if len(entries) == 1:
            index, source, _ = entries[0]
            code = exc.grpc_code or exc.status  # INVALID_ARGUMENT over gRPC, 400 over REST
            out[index] = ClassificationResult.failed(
                source, exc, version=version, message=f"{source}: rejected by the server ({code}): {exc.error}")
            return
        middle = len(entries) // 2
        _send_isolating(entries[:middle], plan, send, state, out)
        _send_isolating(entries[middle:], plan, send, state, out)
        return
    except _TARGET_GONE as exc:
        state.stop(exc)
        for index, source, _ in entries:
            out[index] = state.not_sent(source)
        return
    except TFServingError as exc:  # unreachable, timeout, 5xx, a malformed answer: this batch's rows
        for index, source, _ in entries:
            out[index] = ClassificationResult.failed(source, exc, version=version)
        return
    state.answered = True
    latency_ms = (time.perf_counter() - started) * 1000.0
    if len(rows) != len(entries):
        error = UnexpectedAnswerError(f"server answered {len(rows)} predictions for {len(entries)} instances")
        for index, source, _ in entries:
            out[index] = ClassificationResult.failed(source, error, version=version, latency_ms=latency_ms)
        return
    for (index, source, _), row in zip(entries, rows):
        try:
            prediction = plan.read(row)
        except ValueError as exc:
            out[index] = ClassificationResult.failed(source, UnexpectedAnswerError(str(exc)), version=version,
                                                     latency_ms=latency_ms, message=f"{source}: {exc}")
            continue
        if prediction.problem is not None:
            error = InvalidProbabilitiesError(prediction.problem)
            out[index] = ClassificationResult.failed(source, error, version=version, latency_ms=latency_ms,
                                                     message=f"{source}: {error.error}")
            continue
        out[index] = ClassificationResult(
            source=source, label=prediction.label, probabilities=prediction.probabilities, version=version,
            latency_ms=latency_ms, error=None, extras=prediction.extras)


def named_loader(item: ImageInput, position: int) -> tuple[str, Loader]:
    """(name, loader) for any accepted input; an unusable item gets a loader that raises."""
    if isinstance(item, tuple) and len(item) == 2:
        name, payload = item
        if callable(payload):
            return str(name), payload
        return str(name), (lambda data=payload: data)
    if isinstance(item, (str, os.PathLike)):
        return str(item), read_file(item)
    if isinstance(item, (bytes, bytearray, memoryview)):
        return f"<bytes #{position}>", (lambda data=bytes(item): data)
    if hasattr(item, "read"):
        name = getattr(item, "name", None)
        return (str(name) if isinstance(name, (str, os.PathLike)) else f"<stream #{position}>"), item.read

    def unusable() -> bytes:
        raise TypeError(f"cannot read an image from a {type(item).__name__}")
    return f"<item #{position}>", unusable


def batches(items: Iterable[ImageInput], size: int) -> Iterator[list[tuple[str, Loader]]]:
    named = (named_loader(item, i) for i, item in enumerate(items))
    while batch := list(islice(named, size)):
        yield batch


def run_batch(items: Sequence[tuple[str, Loader]], plan: ClassifyPlan, send: SendBatch,
              state: RunState) -> list[ClassificationResult]:
    """Classify `items` (name, loader) and return one result per item, in order."""
    if state.gone is not None:  # not read: nothing will be sent
        return [state.not_sent(source) for source, _ in items]
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
            out[index] = ClassificationResult.failed(source, exc, version=state.version)
        except Exception as exc:  # noqa: BLE001 - decoders and readers raise anything; one file, one row
            detail = str(exc) or type(exc).__name__
            message = detail if detail.startswith(source) else f"{source}: {detail}"
            out[index] = ClassificationResult.failed(source, exc, version=state.version, message=message)
    if entries:
        _send_isolating(entries, plan, send, state, out)
    missing = [items[i][0] for i, result in enumerate(out) if result is None]
    if missing:
        raise RuntimeError(f"no result recorded for {missing}")  # a bug here, not bad input
    return out  # type: ignore[return-value]
