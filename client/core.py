"""TFServingClient: one requests.Session, one default timeout, retries via urllib3."""
from __future__ import annotations

import math
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from http import HTTPStatus
from itertools import chain
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

import requests
from urllib3.exceptions import LocationValueError, ReadTimeoutError
from urllib3.util.retry import Retry

from client.answers import PREDICT_ANSWER_LIMIT, STATUS_ANSWER_LIMIT, body_reader, connection_reason, timeout_error
from client.arguments import check_base_url, check_count, check_number
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY, ImageInput, RunState, batches, run_batch
from client.deadline import Deadline, DeadlineAdapter
from client.errors import (InvalidArgumentError, ServerUnavailableError, SignatureError, TFServingError,
                           UnexpectedAnswerError, VersionNotAvailableError, bounded, error_for_status)
from client.images import MAX_SIDE, ImageScaling
from client.plan import ClassifyPlan
from client.profile import DEFAULT_PROFILE, ModelProfile
from client.protocol import (ModelMetadata, PredictResponse, VersionStatus, check_name, check_version, model_path,
                             predict_body)
from client.results import ClassificationResult
from client.shorthands import with_shorthands
from client.signature_config import SignatureConfig, check_class_names

__all__ = ["TFServingClient", "ImageInput", "ProgressCallback"]

ProgressCallback = Callable[[ClassificationResult, int], None]
Parsed = TypeVar("Parsed")
# requests' own complaints about a URL (all ValueError subclasses): the base URL is unusable.
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader, requests.exceptions.URLRequired, LocationValueError)


def _answer_description(reply: requests.Response) -> str:
    """What came back, without quoting it (it may be any internal resource the URL points at)."""
    try:
        phrase = " " + HTTPStatus(reply.status_code).phrase
    except ValueError:
        phrase = ""
    kind = reply.headers.get("Content-Type", "").split(";")[0].strip()
    kind = kind if kind.isascii() and kind.isprintable() and 0 < len(kind) <= 60 else "unknown content type"
    return f"the answer is not TF Serving's JSON (HTTP {reply.status_code}{phrase}, {kind}, {len(reply.content)} bytes)"


def _retry_policy(retries: int, backoff_factor: float, timeout: float) -> Retry:
    return Retry(
        total=retries, connect=retries, status=retries,
        read=False,  # a read timeout surfaces as RequestTimeoutError instead of multiplying the wait
        other=0,
        backoff_factor=backoff_factor,
        status_forcelist=(429, 503),
        allowed_methods=frozenset({"GET", "POST"}),  # POST too: predict has no side effects
        respect_retry_after_header=True,
        retry_after_max=max(1, math.ceil(timeout)),  # a server's Retry-After waits at most one timeout
        raise_on_status=False,  # the last 429/503 answer is returned and mapped to a typed error
    )


def _hook_list(hooks: Any) -> list[Callable[..., Any]]:
    """A session's response hooks as a list (requests accepts one callable or a list)."""
    if hooks is None:
        return []
    return [hooks] if callable(hooks) else list(hooks)


def _api_missing(exc: TFServingError) -> bool:
    """True when the answer says this server has no such API (not TF Serving's JSON), not that the model is
    missing: TF Serving itself always answers with {"error": ...}."""
    return exc.foreign_answer and (exc.status in (404, 405, 501) or isinstance(exc, UnexpectedAnswerError))


class TFServingClient:
    """Client for one model on a TF Serving REST endpoint; use as a context manager.

    Each call targets the latest version, `version=N` or `label="stable"`. A session passed in
    is used as it is (its adapters decide retries) and is not closed by this client.

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
    a compressed answer inflates.
    """

    def __init__(self, base_url: str, model: str, *, timeout: float = 30.0, retries: int = 3,
                 session: requests.Session | None = None, backoff_factor: float = 0.25,
                 labels: Sequence[str] | None = None, scaling: ImageScaling = ImageScaling(),
                 max_side: int = MAX_SIDE, pool_size: int = 16, signature: SignatureConfig | None = None,
                 max_answer_bytes: int = STATUS_ANSWER_LIMIT,
                 max_predict_answer_bytes: int = PREDICT_ANSWER_LIMIT, profile: ModelProfile | None = None) -> None:
        self.base_url = check_base_url(base_url)
        self.model = check_name("model", model)
        self.timeout = check_number("timeout", timeout)
        self.max_answer_bytes = check_count("max_answer_bytes", max_answer_bytes, minimum=1)
        self.max_predict_answer_bytes = check_count("max_predict_answer_bytes", max_predict_answer_bytes, minimum=1)
        check_count("retries", retries, minimum=0)
        check_count("pool_size", pool_size, minimum=1)
        check_count("max_side", max_side, minimum=1)
        if signature is not None and not isinstance(signature, SignatureConfig):
            raise InvalidArgumentError("signature", signature, "must be a client.SignatureConfig")
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
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            backoff = check_number("backoff_factor", backoff_factor, zero=True)
            adapter = DeadlineAdapter(max_retries=_retry_policy(retries, backoff, self.timeout),
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

    @property
    def profile(self) -> ModelProfile:
        """The model profile in effect: the one given (with its shorthands), else DEFAULT_PROFILE."""
        return self.given_profile if self.given_profile is not None else DEFAULT_PROFILE

    # -- HTTP ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: bytes | None = None, *, predict: bool = False) -> dict[str, Any]:
        url = self.base_url + path
        headers = {"Content-Type": "application/json"} if body is not None else None
        limit, what = ((self.max_predict_answer_bytes, "predict") if predict
                       else (self.max_answer_bytes, "status and metadata"))
        with Deadline(self.timeout) as deadline:
            # The body is read (bounded) by the first response hook, so the session's own hooks see it read.
            reader = body_reader(limit=limit, what=what, deadline=deadline, method=method, url=url)
            hooks = {"response": [reader, *_hook_list(self.session.hooks.get("response"))]}
            try:
                # No redirects: TF Serving never sends one, and following it would leave the chosen server.
                reply = self.session.request(method, url, data=body, headers=headers, timeout=self.timeout,
                                             allow_redirects=False, stream=True, hooks=hooks)
            except requests.Timeout as exc:  # checked first: ConnectTimeout is also a ConnectionError
                raise timeout_error(self.timeout, method=method, url=url) from exc
            except requests.ConnectionError as exc:
                # requests reports a read timeout, or a socket the deadline shut down, as a ConnectionError.
                if deadline.expired or (exc.args and isinstance(exc.args[0], ReadTimeoutError)):
                    raise timeout_error(self.timeout, method=method, url=url) from exc
                raise ServerUnavailableError(f"cannot reach the server ({connection_reason(exc)})",
                                             method=method, url=url) from exc
            except _BAD_URL as exc:
                raise InvalidArgumentError("base_url", self.base_url, f"cannot be requested ({exc})",
                                           method=method, url=url) from exc
            except requests.RequestException as exc:
                raise ServerUnavailableError(f"cannot reach the server ({connection_reason(exc)})",
                                             method=method, url=url) from exc
        try:
            payload = reply.json()
        except (ValueError, RecursionError):  # not JSON, undecodable text, or absurdly nested
            payload = None
        if reply.status_code >= 400:
            error = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(error, str) and error:  # TF Serving's own {"error": "..."}
                raise error_for_status(reply.status_code, bounded(error), method=method, url=url)
            raise error_for_status(reply.status_code, _answer_description(reply), method=method, url=url,
                                   foreign_answer=True)
        if not isinstance(payload, dict):
            raise UnexpectedAnswerError(_answer_description(reply), method=method, url=url,
                                        status=reply.status_code, foreign_answer=True)
        return payload

    def _parsed(self, method: str, path: str, parse: Callable[[dict[str, Any]], Parsed],
                body: bytes | None = None, *, predict: bool = False) -> Parsed:
        """Call and parse; JSON of the wrong shape is an UnexpectedAnswerError naming the URL. It is a foreign
        answer too: TF Serving always answers in its own shape, so e.g. KServe's readiness answer
        {"name": ..., "ready": true} on GET /v1/models/NAME means this route has no TF Serving status API."""
        answer = self._call(method, path, body, predict=predict)
        try:
            return parse(answer)
        except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError, RecursionError) as exc:
            raise UnexpectedAnswerError(bounded(f"unexpected answer: {type(exc).__name__}: {exc}"),
                                        method=method, url=self.base_url + path, status=200,
                                        foreign_answer=True) from None

    # -- model APIs ---------------------------------------------------------------------------
    def status(self, *, version: int | None = None, label: str | None = None) -> tuple[VersionStatus, ...]:
        """Versions of the model (or the one targeted), sorted by version number."""
        return self._parsed("GET", model_path(self.model, version=version, label=label),
                            VersionStatus.list_from_json)

    def raw_answer(self, *, version: int | None = None, label: str | None = None,
                   metadata: bool = False) -> dict[str, Any]:
        """TF Serving's own JSON for the status (or, with metadata=True, the metadata) request, unparsed: for
        showing an operator the answer as it came. Errors as for status()/metadata()."""
        path = model_path(self.model, version=version, label=label)
        return self._call("GET", path + "/metadata" if metadata else path)

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
        path = model_path(self.model, version=version, label=label) + ":predict"
        try:
            body = predict_body(instances=instances, inputs=inputs, signature_name=signature_name)
        except (TypeError, ValueError, RecursionError) as exc:  # not JSON-able (a set, a circular list...)
            field = "instances" if instances is not None else "inputs"
            raise InvalidArgumentError(field, type(instances if instances is not None else inputs).__name__,
                                       f"cannot be sent as JSON ({exc})", method="POST",
                                       url=self.base_url + path) from None
        return self._parsed("POST", path, PredictResponse.from_json, body, predict=True)

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
            url = self.base_url + model_path(self.model)
            raise VersionNotAvailableError("no AVAILABLE version of the model", method="GET", url=url)
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
        metadata_url = self.base_url + model_path(self.model, version=resolved) + "/metadata"
        try:
            signature = metadata.signature(signature_name)
        except SignatureError as exc:
            raise SignatureError(exc.error, signature=exc.signature, method="GET", url=metadata_url) from None
        return resolved, ClassifyPlan.from_signature(signature, labels=labels, profile=self.given_profile,
                                                     max_side=self.max_side, url=metadata_url)

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
        path = model_path(self.model, version=resolved, label=None if resolved is not None else label) + ":predict"
        state = RunState(self.model, resolved)

        def send(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return self._parsed("POST", path, lambda answer: PredictResponse.from_json(answer).per_instance(
                plan.output_names), plan.request_body(instances), predict=True)

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
