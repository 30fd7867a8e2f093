"""HTTP/1.1 keep-alive on werkzeug's threaded server.

werkzeug's own handler ends every response with `Connection: close` and then drains the socket, because it
cannot tell whether the application read the whole request body; leftover body bytes would otherwise be
parsed as the next request. Our application records (environ[BODY_COMPLETE]) when it has read a body to its
end, so this handler keeps the connection open exactly when that is known to be safe:

- the body was read completely, or there was none (no Content-Length, or 0, and not chunked), and
- the client did not ask to close (HTTP/1.0 without keep-alive, or `Connection: close`).

Everything else (413 refused from the header alone, a 400 for a malformed path with a body attached, ...)
closes the connection after the answer, draining what the client already sent so it sees the answer rather
than a reset, as werkzeug does. Idle connections are closed after IDLE_TIMEOUT_SECONDS.
"""
from __future__ import annotations

import selectors

from werkzeug.serving import WSGIRequestHandler

from serving.app import BODY_COMPLETE

IDLE_TIMEOUT_SECONDS = 75  # socket timeout between requests (and for a stalled body); nginx's keepalive default
_DRAIN_LIMIT = 64 << 20


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_SECONDS
    # Small answers must leave at once: with Nagle's algorithm on, an answer written after another small write
    # waits for the client's delayed ACK (40 ms on Linux) on a kept-alive connection.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        started: list = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return lambda data: None  # our application never uses the legacy write() callable

        try:
            chunks = self.server.app(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            status, headers = started
        except Exception:  # the application catches its own errors; this is a last line of defence
            self.log_error("application error on %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            self.close_connection = True
            status, headers = "500 Internal Server Error", [("Content-Type", "application/json")]
            body = b'{"error": "Internal server error"}'
        
        keep_alive = not self.close_connection and self._body_consumed(environ)
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "keep-alive" if keep_alive else "close")  # sets self.close_connection
        # Headers and body in one write (end_headers() would send the headers on their own first).
        self._headers_buffer.append(b"\r\n")
        head = b"".join(self._headers_buffer)
        self._headers_buffer = []
        self.wfile.write(head + body if environ["REQUEST_METHOD"] != "HEAD" else head)
        self.wfile.flush()
        if not keep_alive:
            self._drain()

    def _body_consumed(self, environ) -> bool:
        if environ.get(BODY_COMPLETE):
            return True
        if environ.get("wsgi.input_terminated"):  # chunked and not read to the end
            return False
        return environ.get("CONTENT_LENGTH", "") in ("", "0")

    def _drain(self) -> None:
        """Discard what the client already sent (bounded), so closing does not reset the answer away."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            drained = 0
            while drained < _DRAIN_LIMIT and selector.select(timeout=0.01):
                data = self.rfile.read1(1 << 20)
                if not data:
                    break
                drained += len(data)
