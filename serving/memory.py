"""Give freed memory back to the operating system after a large request.

A request body of tens of megabytes passes through a few short-lived buffers (bytes, str, decoded tensor).
glibc keeps freed heap memory, per thread arena, for reuse, so without a trim the server's RSS stays at its
high-water mark for good. `malloc_trim(0)` returns free pages; it is glibc-only and a no-op elsewhere.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading

_lock = threading.Lock()


def _malloc_trim():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


_TRIM = _malloc_trim()


def release_free_memory() -> None:
    if _TRIM is not None and _lock.acquire(blocking=False):  # one trim at a time is enough
        try:
            _TRIM(0)
        finally:
            _lock.release()
