"""TFServingClient: one requests.Session, one default timeout, retries via urllib3."""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from client.batching import run_batch
from client.errors import (RequestTimeoutError, ServerUnavailableError, TFServingError,
                           VersionNotAvailableError, error_for_status)
from client.images import MAX_SIDE, ImageScaling
from client.plan import ClassifyPlan
from client.protocol import ModelMetadata, PredictResponse, VersionStatus, model_path, predict_body
from client.results import ClassificationResult
from client.sources import Loader, read_file

__all__ = ["TFServingClient", "ImageInput", "ProgressCallback"]

ImageInput = Any  # str | os.PathLike | bytes | binary file-like | (name, bytes) | (name, loader)
ProgressCallback = Callable[[ClassificationResult, int], None]
Parsed = TypeVar("Parsed")


def _retry_policy(retries: int, backoff_factor: float) -> Retry:
    return Retry(
        total=retries, connect=retries, status=retries,
        read=False,  # a read timeout surfaces as RequestTimeoutError instead of multiplying the wait
        other=0,
        backoff_factor=backoff_factor,
        status_forcelist=(429, 503),
        allowed_methods=frozenset({"GET", "POST"}),  # POST too: predict has no side effects
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 429/503 answer is returned and mapped to a typed error
    )


def _named_loader(item: ImageInput, position: int) -> tuple[str, Loader]:
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


def _batches(items: Iterable[ImageInput], size: int) -> Iterator[list[tuple[str, Loader]]]:
    named = (_named_loader(item, i) for i, item in enumerate(items))
    while batch := list(islice(named, size)):
        yield batch


class TFServingClient:
    """Client for one model on a TF Serving REST endpoint; use as a context manager.

    Each call targets the latest version, `version=N` or `label="stable"`. A session passed in
    is used as it is (its adapters decide retries) and is not closed by this client.
    """

    def __init__(self, base_url: str, model: str, *, timeout: float = 30.0, retries: int = 3,
                 session: requests.Session | None = None, backoff_factor: float = 0.25,
                 labels: Sequence[str] | None = None, scaling: ImageScaling = ImageScaling(),
                 max_side: int = MAX_SIDE, pool_size: int = 16) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.labels = tuple(labels) if labels else None
        self.scaling = scaling
        self.max_side = max_side
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            adapter = HTTPAdapter(max_retries=_retry_policy(retries, backoff_factor),
                                  pool_connections=1, pool_maxsize=pool_size)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        self._metadata_cache: dict[int, ModelMetadata] = {}  # a served version never changes

    def __enter__(self) -> "TFServingClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def __repr__(self) -> str:
        return f"TFServingClient({self.base_url!r}, {self.model!r}, timeout={self.timeout})"

    # -- HTTP ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes | None = None) -> dict[str, Any]:
        url = self.base_url + path
        headers = {"Content-Type": "application/json"} if body is not None else None
        try:
            reply = self.session.request(method, url, data=body, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:  # checked first: ConnectTimeout is also a ConnectionError
            raise RequestTimeoutError(f"no answer within {self.timeout}s ({exc})", method=method, url=url) from exc
        except requests.ConnectionError as exc:
            # requests reports a timeout while reading the body as a ConnectionError wrapping urllib3's.
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                raise RequestTimeoutError(f"no answer within {self.timeout}s ({exc})",
                                          method=method, url=url) from exc
            raise ServerUnavailableError(f"cannot reach the server ({exc})", method=method, url=url) from exc
        except requests.RequestException as exc:
            raise ServerUnavailableError(f"cannot reach the server ({exc})", method=method, url=url) from exc
        try:
            payload = reply.json()
        except ValueError:
            payload = None
        if reply.status_code >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            raise error_for_status(reply.status_code, str(error or reply.text[:500] or reply.reason),
                                   method=method, url=url)
        if not isinstance(payload, dict):
            raise TFServingError(f"answer is not a JSON object: {reply.text[:200]!r}",
                                 method=method, url=url, status=reply.status_code)
        return payload

    def _parsed(self, method: str, path: str, parse: Callable[[dict[str, Any]], Parsed],
                body: bytes | None = None) -> Parsed:
        """Call and parse; an answer of the wrong shape is a TFServingError naming the URL."""
        answer = self._call(method, path, body)
        try:
            return parse(answer)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise TFServingError(f"unexpected answer: {type(exc).__name__}: {exc}", method=method,
                                 url=self.base_url + path, status=200) from None

    # -- model APIs ---------------------------------------------------------------------------
    def status(self, *, version: int | None = None, label: str | None = None) -> tuple[VersionStatus, ...]:
        """Versions of the model (or the one targeted), sorted by version number."""
        return self._parsed("GET", model_path(self.model, version=version, label=label),
                            VersionStatus.list_from_json)

    def metadata(self, *, version: int | None = None, label: str | None = None) -> ModelMetadata:
        if version is not None and version in self._metadata_cache:
            return self._metadata_cache[version]
        metadata = self._parsed("GET", model_path(self.model, version=version, label=label) + "/metadata",
                                ModelMetadata.from_json)
        if version is not None:
            self._metadata_cache[version] = metadata
        return metadata

    def predict(self, *, instances: Any = None, inputs: Any = None, signature_name: str | None = None,
                version: int | None = None, label: str | None = None) -> PredictResponse:
        """Raw predict in row (`instances`) or columnar (`inputs`) form; bytes are sent as {"b64": ...}."""
        body = predict_body(instances=instances, inputs=inputs, signature_name=signature_name)
        path = model_path(self.model, version=version, label=label) + ":predict"
        return self._parsed("POST", path, PredictResponse.from_json, body)

    def resolve_version(self, *, version: int | None = None, label: str | None = None) -> int:
        """The concrete version a call would reach: `version` itself, the label's, or the latest.

        A label is resolved through its metadata (`/labels/L/metadata` names the version that
        answers); TF Serving's status API ignores labels and lists every version.
        """
        if version is not None:
            model_path(self.model, version=version)  # validates it
            return int(version)
        if label is not None:
            metadata = self.metadata(label=label)
            self._metadata_cache[metadata.version] = metadata
            return metadata.version
        available = [s.version for s in self.status() if s.available]
        if not available:
            url = self.base_url + model_path(self.model)
            raise VersionNotAvailableError("no AVAILABLE version of the model", method="GET", url=url)
        return max(available)

    # -- classification -----------------------------------------------------------------------
    def plan(self, *, version: int | None = None, label: str | None = None,
             signature_name: str | None = None, labels: Sequence[str] | None = None) -> tuple[int, ClassifyPlan]:
        """Resolve the target and read its signature: (version, plan)."""
        resolved = self.resolve_version(version=version, label=label)
        signature = self.metadata(version=resolved).signature(signature_name)
        plan = ClassifyPlan.from_signature(signature, labels=labels or self.labels, scaling=self.scaling,
                                           max_side=self.max_side)
        return resolved, plan

    def iter_classify(self, images: Iterable[ImageInput], *, version: int | None = None,
                      label: str | None = None, signature_name: str | None = None, batch_size: int = 16,
                      concurrency: int = 2, on_progress: ProgressCallback | None = None,
                      labels: Sequence[str] | None = None) -> Iterator[ClassificationResult]:
        """Yield one result per input, in input order.

        A label is resolved once (through its metadata) and every request goes to that concrete
        version, so `result.version` is the version that answered. Inputs are read lazily: at
        most batch_size × concurrency images are in memory. `on_progress(result, done)` runs on
        the caller's thread (safe for UI code) as each result is yielded.
        """
        if batch_size < 1 or concurrency < 1:
            raise ValueError(f"batch_size and concurrency must be >= 1, got {batch_size}, {concurrency}")
        resolved, plan = self.plan(version=version, label=label, signature_name=signature_name, labels=labels)

        def send(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
            path = model_path(self.model, version=resolved) + ":predict"
            return self._parsed("POST", path, lambda answer: PredictResponse.from_json(answer).per_instance(
                plan.output_names), predict_body(instances=instances, signature_name=plan.signature_name))

        done = 0

        def finish(future: Future[list[ClassificationResult]]) -> Iterator[ClassificationResult]:
            nonlocal done
            for result in future.result():
                done += 1
                if on_progress is not None:
                    on_progress(result, done)
                yield result

        window: deque[Future[list[ClassificationResult]]] = deque()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tfs-classify")
        try:
            for batch in _batches(images, batch_size):
                window.append(pool.submit(run_batch, batch, plan, send, resolved))
                if len(window) >= concurrency:  # bounded: at most `concurrency` batches in flight
                    yield from finish(window.popleft())
            while window:
                yield from finish(window.popleft())
        finally:
            for future in window:
                future.cancel()
            pool.shutdown(wait=True)

    def classify(self, images: Iterable[ImageInput], *, version: int | None = None, label: str | None = None,
                 signature_name: str | None = None, batch_size: int = 16, concurrency: int = 2,
                 on_progress: ProgressCallback | None = None,
                 labels: Sequence[str] | None = None) -> list[ClassificationResult]:
        """Like iter_classify, collected into a list."""
        return list(self.iter_classify(images, version=version, label=label, signature_name=signature_name,
                                       batch_size=batch_size, concurrency=concurrency,
                                       on_progress=on_progress, labels=labels))
