"""Domain errors (TensorFlow's canonical status codes) and THE one table from them to HTTP and gRPC statuses.

Everything that can go wrong in a request ends up here: our own `ServingError`s and TensorFlow's
`tf.errors.OpError`s (which carry the same canonical codes) are turned into `(http_status, message)` for REST
and `(grpc_code_name, message)` for gRPC.
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

# THE table: canonical code -> (HTTP status, gRPC status code name). HTTP is TF Serving's ToHTTPStatusCode
# (model_servers/http_server.cc); gRPC carries the canonical code as it is (grpc_status_util.cc ToGRPCStatus).
# PAYLOAD_TOO_LARGE is ours: a request over --max_request_bytes (TF Serving's HTTP layer refuses oversized
# bodies before any handler runs; gRPC itself answers RESOURCE_EXHAUSTED for a message over its limit).
STATUS_BY_CODE = {
    "OK": (200, "OK"),
    "CANCELLED": (499, "CANCELLED"),
    "UNKNOWN": (500, "UNKNOWN"),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT"),
    "DEADLINE_EXCEEDED": (504, "DEADLINE_EXCEEDED"),
    "NOT_FOUND": (404, "NOT_FOUND"),
    "ALREADY_EXISTS": (409, "ALREADY_EXISTS"),
    "PERMISSION_DENIED": (403, "PERMISSION_DENIED"),
    "RESOURCE_EXHAUSTED": (429, "RESOURCE_EXHAUSTED"),
    "FAILED_PRECONDITION": (400, "FAILED_PRECONDITION"),
    "ABORTED": (409, "ABORTED"),
    "OUT_OF_RANGE": (400, "OUT_OF_RANGE"),
    "UNIMPLEMENTED": (501, "UNIMPLEMENTED"),
    "INTERNAL": (500, "INTERNAL"),
    "UNAVAILABLE": (503, "UNAVAILABLE"),
    "DATA_LOSS": (500, "DATA_LOSS"),
    "UNAUTHENTICATED": (401, "UNAUTHENTICATED"),
    "PAYLOAD_TOO_LARGE": (413, "RESOURCE_EXHAUSTED"),
}
HTTP_STATUS_BY_CODE = {code: http for code, (http, _) in STATUS_BY_CODE.items()}
GRPC_CODE_BY_CODE = {code: grpc_code for code, (_, grpc_code) in STATUS_BY_CODE.items()}


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


class FailedPrecondition(ServingError):
    code = "FAILED_PRECONDITION"


class Unknown(ServingError):
    code = "UNKNOWN"


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


GRPC_MESSAGE_LIMIT = 1024  # TF Serving's ToGRPCStatus cuts longer messages and appends "...TRUNCATED"


def grpc_status_of(exc: BaseException) -> tuple[str, str, str]:
    """(gRPC status code name, canonical code name, message) — the only place codes become gRPC statuses."""
    code, message = status_of(exc)
    if len(message) > GRPC_MESSAGE_LIMIT:
        message = message[:GRPC_MESSAGE_LIMIT] + "...TRUNCATED"
    return GRPC_CODE_BY_CODE[code], code, message
