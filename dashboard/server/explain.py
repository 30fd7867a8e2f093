"""Turn client errors into messages that say what happened and what to do (the pages show them as plain text).

Only TF Serving's own `error` text is ever quoted, cut to MAX_ERROR_CHARS: an answer that is not TF Serving's
JSON is described by the client (status, content type, size), never shown, so pointing the URL at some other
internal resource reveals nothing of it. An exception from outside the client's tree is named by its class only;
its details go to the server log.
"""
from __future__ import annotations

import logging

from client import (
    AnswerTooLargeError,
    InvalidArgumentError,
    InvalidInputError,
    ModelNotFoundError,
    RequestTimeoutError,
    ServerUnavailableError,
    SignatureError,
    TFServingError,
    UnexpectedAnswerError,
    VersionNotAvailableError,
)
from client.errors import MAX_ERROR_CHARS, bounded

log = logging.getLogger(__name__)

START_HINT = (
    "Start one with `make run` (starts the model server and this dashboard), or "
    "`python -m serving --model_config_file=pets/models.config`, or `docker compose up`, "
    "then pick it in the sidebar (the operator lists the servers with TF_SERVING_URL or SERVESCOPE_SERVERS)."
)
# InvalidArgumentError.field -> what the sidebar calls it.
_FIELD_NAMES = {"base_url": "TF Serving URL", "model": "model name", "label": "version label",
                "version": "version", "version/label": "target", "labels": "class names"}


def _not_tf_serving(url: str, detail: str) -> str:
    port = ("TF Serving's gRPC port (8500 by default)" if url.startswith("grpc://")
            else "TF Serving's REST port (8501 by default), with no path after it")
    return (f"The server at {url} does not answer like TF Serving ({detail}). Check that the TF Serving URL points "
            f"at {port}.")


def explain(exc: Exception, url: str, model: str) -> str:
    """One clear sentence (plus what to do) for a failed call to the model server at `url`."""
    if not isinstance(exc, TFServingError):
        log.error("unexpected error talking to %s", url, exc_info=exc)
        return (f"Unexpected error ({type(exc).__name__}) talking to {url}; the details are in the dashboard's "
                "log. Try again, and report it if it persists.")
    detail = bounded(exc.error or str(exc), MAX_ERROR_CHARS)
    if isinstance(exc, InvalidArgumentError):
        setting = _FIELD_NAMES.get(exc.field, f"'{exc.field}' setting")
        return f"The {setting} is not usable: {detail}. Correct it in the sidebar and try again."
    if isinstance(exc, SignatureError):
        return (f"Model '{model}' at {url} cannot be used to classify images: {detail}. Choose another signature "
                "or model (the Models page lists every signature's inputs and outputs).")
    if isinstance(exc, AnswerTooLargeError):
        return f"The model server at {url} sent more than the dashboard reads ({detail}). Check what serves that URL."
    if isinstance(exc, ServerUnavailableError) and exc.status is None:
        return f"No TF Serving model server is reachable at {url} ({detail}). {START_HINT}"
    if exc.foreign_answer:  # an answer came, but not TF Serving's: wrong URL, a proxy page, no such API
        return _not_tf_serving(url, detail)
    if isinstance(exc, ServerUnavailableError):
        return (f"The model server at {url} answered with a server error ({detail}). It may be starting, "
                "overloaded or failing; try again shortly.")
    if isinstance(exc, RequestTimeoutError):
        return f"The model server at {url} did not answer in time ({detail}). It may be overloaded; try again."
    if isinstance(exc, ModelNotFoundError):
        return (f"The server at {url} has no model named '{model}' ({detail}). "
                f"Check the model name in the sidebar.")
    if isinstance(exc, VersionNotAvailableError):
        return (f"Model '{model}' at {url}: that version or label is not available ({detail}). "
                "Pick one the Models page lists as AVAILABLE.")
    if isinstance(exc, InvalidInputError):
        return f"Model '{model}' at {url} rejected the request as invalid: {detail}"
    if isinstance(exc, UnexpectedAnswerError):
        return (f"The server at {url} answered, but not with what TF Serving's API promises ({detail}). "
                "Check that the URL points at TF Serving.")
    return f"The model server at {url} answered with an error: {detail}"
