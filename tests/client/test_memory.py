"""Memory bound: at most batch_size x concurrency loaded images are alive at any moment, ZIP members included."""
from __future__ import annotations

import io
import threading
import time
import tracemalloc
import zipfile

import pytest
from werkzeug.wrappers import Request

from client import TFServingClient
from client.sources import expand_uploads
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


MEMBER_BYTES = 49 * 1024 * 1024


def zeros_zip(members: int) -> bytes:
    """`members` × 49 MiB of zeros named .png, deflated to about 50 KB each (a ~2 MB ZIP for 40)."""
    chunk = bytes(1024 * 1024)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(members):
            with zf.open(f"big/{i:02d}.png", "w") as handle:
                for _ in range(MEMBER_BYTES // len(chunk)):
                    handle.write(chunk)
    return buffer.getvalue()


@pytest.mark.slow
def test_an_upload_zip_of_forty_49_mib_members_is_inflated_one_loader_at_a_time(fake_server):
    archive = zeros_zip(40)
    assert len(archive) < 2_100_000
    server = fake_server(fake_model_handler())
    tracemalloc.start()
    try:
        items = list(expand_uploads([("bomb.zip", archive)]))
        listing_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with TFServingClient(server.url, "pets", timeout=5) as tfs:
            results = list(tfs.iter_classify(items, batch_size=2, concurrency=1))
        classify_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r.source for r in results] == [f"bomb.zip/big/{i:02d}.png" for i in range(40)]
    assert {r.error_type for r in results} == {"ImageError"}  # every member was inflated and looked at
    assert listing_peak < 1024 * 1024  # the central directory only, not one member
    # A batch of 2 (the previous member still referenced while the next inflates, plus zipfile's
    # chunk list joined into one bytes): far below the 40 members (1.9 GiB) an eager expander holds.
    assert classify_peak < 5 * MEMBER_BYTES, f"peak {classify_peak / 2**20:.0f} MiB"
    assert server.bodies == []  # nothing that is not an image is sent
