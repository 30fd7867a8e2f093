"""Operator settings from the environment, and checks for what visitors type into the sidebar.

The model server is the operator's choice (a dashboard shared by a team must not fetch URLs its visitors type):
    TF_SERVING_URL                   one server (default http://127.0.0.1:8501; grpc://host:8500 for gRPC)
    SERVESCOPE_SERVERS               several: "name=url,name2=url2" (wins over TF_SERVING_URL); a url may be a
                                     gRPC address, grpc://host:8500 (needs the grpc extra, refused naming it)
    SERVESCOPE_ALLOW_CUSTOM_URL=1    also offer a free-text URL in the sidebar
    SERVESCOPE_MODEL, SERVESCOPE_LABELS   the model name and the labels to probe, pre-filled in the sidebar
Who may act on a run, and how long a run's lease lasts (docs/security.md):
    SERVESCOPE_OPERATOR_TOKEN        typed in the sidebar: an operator acts on any run and deletes any dataset
    SERVESCOPE_LEASE_RENEW_S, SERVESCOPE_LEASE_EXPIRY_S   renew every 5 s, expire after 30 s by default
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlsplit

from client import InvalidArgumentError
from client.arguments import check_base_url
from client.errors import bounded
from client.protocol import check_name as check_model_name

DEFAULT_URL = "http://127.0.0.1:8501"
DEFAULT_MODEL = "pets"
# TF Serving's REST API cannot list a model's labels, so the dashboard probes these names.
DEFAULT_LABELS = ("stable", "canary")

# A status check must answer quickly or the page feels frozen; classification gets the longer timeout.
STATUS_TIMEOUT_S = 5.0
PREDICT_TIMEOUT_S = 60.0
MODELS_CACHE_TTL_S = 30

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
    """An http(s) URL with a host and nothing after the path (TF Serving's base URL), without a trailing '/', or a
    gRPC address grpc://host:port (refused, naming the grpc extra, when it is not installed). The client's own
    check decides (one rule for the dashboard, the CLI and the library)."""
    try:
        return check_base_url(text.strip())
    except InvalidArgumentError as exc:
        raise FieldError(field, f"{bounded(repr(text.strip()), 80)} {exc.reason}") from None


def check_name(text: str, field: str) -> str:
    """A model name or version label TF Serving can be asked for (the client's rule), else FieldError."""
    try:
        return check_model_name(field, text.strip())
    except InvalidArgumentError as exc:
        raise FieldError(field, f"{bounded(repr(text.strip()), 80)} {exc.reason}") from None


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


# -- who may act on a run (dashboard.runs.ownership) and how long a run's lease lasts (dashboard.runs.manager) -----
OPERATOR_TOKEN_SETTING = "SERVESCOPE_OPERATOR_TOKEN"
MIN_OPERATOR_TOKEN_CHARS = 16
LEASE_RENEW_SETTING = "SERVESCOPE_LEASE_RENEW_S"
LEASE_EXPIRY_SETTING = "SERVESCOPE_LEASE_EXPIRY_S"
DEFAULT_LEASE_RENEW_S = 5.0      # the process running a run renews its lease this often ...
DEFAULT_LEASE_EXPIRY_S = 30.0    # ... for this long; any replica interrupts a run whose lease expired


def operator_token(environ: Mapping[str, str] = os.environ) -> str | None:
    """SERVESCOPE_OPERATOR_TOKEN: the secret a visitor types in the sidebar to act as an operator (cancel or delete
    any run, clear History); None when unset (nobody is an operator). FieldError when shorter than
    MIN_OPERATOR_TOKEN_CHARS."""
    token = environ.get(OPERATOR_TOKEN_SETTING, "").strip()
    if not token:
        return None
    if len(token) < MIN_OPERATOR_TOKEN_CHARS:
        raise FieldError(OPERATOR_TOKEN_SETTING, f"must be at least {MIN_OPERATOR_TOKEN_CHARS} characters long "
                                                 f"(it has {len(token)}); no visitor is an operator until it is")
    return token


def _seconds(environ: Mapping[str, str], setting: str, default: float) -> float:
    text = environ.get(setting, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise FieldError(setting, f"{bounded(repr(text), 40)} is not a number of seconds above 0")
    return value


def lease_timing(environ: Mapping[str, str] = os.environ) -> tuple[float, float]:
    """(renew every, expire after) in seconds: SERVESCOPE_LEASE_RENEW_S (default 5) and SERVESCOPE_LEASE_EXPIRY_S
    (default 30). The expiry must be at least three renewals, so one slow renewal never loses a live run."""
    renew = _seconds(environ, LEASE_RENEW_SETTING, DEFAULT_LEASE_RENEW_S)
    expiry = _seconds(environ, LEASE_EXPIRY_SETTING, DEFAULT_LEASE_EXPIRY_S)
    if expiry < 3 * renew:
        raise FieldError(LEASE_EXPIRY_SETTING, f"{expiry:g} s is less than three renewals ({LEASE_RENEW_SETTING} is "
                                               f"{renew:g} s)")
    return renew, expiry
