"""TFServingClient: one model on one server, reached over TF Serving's REST API or its gRPC API.

The logic (labels, signatures, batches, bisecting bad instances, partial results) lives here once; a transport
(client.transport.rest or client.transport.grpc) asks the server and maps its failures to client.errors' classes.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, Sequence

import requests

from client.answers import PREDICT_ANSWER_LIMIT, STATUS_ANSWER_LIMIT
from client.arguments import check_address, check_count, check_number
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, ImageInput, RunState, batches, run_batch
from client.errors import (InvalidArgumentError, SignatureError, TFServingError, UnexpectedAnswerError,
                           VersionNotAvailableError)
from client.images import MAX_SIDE, ImageScaling
from client.plan import ClassifyPlan
from client.profile import DEFAULT_PROFILE, ModelProfile
from client.protocol import ModelMetadata, PredictResponse, VersionStatus, check_name, check_version, model_path
from client.results import ClassificationResult
from client.shorthands import with_shorthands
from client.signature_config import SignatureConfig, check_class_names
from client.transport.base import Transport
from client.transport.rest import RestTransport

__all__ = ["TFServingClient", "ImageInput", "ProgressCallback"]

ProgressCallback = Callable[[ClassificationResult, int], None]


def _api_missing(exc: TFServingError) -> bool:
    """True when the answer says this server has no such API (not TF Serving's JSON, or gRPC's UNIMPLEMENTED), not
    that the model is missing: TF Serving itself always answers with {"error": ...} (or a gRPC status)."""
    return exc.foreign_answer and (exc.status in (404, 405, 501) or isinstance(exc, UnexpectedAnswerError))


def _grpc_transport(address: str, **options: Any) -> Transport:
    # Imported only for a gRPC address: grpcio and protobuf are the optional `grpc` extra (check_address has
    # already refused the address, naming the extra, when they are missing).
    from client.transport.grpc import GrpcTransport
    return GrpcTransport(address, **options)


class TFServingClient:
    """Client for one model on a TF Serving endpoint; use as a context manager.

    `base_url` is the REST API's http(s)://host:port[/prefix], or the gRPC API's grpc://host:port (`transport="grpc"`
    also takes a bare host:port; gRPC needs the `grpc` extra, and without it the address is refused with an
    InvalidArgumentError naming `pip install 'servescope[grpc]'`). Both transports behave the same: the same calls,
    results and error classes (a gRPC error also names its code in `.grpc_code`).

    Each call targets the latest version, `version=N` or `label="stable"`. A session passed in
    is used as it is (its adapters decide retries) and is not closed by this client (REST only). Watchers of the
    exchanges add requests response hooks to `session.hooks` (REST) or callables to `grpc_hooks` (gRPC; each gets a
    client.transport.grpc_calls.GrpcCall per call: method path, status code, sizes and time).

    Every method raises only client.errors.TFServingError subclasses; the constructor refuses a bad
    base URL, model name or option with InvalidArgumentError. `profile=ModelProfile...` says how the model
    wants its pixels prepared and its outputs read (client.profile); without one, the pets preset is assumed
    for pixel inputs and the plan says so (ClassifyPlan.profile_assumed). `labels` are class names (model
    order) for models without a class-name output; `signature=SignatureConfig(...)` describes the model
    for servers that serve predict but not TF Serving's metadata API (used only then, see plan()). `labels`,
    `scaling` and a SignatureConfig's class names are shorthands of a profile: one that contradicts the
    profile (as does a `signature_name=` other than its own) is refused, InvalidArgumentError naming it.

    Limits on what a server may send (client.answers, client.deadline): `timeout` is a deadline for each whole exchange
    (connect, send, headers and body; each retry attempt has its own), past which RequestTimeoutError says "no
    complete answer within T s"; a server's Retry-After is waited at most `timeout` seconds. An answer's decoded
    body may be at most `max_answer_bytes` (status, metadata, label and raw answers) or `max_predict_answer_bytes`
    (predict) long, else AnswerTooLargeError; it is read in chunks, so memory stays within the limit however much
    a compressed answer inflates. Over gRPC, `timeout` is each call's deadline with its retries included (gRPC's
    deadline), at most 4 retries are made (gRPC's cap), and the answer limits are the channels' receive limits.
    """

    def __init__(self, base_url: str, model: str, *, timeout: float = 30.0, retries: int = 3,
                 session: requests.Session | None = None, backoff_factor: float = 0.25,
                 labels: Sequence[str] | None = None, scaling: ImageScaling = ImageScaling(),
                 max_side: int = MAX_SIDE, pool_size: int = 16, signature: SignatureConfig | None = None,
                 max_answer_bytes: int = STATUS_ANSWER_LIMIT,
                 max_predict_answer_bytes: int = PREDICT_ANSWER_LIMIT, transport: str | None = None,
                 profile: ModelProfile | None = None) -> None:
        self.transport_name, self.base_url = check_address(base_url, transport)
        self.model = check_name("model", model)
        self.timeout = check_number("timeout", timeout)
        self.max_answer_bytes = check_count("max_answer_bytes", max_answer_bytes, minimum=1)
        self.max_predict_answer_bytes = check_count("max_predict_answer_bytes", max_predict_answer_bytes, minimum=1)
        check_count("retries", retries, minimum=0)
        check_count("pool_size", pool_size, minimum=1)
        check_count("max_side", max_side, minimum=1)
        if signature is not None and not isinstance(signature, SignatureConfig):
            raise InvalidArgumentError("signature", signature, "must be a client.SignatureConfig")
        if session is not None and self.transport_name != "rest":
            raise InvalidArgumentError("session", type(session).__name__, "is for the REST transport only")
        if profile is not None and not isinstance(profile, ModelProfile):
            raise InvalidArgumentError("profile", profile, "must be a client.ModelProfile")
        if not isinstance(scaling, ImageScaling):
            raise InvalidArgumentError("scaling", scaling, "must be a client.ImageScaling")
        self.labels = check_class_names("labels", labels) if labels else None
        self.signature = signature
        self.scaling = scaling
        self._profile_names = profile.class_names if profile is not None else None
        self.given_profile = with_shorthands(profile, labels=self.labels, scaling=scaling, signature=signature)
        self.max_side = max_side
        backoff = check_number("backoff_factor", backoff_factor, zero=True)
        limits = {"max_answer_bytes": self.max_answer_bytes,
                  "max_predict_answer_bytes": self.max_predict_answer_bytes}
        self._transport: Transport
        if self.transport_name == "grpc":
            grpc_transport = _grpc_transport(self.base_url, timeout=self.timeout, retries=retries,
                                             backoff_factor=backoff, **limits)
            self._transport, self.grpc_hooks = grpc_transport, grpc_transport.hooks
            self.session: requests.Session | None = None
        else:
            rest = RestTransport(self.base_url, timeout=self.timeout, retries=retries, backoff_factor=backoff,
                                 pool_size=pool_size, session=session, **limits)
            self._transport, self.session = rest, rest.session
            self.grpc_hooks = None
        self._metadata_cache: dict[int, ModelMetadata] = {}  # a served version never changes

    def __enter__(self) -> "TFServingClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    def __repr__(self) -> str:
        return f"TFServingClient({self.base_url!r}, {self.model!r}, timeout={self.timeout})"

    @property
    def profile(self) -> ModelProfile:
        """The model profile in effect: the one given (with its shorthands), else DEFAULT_PROFILE."""
        return self.given_profile if self.given_profile is not None else DEFAULT_PROFILE

    # -- model APIs ---------------------------------------------------------------------------
    def status(self, *, version: int | None = None, label: str | None = None) -> tuple[VersionStatus, ...]:
        """Versions of the model (or the one targeted), sorted by version number."""
        model_path(self.model, version=version, label=label)  # validates the target, on either transport
        return self._transport.status(self.model, version=version, label=label)

    def raw_answer(self, *, version: int | None = None, label: str | None = None,
                   metadata: bool = False) -> dict[str, Any]:
        """TF Serving's own JSON for the status (or, with metadata=True, the metadata) request, unparsed: for
        showing an operator the answer as it came (over gRPC, the answer's message in the JSON the REST API
        writes for it). Errors as for status()/metadata()."""
        model_path(self.model, version=version, label=label)
        return self._transport.raw_answer(self.model, version=version, label=label, metadata=metadata)

    def metadata(self, *, version: int | None = None, label: str | None = None) -> ModelMetadata:
        if version is not None and version in self._metadata_cache:
            return self._metadata_cache[version]
        model_path(self.model, version=version, label=label)
        metadata = self._transport.metadata(self.model, version=version, label=label)
        if version is not None:
            self._metadata_cache[version] = metadata
        return metadata

    def predict(self, *, instances: Any = None, inputs: Any = None, signature_name: str | None = None,
                version: int | None = None, label: str | None = None) -> PredictResponse:
        """Raw predict in row (`instances`) or columnar (`inputs`) form; over REST bytes are sent as {"b64": ...},
        over gRPC as DT_STRING tensors (numbers as the signature's input types)."""
        model_path(self.model, version=version, label=label)
        return self._transport.predict(self.model, instances=instances, inputs=inputs,
                                       signature_name=signature_name, version=version, label=label)

    def resolve_version(self, *, version: int | None = None, label: str | None = None) -> int:
        """The concrete version a call would reach: `version` itself, the label's, or the latest.

        A label is resolved through its metadata (`/labels/L/metadata` names the version that
        answers); TF Serving's status API ignores labels and lists every version.
        """
        if version is not None:
            model_path(self.model, version=version, label=label)  # validates them
            return int(version)
        if label is not None:
            metadata = self.metadata(label=label)
            self._metadata_cache[metadata.version] = metadata
            return metadata.version
        available = [s.version for s in self.status() if s.available]
        if not available:
            method, url = self._transport.where("status", self.model)
            raise VersionNotAvailableError("no AVAILABLE version of the model", method=method, url=url)
        return max(available)

    # -- classification -----------------------------------------------------------------------
    def plan(self, *, version: int | None = None, label: str | None = None, signature_name: str | None = None,
             labels: Sequence[str] | None = None) -> tuple[int | None, ClassifyPlan]:
        """Resolve the target and read its signature: (version, plan).

        The server's metadata decides; a version's signature, once read, is kept (a served version never
        changes), so planning for an explicit version asks the server nothing the second time (iter_classify
        confirms it by the first answer). Only when the server does not serve TF Serving's status/metadata
        API (an answer that is not TF Serving's: a plain 404, 405, 501, or non-JSON) is the client's
        `signature=SignatureConfig(...)` used; the version is then the one asked for, or None (unknown:
        the server picks the latest, or the label's). Raises SignatureError when neither is available.
        """
        labels = check_class_names("labels", labels) if labels else self.labels
        signature_name = self._signature_name(signature_name)
        if labels and self._profile_names not in (None, labels):
            raise InvalidArgumentError("labels", labels, "differ from the profile's class names; give them in one "
                                                         "place")
        try:
            resolved = self.resolve_version(version=version, label=label)
            metadata = self.metadata(version=resolved)
        except TFServingError as exc:
            if not _api_missing(exc):
                raise
            return self._configured_plan(exc, version=version, signature_name=signature_name, labels=labels)
        method, metadata_url = self._transport.where("metadata", self.model, version=resolved)
        try:
            signature = metadata.signature(signature_name)
            return resolved, ClassifyPlan.from_signature(signature, labels=labels, profile=self.given_profile,
                                                         max_side=self.max_side, url=metadata_url)
        except SignatureError as exc:
            raise SignatureError(exc.error, signature=exc.signature, method=method, url=metadata_url) from None

    def _signature_name(self, asked: str | None) -> str | None:
        """The signature asked for, else the profile's; both, differing: InvalidArgumentError."""
        named = self.given_profile.signature_name if self.given_profile is not None else None
        if asked and named and asked != named:
            raise InvalidArgumentError("signature_name", asked, f"differs from the profile's signature_name "
                                                                f"{named!r}")
        return asked or named

    def _configured_plan(self, missing: TFServingError, *, version: int | None, signature_name: str | None,
                         labels: tuple[str, ...] | None) -> tuple[int | None, ClassifyPlan]:
        config = self.signature
        name = signature_name or (config.signature_name if config else "serving_default")
        where = {"method": missing.method, "url": missing.url, "status": missing.status, "foreign_answer": True}
        if config is None:
            raise SignatureError(
                f"cannot read the signature of model {self.model!r}: the server does not serve TF Serving's "
                f"status/metadata API ({missing.error}); give the signature and class names in the "
                "configuration (TFServingClient(signature=SignatureConfig(...))) to classify without it",
                signature=name, **where) from missing
        if name != config.signature_name:
            raise SignatureError(f"signature {name!r} was asked for, but the server serves no metadata and the "
                                 f"configured signature is {config.signature_name!r}", signature=name, **where)
        plan = ClassifyPlan.from_signature(config.to_signature(), labels=labels or config.class_names,
                                           profile=self.given_profile, max_side=self.max_side)
        return (None if version is None else check_version(version)), plan

    def iter_classify(self, images: Iterable[ImageInput], *, version: int | None = None,
                      label: str | None = None, signature_name: str | None = None,
                      batch_size: int = DEFAULT_BATCH_SIZE, concurrency: int = DEFAULT_CONCURRENCY,
                      on_progress: ProgressCallback | None = None,
                      labels: Sequence[str] | None = None) -> Iterator[ClassificationResult]:
        """Yield one result per input, in input order.

        A label is resolved once (through its metadata) and every request goes to that concrete
        version, so `result.version` is the version that answered (None when the server serves no
        metadata and no version was asked for). Inputs are read lazily: at most batch_size ×
        concurrency images are in memory. `on_progress(result, done)` runs on the caller's thread
        (safe for UI code) as each result is yielded.

        Raised before any result is yielded (the first `next()`): InvalidArgumentError (a bad argument),
        ModelNotFoundError / VersionNotAvailableError (unknown model, version or label; for a version whose
        signature this client has already read, found by the first predict's 404 and confirmed by reading
        its metadata again, rather than by a status request before every run),
        SignatureError (no such signature, one that cannot classify images, or none readable),
        ServerUnavailableError / RequestTimeoutError / AnswerTooLargeError / UnexpectedAnswerError (status or
        metadata failed). Once a result has been yielded nothing is raised: every input gets a result. A failed
        request costs the rows of its batch (ServerUnavailableError, RequestTimeoutError, AnswerTooLargeError,
        UnexpectedAnswerError rows, after retries); an answer row whose probabilities are not a distribution
        costs that input's row (InvalidProbabilitiesError); a model or version that disappears mid-run
        (ModelNotFoundError, VersionNotAvailableError) stops sending, and every input not yet answered gets a
        row naming the cause. Exceptions from the caller's own iterable or `on_progress` propagate unchanged.
        """
        check_count("batch_size", batch_size, minimum=1)
        check_count("concurrency", concurrency, minimum=1)
        if isinstance(images, (str, bytes, bytearray, os.PathLike)) or not hasattr(images, "__iter__"):
            raise InvalidArgumentError("images", type(images).__name__,
                                       "must be an iterable of inputs (e.g. a list of paths), not one input")
        if on_progress is not None and not callable(on_progress):
            raise InvalidArgumentError("on_progress", type(on_progress).__name__, "must be callable")
        known = set(self._metadata_cache)
        resolved, plan = self.plan(version=version, label=label, signature_name=signature_name, labels=labels)
        # Planned from the kept signature without asking the server: the first answer confirms the version.
        unconfirmed = version is not None and resolved in known
        send = self._transport.sender(self.model, plan, version=resolved,
                                      label=None if resolved is not None else label)
        state = RunState(self.model, resolved)

        done = 0

        def finish(results: list[ClassificationResult]) -> Iterator[ClassificationResult]:
            nonlocal done
            if done == 0 and unconfirmed and state.gone is not None and not state.answered:
                # Gone since the signature was kept (e.g. unloaded between runs): ask the server again, once,
                # so this raises before anything is yielded, as when the status is read first.
                self._metadata_cache.pop(resolved, None)
                self.plan(version=version, label=label, signature_name=signature_name, labels=labels)
            for result in results:
                done += 1
                if on_progress is not None:
                    on_progress(result, done)
                yield result

        chunks = batches(images, batch_size)
        first = next(chunks, None)
        second = next(chunks, None) if first is not None and concurrency > 1 else None
        if second is None:  # one batch, or one at a time: no worker threads to start and hand over to
            for batch in chain([first] if first is not None else [], chunks):
                yield from finish(run_batch(batch, plan, send, state))
            return
        window: deque[Future[list[ClassificationResult]]] = deque()
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="tfs-classify")
        try:
            for batch in chain([first, second], chunks):
                window.append(pool.submit(run_batch, batch, plan, send, state))
                if len(window) >= concurrency:  # bounded: at most `concurrency` batches in flight
                    yield from finish(window.popleft().result())
            while window:
                yield from finish(window.popleft().result())
        finally:
            for future in window:
                future.cancel()
            pool.shutdown(wait=True)

    def classify(self, images: Iterable[ImageInput], *, version: int | None = None, label: str | None = None,
                 signature_name: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 concurrency: int = DEFAULT_CONCURRENCY, on_progress: ProgressCallback | None = None,
                 labels: Sequence[str] | None = None) -> list[ClassificationResult]:
        """Like iter_classify, collected into a list: the same errors raise before any result exists; once
        results have begun, the list holds one result per input, whatever happens to the server."""
        return list(self.iter_classify(images, version=version, label=label, signature_name=signature_name,
                                       batch_size=batch_size, concurrency=concurrency,
                                       on_progress=on_progress, labels=labels))
