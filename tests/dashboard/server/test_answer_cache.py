"""dashboard.server.answer_cache: answers kept for their TTL with their fetch time, evicted when a fetch fails."""
from __future__ import annotations

import threading

import pytest

from client import ServerUnavailableError
from dashboard.server.answer_cache import AnswerCache, describe_age


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counting(values):
    calls = []

    def fetch():
        calls.append(1)
        value = values[len(calls) - 1]
        if isinstance(value, Exception):
            raise value
        return value
    return fetch, calls


def test_a_fresh_answer_is_reused_with_its_fetch_time_and_refetched_after_the_ttl():
    clock = Clock()
    cache = AnswerCache(clock=clock)
    fetch, calls = counting(["first", "second"])
    assert cache.get("k", fetch, ttl=30) == ("first", 1000.0)
    clock.now = 1029.5
    assert cache.get("k", fetch, ttl=30) == ("first", 1000.0)
    assert cache.age("k") == 29.5
    clock.now = 1030.0
    assert cache.get("k", fetch, ttl=30) == ("second", 1030.0)
    assert len(calls) == 2


def test_a_failed_fetch_evicts_the_key_and_raises():
    clock = Clock()
    cache = AnswerCache(clock=clock)
    down = ServerUnavailableError("cannot reach the server", method="GET", url="http://127.0.0.1:9/v1/models/m")
    fetch, calls = counting(["connected", down, "back"])
    assert cache.get("k", fetch, ttl=30)[0] == "connected"
    clock.now += 31
    with pytest.raises(ServerUnavailableError):
        cache.get("k", fetch, ttl=30)
    assert cache.peek("k") is None and cache.age("k") is None  # no stale "connected" left behind
    assert cache.get("k", fetch, ttl=30) == ("back", clock.now)
    assert len(calls) == 3


def test_invalidate_where_forgets_every_answer_of_one_server():
    cache = AnswerCache(clock=Clock())
    for key in [("http://a:8501", "pets"), ("http://a:8501", "other"), ("http://b:8501", "pets")]:
        cache.get(key, lambda key=key: key[1], ttl=60)
    assert cache.invalidate_where(lambda key: key[0] == "http://a:8501") == 2
    assert cache.peek(("http://b:8501", "pets")) == ("pets", 1000.0)
    assert cache.peek(("http://a:8501", "pets")) is None
    assert cache.invalidate(("http://b:8501", "pets")) is True
    assert cache.invalidate(("http://b:8501", "pets")) is False


def test_ttl_zero_always_fetches_and_a_negative_ttl_is_refused():
    cache = AnswerCache(clock=Clock())
    fetch, calls = counting(["a", "b"])
    cache.get("k", fetch, ttl=0)
    assert cache.get("k", fetch, ttl=0)[0] == "b"
    with pytest.raises(ValueError, match="ttl"):
        cache.get("k", fetch, ttl=-1)


def test_the_oldest_entries_go_first_when_full():
    cache = AnswerCache(clock=Clock(), max_entries=2)
    for key in "abc":
        cache.get(key, lambda key=key: key, ttl=60)
    assert cache.peek("a") is None
    assert [cache.peek(key)[0] for key in "bc"] == ["b", "c"]


def test_concurrent_readers_get_one_consistent_answer():
    cache = AnswerCache()
    results = []

    def read():
        results.append(cache.get("k", lambda: object(), ttl=3600)[0])

    cache.get("k", lambda: "warm", ttl=3600)
    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["warm"] * 8


@pytest.mark.parametrize("seconds, text", [(0.2, "answer from just now"), (12.7, "answer from 12 s ago"),
                                           (89, "answer from 89 s ago"), (150, "answer from 2 min ago"),
                                           (2 * 3600, "answer from 2.0 h ago")])
def test_describe_age(seconds, text):
    assert describe_age(seconds) == text


def test_describe_age_refuses_negative_ages():
    with pytest.raises(ValueError, match="negative"):
        describe_age(-1)
