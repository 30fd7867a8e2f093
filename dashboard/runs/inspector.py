"""The request inspector: what a run said to the model server and what came back, in memory and bounded.

A RunManager hands every client it makes to `Inspector.attach(run_id, client)`. A REST client gets a response hook
on its requests.Session (`session.hooks["response"]`): the bytes on the wire are untouched, the hook only copies a
shortened view of each exchange. A gRPC client gets a call hook (`client.grpc_hooks`): each call is recorded by its
method path, status code, sizes and time, never its protobuf messages (pixels are megabytes of raw floats, nothing
to read). Per run the newest EXCHANGES_KEPT exchanges and the newest EXCHANGES_KEPT failed ones are kept, bodies
cut to BODY_CHARS after base64 strings are shortened; only the newest RUNS_KEPT runs are held. REST requests that
never got an answer (refused connection, timeout) have no response to hook: they are the run's error rows; a gRPC
call always ends with a status code, so those are listed too (UNAVAILABLE, DEADLINE_EXCEEDED). No streamlit here
(dashboard.ui.inspector_view draws it).
"""
from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

__all__ = ["Exchange", "RequestLog", "Inspector", "shorten_b64", "EXCHANGES_KEPT", "BODY_CHARS", "RUNS_KEPT"]

EXCHANGES_KEPT = 50
BODY_CHARS = 2048
RUNS_KEPT = 16
B64_SHOWN = 24                      # characters kept of each base64 string
ERROR_CHARS = 500
# "b64": "<long base64>" in a predict body; only the JSON string's characters are matched (no escapes in base64).
_B64 = re.compile(rb'("b64"\s*:\s*")([A-Za-z0-9+/=]{' + str(B64_SHOWN).encode() + rb'})([A-Za-z0-9+/=]*)(")')


def shorten_b64(body: bytes) -> bytes:
    """The body with every base64 string cut to its first B64_SHOWN characters and its length."""
    return _B64.sub(lambda m: m.group(1) + m.group(2) + f"…({len(m.group(2)) + len(m.group(3))} chars)".encode()
                    + m.group(4), body)


def _cut(text: str, limit: int = BODY_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters in all)"


def _as_text(body: Any) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        body = body.encode("utf-8", "replace")
    if not isinstance(body, (bytes, bytearray)):
        return f"({type(body).__name__} body)"
    head = bytes(body[: BODY_CHARS * 64])  # a predict body is mostly base64: shortened, it fits easily
    return _cut(shorten_b64(head).decode("utf-8", "replace"))


def _server_error(body: bytes) -> str | None:
    """TF Serving's own {"error": "..."} text, bounded; None for any other body."""
    try:
        payload = json.loads(body[:65536])
    except (ValueError, RecursionError):
        return None
    error = payload.get("error") if isinstance(payload, dict) else None
    return _cut(error, ERROR_CHARS) if isinstance(error, str) and error else None


@dataclass(frozen=True)
class Exchange:
    at: datetime
    method: str                     # the HTTP method, or "gRPC"
    url: str                        # gRPC: the address and the method path
    request_body: str               # base64 shortened, cut to BODY_CHARS; gRPC: what was asked, never the bytes
    status: int | None              # the HTTP status; None for gRPC
    response_body: str              # cut to BODY_CHARS; "" for gRPC
    latency_ms: float               # REST: request sent -> answer's headers (Response.elapsed); gRPC: the whole call
    error: str | None               # TF Serving's `error` text of a failed answer; gRPC: the status message
    request_bytes: int = 0
    response_bytes: int | None = None   # None: no answer came (gRPC)
    grpc_code: str | None = None    # "OK", "INVALID_ARGUMENT", …; None for REST

    @property
    def failed(self) -> bool:
        if self.grpc_code is not None:
            return self.grpc_code != "OK"
        return self.status is not None and self.status >= 400

    @property
    def status_text(self) -> str:
        """The HTTP status or the gRPC status code's name."""
        return self.grpc_code if self.grpc_code is not None else str(self.status)

    def text(self) -> str:
        """The exchange as plain text: request line and body, then status, latency and answer."""
        lines = [f"{self.method} {self.url}"]
        if self.request_body:
            lines.append(self.request_body)
        if self.grpc_code is not None:
            answer = "no answer" if self.response_bytes is None else f"answer {self.response_bytes:,} bytes"
            lines.append(f"-> {self.grpc_code} in {self.latency_ms:.1f} ms; {answer}")
            if self.error:
                lines.append(self.error)
            return "\n".join(lines)
        lines.append(f"-> {self.status} in {self.latency_ms:.1f} ms")
        if self.response_body:
            lines.append(self.response_body)
        return "\n".join(lines)


def _body_size(body: Any) -> int:
    if isinstance(body, str):
        return len(body.encode("utf-8", "replace"))
    return len(body) if isinstance(body, (bytes, bytearray)) else 0


class RequestLog:
    """One run's exchanges (thread-safe: the client answers on its worker threads)."""

    def __init__(self, limit: int = EXCHANGES_KEPT) -> None:
        self._lock = threading.Lock()
        self._exchanges: deque[Exchange] = deque(maxlen=limit)
        self._failures: deque[Exchange] = deque(maxlen=limit)
        self.total = 0
        self.failed = 0

    def hook(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A requests response hook; never raises (a broken view must not break the request)."""
        try:
            self.record(response)
        except Exception:  # noqa: BLE001 - the inspector is a view; the request goes on regardless
            pass

    def record(self, response: Any) -> Exchange:
        request = response.request
        content = response.content or b""
        status = int(response.status_code)
        return self._add(Exchange(at=datetime.now(timezone.utc), method=str(request.method), url=str(request.url),
                                  request_body=_as_text(request.body), status=status,
                                  response_body=_cut(content[: BODY_CHARS * 2].decode("utf-8", "replace")),
                                  latency_ms=response.elapsed.total_seconds() * 1000.0,
                                  error=_server_error(content) if status >= 400 else None,
                                  request_bytes=_body_size(request.body), response_bytes=len(content)))

    def grpc_hook(self, call: Any) -> None:
        """A gRPC client's call hook (client.grpc_hooks, given client.transport.grpc_calls.GrpcCall); never raises."""
        try:
            self.record_grpc(call)
        except Exception:  # noqa: BLE001 - the inspector is a view; the call goes on regardless
            pass

    def record_grpc(self, call: Any) -> Exchange:
        return self._add(Exchange(at=datetime.now(timezone.utc), method="gRPC", url=str(call.url),
                                  request_body=f"{call.target}; request {int(call.request_bytes):,} bytes of protobuf "
                                               "(not shown)",
                                  status=None, response_body="", latency_ms=float(call.seconds) * 1000.0,
                                  error=_cut(str(call.details), ERROR_CHARS) if call.details else None,
                                  request_bytes=int(call.request_bytes), response_bytes=call.answer_bytes,
                                  grpc_code=str(call.code)))

    def _add(self, exchange: Exchange) -> Exchange:
        with self._lock:
            self._exchanges.append(exchange)
            self.total += 1
            if exchange.failed:
                self._failures.append(exchange)
                self.failed += 1
        return exchange

    def exchanges(self) -> list[Exchange]:
        with self._lock:
            return list(self._exchanges)

    def failures(self) -> list[Exchange]:
        with self._lock:
            return list(self._failures)


class Inspector:
    """run id -> RequestLog for the newest RUNS_KEPT runs of this process."""

    def __init__(self, runs_kept: int = RUNS_KEPT, limit: int = EXCHANGES_KEPT) -> None:
        self._lock = threading.Lock()
        self._logs: OrderedDict[str, RequestLog] = OrderedDict()
        self._runs_kept, self._limit = runs_kept, limit

    def attach(self, run_id: str, client: Any) -> RequestLog:
        """Record `client`'s exchanges (REST) or calls (gRPC) under `run_id` (a retry adds to the run's log)."""
        with self._lock:
            log = self._logs.get(run_id)
            if log is None:
                log = self._logs[run_id] = RequestLog(self._limit)
            self._logs.move_to_end(run_id)
            while len(self._logs) > self._runs_kept:
                self._logs.popitem(last=False)
        if client.session is not None:
            client.session.hooks.setdefault("response", []).append(log.hook)
        elif getattr(client, "grpc_hooks", None) is not None:
            client.grpc_hooks.append(log.grpc_hook)
        return log

    def log(self, run_id: str) -> RequestLog | None:
        with self._lock:
            return self._logs.get(run_id)
