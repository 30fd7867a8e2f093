"""A model server's answer, read within bounds: a limit on its decoded size, within the exchange's Deadline.

`body_reader` reads the body in chunks of at most CHUNK_BYTES *decoded* bytes (urllib3 inflates gzip, deflate,
brotli or zstd a chunk at a time) and refuses it with AnswerTooLargeError once it passes the limit, so memory
stays within the limit plus one chunk whatever the answer inflates to. A declared Content-Length over the limit
of an unencoded answer is refused before reading. The time the exchange may take is client.deadline's.
"""
from __future__ import annotations

import io
import socket
import ssl
from http.client import HTTPException
from typing import Any, Callable

import requests
from urllib3.exceptions import DecodeError, HTTPError, ReadTimeoutError

from client.deadline import Deadline
from client.errors import (AnswerTooLargeError, RequestTimeoutError, ServerUnavailableError, TFServingError,
                           UnexpectedAnswerError)

__all__ = ["MiB", "CHUNK_BYTES", "STATUS_ANSWER_LIMIT", "PREDICT_ANSWER_LIMIT", "body_reader", "connection_reason",
           "describe_bytes", "timeout_error"]

MiB = 1 << 20
CHUNK_BYTES = 64 * 1024
STATUS_ANSWER_LIMIT = 8 * MiB      # status, metadata, label metadata, raw answers
PREDICT_ANSWER_LIMIT = 64 * MiB    # one predict answer (a whole batch)


def describe_bytes(count: int) -> str:
    """'8 MiB' for whole mebibytes, else '1,500 bytes'."""
    return f"{count // MiB} MiB" if count % MiB == 0 else f"{count:,} bytes"


def timeout_error(seconds: float, *, method: str, url: str) -> RequestTimeoutError:
    return RequestTimeoutError(f"no complete answer within {seconds:g} s", method=method, url=url)


# The root causes worth naming when no answer came; anything else is named by its class.
_CONNECTION_CAUSES = ((ConnectionRefusedError, "connection refused"), (ConnectionResetError, "connection reset"),
                      (ConnectionAbortedError, "connection aborted"), (socket.gaierror, "host name not resolved"),
                      (TimeoutError, "connect timed out"), (ssl.SSLCertVerificationError, "TLS certificate not trusted"),
                      (ssl.SSLError, "TLS error"), (OSError, "network error"))


def connection_reason(exc: BaseException) -> str:
    """'connection refused' rather than urllib3's nested repr (pool, retries, object addresses)."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        chain.append(current)
        reason = getattr(current, "reason", None)  # urllib3's wrapped error; ssl's is a str ('CERTIFICATE_...')
        pending += [current.__cause__, current.__context__, *(arg for arg in (reason, *current.args)
                                                             if isinstance(arg, BaseException))]
    for cause, text in _CONNECTION_CAUSES:
        if any(isinstance(error, cause) for error in chain):
            return text
    return type(exc).__name__


def _declared_length(reply: requests.Response) -> int | None:
    """The Content-Length of an answer without a content encoding (its decoded size), else None."""
    if reply.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
        return None
    try:
        return int(reply.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def body_reader(*, limit: int, what: str, deadline: Deadline, method: str,
                url: str) -> Callable[..., None]:
    """A requests response hook (run first) that reads a streamed answer's decoded body into it, within `limit`
    bytes and the deadline; later hooks and reply.json() see the body read.

    Raises AnswerTooLargeError ("the answer from URL is larger than 8 MiB, the limit for WHAT answers; refused"),
    RequestTimeoutError (deadline passed), ServerUnavailableError (the answer broke off) or UnexpectedAnswerError
    (a content encoding that does not decode); the connection is closed then.
    """
    def too_large(reply: requests.Response) -> AnswerTooLargeError:
        return AnswerTooLargeError(f"the answer from {url} is larger than {describe_bytes(limit)}, the limit for "
                                   f"{what} answers; refused", method=method, url=url, status=reply.status_code)

    def read(reply: requests.Response, **_: Any) -> None:
        try:
            declared = _declared_length(reply)
            if declared is not None and declared > limit:
                raise too_large(reply)
            if callable(getattr(reply.raw, "shutdown", None)):
                deadline.watch(reply.raw.shutdown)
            body, size = io.BytesIO(), 0
            while not deadline.expired:
                chunk = reply.raw.read(min(CHUNK_BYTES, limit + 1 - size), decode_content=True)
                if not chunk:
                    break
                body.write(chunk)
                size += len(chunk)
                if size > limit:
                    raise too_large(reply)
            if deadline.expired:  # checked last too: a socket shut down ends a close-delimited body "normally"
                raise timeout_error(deadline.seconds, method=method, url=url)
        except TFServingError:
            reply.close()
            raise
        except ReadTimeoutError as exc:
            reply.close()
            raise timeout_error(deadline.seconds, method=method, url=url) from exc
        except DecodeError as exc:
            reply.close()
            encoding = reply.headers.get("Content-Encoding", "")[:40]
            raise UnexpectedAnswerError(f"the answer's body does not decode as its Content-Encoding {encoding!r}",
                                        method=method, url=url, status=reply.status_code,
                                        foreign_answer=True) from exc
        except (HTTPError, HTTPException, OSError) as exc:
            reply.close()
            if deadline.expired:
                raise timeout_error(deadline.seconds, method=method, url=url) from exc
            raise ServerUnavailableError(f"the answer broke off ({connection_reason(exc)})", method=method, url=url,
                                         status=reply.status_code) from exc
        reply._content = body.getvalue()
        reply._content_consumed = True
        reply.raw.release_conn()  # read to its end: the connection goes back to the pool for the next request

    return read
