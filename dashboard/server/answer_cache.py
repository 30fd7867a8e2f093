"""Cached server answers that know their age, and forget themselves when the server stops answering.

Streamlit's st.cache_data keeps a good answer for its whole TTL even after a request to the same server failed,
so a page can say "Connected" for 30 s after the server died. Here a fetch that raises evicts its key (the next
caller asks again instead of reading the stale answer), any other failure seen elsewhere can evict by predicate,
and every hit says when it was fetched so the page can show "answer from 12 s ago". No streamlit here: the page
keeps one AnswerCache per process (st.cache_resource) and shows `describe_age(...)`.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

__all__ = ["AnswerCache", "describe_age"]

T = TypeVar("T")
Clock = Callable[[], float]


class AnswerCache(Generic[T]):
    """key -> (value, fetched_at); thread-safe. `clock` is wall time in seconds (time.time), injectable for tests."""

    def __init__(self, *, clock: Clock = time.time, max_entries: int = 256) -> None:
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[Hashable, tuple[T, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, fetch: Callable[[], T], ttl: float) -> tuple[T, float]:
        """The cached value and when it was fetched, or a fresh one from `fetch()` when missing or older than
        `ttl` seconds. When `fetch` raises, the key is evicted and the exception propagates."""
        if ttl < 0:
            raise ValueError(f"ttl must be >= 0 seconds, got {ttl}")
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None and now - cached[1] < ttl:
            return cached
        try:
            value = fetch()
        except BaseException:
            self.invalidate(key)
            raise
        fetched_at = self._clock()
        with self._lock:
            self._entries.pop(key, None)  # re-inserted last: the oldest entries are dropped first
            self._entries[key] = (value, fetched_at)
            while len(self._entries) > self._max_entries:
                self._entries.pop(next(iter(self._entries)))
        return value, fetched_at

    def peek(self, key: Hashable) -> tuple[T, float] | None:
        """What is cached for `key`, however old, without fetching."""
        with self._lock:
            return self._entries.get(key)

    def invalidate(self, key: Hashable) -> bool:
        with self._lock:
            return self._entries.pop(key, None) is not None

    def invalidate_where(self, predicate: Callable[[Hashable], bool]) -> int:
        """Evict every key for which `predicate(key)` holds (e.g. every answer of a server that just failed)."""
        with self._lock:
            doomed = [key for key in self._entries if predicate(key)]
            for key in doomed:
                del self._entries[key]
        return len(doomed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def age(self, key: Hashable) -> float | None:
        """Seconds since `key` was fetched, or None when it is not cached."""
        cached = self.peek(key)
        return None if cached is None else max(0.0, self._clock() - cached[1])


def describe_age(seconds: float) -> str:
    """'answer from 12 s ago' (just now, seconds, minutes, hours)."""
    if seconds < 0:
        raise ValueError(f"an age cannot be negative ({seconds})")
    if seconds < 1:
        return "answer from just now"
    if seconds < 90:
        return f"answer from {int(seconds)} s ago"
    if seconds < 90 * 60:
        return f"answer from {int(round(seconds / 60))} min ago"
    return f"answer from {seconds / 3600:.1f} h ago"
