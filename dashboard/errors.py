"""Turn client errors into messages that say what happened and what to do (the pages show them with st.error)."""
from __future__ import annotations

from client import (
    InvalidInputError, ModelNotFoundError, RequestTimeoutError, ServerUnavailableError, TFServingError,
    VersionNotAvailableError,
)

START_HINT = (
    "Start one with `make run` (starts the model server and this dashboard), or "
    "`python -m serving --model_config_file=pets/models.config`, or `docker compose up`, "
    "then set the TF Serving URL in the sidebar."
)


def explain(exc: Exception, url: str, model: str) -> str:
    """One clear sentence (plus a hint) for a failed call to the model server at `url`."""
    detail = getattr(exc, "error", None) or str(exc)
    if isinstance(exc, ServerUnavailableError):
        return f"No TF Serving model server is reachable at {url} ({detail}). {START_HINT}"
    if isinstance(exc, RequestTimeoutError):
        return f"The model server at {url} did not answer in time ({detail}). It may be overloaded; try again."
    if isinstance(exc, ModelNotFoundError):
        return (f"The server at {url} has no model named '{model}' ({detail}). "
                f"Check the model name in the sidebar.")
    if isinstance(exc, VersionNotAvailableError):
        return f"Model '{model}' at {url}: that version or label is not available ({detail})."
    if isinstance(exc, InvalidInputError):
        return f"Model '{model}' at {url} rejected the request as invalid: {detail}"
    if isinstance(exc, TFServingError):
        return f"The model server at {url} answered with an error: {detail}"
    return f"Unexpected error talking to {url}: {exc}"
