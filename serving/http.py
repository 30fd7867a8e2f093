"""The HTTP server of `python -m serving`: waitress, configured for TF Serving's REST API.

waitress reads requests in one I/O thread and hands a request to a worker thread only once its head and body
have arrived, so slow or stalled clients hold a socket, never a worker; connections idle for
IDLE_TIMEOUT_SECONDS are closed. It refuses a body over --max_request_bytes from its Content-Length alone
(chunked: once that much has arrived). On top of waitress, this module only

- words those refusals (and waitress's other protocol errors) as TF Serving's JSON {"error": ...};
- keeps HTTP/1.1 connections open after an answer, saying so (`Connection: keep-alive`), unless the request
  carried a body that the application did not read (a malformed path with a body, a 413 from the header):
  such connections are closed after the answer, as TF Serving's server does.
"""
from __future__ import annotations

import json
import logging

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, WSGITask
from waitress.utilities import RequestEntityTooLarge

from serving.app import BODY_COMPLETE, too_large_message

IDLE_TIMEOUT_SECONDS = 75  # a connection silent this long is closed; nginx's keepalive default
CONNECTION_LIMIT = 500      # open connections at once; further clients wait in the listen backlog
_DRAIN_LIMIT = 64 << 20

# waitress warns "Task queue depth is N" whenever requests wait for a worker: under load, once per request.
logging.getLogger("waitress.queue").setLevel(logging.ERROR)


class _JsonErrorTask(ErrorTask):
    """waitress's own refusals (413, malformed HTTP, headers too large) as TF Serving's JSON errors."""

    def execute(self) -> None:
        error = self.request.error
        if isinstance(error, RequestEntityTooLarge):
            limit = self.channel.server.adj.max_request_body_size - 1
            length = None if self.request.chunked else self.request.content_length
            message = too_large_message(length, limit)
        else:
            message = f"{error.reason}: {error.body}"
        body = json.dumps({"error": message}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _KeepAliveTask(WSGITask):
    def build_response_header(self) -> bytes:
        environ = self.environ or {}
        if environ.get("CONTENT_LENGTH", "") not in ("", "0") and not environ.get(BODY_COMPLETE):
            self.set_close_on_finish()  # a body the application did not want: the client may be confused
        head = super().build_response_header()
        if self.version == "1.1" and not self.close_on_finish:
            head = head[:-2] + b"Connection: keep-alive\r\n\r\n"
        return head


class _Channel(HTTPChannel):
    task_class = _KeepAliveTask
    error_task_class = _JsonErrorTask

    def handle_close(self) -> None:
        # Discard what the client already sent (bounded, without waiting): closing a socket with unread bytes
        # resets the connection, which can destroy the answer before the client reads it.
        drained, sock = 0, self.socket
        try:
            while sock is not None and drained < _DRAIN_LIMIT:  # (None: closed already; waitress may call twice)
                data = sock.recv(1 << 20)
                if not data:
                    break
                drained += len(data)
        except OSError:  # nothing more has arrived (the socket is non-blocking), or it is gone already
            pass
        super().handle_close()


class HttpServer(TcpWSGIServer):
    """A waitress server for `app` on host:port; run() serves until SystemExit/KeyboardInterrupt is raised in
    the thread running it (a signal handler does), close() releases the port."""

    channel_class = _Channel

    def __init__(self, app, *, host: str, port: int, max_request_bytes: int, threads: int):
        super().__init__(app, host=host, port=port, threads=threads,
                         max_request_body_size=max_request_bytes + 1,  # waitress refuses length >= this
                         channel_timeout=IDLE_TIMEOUT_SECONDS, connection_limit=CONNECTION_LIMIT,
                         asyncore_use_poll=True, ident="")  # poll: no select() limit of 1024 sockets

    @property
    def port(self) -> int:
        return self.effective_port
