"""Checks for the client's own arguments: each refuses a bad value with InvalidArgumentError naming the field,
before anything is sent (model names, versions and labels are checked in client.protocol.model_path)."""
from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from client.errors import InvalidArgumentError

__all__ = ["check_base_url", "check_number", "check_count"]

_HOST_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")


def check_base_url(base_url: object) -> str:
    """`base_url` without trailing '/', if it is http(s)://host[:port][/prefix]; else InvalidArgumentError.

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
    if parts.scheme not in ("http", "https"):
        raise bad("must start with http:// or https://, e.g. http://127.0.0.1:8501")
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
    return base_url.rstrip("/")


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
