"""Operator settings from the environment, and checks for what visitors type into the sidebar.

The model server is the operator's choice (a dashboard shared by a team must not fetch URLs its visitors type):
    TF_SERVING_URL                   one server (default http://127.0.0.1:8501)
    SERVESCOPE_SERVERS               several: "name=url,name2=url2" (wins over TF_SERVING_URL)
    SERVESCOPE_ALLOW_CUSTOM_URL=1    also offer a free-text URL in the sidebar
    SERVESCOPE_MODEL, SERVESCOPE_LABELS   the model name and the labels to probe, pre-filled in the sidebar
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8501"
DEFAULT_MODEL = "pets"
# TF Serving's REST API cannot list a model's labels, so the dashboard probes these names.
DEFAULT_LABELS = ("stable", "canary")

# A status check must answer quickly or the page feels frozen; classification gets the longer timeout.
STATUS_TIMEOUT_S = 5.0
PREDICT_TIMEOUT_S = 60.0
MODELS_CACHE_TTL_S = 30

# Model names and labels go into URL paths (/v1/models/NAME/labels/LABEL): no '/', '?', '%', spaces or dot-only
# names that would address another resource. TF Serving's own names fit this easily.
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


class FieldError(ValueError):
    """A sidebar field or an operator setting that cannot be used; `field` names it, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Server:
    name: str
    url: str


def check_url(text: str, field: str) -> str:
    """An http(s) URL with a host and nothing after the path (TF Serving's base URL), without a trailing '/'."""
    url = text.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise FieldError(field, f"{url!r} is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError(field, f"{url!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment or parts.username or parts.password or "?" in url or "#" in url:
        raise FieldError(field, f"{url!r}: give the server's base URL only (no user, query or fragment)")
    return url


def check_name(text: str, field: str) -> str:
    name = text.strip()
    if not _NAME.fullmatch(name):
        raise FieldError(field, f"{name!r} is not a name TF Serving can be asked for: use 1 to 128 letters, "
                                f"digits, '_', '-' or '.', starting with a letter, digit or '_'")
    return name


def parse_labels(raw: str, field: str = "Version labels") -> tuple[str, ...]:
    """'stable, canary' -> ('stable', 'canary'); blanks and duplicates dropped, order kept; each label checked."""
    labels: list[str] = []
    for part in raw.split(","):
        if part.strip() and (name := check_name(part, field)) not in labels:
            labels.append(name)
    return tuple(labels)


def default_url(environ: Mapping[str, str] = os.environ) -> str:
    return (environ.get("TF_SERVING_URL") or DEFAULT_URL).rstrip("/")


def default_model(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get("SERVESCOPE_MODEL") or DEFAULT_MODEL


def default_labels(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    raw = environ.get("SERVESCOPE_LABELS")
    return DEFAULT_LABELS if raw is None else parse_labels(raw, "SERVESCOPE_LABELS")


def configured_servers(environ: Mapping[str, str] = os.environ) -> tuple[Server, ...]:
    """The servers visitors may pick: SERVESCOPE_SERVERS, else TF_SERVING_URL, else the local default."""
    raw = environ.get("SERVESCOPE_SERVERS", "").strip()
    if not raw:
        url = check_url(default_url(environ), "TF_SERVING_URL")
        return (Server(urlsplit(url).netloc, url),)
    servers: list[Server] = []
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        name, equals, url = entry.partition("=")
        if not equals or not name.strip():
            raise FieldError("SERVESCOPE_SERVERS", f"{entry!r} is not name=url")
        if any(server.name == name.strip() for server in servers):
            raise FieldError("SERVESCOPE_SERVERS", f"the name {name.strip()!r} is given twice")
        servers.append(Server(name.strip(), check_url(url, f"SERVESCOPE_SERVERS ({name.strip()})")))
    return tuple(servers)


def custom_url_allowed(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get("SERVESCOPE_ALLOW_CUSTOM_URL", "").strip() == "1"
