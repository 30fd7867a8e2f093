"""Typed errors raised by the TF Serving client (REST or gRPC).

Rule (httpx's): nothing a TFServingClient method (or its constructor) raises escapes this tree::

    TFServingError                   .method .url .status .error .foreign_answer
    ├── ModelNotFoundError           404, model unknown
    ├── VersionNotAvailableError     404 for a version/label not (yet) available;
    │                                400 "Unrecognized servable version label"
    ├── InvalidInputError            400 other (bad tensor, bad image, wrong signature)
    │   └── PayloadTooLargeError     413 body over the server's limit (split like a 400)
    ├── ServerUnavailableError       connection refused/reset, 5xx, 503/429 after retries
    ├── RequestTimeoutError          no complete answer within the client's timeout (connect + headers + body)
    ├── AnswerTooLargeError          an answer whose decoded body is over the client's limit (refused)
    ├── UnexpectedAnswerError        a 2xx/3xx answer that is not TF Serving's JSON, or lacks its fields
    │   └── InvalidProbabilitiesError  one input's probabilities are not a distribution (never raised by a
    │                                client call: it becomes that input's row)
    ├── SignatureError               the signature cannot classify images, does not exist, or cannot
    │                                be read (no metadata API and no SignatureConfig); .signature
    └── InvalidArgumentError         a bad argument, refused before anything is sent (base URL, model
                                     name, version, label, class names, batch size...); .field .value
    ImageError(ValueError)           a file that is not a usable image (.source); never raised by a
                                     client call: it becomes that file's result row

`.error` is TF Serving's own "error" text, cut by `bounded` (the one rule for a server's text: one line, at most
MAX_ERROR_CHARS characters, a cut said once as "… (cut; N characters in all)"); when the answer was not TF Serving's
JSON (`foreign_answer`), it only describes the answer (status, content type, size) and never quotes it.
What the caller's own code raises (its images iterable, its on_progress callback) propagates unchanged;
what a loader raises becomes that input's row. `error_for_status` is the single place that maps an HTTP
status (and, where TF Serving reuses a status for two meanings, its error text) to a class; `error_for_grpc_status`
maps a gRPC status code to the HTTP status of google.rpc.Code's mapping (INVALID_ARGUMENT 400, NOT_FOUND 404,
UNAVAILABLE 503, ...) and then through the same rules, so an answer raises the same class on either transport. A
gRPC error keeps that HTTP status in `.status` (what the rest of the client and the dashboard read) and its own
code's name in `.grpc_code`.
"""
from __future__ import annotations

import re
from typing import Any, Pattern

__all__ = [
    "TFServingError",
    "ModelNotFoundError",
    "VersionNotAvailableError",
    "InvalidInputError",
    "PayloadTooLargeError",
    "ServerUnavailableError",
    "RequestTimeoutError",
    "AnswerTooLargeError",
    "UnexpectedAnswerError",
    "InvalidProbabilitiesError",
    "SignatureError",
    "InvalidArgumentError",
    "ImageError",
    "STATUS_RULES",
    "MAX_ERROR_CHARS",
    "bounded",
    "error_for_status",
    "GRPC_HTTP_STATUS",
    "error_for_grpc_status",
]

# TF Serving's error texts are one line or a few; anything longer is cut (rows, logs and pages stay readable).
MAX_ERROR_CHARS = 300
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_CUT_NOTE = re.compile(r"… \(cut; (\d+) characters in all\)\Z")


def bounded(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """`text` on one line (each run of line breaks becomes one space), cut to its first `limit` characters
    followed by "… (cut; N characters in all)", N being the length of the whole text.

    Cutting again is a no-op (a text already cut within `limit` is returned as it is); cutting shorter keeps N.
    """
    text = str(text)
    note = _CUT_NOTE.search(text)
    kept, total = (text[:note.start()], int(note.group(1))) if note else (text, len(text))
    kept = _LINE_BREAKS.sub(" ", kept)
    if len(kept) <= limit:
        return kept + (note.group(0) if note else "")
    return f"{kept[:limit]}… (cut; {total} characters in all)"


class TFServingError(Exception):
    """A request to TF Serving failed. `status` is None when no HTTP response arrived.

    `foreign_answer` is True when an HTTP answer came but was not TF Serving's JSON (a proxy's
    HTML page, a plain-text 404): `error` then only describes it and never quotes its body.
    `grpc_code` names the gRPC status code (e.g. "INVALID_ARGUMENT") of an error answered over gRPC; `status`
    is then the HTTP status google.rpc.Code maps it to (None when no answer came), and messages show the code.
    """

    def __init__(self, error: str, *, method: str = "", url: str = "", status: int | None = None,
                 foreign_answer: bool = False, grpc_code: str | None = None) -> None:
        self.error = error
        self.method = method
        self.url = url
        self.status = status
        self.foreign_answer = foreign_answer
        self.grpc_code = grpc_code
        where = " ".join(part for part in (method, url) if part)
        if grpc_code is not None:
            where += f" -> {grpc_code}"
        elif status is not None:
            where += f" -> {status}"
        super().__init__(f"{where}: {error}" if where else error)


class ModelNotFoundError(TFServingError):
    """The server does not know the model."""


class VersionNotAvailableError(TFServingError):
    """The model exists but the requested version or label is not (yet) available."""


class InvalidInputError(TFServingError):
    """The server rejected the request body (HTTP 400)."""


class PayloadTooLargeError(InvalidInputError):
    """HTTP 413: the request body is over the server's limit (a smaller batch may pass)."""


class ServerUnavailableError(TFServingError):
    """No usable answer: connection refused/reset, 5xx, or 429/503 after every retry."""


class RequestTimeoutError(TFServingError):
    """No complete answer (connect, headers and body) within the client's timeout."""


class AnswerTooLargeError(TFServingError):
    """The answer's decoded body is larger than the client accepts; it was refused after reading just past
    the limit (`error` names the URL and the limit)."""


class UnexpectedAnswerError(TFServingError):
    """A success answer that is not TF Serving's JSON, or JSON without the fields the API promises."""


class InvalidProbabilitiesError(UnexpectedAnswerError):
    """One input's probabilities are not a probability distribution (client.probabilities says what is checked).
    Never raised by a client call: it becomes that input's result row."""


class SignatureError(TFServingError):
    """The model's signature cannot be used to classify images (or cannot be read at all)."""

    def __init__(self, error: str, *, signature: str | None = None, **where: Any) -> None:
        self.signature = signature
        super().__init__(error, **where)


class InvalidArgumentError(TFServingError):
    """An argument is unusable (`field` names it); refused before anything is sent."""

    def __init__(self, field: str, value: object, reason: str, **where: Any) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        super().__init__(f"{field} {shown}: {reason}", **where)


class ImageError(ValueError):
    """An input is not a usable image; it is reported per file and never sent."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {reason}")


# TF Serving answers 404 both for an unknown model ("Servable not found for request:
# Latest(foo)", "Could not find any versions of model foo") and for a missing version
# ("... Specific(pets, 9)", "Could not find version 9 of model pets"); an unknown label is a 400.
_MISSING_VERSION = re.compile(r"Specific\(|find version|label", re.IGNORECASE)
_UNKNOWN_LABEL = re.compile(r"servable version label", re.IGNORECASE)

# (status, pattern the error text must match or None, exception class); first match wins.
STATUS_RULES: tuple[tuple[int, Pattern[str] | None, type[TFServingError]], ...] = (
    (400, _UNKNOWN_LABEL, VersionNotAvailableError),
    (400, None, InvalidInputError),
    (404, _MISSING_VERSION, VersionNotAvailableError),
    (404, None, ModelNotFoundError),
    (408, None, RequestTimeoutError),
    (413, None, PayloadTooLargeError),
    (429, None, ServerUnavailableError),
    (500, None, ServerUnavailableError),
    (502, None, ServerUnavailableError),
    (503, None, ServerUnavailableError),
)


def _class_for_status(status: int, error: str) -> type[TFServingError]:
    for rule_status, pattern, cls in STATUS_RULES:
        if status == rule_status and (pattern is None or pattern.search(error)):
            return cls
    return ServerUnavailableError if status >= 500 else TFServingError


def error_for_status(status: int, error: str, *, method: str, url: str,
                     foreign_answer: bool = False) -> TFServingError:
    """The typed exception for an HTTP error answer (not raised: the caller raises it)."""
    return _class_for_status(status, error)(error, method=method, url=url, status=status,
                                            foreign_answer=foreign_answer)


# gRPC status code -> the HTTP status google.rpc.Code documents for it (google/rpc/code.proto, "HTTP Mapping").
GRPC_HTTP_STATUS: dict[str, int] = {
    "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
    "UNAVAILABLE": 503, "DATA_LOSS": 500,
}


def error_for_grpc_status(code: str, error: str, *, method: str, url: str,
                          foreign_answer: bool = False) -> TFServingError:
    """The typed exception for a gRPC error status `code` (grpc.StatusCode's name), as error_for_status gives for
    its HTTP status; DEADLINE_EXCEEDED is a RequestTimeoutError (not raised: the caller raises it)."""
    status = GRPC_HTTP_STATUS.get(code, 500)
    cls = RequestTimeoutError if code == "DEADLINE_EXCEEDED" else _class_for_status(status, error)
    return cls(error, method=method, url=url, status=status, foreign_answer=foreign_answer, grpc_code=code)
