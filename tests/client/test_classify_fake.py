"""classify() against a fake one-model server: split-on-400, input kinds, order, bounded memory."""
from __future__ import annotations

import io
import math
import threading

import pytest
from werkzeug.wrappers import Request

from client import ModelNotFoundError, SignatureError, TFServingClient
from tests.client.conftest import fake_model_handler, fake_status, json_response, png_bytes

COLOURS = {"cat": (250, 5, 5), "dog": (5, 250, 5), "other": (5, 5, 250)}


def predict_calls(server) -> list[dict]:
    return [body for body in server.bodies if "instances" in body]


def test_one_bad_instance_is_isolated_in_log_requests(fake_server):
    server = fake_server(fake_model_handler(version=4))
    images = [(f"img{i}.png", png_bytes(COLOURS[("cat", "dog", "other")[i % 3]], marked=(i == 37)))
              for i in range(64)]
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.classify(images, batch_size=64, concurrency=1)
    assert [r.source for r in results] == [name for name, _ in images]
    bad = [r for r in results if not r.ok]
    assert [(r.source, r.error_type) for r in bad] == [("img37.png", "InvalidInputError")]
    assert bad[0].error == "img37.png: rejected by the server (400): Invalid argument: marked instance in batch"
    good = [r for r in results if r.ok]
    assert len(good) == 63
    assert all(r.label == ("cat", "dog", "other")[int(r.source[3:-4]) % 3] for r in good)
    assert all(r.version == 4 for r in results)
    requests = len(predict_calls(server))
    assert requests <= 1 + 2 * math.ceil(math.log2(64))  # 13, not 64
    assert requests == 13  # 1 + 2 per halving level: the isolating path is exactly log2(64) deep


def test_three_bad_instances_all_good_ones_answered(fake_server):
    server = fake_server(fake_model_handler())
    marked = {3, 20, 21}
    images = [(f"img{i}.png", png_bytes((200, 10, 10), marked=i in marked)) for i in range(32)]
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.classify(images, batch_size=16, concurrency=2)
    assert {r.source for r in results if not r.ok} == {f"img{i}.png" for i in marked}
    assert sum(r.ok for r in results) == 29
    assert len(predict_calls(server)) < 32


def test_every_input_kind_and_per_file_errors_in_order(fake_server, tmp_path):
    server = fake_server(fake_model_handler(version=2))
    on_disk = tmp_path / "dog.png"
    on_disk.write_bytes(png_bytes(COLOURS["dog"]))
    stream = io.BytesIO(png_bytes(COLOURS["other"]))
    stream.name = "uploads/other.png"
    inputs = [
        str(on_disk),                                    # str path
        tmp_path / "missing.jpg",                        # Path that does not exist
        png_bytes(COLOURS["cat"]),                       # raw bytes
        stream,                                          # file-like with a name
        ("notes.txt", b"plain text, not an image"),      # (name, bytes), not an image
        ("lazy.png", lambda: png_bytes(COLOURS["cat"])),  # (name, loader)
        12345,                                           # unusable item
    ]
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.classify(inputs, batch_size=3, concurrency=2)
    summary = [(r.source, r.label, r.error_type) for r in results]
    assert summary == [
        (str(on_disk), "dog", None),
        (str(tmp_path / "missing.jpg"), None, "FileNotFoundError"),
        ("<bytes #2>", "cat", None),
        ("uploads/other.png", "other", None),
        ("notes.txt", None, "ImageError"),
        ("lazy.png", "cat", None),
        ("<item #6>", None, "TypeError"),
    ]
    assert results[4].error == "notes.txt: not an image (Pillow cannot identify the file format)"
    assert str(tmp_path / "missing.jpg") in results[1].error
    assert results[6].error == "<item #6>: cannot read an image from a int"
    assert results[0].probabilities["dog"] == pytest.approx(250 / 260)
    sent = sum(len(body["instances"]) for body in predict_calls(server))
    assert sent == 4  # bad files never reach the server


def test_on_progress_runs_on_the_calling_thread_once_per_input(fake_server):
    server = fake_server(fake_model_handler())
    seen: list[tuple[str, int, str]] = []
    images = [(f"{i}.png", png_bytes(COLOURS["cat"])) for i in range(10)]
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        tfs.classify(images, batch_size=3, concurrency=3,
                     on_progress=lambda r, done: seen.append((r.source, done, threading.current_thread().name)))
    assert [(s, d) for s, d, _ in seen] == [(f"{i}.png", i + 1) for i in range(10)]
    assert {t for _, _, t in seen} == {threading.current_thread().name}


@pytest.mark.parametrize("count, batch_size, concurrency, workers", [
    (5, 16, 2, False),  # one batch: nothing to overlap, no thread to start and hand over to
    (40, 4, 1, False),  # one batch at a time
    (40, 4, 2, True),   # batches overlap in worker threads
])
def test_images_are_read_in_worker_threads_only_when_batches_overlap(fake_server, count, batch_size, concurrency,
                                                                     workers):
    server = fake_server(fake_model_handler())
    readers = []

    def load():
        readers.append(threading.current_thread().name)
        return png_bytes(COLOURS["cat"])

    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.classify([(f"{i}.png", load) for i in range(count)], batch_size=batch_size,
                               concurrency=concurrency)
    assert [r.source for r in results if r.ok] == [f"{i}.png" for i in range(count)]
    assert len(readers) == count
    if workers:
        assert all(name.startswith("tfs-classify") for name in readers)
    else:
        assert set(readers) == {threading.current_thread().name}


def test_inputs_are_read_lazily_within_the_window(fake_server):
    """At most batch_size x concurrency images are read ahead of what the caller consumed."""
    server = fake_server(fake_model_handler())
    read = []

    def loader(i):
        def load():
            read.append(i)
            return png_bytes(COLOURS["dog"])
        return load

    batch_size, concurrency = 4, 2
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        results = tfs.iter_classify(((f"{i}.png", loader(i)) for i in range(100)),
                                    batch_size=batch_size, concurrency=concurrency)
        first = next(results)
        assert first.source == "0.png"
        assert len(read) <= batch_size * concurrency
        consumed = 1 + sum(1 for _ in zip(range(20), results))
        assert len(read) <= consumed + batch_size * concurrency
        results.close()  # stopping early cancels what was not started


def test_model_level_errors_raise_instead_of_per_file_rows(fake_server):
    server = fake_server(lambda request: json_response(
        {"error": "Could not find any versions of model pets"}, 404))
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        with pytest.raises(ModelNotFoundError):
            tfs.classify([("a.png", png_bytes(COLOURS["cat"]))])


def test_server_failure_during_a_batch_becomes_per_file_rows(fake_server):
    calls = {"n": 0}

    def flaky_predict(request: Request):
        calls["n"] += 1
        return json_response({"error": "Internal: kaput"}, 500)

    server = fake_server(fake_model_handler(predict=flaky_predict))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        results = tfs.classify([(f"{i}.png", png_bytes(COLOURS["cat"])) for i in range(5)], batch_size=5)
    assert [r.error_type for r in results] == ["ServerUnavailableError"] * 5
    assert results[0].error == f"POST {server.url}/v1/models/pets/versions/1:predict -> 500: Internal: kaput"
    assert calls["n"] == 1


def test_labels_argument_for_models_without_a_class_output(fake_server):
    def handler(request: Request):
        if request.path.endswith("/metadata"):
            spec = {"dtype": "DT_FLOAT", "tensor_shape": {"dim": [{"size": "-1"}, {"size": "2"}]}}
            return json_response({"model_spec": {"name": "m", "version": "1"}, "metadata": {"signature_def": {
                "signature_def": {"serving_default": {
                    "inputs": {"image_bytes": {"dtype": "DT_STRING", "tensor_shape": {"dim": [{"size": "-1"}]}}},
                    "outputs": {"scores": spec}, "method_name": "tensorflow/serving/predict"}}}}})
        if request.method == "GET":
            return json_response({"model_version_status": [{"version": "1", "state": "AVAILABLE"}]})
        return json_response({"predictions": [[0.25, 0.75]]})  # single output: TF Serving drops its name

    server = fake_server(handler)
    with TFServingClient(server.url, "m", timeout=5) as tfs:
        with pytest.raises(SignatureError, match=r"no string output of shape \[-1, 2\] names the classes"):
            tfs.classify([("a.png", png_bytes(COLOURS["cat"]))])
        (result,) = tfs.classify([("a.png", png_bytes(COLOURS["cat"]))], labels=["left", "right"])
    assert (result.label, dict(result.probabilities)) == ("right", {"left": 0.25, "right": 0.75})


def test_a_label_is_resolved_through_its_metadata_not_status(fake_server):
    """TF Serving's status API ignores labels (it lists every version), so `stable` must not become
    the highest version: the label's metadata names the version that answers."""
    base = fake_model_handler(version=3)

    def handler(request: Request):
        if request.method == "GET" and request.path == "/v1/models/pets/labels/stable/metadata":
            return base(request)  # fake_model_handler(version=3): model_spec.version = 3
        if request.method == "GET" and "/metadata" not in request.path:
            return json_response(fake_status(3, 7))  # whatever the path, like TF Serving
        return base(request)

    server = fake_server(handler)
    with TFServingClient(server.url, "pets", timeout=5) as tfs:
        assert tfs.resolve_version(label="stable") == 3
        (result,) = tfs.classify([("a.png", png_bytes(COLOURS["dog"]))], label="stable")
        assert tfs.resolve_version() == 7
    assert (result.label, result.version) == ("dog", 3)
    assert [path for method, path in server.calls if method == "POST"] == ["/v1/models/pets/versions/3:predict"]
