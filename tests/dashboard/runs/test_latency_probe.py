"""Compare's latency measured on its own (dashboard.runs.latency_probe): the probe's order and counts against a fake
TF Serving that records every predict, the record a comparison keeps, and what a cancelled or failed comparison
keeps instead."""
from __future__ import annotations

import base64
import json
import re
import threading

import pandas as pd
import pytest

from client import TFServingClient
from dashboard.runs.latency_probe import (PROBE_IMAGES, PROBE_ROUNDS, LatencyProbe, ProbeTarget, SideProbe,
                                          how_measured, measure, probe_positions)
from dashboard.runs.manager import RunManager
from client.store.database import open_store
from tests.support import fake_metadata, fake_prediction, fake_status, json_response, png_bytes, wait_until

COLOURS = [(200, 10, 10), (10, 200, 10), (10, 10, 200)]


class Recorder:
    """Versions 1 and 2; every predict recorded as (version, image count, first image's bytes)."""

    def __init__(self, fail_version: int | None = None) -> None:
        self.predicts: list[tuple[int, int, bytes]] = []
        self.fail_version = fail_version
        self.lock = threading.Lock()

    def __call__(self, request):
        version = re.search(r"/versions/(\d+)", request.path)
        if request.method == "GET":
            if request.path.endswith("/metadata"):
                return json_response(fake_metadata(version=int(version[1]) if version else 2))
            return json_response(fake_status(1, 2))
        images = [base64.b64decode(i["image_bytes"]["b64"]) for i in json.loads(request.get_data())["instances"]]
        with self.lock:
            self.predicts.append((int(version[1]), len(images), images[0]))
        if self.fail_version is not None and int(version[1]) == self.fail_version:
            return json_response({"error": "model crashed"}, 500)
        return json_response({"predictions": [fake_prediction(image) for image in images]})


@pytest.fixture
def recorder(fake_server):
    model = Recorder()
    return model, fake_server(model)


def images(count: int) -> list[tuple[str, bytes]]:
    return [(f"{i}.png", png_bytes(COLOURS[i % 3], size=(8 + i, 8))) for i in range(count)]


def test_each_side_is_timed_alone_interleaved_on_the_same_images(recorder):
    model, server = recorder
    sent = images(3)
    progress: list[tuple[int, int]] = []
    with TFServingClient(server.url, "pets", retries=0) as a, TFServingClient(server.url, "pets", retries=0) as b:
        probe = measure([ProbeTarget("run-a", a, 1), ProbeTarget("run-b", b, 2)], sent, rounds=2,
                        on_request=lambda done, total: progress.append((done, total)))
    # One untimed request per side, then per round each image to A, then to B: one image per request.
    order = [(version, count) for version, count, _ in model.predicts]
    assert order == [(1, 1), (2, 1)] + [(1, 1), (2, 1)] * 3 * 2
    assert [data for _, _, data in model.predicts[2:]] == [data for _ in range(2) for _, data in sent
                                                           for _ in range(2)]
    assert (probe.rounds, probe.images) == (2, ("0.png", "1.png", "2.png"))
    assert [(s.run_id, len(s.latencies_ms), s.failures, s.requests) for s in probe.sides] == [
        ("run-a", 6, 0, 6), ("run-b", 6, 0, 6)]
    assert all(latency > 0 for side in probe.sides for latency in side.latencies_ms)
    assert progress == [(done, 12) for done in range(1, 13)]


def test_a_side_whose_requests_fail_counts_failures_not_latencies(fake_server):
    model = Recorder(fail_version=2)
    server = fake_server(model)
    with TFServingClient(server.url, "pets", retries=0) as a, TFServingClient(server.url, "pets", retries=0) as b:
        probe = measure([ProbeTarget("a", a, 1), ProbeTarget("b", b, 2)], images(2), rounds=1)
    assert [(len(s.latencies_ms), s.failures) for s in probe.sides] == [(2, 0), (0, 2)]
    assert probe.side("b").images_per_s != probe.side("b").images_per_s   # NaN: nothing was timed


def test_the_figures_and_the_record_round_trip():
    side = SideProbe("r1", (10.0, 20.0, 30.0, 40.0), failures=1)
    assert (side.percentile(50), side.images_per_s, side.requests) == (25.0, 40.0, 5)
    probe = LatencyProbe(8, ("a.jpg", "b.jpg"), (side, SideProbe("r2", (5.0,))))
    assert LatencyProbe.from_json(json.loads(json.dumps(probe.to_json()))) == probe
    assert LatencyProbe.from_json(None) is None and LatencyProbe.from_json({"sides": "nonsense"}) is None
    assert probe.how_text() == how_measured(8, 2, 2) == (
        "Latency measured on its own after the run: 8 rounds of the same 2 image(s), one image per request, one "
        "side at a time (A, B, …), after one untimed request per side; images/s is one image at a time (1,000 / "
        "mean latency in ms).")
    failed = LatencyProbe(8, (), (), error="no image was classified without error by every side")
    assert failed.how_text() == ("Latency could not be measured on its own: no image was classified without error "
                                 "by every side")


def test_the_probe_images_are_the_first_every_side_classified():
    a = pd.DataFrame({"top_class": ["cat", None, "dog", "dog", "cat", "cat"],
                      "error": [None, "bad", None, None, None, None]}, index=[0, 1, 2, 3, 4, 5])
    b = a.assign(top_class=["cat", "dog", None, "cat", "cat", "dog"], error=[None, None, "503", None, None, None])
    assert probe_positions([a, b]) == [0, 3, 4, 5]
    assert probe_positions([a, b], count=2) == [0, 3]


@pytest.mark.slow
def test_a_comparison_keeps_its_probe_and_a_cancelled_one_none(recorder, tmp_path):
    model, server = recorder
    store = open_store(tmp_path / "runs.db")
    manager = RunManager(store, batch_size=4, concurrency=1)
    items = [(name, (lambda data=data: data)) for name, data in images(6)]
    comparison = manager.submit_compare(server.url, "pets", items, [(1, None), (2, None)])
    runs = [comparison.baseline_run_id, *comparison.other_run_ids]
    wait_until(lambda: not any(manager.is_active(r) for r in runs), timeout=60, what="the comparison and its probe")
    probe = LatencyProbe.from_json(store.get_comparison(comparison.id).latency_probe)
    assert probe.rounds == PROBE_ROUNDS and probe.images == tuple(f"{i}.png" for i in range(PROBE_IMAGES))
    assert [(s.run_id, len(s.latencies_ms), s.failures) for s in probe.sides] == [
        (runs[0], PROBE_ROUNDS * PROBE_IMAGES, 0), (runs[1], PROBE_ROUNDS * PROBE_IMAGES, 0)]
    # After the run's requests (a warm-up and batches of 4 + 2 per side, the sides at once), the probe's one
    # image per request, A and B in turn.
    probe_requests = model.predicts[-(2 + 2 * PROBE_ROUNDS * PROBE_IMAGES):]
    assert [(v, n) for v, n, _ in probe_requests] == [(1, 1), (2, 1)] * (1 + PROBE_ROUNDS * PROBE_IMAGES)
    assert manager.probe_progress(comparison.id) is None

    model.predicts.clear()
    cancelled = manager.submit_compare(server.url, "pets", items, [(1, None), (2, None)])
    sides = [cancelled.baseline_run_id, *cancelled.other_run_ids]
    for run_id in sides:
        manager.cancel(run_id)
    wait_until(lambda: not any(manager.is_active(r) for r in sides), timeout=60, what="the cancelled comparison")
    assert store.get_comparison(cancelled.id).latency_probe is None
    single = [version for version, count, _ in model.predicts if count == 1]
    assert len(single) <= 2     # at most the sides' warm-ups: no probe after Cancel
    manager.shutdown()
    store.close()


@pytest.mark.slow
def test_a_comparison_where_a_side_answered_nothing_keeps_the_reason(fake_server, tmp_path):
    server = fake_server(Recorder(fail_version=2))
    store = open_store(tmp_path / "runs.db")
    manager = RunManager(store, batch_size=4, concurrency=1)
    items = [(name, (lambda data=data: data)) for name, data in images(3)]
    comparison = manager.submit_compare(server.url, "pets", items, [(1, None), (2, None)])
    runs = [comparison.baseline_run_id, *comparison.other_run_ids]
    wait_until(lambda: not any(manager.is_active(r) for r in runs), timeout=60, what="the comparison")
    probe = LatencyProbe.from_json(store.get_comparison(comparison.id).latency_probe)
    assert probe.sides == () and probe.error == "no image was classified without error by every side"
    manager.shutdown()
    store.close()
