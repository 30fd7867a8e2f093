"""Give freed memory back to the operating system after a large request, and reuse it across large messages.

A request body of tens of megabytes passes through a few short-lived buffers (bytes, str, decoded tensor).
glibc keeps freed heap memory, per thread arena, for reuse, so without a trim the server's RSS stays at its
high-water mark for good. `malloc_trim(0)` returns free pages; it is glibc-only and a no-op elsewhere.

The gRPC API's messages are the opposite case: a batch of pixels is megabytes that arrive, are copied a few times
and freed on every call. By default glibc maps each buffer past its mmap threshold afresh and unmaps it when freed,
and trims its heaps past 128 KiB of free top, so every call pays page faults for every byte of every copy.
`reuse_large_buffers()` raises both thresholds (mallopt, glibc only) so those buffers come from, and go back to, the
heap; the memory kept is bounded by the trim threshold per arena.
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

# mallopt parameters (malloc.h) and the values reuse_large_buffers sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20   # a 16-image 224 px batch (9.6 MB) fits; glibc's DEFAULT_MMAP_THRESHOLD_MAX
TRIM_THRESHOLD_BYTES = 64 << 20   # free heap top kept per arena before it is returned


def _mallopt():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return None


def reuse_large_buffers() -> bool:
    """Serve buffers up to MMAP_THRESHOLD_BYTES from malloc's heap and keep up to TRIM_THRESHOLD_BYTES of it free
    per arena, process-wide. True when glibc took both settings; False elsewhere (nothing changes)."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mapped = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)  # mallopt answers 1 when it took the value
    trimmed = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    return mapped == 1 and trimmed == 1


def release_free_memory() -> None:
    if _TRIM is not None and _lock.acquire(blocking=False):  # one trim at a time is enough
        try:
            _TRIM(0)
        finally:
            _lock.release()
