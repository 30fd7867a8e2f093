"""Connection defaults, read from the environment so `make run`, Docker and tests can point the app elsewhere."""
from __future__ import annotations

import os

DEFAULT_URL = "http://127.0.0.1:8501"
DEFAULT_MODEL = "pets"
# TF Serving's REST API cannot list a model's labels, so the dashboard probes these names.
DEFAULT_LABELS = ("stable", "canary")

# A status check must answer quickly or the page feels frozen; classification gets the longer timeout.
STATUS_TIMEOUT_S = 5.0
PREDICT_TIMEOUT_S = 60.0
MODELS_CACHE_TTL_S = 30


def default_url() -> str:
    return (os.environ.get("TF_SERVING_URL") or DEFAULT_URL).rstrip("/")


def default_model() -> str:
    return os.environ.get("SERVESCOPE_MODEL") or DEFAULT_MODEL


def default_labels() -> tuple[str, ...]:
    raw = os.environ.get("SERVESCOPE_LABELS")
    if raw is None:
        return DEFAULT_LABELS
    return parse_labels(raw)


def parse_labels(raw: str) -> tuple[str, ...]:
    """'stable, canary' -> ('stable', 'canary'); blanks and duplicates dropped, order kept."""
    labels: list[str] = []
    for part in raw.split(","):
        name = part.strip()
        if name and name not in labels:
            labels.append(name)
    return tuple(labels)
