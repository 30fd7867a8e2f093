"""A hostile TF Serving for tests: a threaded HTTP/1.1 server on a free loopback port imitating TF Serving's REST
API (status, metadata, label metadata, predict), whose models answer with crafted, misbehaving answers.

    from tests.hostile_server import HostileServer, MANY_VERSIONS

    with HostileServer(version_count=10_000, models={"pets": MANY_VERSIONS}) as server:
        ...  # point a client or the dashboard at server.url, model "pets" (or "many_versions")
        server.count("/metadata")        # metadata requests received so far
        server.count(method="POST")      # predict requests

The model name in the URL picks the behaviour. Every behaviour answers under its own name (the constants below);
`models={"name": BEHAVIOUR}` adds more names for one. Unknown names get TF Serving's 404.

- GZIP_BOMB ("gzip_bomb"): every answer is 200, `Content-Encoding: gzip`, about 1 MB on the wire inflating to
  `bomb_bytes` (1 GiB): a one-version status JSON followed by spaces, so it is valid JSON if read whole.
- TRICKLE ("trickle"): the status answer (status line, headers and body) is sent one byte every
  `trickle_seconds` (1.5); metadata and predict answer normally. TRICKLE_BODY ("trickle_body"): the same, but
  the status line and headers come at once and only the body trickles.
- ERROR_404 / ERROR_500 ("error_404" / "error_500"): every answer is that status with {"error": text of
  `error_chars` (1,000,000) characters}, TF Serving's own error shape.
- BAD_PROBABILITIES ("bad_probabilities"): a normal 3-class model, version 1 (classes cat, dog, other); in a
  predict, instance i of the request gets the row PROBABILITY_ROWS[i % 7] (written with TF Serving's NaN,
  Infinity and -Infinity tokens).
- MAX_VERSION ("max_version"): one version, 2^63-1, with metadata and good predictions.
- OVERFLOW_VERSION ("overflow_version"): one version, 2^63, in status and metadata.
- MANY_VERSIONS ("many_versions"): versions 1..`version_count` (10,000), all AVAILABLE, each with metadata and
  good predictions.

`count(suffix, method=)` counts requests whose path ends with `suffix`; `requests` is the Counter of
(method, path) behind it; `peers` lists each request's client port (a kept-alive connection repeats its port);
`trickles` lists (bytes sent, bytes in the answer) for each trickle once it ended (sent < all: the client hung up).
Starting builds the bomb once per process. Stopping ends trickles in progress.
"""
from __future__ import annotations

import json
import re
import struct
import sys
import threading
import zlib
from collections import Counter
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Mapping

__all__ = ["HostileServer", "GZIP_BOMB", "TRICKLE", "TRICKLE_BODY", "ERROR_404", "ERROR_500", "BAD_PROBABILITIES",
           "MAX_VERSION", "OVERFLOW_VERSION", "MANY_VERSIONS", "PROBABILITY_ROWS", "CLASSES", "INT64_MAX", "gzip_bomb"]

GZIP_BOMB, TRICKLE, TRICKLE_BODY = "gzip_bomb", "trickle", "trickle_body"
ERROR_404, ERROR_500 = "error_404", "error_500"
BAD_PROBABILITIES, MAX_VERSION, OVERFLOW_VERSION, MANY_VERSIONS = (
    "bad_probabilities", "max_version", "overflow_version", "many_versions")
BEHAVIOURS = (GZIP_BOMB, TRICKLE, TRICKLE_BODY, ERROR_404, ERROR_500, BAD_PROBABILITIES, MAX_VERSION, OVERFLOW_VERSION,
              MANY_VERSIONS)
INT64_MAX = 2 ** 63 - 1
CLASSES = ("cat", "dog", "other")
GOOD_ROW = "[0.7,0.2,0.1]"
# (name, the probabilities as TF Serving's REST API writes them): a good row first, then one per defect.
PROBABILITY_ROWS = (
    ("good", GOOD_ROW),
    ("nan", "[NaN,0.5,0.5]"),
    ("infinity", "[Infinity,0.0,0.0]"),
    ("minus_infinity", "[-Infinity,0.5,0.5]"),
    ("negative", "[-0.5,1.0,0.5]"),
    ("above_one", "[5.0,0.1,0.1]"),
    ("sum_0_3", "[0.1,0.1,0.1]"),
)
_PATH = re.compile(r"/v1/models/(?P<model>[^/:]+)(?:/versions/(?P<version>[0-9]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?P<api>/metadata|:predict)?")


def _status(*versions: int) -> dict:
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions]}


def _metadata(model: str, version: int) -> dict:
    def tensor(dtype: str, *dims: int) -> dict:
        return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                                 "unknown_rank": False}, "name": "x"}
    return {"model_spec": {"name": model, "signature_name": "", "version": str(version)},
            "metadata": {"signature_def": {"signature_def": {"serving_default": {
                "inputs": {"image_bytes": tensor("DT_STRING", -1)},
                "outputs": {"probabilities": tensor("DT_FLOAT", -1, 3), "classes": tensor("DT_STRING", -1, 3)},
                "method_name": "tensorflow/serving/predict"}}}}}


@lru_cache(maxsize=2)
def gzip_bomb(inflated_bytes: int = 1 << 30) -> bytes:
    """A gzip body (about inflated_bytes / 1030 bytes) that inflates to a one-version status JSON followed by
    spaces, `inflated_bytes` long in all (a multiple of 1 MiB). Built once: one MiB compressed with a full flush
    gives the same bytes each time, so they are repeated rather than compressed again."""
    prefix = json.dumps(_status(1)).encode()
    block = b" " * (1 << 20)
    blocks = max(1, (inflated_bytes - len(prefix)) // len(block))
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    one_block = deflate.compress(block) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = zlib.crc32(prefix)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    size = len(prefix) + blocks * len(block)
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + head + one_block * blocks + deflate.flush()
            + struct.pack("<II", crc, size & 0xFFFFFFFF))


class HostileServer:
    """See the module docstring. Use as a context manager (or start()/stop())."""

    def __init__(self, *, version_count: int = 10_000, trickle_seconds: float = 1.5, error_chars: int = 1_000_000,
                 bomb_bytes: int = 1 << 30, models: Mapping[str, str] | None = None) -> None:
        self.version_count = version_count
        self.trickle_seconds = trickle_seconds
        self.error_chars = error_chars
        self.bomb_bytes = bomb_bytes
        self.behaviours = {name: name for name in BEHAVIOURS}
        for name, behaviour in (models or {}).items():
            if behaviour not in BEHAVIOURS:
                raise ValueError(f"unknown behaviour {behaviour!r}; one of {BEHAVIOURS}")
            self.behaviours[name] = behaviour
        self.requests: Counter[tuple[str, str]] = Counter()
        self.peers: list[int] = []
        self.trickles: list[tuple[int, int]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def count(self, suffix: str = "", *, method: str | None = None) -> int:
        """Requests so far whose path ends with `suffix` (and whose method is `method`, if given)."""
        with self._lock:
            return sum(n for (m, path), n in self.requests.items()
                       if path.endswith(suffix) and method in (None, m))

    def start(self) -> "HostileServer":
        gzip_bomb(self.bomb_bytes)
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "HostileServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- answers --------------------------------------------------------------------------------------
    def answer(self, handler: "_Handler", method: str) -> None:
        path = handler.path.split("?", 1)[0]
        with self._lock:
            self.requests[(method, path)] += 1
            self.peers.append(handler.client_address[1])
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) if method == "POST" else b""
        match = _PATH.fullmatch(path)
        behaviour = self.behaviours.get(match["model"]) if match else None
        if match is None or behaviour is None:
            name = match["model"] if match else path
            return handler.send(404, json.dumps({"error": f"Servable not found for request: Latest({name})"}))
        model, api = match["model"], match["api"] or ""
        if behaviour == GZIP_BOMB:
            return handler.send(200, gzip_bomb(self.bomb_bytes), {"Content-Encoding": "gzip"})
        if behaviour in (ERROR_404, ERROR_500):
            text = "Not found: " + "x" * (self.error_chars - len("Not found: "))
            return handler.send(404 if behaviour == ERROR_404 else 500, json.dumps({"error": text}))
        versions = {MAX_VERSION: (INT64_MAX,), OVERFLOW_VERSION: (INT64_MAX + 1,)}.get(behaviour, (1,))
        if behaviour == MANY_VERSIONS:
            versions = range(1, self.version_count + 1)
        asked = int(match["version"]) if match["version"] else max(versions)
        if match["version"] and asked not in versions:
            error = f"Servable not found for request: Specific({model}, {asked})"
            return handler.send(404, json.dumps({"error": error}))
        if api == "":
            status = json.dumps(_status(*versions))
            if behaviour in (TRICKLE, TRICKLE_BODY):
                sent = handler.trickle(200, status, self.trickle_seconds, self._stopping,
                                       headers_at_once=behaviour == TRICKLE_BODY)
                with self._lock:
                    self.trickles.append(sent)
                return None
            return handler.send(200, status)
        if api == "/metadata":
            return handler.send(200, json.dumps(_metadata(model, asked)))
        instances = json.loads(body or b"{}").get("instances", [])
        rows = [PROBABILITY_ROWS[i % len(PROBABILITY_ROWS)][1] if behaviour == BAD_PROBABILITIES else GOOD_ROW
                for i in range(len(instances))]
        classes = json.dumps(list(CLASSES))
        return handler.send(200, '{"predictions":[' + ",".join(
            f'{{"probabilities":{row},"classes":{classes}}}' for row in rows) + "]}")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (as a refusing client does) is no error worth printing."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, like TF Serving
    server_owner: HostileServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self.server_owner.answer(self, "GET")

    def do_POST(self) -> None:
        self.server_owner.answer(self, "POST")

    def send(self, status: int, body: str | bytes, headers: Mapping[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client refused the answer and hung up
            self.close_connection = True

    def trickle(self, status: int, body: str, seconds: float, stopping: threading.Event, *,
                headers_at_once: bool) -> tuple[int, int]:
        """The answer one byte every `seconds`: all of it, or (headers_at_once) its body only.
        Returns (bytes sent, bytes in the answer)."""
        data = body.encode()
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                "Connection: close\r\n\r\n").encode()
        self.close_connection = True
        raw, sent = head + data, 0
        try:
            if headers_at_once:
                self.wfile.write(head)
                sent = len(head)
            while sent < len(raw):
                self.wfile.write(raw[sent:sent + 1])
                self.wfile.flush()
                sent += 1
                if stopping.wait(seconds):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        return sent, len(raw)
