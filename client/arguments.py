"""Checks for the client's own arguments: each refuses a bad value with InvalidArgumentError naming the field,
before anything is sent (model names, versions and labels are checked in client.protocol.model_path).

A server's address is a REST base URL (http(s)://host[:port][/prefix]) or a gRPC address (grpc://host[:port], port
8500 when omitted); a gRPC address needs the `grpc` extra, and is refused naming it (GRPC_EXTRA) when grpcio or
protobuf cannot be imported."""
from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from client.errors import InvalidArgumentError

__all__ = ["check_base_url", "check_address", "check_number", "check_count", "grpc_installed", "GRPC_EXTRA",
           "GRPC_PORT", "TRANSPORTS"]

_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")
GRPC_EXTRA = "pip install 'servescope[grpc]'"
GRPC_PORT = 8500  # TF Serving's gRPC port (--port)
TRANSPORTS = ("rest", "grpc")


def grpc_installed() -> bool:
    """Whether the `grpc` extra (grpcio and protobuf) can be imported."""
    try:
        import google.protobuf  # noqa: F401
        import grpc  # noqa: F401
    except ImportError:
        return False
    return True


def check_base_url(base_url: object) -> str:
    """`base_url` without trailing '/', if it is http(s)://host[:port][/prefix], or grpc://host:port (the port 8500
    added when omitted) with the `grpc` extra installed; else InvalidArgumentError.

    A query or fragment is refused: the API path would land inside it (`http://host/x?` + `/v1/...`).
    """
    def bad(reason: str) -> InvalidArgumentError:
        return InvalidArgumentError("base_url", base_url, reason)

    if not isinstance(base_url, str):
        raise bad(f"must be text, not {type(base_url).__name__}")
    if not base_url.isascii() or any(c.isspace() or not c.isprintable() for c in base_url):
        raise bad("must be printable ASCII without spaces (write an international host name in punycode)")
    try:
        parts = urlsplit(base_url)
        port = parts.port  # parsing the port validates it (0..65535, digits only)
    except ValueError as exc:
        raise bad(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https", "grpc"):
        raise bad("must start with http:// or https:// (REST, e.g. http://127.0.0.1:8501) or grpc:// (gRPC, e.g. "
                  "grpc://127.0.0.1:8500)")
    if not parts.hostname:
        raise bad("has no host, e.g. http://127.0.0.1:8501")
    if "@" in parts.netloc:
        raise bad("must not hold a user name or password (messages show the URL); pass an authenticated session")
    if port == 0:
        raise bad("port 0 is not a server's port (1-65535)")
    if ":" not in parts.hostname and not all(_HOST_LABEL.fullmatch(label) for label in
                                             parts.hostname.removesuffix(".").split(".")):
        raise bad("has an invalid host name (each dot-separated part: 1-63 letters, digits, '-' or '_')")
    if "?" in base_url or "#" in base_url:
        raise bad("must not contain '?' or '#': it is the server's address, the client adds /v1/models/...")
    if parts.scheme == "grpc":
        if parts.path.strip("/"):
            raise bad("a gRPC address has no path: grpc://host:port")
        if not grpc_installed():
            raise bad(f"is a gRPC address, which needs the grpc extra (grpcio, protobuf): {GRPC_EXTRA}")
        return f"grpc://{parts.netloc}" if port else f"grpc://{parts.netloc}:{GRPC_PORT}"
    return base_url.rstrip("/")


def check_address(address: object, transport: object = None) -> tuple[str, str]:
    """(transport, address) for a client: the transport is the address's ("rest" for http(s)://, "grpc" for
    grpc://), or `transport` when given, which must agree with it; with transport="grpc" a bare host:port is taken
    as grpc://host:port. InvalidArgumentError naming "transport" or "base_url" otherwise."""
    if transport is not None and transport not in TRANSPORTS:
        raise InvalidArgumentError("transport", transport, f"must be one of {', '.join(TRANSPORTS)}")
    if transport == "grpc" and isinstance(address, str) and "://" not in address:
        address = f"grpc://{address}"
    checked = check_base_url(address)
    kind = "grpc" if checked.startswith("grpc://") else "rest"
    if transport is not None and transport != kind:
        raise InvalidArgumentError("transport", transport, f"does not fit the address {checked} ({kind})")
    return kind, checked


def check_number(field: str, value: object, *, zero: bool = False) -> float:
    """A finite number > 0 (>= 0 with `zero`), e.g. a timeout."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not (
            value >= 0 if zero else value > 0):
        raise InvalidArgumentError(field, value, "must be a finite number " + (">= 0" if zero else "> 0"))
    return float(value)


def check_count(field: str, value: object, *, minimum: int) -> int:
    """An int (not a bool) >= minimum, e.g. a batch size."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(field, value, f"must be an integer >= {minimum}")
    return value
