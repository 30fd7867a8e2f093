"""A deadline for a whole exchange with a model server: connect, send, the answer's headers and its body.

Every request a TFServingClient makes runs inside a `Deadline` of the client's `timeout`. A watchdog thread shuts
the connection's socket down when the deadline passes, which ends a read or write in progress however slowly the
server trickles; client.answers checks the deadline between the body's chunks too. urllib3 retries a refused
connection or a 429/503 answer: each such attempt gets a deadline of its own (so one call takes at most
(retries + 1) × timeout plus the backoff). DNS resolution and a TLS handshake are ended by the per-operation
timeout, and the deadline is checked as soon as they return. With a session passed in (its own adapters), the
deadline covers the body only. Connections go back to the pool as usual (keep-alive); one whose socket a
deadline shut down connects afresh before its next request.
"""
from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from typing import Any, Callable

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Deadline", "DeadlineAdapter"]

_current = threading.local()       # the Deadline of the exchange running on this thread
_LOCK = threading.Lock()           # guards every Deadline's connection and each connection's owner
_OWNER = "_servescope_deadline"    # attribute on a urllib3 connection: the Deadline using it
_SHUT = "_servescope_shut"         # attribute on a urllib3 connection: its socket was shut down by a deadline


class _Watchdog:
    """One daemon thread that expires deadlines in time order (a heap; finished deadlines are skipped)."""

    def __init__(self) -> None:
        self._wakeup = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, "Deadline", int]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def schedule(self, when: float, deadline: "Deadline", generation: int) -> None:
        with self._wakeup:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._heap, self._pid = [], os.getpid()
                self._thread = threading.Thread(target=self._run, name="tfs-deadlines", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (when, next(self._order), deadline, generation))
            self._wakeup.notify()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wakeup.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                _, _, deadline, generation = heapq.heappop(self._heap)
            deadline._expire(generation)


_WATCHDOG = _Watchdog()


class Deadline:
    """The deadline of one exchange (all its attempts) on the calling thread; use as a context manager.

    `expired` turns True when the current attempt's time is up; the connection in use is then shut down.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._connection: Any = None
        # The attempt's socket, kept: http.client forgets it (connection.sock = None) as soon as an answer's
        # headers say "Connection: close", while the body is still read from it.
        self._socket: socket.socket | None = None
        self._interrupt: Callable[[], None] | None = None  # for an answer from another adapter: stop its reads
        self._connected_only = False  # the connection was connected for this attempt, nothing sent yet
        self._attempts = 0
        self._generation = 0
        self._done = False

    def __enter__(self) -> "Deadline":
        _current.deadline = self
        _WATCHDOG.schedule(time.monotonic() + self.seconds, self, self._generation)
        return self

    def __exit__(self, *exc_info: object) -> None:
        _current.deadline = None
        with _LOCK:
            self._done = True
            self._detach()

    def _detach(self) -> None:  # under _LOCK
        if self._connection is not None and getattr(self._connection, _OWNER, None) is self:
            setattr(self._connection, _OWNER, None)
        self._connection = self._socket = self._interrupt = None

    def _begin_attempt(self, connection: Any) -> None:  # under _LOCK
        """A new attempt on `connection`: the first runs on the deadline armed on entry, later ones re-arm it."""
        if self._attempts:
            self._generation += 1
            self.expired = False
            _WATCHDOG.schedule(time.monotonic() + self.seconds, self, self._generation)
        self._attempts += 1
        self._detach()
        self._connection, self._socket = connection, connection.sock
        setattr(connection, _OWNER, self)

    def sending(self, connection: Any) -> None:
        """`connection` is about to send a request."""
        with _LOCK:
            if getattr(connection, _SHUT, False):  # shut down by a past deadline: connect afresh
                setattr(connection, _SHUT, False)
                connection.close()
            if not (self._connection is connection and self._connected_only):
                self._begin_attempt(connection)
            self._connected_only = False
            self._socket = connection.sock or self._socket

    def connected(self, connection: Any) -> None:
        """`connection` has just connected (inside sending() for http, before it for https)."""
        with _LOCK:
            if self._connection is not connection:
                self._begin_attempt(connection)
                self._connected_only = True
            self._socket = connection.sock
            late = self.expired
        if late:
            connection.close()
            raise TimeoutError("the deadline passed while connecting")

    def watch(self, interrupt: Callable[[], None]) -> None:
        """Call `interrupt` at the deadline (it stops the reads of an answer that came through another adapter
        than DeadlineAdapter, whose connections this deadline does not know)."""
        with _LOCK:
            if self._connection is None and not self._done:
                self._interrupt = interrupt

    def _expire(self, generation: int) -> None:
        with _LOCK:
            if self._done or generation != self._generation:
                return
            self.expired = True
            connection, sock, interrupt = self._connection, self._socket, self._interrupt
            if connection is not None and getattr(connection, _OWNER, None) is not self:
                return  # back in the pool and taken by another exchange
            try:
                if sock is not None:
                    if getattr(connection, "sock", None) is sock:
                        setattr(connection, _SHUT, True)
                    sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv/send in the exchange's thread
                elif interrupt is not None:
                    interrupt()
            except (OSError, ValueError, RuntimeError):  # already closed, or released to the pool
                pass


def _current_deadline() -> Deadline | None:
    return getattr(_current, "deadline", None)


class _DeadlineConnectionMixin:
    """A urllib3 connection that tells the running exchange's Deadline which socket to shut down."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        deadline = _current_deadline()
        if deadline is not None:
            deadline.connected(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = _current_deadline()
        if deadline is not None:
            deadline.sending(self)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _DeadlineHTTPConnection(_DeadlineConnectionMixin, HTTPConnection):
    pass


class _DeadlineHTTPSConnection(_DeadlineConnectionMixin, HTTPSConnection):
    pass


class _DeadlineHTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _DeadlineHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' HTTPAdapter whose connections can be shut down by the running exchange's Deadline."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _DeadlineHTTPPool, "https": _DeadlineHTTPSPool}
