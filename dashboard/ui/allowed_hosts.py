"""The dashboard's Host check, against DNS rebinding: a request whose Host header names a host the operator did not
allow gets a plain 403 before Streamlit sees it, for every path (the page, static files, /_stcore/health, uploads,
media) and for the websocket handshake (/_stcore/stream).

Allowed: localhost, 127.0.0.1 and [::1] on any port, plus the comma-separated host names in
SERVESCOPE_ALLOWED_HOSTS (e.g. the Kubernetes Service's name, or the name an ingress or proxy forwards).
`dashboard_app.py` installs `AllowedHostsMiddleware` as the outermost middleware of Streamlit's ASGI app
(`st.App`), so the check is in place before the server answers its first request. This module is plain ASGI and
imports no streamlit; Streamlit's own `server.allowedHosts` covers only the websocket, hence this check.
"""
from __future__ import annotations

import ipaddress
import os
import re
from typing import Any, Awaitable, Callable, Iterable, Mapping

from client.errors import bounded
from dashboard.config import FieldError

SETTING = "SERVESCOPE_ALLOWED_HOSTS"
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
REFUSAL = (b"403 Forbidden: this dashboard does not answer to this host name. The operator allows localhost, "
           b"127.0.0.1, [::1] and the names in " + SETTING.encode() + b".\n")
_REFUSAL_HEADERS = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(REFUSAL)).encode()),
                    (b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store")]

# A DNS name or IPv4 address (underscores too: container names carry them); IPv6 only in brackets.
_NAME = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")
_PORT = re.compile(r"[0-9]{0,5}")

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _ipv6(text: str) -> str | None:
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        return None


def _name(text: str) -> str | None:
    name = text.removesuffix(".")
    return name if _NAME.fullmatch(name) else None


def host_name(authority: str) -> str | None:
    """The host name in a Host header value ('Example.test:8502' -> 'example.test', '[::1]:80' -> '::1'), or None
    when the value is not a host with an optional port."""
    text = authority.strip().lower()
    if text.startswith("["):
        address, bracket, port = text[1:].partition("]")
        if not bracket or (port and not (port.startswith(":") and _PORT.fullmatch(port[1:]))):
            return None
        return _ipv6(address)
    name, _, port = text.partition(":")
    return _name(name) if _PORT.fullmatch(port) else None


def parse_allowed_hosts(raw: str) -> frozenset[str]:
    """The host names in a comma-separated list (blanks skipped), normalised like `host_name` (an IPv6 address with
    or without brackets); FieldError naming SERVESCOPE_ALLOWED_HOSTS for an entry that is not a bare host name."""
    names: set[str] = set()
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        text = entry.lower()
        bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        name = _ipv6(bare) if ":" in bare else _name(bare)
        if name is None:
            raise FieldError(SETTING, f"{bounded(repr(entry), 80)} is not a host name: write names such as "
                                      f"dashboard.example.com, without scheme, port, path or wildcard "
                                      f"(every port is allowed)")
        names.add(name)
    return frozenset(names)


def allowed_hosts(environ: Mapping[str, str] = os.environ) -> frozenset[str]:
    """The loopback names plus SERVESCOPE_ALLOWED_HOSTS."""
    return LOOPBACK_HOSTS | parse_allowed_hosts(environ.get(SETTING, ""))


def request_host(scope: Scope) -> str | None:
    """The request's one Host header, decoded; None when it is missing or given more than once."""
    values = [value for key, value in scope.get("headers", ()) if key.lower() == b"host"]
    return values[0].decode("latin-1") if len(values) == 1 else None


class AllowedHostsMiddleware:
    """ASGI middleware: passes HTTP requests and websocket handshakes whose Host names an allowed host (any port)
    to `app`; answers every other one with 403 and REFUSAL as text/plain. Lifespan events pass through."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    def admits(self, scope: Scope) -> bool:
        header = request_host(scope)
        return header is not None and host_name(header) in self.allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.admits(scope):
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 403, "headers": _REFUSAL_HEADERS})
            await send({"type": "http.response.body", "body": REFUSAL})
        elif "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": _REFUSAL_HEADERS})
            await send({"type": "websocket.http.response.body", "body": REFUSAL})
        else:  # without the denial-response extension, a close before accepting is answered with a bare 403
            await send({"type": "websocket.close", "code": 1008})
