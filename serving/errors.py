"""Domain errors (TensorFlow's canonical status codes) and THE one table from them to HTTP statuses.

Everything that can go wrong in a request ends up here: our own `ServingError`s and TensorFlow's
`tf.errors.OpError`s (which carry the same canonical codes) are turned into `(http_status, message)`.
"""
from __future__ import annotations

import re

# Canonical code number -> name, as in tensorflow/core/protobuf/error_codes.proto (and absl::StatusCode).
CODE_NAMES = {
    0: "OK", 1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
    6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
    10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
    15: "DATA_LOSS", 16: "UNAUTHENTICATED",
}

# THE table: TF Serving's ToHTTPStatusCode (model_servers/http_server.cc), plus PAYLOAD_TOO_LARGE, which is
# ours (TF Serving's HTTP layer rejects oversized bodies before any handler runs).
HTTP_STATUS_BY_CODE = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
    "PAYLOAD_TOO_LARGE": 413,
}


class ServingError(Exception):
    """An error with a canonical status code; the message is what the client sees in `{"error": ...}`."""

    code = "UNKNOWN"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(ServingError):
    code = "INVALID_ARGUMENT"


class NotFound(ServingError):
    code = "NOT_FOUND"


class DeadlineExceeded(ServingError):
    code = "DEADLINE_EXCEEDED"


class Unimplemented(ServingError):
    code = "UNIMPLEMENTED"


class PayloadTooLarge(ServingError):
    code = "PAYLOAD_TOO_LARGE"


def status_of(exc: BaseException) -> tuple[str, str]:
    """(canonical code name, message) of any exception raised while serving a request."""
    if isinstance(exc, ServingError):
        return exc.code, exc.message
    if isinstance(exc, RecursionError):
        return "INVALID_ARGUMENT", "JSON value nested too deeply"
    tf_code = getattr(exc, "error_code", None)  # tf.errors.OpError, without importing TensorFlow here
    if isinstance(tf_code, int) and tf_code in CODE_NAMES:
        return CODE_NAMES[tf_code], tf_error_message(str(getattr(exc, "message", exc)))
    return "INTERNAL", f"{type(exc).__name__}: {exc}"


_OP_SUFFIX = re.compile(r"\s*\[Op:__inference_[^\]]*\]\s*$")


def tf_error_message(message: str) -> str:
    """TensorFlow's runtime message without the eager wrapper (preamble, Python stack), as a TF Serving session says it."""
    if message.startswith("Graph execution error:"):
        lines = message.split("\n")
        wrapper = [i for i, line in enumerate(lines) if line.startswith(("Detected at node", "  File ", "<stack traces"))]
        message = "\n".join(lines[(wrapper[-1] + 1) if wrapper else 1:])
    return _OP_SUFFIX.sub("", message).strip()


MAX_MESSAGE_CHARS = 4096  # a last bound on any error text (request values inside are already cut at 200)


def http_status_of(exc: BaseException) -> tuple[int, str, str]:
    """(HTTP status, canonical code name, message) — the only place codes become HTTP statuses."""
    code, message = status_of(exc)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + "...(truncated)"
    return HTTP_STATUS_BY_CODE[code], code, message
