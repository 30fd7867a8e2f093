"""Typed errors raised by the TF Serving REST client.

Exception tree::

    TFServingError                   .method .url .status .error (TF Serving's "error" text)
    ├── ModelNotFoundError           404, model unknown
    ├── VersionNotAvailableError     404 for a version/label not (yet) available;
    │                                400 "Unrecognized servable version label"
    ├── InvalidInputError            400 other (bad tensor, bad image, wrong signature)
    │   └── PayloadTooLargeError     413 body over the server's limit (split like a 400)
    ├── ServerUnavailableError       connection refused/reset, 5xx, 503/429 after retries
    └── RequestTimeoutError          connect/read timeout
    ImageError(ValueError)           a file that is not a usable image (.source); never sent

`error_for_status` is the single place that maps an HTTP status (and, where TF Serving
reuses a status for two meanings, its error text) to one of these classes.
"""
from __future__ import annotations

import re
from typing import Pattern

__all__ = [
    "TFServingError",
    "ModelNotFoundError",
    "VersionNotAvailableError",
    "InvalidInputError",
    "PayloadTooLargeError",
    "ServerUnavailableError",
    "RequestTimeoutError",
    "ImageError",
    "STATUS_RULES",
    "error_for_status",
]


class TFServingError(Exception):
    """A request to TF Serving failed. `status` is None when no HTTP response arrived."""

    def __init__(self, error: str, *, method: str, url: str, status: int | None = None) -> None:
        self.error = error
        self.method = method
        self.url = url
        self.status = status
        where = f"{method} {url}"
        super().__init__(f"{where} -> {status}: {error}" if status is not None else f"{where}: {error}")


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
    """The connect or read timeout expired."""


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


def error_for_status(status: int, error: str, *, method: str, url: str) -> TFServingError:
    """The typed exception for an HTTP error answer (not raised: the caller raises it)."""
    for rule_status, pattern, cls in STATUS_RULES:
        if status == rule_status and (pattern is None or pattern.search(error)):
            return cls(error, method=method, url=url, status=status)
    cls = ServerUnavailableError if status >= 500 else TFServingError
    return cls(error, method=method, url=url, status=status)
