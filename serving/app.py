"""The WSGI application: werkzeug routing for TF Serving's REST paths, body limits, errors, metrics, timeouts."""
from __future__ import annotations

import concurrent.futures
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Optional

from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.wrappers import Request, Response

from serving import handlers
from serving.errors import DeadlineExceeded, InvalidArgument, PayloadTooLarge, http_status_of
from serving.batching import Batcher
from serving.batching_config import BatchingOptions
from serving.loader import DEFAULT_SIGNATURE, LoadedVersion
from serving.memory import release_free_memory
from serving.metrics import ServerMetrics
from serving.repository import MAX_VERSION, ModelRepository

log = logging.getLogger("serving.app")

UNKNOWN_MODEL_LABEL = "<unknown>"  # metrics label for requests naming a model the server has never had


READ_CHUNK = 1 << 20
LARGE_BODY = 8 << 20  # bodies this big trigger a malloc_trim once their request is done (see serving/memory.py)
BODY_COMPLETE = "servescope.body_complete"  # environ key: the request body was read (serving/http.py)


def _read_exactly(stream, length: int) -> bytes:
    data = stream.read(length) if length else b""
    if len(data) < length:  # a short read: gather the rest (rare: BufferedReader.read(n) blocks for n bytes)
        parts = [data]
        while length > sum(map(len, parts)):
            chunk = stream.read(length - sum(map(len, parts)))
            if not chunk:
                raise InvalidArgument("Request body ended before its Content-Length")
            parts.append(chunk)
        data = b"".join(parts)
    return data


def too_large_message(length: Optional[int], limit: int) -> str:
    """The 413 message for a body of `length` bytes (None: chunked, length unknown) over `limit`."""
    if length is None:
        return f"Request body exceeds the limit of {limit} bytes (--max_request_bytes)"
    return f"Request body of {length} bytes exceeds the limit of {limit} bytes (--max_request_bytes)"


def _bounded(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "...(truncated)"


class NameConverter(BaseConverter):
    """A model name or label: one path segment without ':' (TF Serving's `[^/:]+`)."""

    regex = "[^/:]+"


def _rules() -> list[Rule]:
    rules = [Rule("/v1/models", endpoint="missing_name", methods=["GET"]),
             Rule("/monitoring/prometheus/metrics", endpoint="metrics", methods=["GET"])]
    for selector in ("", "/versions/<int:version>", "/labels/<name:label>"):
        base = "/v1/models/<name:model>" + selector
        rules.append(Rule(base, endpoint="status", methods=["GET"]))
        rules.append(Rule(base + "/metadata", endpoint="metadata", methods=["GET"]))
        rules.append(Rule(base + ":<any(predict, classify, regress):verb>", endpoint="infer", methods=["POST"]))
    return rules


@dataclass
class AppOptions:
    max_request_bytes: int = 64 * 1024 * 1024
    timeout_seconds: Optional[float] = 30.0  # --rest_api_timeout_in_ms; None or 0 = no limit
    num_threads: int = 4  # model executions that may run at once
    batching: Optional[BatchingOptions] = None  # --enable_batching: merge concurrent runs (serving/batching.py)


class ServingApp:
    def __init__(self, repo: ModelRepository, options: AppOptions, metrics: Optional[ServerMetrics] = None):
        self.repo = repo
        self.options = options
        self.metrics = metrics or ServerMetrics()
        # Exact paths, as TF Serving's RE2::FullMatch: "/v1/models/" or a trailing "/" is a malformed request.
        self.url_map = Map(_rules(), converters={"name": NameConverter}, merge_slashes=False)
        self._slots = threading.BoundedSemaphore(options.num_threads)
        self._pool = concurrent.futures.ThreadPoolExecutor(options.num_threads, thread_name_prefix="model-run")
        self._batcher = Batcher(options.batching) if options.batching else None
        self._large_bodies = 0

    # ---- running models ---------------------------------------------------------------------------
    def _run(self, servable: LoadedVersion, signature_name: str, inputs: dict) -> dict:
        timeout = self.options.timeout_seconds or None
        if self._batcher is not None:
            future = self._batcher.submit(servable, signature_name or DEFAULT_SIGNATURE, inputs)
        elif timeout is None:
            with self._slots:
                return servable.run(signature_name, inputs)
        else:
            future = self._pool.submit(servable.run, signature_name, inputs)
        try:
            return future.result(timeout=timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeadlineExceeded(f"Deadline exceeded: the model did not answer within {timeout:g} s") from None
        finally:
            # A failed run's exception sits in the future and its traceback holds this frame: a reference cycle
            # that would keep the request's tensors (50 MB for a 50 MB body) alive until the next GC pass.
            del future, inputs

    # ---- WSGI ---------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        adapter = self.url_map.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except HTTPException:
            shown = _bounded(f"{request.method} {request.path}")
            if request.path.lower().startswith("/v1/"):
                return self._error(400, f"Malformed request: {shown}")
            return self._error(404, f"Not found: {shown}")
        if endpoint == "metrics":
            self.metrics.set_version_states(self.repo.summary())
            return Response(self.metrics.render(), status=200, content_type=self.metrics.content_type)
        if endpoint == "missing_name":
            return self._error(400, "Missing model name in request.")
        return self._model_api(request, endpoint, args)

    def _model_api(self, request: Request, endpoint: str, args: dict) -> Response:
        model, version, label = args["model"], args.get("version"), args.get("label")
        api = args.get("verb", endpoint)
        started = time.perf_counter()
        served_version: Optional[int] = version
        try:
            if version is not None and version > MAX_VERSION:  # absl::SimpleAtoi into an int64 fails
                raise InvalidArgument(f"Failed to convert version: {version} to numeric.")
            if endpoint == "status":
                body = handlers.model_status(self.repo, model, version, label)
            elif endpoint == "metadata":
                body, served_version = handlers.model_metadata(self.repo, model, version, label)
            else:
                handler = {"predict": handlers.predict, "classify": handlers.classify,
                           "regress": handlers.regress}[api]
                body, served_version = handler(self.repo, self._run, model, version, label, self._read_body(request))
            code, status = "OK", 200
        except Exception as exc:  # every failure becomes TF Serving's {"error": ...}; nothing kills the server
            status, code, message = http_status_of(exc)
            if status >= 500:
                log.exception("%s %s failed", request.method, request.path)
            body = json.dumps({"error": message}, ensure_ascii=False)
        if endpoint != "status":
            # Label values come only from models/versions the server knows: arbitrary URLs must not add series.
            known_model = self.repo.knows(model)
            known_version = served_version is not None and self.repo.knows(model, served_version)
            self.metrics.observe(model=model if known_model else UNKNOWN_MODEL_LABEL,
                                 version=str(served_version) if known_version else "", api=api, code=code,
                                 seconds=time.perf_counter() - started)
        if self._large_bodies:
            self._large_bodies = 0
            release_free_memory()
        # errors="replace": no text a request can put in a message may turn the answer into a 500.
        return Response(body.encode("utf-8", "replace"), status=status, content_type="application/json")

    def _read_body(self, request: Request) -> bytes:
        """The body, refusing more than max_request_bytes without reading it whole (chunked reads are bounded).

        A declared length is read in one exact read from the connection (werkzeug's stream.read(n) would first
        allocate and zero an n-byte buffer, then copy out of it); a chunked body is read 1 MiB at a time.
        """
        limit = self.options.max_request_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise PayloadTooLarge(too_large_message(length, limit))
        if request.environ.get("wsgi.input_terminated"):  # chunked: read up to the limit, then EOF or 413
            parts, size = [], 0
            while True:
                chunk = request.environ["wsgi.input"].read(min(READ_CHUNK, limit + 1 - size))
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(too_large_message(None, limit))
            data = b"".join(parts)
        else:
            data = _read_exactly(request.environ["wsgi.input"], length or 0)
        request.environ[BODY_COMPLETE] = True  # the connection may carry the next request (keep-alive)
        if len(data) >= LARGE_BODY:
            self._large_bodies += 1
        return data

    @staticmethod
    def _error(status: int, message: str) -> Response:
        return Response(json.dumps({"error": message}), status=status, content_type="application/json")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._batcher is not None:
            self._batcher.close()
