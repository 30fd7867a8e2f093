"""RunManager against a fake TF Serving on a free port, storing into a temporary SQLite file."""
from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import threading
from typing import Iterator

import pytest
from PIL import Image

from client import ServerUnavailableError, TFServingClient
from dashboard.runs.manager import RetryUnavailable, RunManager
from dashboard.runs.thumbnail_jpeg import thumbnail_jpeg
from dashboard.server.signatures import signature_digest
from client.store.database import open_store
from tests.support import ROOT, png_bytes, wait_until

try:  # the fake server moved from tests/client/conftest.py to tests/support.py
    from tests.support import BAD_MARK, FakeServer, fake_metadata, fake_prediction, fake_status, json_response
except ImportError:
    from tests.client.conftest import BAD_MARK, FakeServer, fake_metadata, fake_prediction, fake_status, json_response

FINAL = ("complete", "cancelled", "interrupted", "failed")
COLOURS = [(200, 10, 10), (10, 200, 10), (10, 10, 200)]  # cat, dog, other for the fake model


def png(colour, *, marked=False, size=(160, 120)) -> bytes:
    """Larger than support.png_bytes' default: the thumbnails must be scaled down."""
    return png_bytes(colour, size=size, marked=marked)


def items_of(images: list[bytes]) -> list[tuple[str, object]]:
    return [(f"batch.zip/{i}.png", (lambda data=data: data)) for i, data in enumerate(images)]


class FakeModel:
    """Versions 1 and 2, labels that can move, a gate to hold predict requests, and a switch that rejects
    batches holding a marked PNG (as TF Serving 400s a whole batch for one bad instance)."""

    def __init__(self) -> None:
        self.labels = {"stable": 1}
        self.reject_marked = True
        self.model_gone = False
        self.gate: threading.Semaphore | None = None
        self.predicts: list[list[bytes]] = []
        self.lock = threading.Lock()

    def __call__(self, request):
        path = request.path
        if request.method == "GET":
            label = re.search(r"/labels/([^/]+)/metadata$", path)
            if label:
                if label[1] not in self.labels:
                    return json_response({"error": f"Unrecognized servable version label: {label[1]}"}, 400)
                return json_response(fake_metadata(version=self.labels[label[1]]))
            version = re.search(r"/versions/(\d+)/metadata$", path)
            if version or path.endswith("/metadata"):
                return json_response(fake_metadata(version=int(version[1]) if version else 2))
            return json_response(fake_status(1, 2))
        images = [base64.b64decode(i["image_bytes"]["b64"]) for i in json.loads(request.get_data())["instances"]]
        with self.lock:
            self.predicts.append(images)
        if self.gate is not None:
            self.gate.acquire(timeout=60)
        if self.model_gone:
            return json_response({"error": "Servable not found for request: Specific(pets, 1)"}, 404)
        if self.reject_marked and any(BAD_MARK.encode() in image for image in images):
            return json_response({"error": "Invalid argument: marked instance in batch"}, 400)
        return json_response({"predictions": [fake_prediction(image) for image in images]})


@pytest.fixture
def fake() -> Iterator[tuple[FakeModel, FakeServer]]:
    model = FakeModel()
    server = FakeServer(model)
    server.start()
    yield model, server
    if model.gate is not None:
        model.gate.release(1000)
    server.stop()


@pytest.fixture
def store(tmp_path):
    opened = open_store(tmp_path / "runs.db")
    yield opened
    opened.close()


def make_manager(store, **options) -> RunManager:
    options.setdefault("batch_size", 2)
    options.setdefault("concurrency", 1)
    return RunManager(store, **options)


def wait_final(manager: RunManager, run_id: str):
    wait_until(lambda: manager.progress(run_id).status in FINAL and not manager.is_active(run_id), timeout=60,
               what=f"run {run_id} to finish")
    return manager.progress(run_id)


@pytest.mark.slow
def test_a_run_stores_every_row_with_thumbnails_truth_and_labels(fake, any_store):
    store = any_store
    _, server = fake
    manager = make_manager(store, batch_size=4)
    images = [png(COLOURS[i % 3]) for i in range(9)]
    def broken() -> bytes:
        raise OSError("batch.zip/broken.png: bad")

    items = items_of(images) + [("batch.zip/broken.png", broken)]
    truth = {"batch.zip/0.png": "cat", "batch.zip/1.png": "cat"}
    run_id = manager.submit_classify(server.url, "pets", items, label="stable", truth=truth, session_id="s1",
                                     probe_labels=("stable", "nope"))
    progress = wait_final(manager, run_id)
    assert (progress.status, progress.total, progress.done, progress.errors) == ("complete", 10, 10, 1)
    assert progress.outcome == "complete: 9 of 10 image(s) classified, 1 failed" and progress.eta_s is None
    run = store.get_run(run_id)
    assert (run.version, run.target, dict(run.labels_at_start), dict(run.labels_at_end)) == (
        1, "label:stable", {"stable": 1}, {"stable": 1})
    assert run.class_names == ("cat", "dog", "other")
    with TFServingClient(server.url, "pets") as client:   # the digest Compare and the report show for it
        _, plan = client.plan(version=1)
        assert run.signature_digest == signature_digest(client.metadata(version=1).signature(plan.signature_name))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", run.signature_digest)
    rows = store.run_rows(run_id)
    assert list(rows["top_class"][:3]) == ["cat", "dog", "other"]
    assert manager.wait_thumbnails(run_id, 30)   # stored after the rows when not made in time for them
    assert [bool(v) for v in rows["correct"][:2]] == [True, False] and rows["correct"][2:].isna().all()
    assert rows.loc[9, "error"] == "batch.zip/broken.png: bad"
    thumbnails = store.run_thumbnails(run_id)
    assert sorted(thumbnails) == list(range(9))
    assert Image.open(io.BytesIO(thumbnails[0])).size == (96, 72)
    manager.release(run_id, "the page released it")  # its failed row was held for a retry until now
    with pytest.raises(RetryUnavailable, match=r"files of run \w+ are no longer held \(the page released it\)"):
        manager.retry_failed(run_id)


def test_the_server_losing_the_model_mid_run_is_counted_honestly(fake, store):
    model, server = fake
    manager = make_manager(store)
    model.gate = threading.Semaphore(2)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 10), version=1)
    wait_until(lambda: store.get_run(run_id).done == 4, timeout=30, what="two batches stored")
    model.model_gone = True  # the request now waiting at the gate, and every later one, gets a 404
    model.gate.release(100)
    progress = wait_final(manager, run_id)
    assert (progress.status, progress.done, progress.errors) == ("complete", 10, 6)
    assert progress.outcome == "complete: 4 of 10 image(s) classified, 6 failed"


class FailingClient(TFServingClient):
    """The real client, raising after `after` results (as a crash in the client would)."""
    after = 4

    def iter_classify(self, images, **options):
        for count, result in enumerate(super().iter_classify(images, **options)):
            if count == self.after:
                raise ServerUnavailableError("connection reset mid-batch", method="POST", url=self.base_url)
            yield result


def test_the_client_failing_after_n_rows_leaves_n_rows_and_an_interrupted_run(fake, store):
    _, server = fake
    manager = make_manager(store, client_factory=lambda url, model: FailingClient(url, model, retries=0))
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[1])] * 10))
    progress = wait_final(manager, run_id)
    assert (progress.status, progress.done, progress.total, progress.errors) == ("interrupted", 4, 10, 0)
    assert progress.error == f"ServerUnavailableError: POST {server.url}: connection reset mid-batch"
    assert progress.outcome.startswith("interrupted with 4 of 10 done: 4 of 10 image(s) classified, 6 not run")
    assert list(store.run_rows(run_id).index) == [0, 1, 2, 3]


def test_cancel_keeps_the_finished_rows(fake, store):
    model, server = fake
    model.gate = threading.Semaphore(2)
    manager = make_manager(store)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[2])] * 10))
    wait_until(lambda: store.get_run(run_id).done == 4, timeout=30, what="two batches stored")
    assert manager.cancel(run_id) is True
    model.gate.release(100)
    progress = wait_final(manager, run_id)
    assert (progress.status, progress.done, progress.errors) == ("cancelled", 4, 0)
    assert progress.outcome == "cancelled with 4 of 10 done: 4 of 10 image(s) classified, 6 not run"
    assert list(store.run_rows(run_id)["top_class"]) == ["other"] * 4
    assert manager.cancel(run_id) is False


def test_retry_resends_only_the_failed_rows(fake, any_store):
    store = any_store
    model, server = fake
    manager = make_manager(store, batch_size=4)
    images = [png(COLOURS[i % 3], marked=i in (1, 5, 6)) for i in range(10)]
    run_id = manager.submit_classify(server.url, "pets", items_of(images))
    first = wait_final(manager, run_id)
    assert (first.status, first.done, first.errors) == ("complete", 10, 3)
    assert store.failed_positions(run_id) == [1, 5, 6]
    model.reject_marked = False  # "the server came back"
    sent_before = len(model.predicts)
    assert manager.retry_failed(run_id) == 3
    again = wait_final(manager, run_id)
    assert (again.status, again.done, again.errors) == ("complete", 10, 0)
    resent = [image for batch in model.predicts[sent_before:] for image in batch]
    assert sorted(resent) == sorted(images[i] for i in (1, 5, 6))
    assert list(store.run_rows(run_id)["top_class"]) == ["cat", "dog", "other"] * 3 + ["cat"]
    with pytest.raises(RetryUnavailable, match="no longer held .*without failed rows"):
        manager.retry_failed(run_id)


def test_runs_beyond_the_bound_wait_visibly_in_the_queue(fake, store):
    model, server = fake
    model.gate = threading.Semaphore(0)
    manager = make_manager(store, max_runs=1)
    first = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 4))
    second = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[1])] * 4))
    wait_until(lambda: manager.progress(first).status == "running" and model.predicts, timeout=30,
               what="the first run to send")
    assert manager.progress(second).status == "queued" and store.get_run(second).status == "queued"
    model.gate.release(100)
    assert wait_final(manager, first).status == "complete"
    assert wait_final(manager, second).status == "complete"


def test_progress_numbers_while_running_and_after(fake, store):
    model, server = fake
    model.gate = threading.Semaphore(1)
    manager = make_manager(store)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 6))
    wait_until(lambda: store.get_run(run_id).done == 2, timeout=30, what="one batch stored")
    running = manager.progress(run_id)
    assert (running.status, running.total, running.done, running.errors) == ("running", 6, 2, 0)
    assert running.images_per_s > 0 and running.eta_s == pytest.approx(4 / running.images_per_s)
    assert running.outcome == "running: 2 of 6 image(s) classified so far"
    model.gate.release(100)
    done = wait_final(manager, run_id)
    assert (done.done, done.eta_s) == (6, None) and done.images_per_s > 0


@pytest.mark.slow
def test_compare_runs_each_target_with_a_warm_up_and_records_labels_both_times(fake, store):
    model, server = fake
    manager = make_manager(store, batch_size=4)
    images = [png(COLOURS[i % 3]) for i in range(6)]
    comparison = manager.submit_compare(server.url, "pets", items_of(images), [(1, None), (None, "stable")],
                                        probe_labels=("stable",))
    runs = [comparison.baseline_run_id, *comparison.other_run_ids]
    for run_id in runs:
        assert wait_final(manager, run_id).status == "complete"
    stored = [store.get_run(run_id) for run_id in runs]
    assert [(r.kind, r.target, r.version, r.done) for r in stored] == [("compare", "version:1", 1, 6),
                                                                      ("compare", "label:stable", 1, 6)]
    assert all(dict(r.labels_at_start) == {"stable": 1} for r in stored)
    # Per side: one warm-up, then two batches of 4 + 2; after the run, the latency probe: per side one untimed
    # request and 8 rounds of 4 images, one image per request (dashboard.runs.latency_probe).
    assert len(model.predicts) == 2 * (1 + 2) + 2 * (1 + 8 * 4)
    assert manager.wait_thumbnails(runs[0], 30) and not manager.thumbnails_pending(runs[1])
    assert store.run_thumbnails(runs[0]) and not store.run_thumbnails(runs[1])
    assert store.get_comparison(comparison.id).other_run_ids == (runs[1],)


def test_a_label_moved_during_a_run_is_recorded_at_the_end(fake, store):
    model, server = fake
    model.gate = threading.Semaphore(1)
    manager = make_manager(store)
    run_id = manager.submit_classify(server.url, "pets", items_of([png(COLOURS[0])] * 4), label="stable")
    wait_until(lambda: store.get_run(run_id).done == 2, timeout=30, what="one batch stored")
    model.labels["stable"] = 2
    model.gate.release(100)
    wait_final(manager, run_id)
    run = store.get_run(run_id)
    assert (dict(run.labels_at_start), dict(run.labels_at_end), run.version) == ({"stable": 1}, {"stable": 2}, 1)


CRASHING_CHILD = """
import os, sys
from dashboard.runs.manager import RunManager
from client.store.database import open_store
from tests.support import wait_until
from tests.dashboard.runs.test_runner import COLOURS, items_of, png
manager = RunManager(open_store(sys.argv[1]), max_runs=1, batch_size=2, concurrency=1)
run_id = manager.submit_classify(sys.argv[2], "pets", items_of([png(COLOURS[0])] * 10))
wait_until(lambda: manager.store.get_run(run_id).done >= 4, timeout=60, what="4 rows")
print(run_id, flush=True)
os._exit(9)  # the app dies mid-run: no cleanup, no final status
"""


@pytest.mark.slow
def test_a_crashed_app_leaves_its_rows_and_the_next_start_marks_the_run_interrupted(fake, tmp_path):
    model, server = fake
    model.gate = threading.Semaphore(2)
    path = tmp_path / "runs.db"
    child = subprocess.run([sys.executable, "-c", CRASHING_CHILD, str(path), server.url],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr[-2000:]
    run_id = child.stdout.strip()
    manager = RunManager(open_store(path))
    assert [r.id for r in manager.interrupted_at_start] == [run_id]
    run = manager.store.get_run(run_id)
    assert (run.status, run.done, run.total, run.error) == ("interrupted", 4, 10, "the app stopped with 4 of 10 done")


def test_thumbnails_decode_big_jpegs_at_reduced_scale_and_skip_huge_pngs(pillow_loads):
    out = io.BytesIO()
    Image.new("RGB", (6000, 4000), (0, 120, 0)).save(out, format="JPEG")
    thumbnail = thumbnail_jpeg(out.getvalue())
    assert Image.open(io.BytesIO(thumbnail)).size == (96, 64)
    # Decoded at 1/8 scale, never at 6000x4000. (pillow_loads sees every thread: a thumbnail pool another test
    # left behind may decode its own small images meanwhile, so the sizes are looked for, not the list compared.)
    assert (750, 500) in pillow_loads and (6000, 4000) not in pillow_loads
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, format="PNG")
    assert thumbnail_jpeg(out.getvalue()) is None and (12000, 12000) not in pillow_loads
    assert thumbnail_jpeg(b"\xff\xd8\xff not a jpeg") is None and thumbnail_jpeg(b"") is None
