"""Let this process reuse malloc's heap for large short-lived buffers (glibc only).

Preparing pixels makes a few arrays per image past glibc's mmap threshold (a 224×224×3 float32 image is 588 KiB):
by default each is mapped afresh and unmapped when freed, and the heap is trimmed past 128 KiB of free top, so every
image pays page faults for every byte of every intermediate array (resize, scaling, the request's bytes). Raising
both thresholds makes those buffers come from, and go back to, the heap (figures: docs/performance.md). The memory
kept is bounded by the trim threshold per malloc arena.

A library does not change its host process's allocator unasked: `python -m client` and the dashboard call
`reuse_large_buffers()` at start; a program using TFServingClient may call it too. (`python -m serving` makes the
same two settings for its gRPC messages, in serving/memory.py: client/ and serving/ share no code.)
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Callable

__all__ = ["reuse_large_buffers", "MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES"]

# mallopt parameters (malloc.h) and the values set.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 << 20   # glibc's DEFAULT_MMAP_THRESHOLD_MAX: a 16-image 224 px batch (9.6 MB) fits
TRIM_THRESHOLD_BYTES = 64 << 20   # free heap top kept per arena before it is returned


def _mallopt() -> Callable[[int, int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # no C library by that name, or one without mallopt (not glibc)
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
