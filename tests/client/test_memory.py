"""Memory bound: at most batch_size x concurrency loaded images are alive at any moment."""
from __future__ import annotations

import threading
import time

import pytest
from werkzeug.wrappers import Request

from client import TFServingClient
from tests.client.conftest import fake_model_handler, png_bytes

PNG = png_bytes((250, 5, 5))
MARKED = png_bytes((250, 5, 5), marked=True)


class LiveCounter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live = self.peak = self.loaded = 0

    def change(self, delta: int) -> None:
        with self.lock:
            self.live += delta
            self.loaded += delta > 0
            self.peak = max(self.peak, self.live)


class Payload(bytes):
    """Loaded image bytes that count themselves while alive (CPython frees them on the last reference)."""

    counter: LiveCounter

    def __new__(cls, data: bytes, counter: LiveCounter) -> "Payload":
        payload = super().__new__(cls, data)
        payload.counter = counter
        counter.change(+1)
        return payload

    def __del__(self) -> None:
        self.counter.change(-1)


def slow_predict(delay: float):
    handler = fake_model_handler()

    def predict(request: Request):
        time.sleep(delay)  # keeps batches in flight while the caller is still consuming
        return handler(request)
    return predict


@pytest.mark.parametrize("batch_size, concurrency", [(4, 3), (8, 2), (1, 4)])
def test_live_loaded_payloads_never_exceed_batch_size_times_concurrency(fake_server, batch_size, concurrency):
    server = fake_server(fake_model_handler(predict=slow_predict(0.02)))
    counter = LiveCounter()
    n = 60
    inputs = ((f"{i}.png", (lambda i=i: Payload(MARKED if i % 17 == 5 else PNG, counter))) for i in range(n))
    seen = []
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        for result in tfs.iter_classify(inputs, batch_size=batch_size, concurrency=concurrency):
            seen.append(result.source)
            with counter.lock:
                assert counter.live <= batch_size * concurrency
            time.sleep(0.002)  # a slow consumer must not let loading run ahead
    assert seen == [f"{i}.png" for i in range(n)]
    assert counter.loaded == n and counter.live == 0
    assert counter.peak <= batch_size * concurrency
    assert counter.peak >= batch_size  # a whole batch is loaded before it is sent: the counter works


def test_payloads_are_released_when_the_caller_stops_early(fake_server):
    server = fake_server(fake_model_handler())
    counter = LiveCounter()
    inputs = ((f"{i}.png", (lambda: Payload(PNG, counter))) for i in range(1000))
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.iter_classify(inputs, batch_size=5, concurrency=2)
        first = [next(results) for _ in range(7)]
        results.close()
    assert [r.ok for r in first] == [True] * 7
    assert counter.live == 0 and counter.loaded <= 5 * 3  # the window, plus the batch being built
