"""TF Serving's REST API over one requests.Session: retries by urllib3, each exchange within a Deadline, answers
read within their size limit (client.answers, client.deadline), error answers mapped by client.errors."""
from __future__ import annotations

import math
from http import HTTPStatus
from typing import Any, Callable

import requests
from urllib3.exceptions import LocationValueError, ReadTimeoutError
from urllib3.util.retry import Retry

from client.answers import body_reader, connection_reason, timeout_error
from client.batching import SendBatch
from client.deadline import Deadline, DeadlineAdapter
from client.errors import (InvalidArgumentError, ServerUnavailableError, UnexpectedAnswerError, bounded,
                           error_for_status)
from client.plan import ClassifyPlan
from client.protocol import ModelMetadata, PredictResponse, VersionStatus, model_path, predict_body
from client.transport.base import Parsed, parsed_answer

__all__ = ["RestTransport"]

# requests' own complaints about a URL (all ValueError subclasses): the base URL is unusable.
_BAD_URL = (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidHeader, requests.exceptions.URLRequired, LocationValueError)
_PATHS = {"status": "", "metadata": "/metadata", "predict": ":predict"}
_METHODS = {"status": "GET", "metadata": "GET", "predict": "POST"}


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


class RestTransport:
    """TF Serving's REST API at `base_url`. A session passed in is used as it is (its adapters decide retries)
    and is not closed here."""

    def __init__(self, base_url: str, *, timeout: float, retries: int, backoff_factor: float, pool_size: int,
                 max_answer_bytes: int, max_predict_answer_bytes: int,
                 session: requests.Session | None = None) -> None:
        self.address = self.base_url = base_url
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.max_predict_answer_bytes = max_predict_answer_bytes
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            adapter = DeadlineAdapter(max_retries=_retry_policy(retries, backoff_factor, timeout),
                                      pool_connections=1, pool_maxsize=pool_size)
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)

    def close(self) -> None:
        if self._owns_session:
            self.session.close()

    def where(self, api: str, model: str, *, version: int | None = None,
              label: str | None = None) -> tuple[str, str]:
        return _METHODS[api], self.base_url + model_path(model, version=version, label=label) + _PATHS[api]

    # -- HTTP ---------------------------------------------------------------------------------
    def call(self, method: str, path: str, body: bytes | None = None, *, predict: bool = False) -> dict[str, Any]:
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

    def parsed(self, method: str, path: str, parse: Callable[[dict[str, Any]], Parsed],
               body: bytes | None = None, *, predict: bool = False) -> Parsed:
        """Call and parse (client.transport.base.parsed_answer)."""
        answer = self.call(method, path, body, predict=predict)
        return parsed_answer(parse, answer, method=method, url=self.base_url + path)

    # -- model APIs ---------------------------------------------------------------------------
    def status(self, model: str, *, version: int | None, label: str | None) -> tuple[VersionStatus, ...]:
        return self.parsed("GET", model_path(model, version=version, label=label), VersionStatus.list_from_json)

    def metadata(self, model: str, *, version: int | None, label: str | None) -> ModelMetadata:
        return self.parsed("GET", model_path(model, version=version, label=label) + "/metadata",
                           ModelMetadata.from_json)

    def raw_answer(self, model: str, *, version: int | None, label: str | None,
                   metadata: bool) -> dict[str, Any]:
        path = model_path(model, version=version, label=label)
        return self.call("GET", path + "/metadata" if metadata else path)

    def predict(self, model: str, *, instances: Any, inputs: Any, signature_name: str | None,
                version: int | None, label: str | None) -> PredictResponse:
        """Row (`instances`) or columnar (`inputs`) form; bytes are sent as {"b64": ...}."""
        path = model_path(model, version=version, label=label) + ":predict"
        try:
            body = predict_body(instances=instances, inputs=inputs, signature_name=signature_name)
        except (TypeError, ValueError, RecursionError) as exc:  # not JSON-able (a set, a circular list...)
            field = "instances" if instances is not None else "inputs"
            raise InvalidArgumentError(field, type(instances if instances is not None else inputs).__name__,
                                       f"cannot be sent as JSON ({exc})", method="POST",
                                       url=self.base_url + path) from None
        return self.parsed("POST", path, PredictResponse.from_json, body, predict=True)

    def sender(self, model: str, plan: ClassifyPlan, *, version: int | None, label: str | None) -> SendBatch:
        path = model_path(model, version=version, label=label) + ":predict"

        def send(instances: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return self.parsed("POST", path, lambda answer: PredictResponse.from_json(answer).per_instance(
                plan.output_names), plan.request_body(instances), predict=True)

        return send
