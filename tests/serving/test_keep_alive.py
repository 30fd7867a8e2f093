"""HTTP/1.1 keep-alive: a connection carries many requests when each body was read to its end, and is closed
after anything else (413 refused from the header alone, a malformed path with a body attached)."""
from __future__ import annotations

import json
import socket
from urllib.parse import urlparse

import pytest

from tests.support import embedded_server

pytestmark = pytest.mark.slow   # each module starts the embedded server with TensorFlow models

LIMIT = 4096


@pytest.fixture(scope="module")
def url(test_models):
    args = ["--model_name=toolbox", f"--model_base_path={test_models / 'toolbox'}", f"--max_request_bytes={LIMIT}"]
    with embedded_server(args, wait_for_models={"toolbox": 1}) as base_url:
        yield base_url


class Connection:
    def __init__(self, base_url: str):
        parsed = urlparse(base_url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=10)
        self.reader = self.sock.makefile("rb")

    def send(self, method: str, path: str, body: bytes = b"", headers: str = "") -> None:
        head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}"
        if body and "chunked" not in headers:
            head += f"Content-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + body)

    def response(self) -> tuple[int, dict, object]:
        status = int(self.reader.readline().split()[1])
        headers = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            headers[key.strip().lower()] = value.strip()
        body = self.reader.read(int(headers["content-length"]))
        return status, headers, json.loads(body)

    def closed_by_server(self) -> bool:
        return self.reader.read(1) == b""

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def echo(text: str) -> bytes:
    return json.dumps({"instances": [text]}).encode()


def test_one_connection_carries_many_requests(url):
    conn = Connection(url)
    try:
        for i in range(5):
            conn.send("POST", "/v1/models/toolbox:predict", echo(f"hi{i}"))
            status, headers, body = conn.response()
            assert (status, headers["connection"], body["predictions"][0]["length"]) == (200, "keep-alive", 3)
        conn.send("GET", "/v1/models/toolbox")  # no body at all: still reusable
        status, headers, _ = conn.response()
        assert (status, headers["connection"]) == (200, "keep-alive")
        conn.send("POST", "/v1/models/toolbox:predict", b'{"instances": [')  # a 400, but the body was read
        status, headers, body = conn.response()
        assert (status, headers["connection"]) == (400, "keep-alive")
        conn.send("POST", "/v1/models/toolbox:predict", b"5\r\n{\"ins\r\n0\r\n\r\n",
                  headers="Transfer-Encoding: chunked\r\n")  # chunked, read to its end
        status, headers, body = conn.response()
        assert (status, headers["connection"]) == (400, "keep-alive")
        assert body["error"].startswith("JSON Parse error: Missing a closing quotation mark in string.")
        conn.send("POST", "/v1/models/toolbox:predict", echo("again"))
        assert conn.response()[2] == {"predictions": [{"echo_bytes": {"b64": "YWdhaW4="}, "length": 5}]}
    finally:
        conn.close()


@pytest.mark.parametrize("send, status", [
    # Refused from the Content-Length header alone: the body is never read, so the connection must close.
    (lambda c: c.send("POST", "/v1/models/toolbox:predict", headers="Content-Length: 50000000\r\n"), 413),
    (lambda c: c.send("POST", "/v1/models/toolbox:predict", b"x" * 10, headers="Connection: close\r\n"), 400),
    (lambda c: c.send("POST", "/v1/models/toolbox/metadata", b"{}"), 400),  # malformed: body never read
    (lambda c: c.send("POST", "/v1/models/toolbox:predict", b"2000\r\n" + b" " * 0x2000 + b"\r\n0\r\n\r\n",
                      headers="Transfer-Encoding: chunked\r\n"), 413),
])
def test_connections_close_when_the_body_was_not_read_to_its_end(url, send, status):
    conn = Connection(url)
    try:
        send(conn)
        got_status, headers, _ = conn.response()
        assert (got_status, headers["connection"]) == (status, "close")
        assert conn.closed_by_server()
    finally:
        conn.close()
