"""Issue 12 item 5 on the real embedded server: version 2 is removed from disk mid-run, the server unloads it,
and classify(version=2) still returns a result for every input: the finished ones intact, the rest naming the
cause. A tiny image model (built here with TensorFlow) keeps it fast."""
from __future__ import annotations

import shutil

import pytest
import requests

from client import TFServingClient
from tests.client.conftest import png_bytes
from tests.support import embedded_server, wait_until

pytestmark = pytest.mark.slow

CLASSES = ("cat", "dog", "other")


def build_tiny_classifier(export_dir) -> None:
    """image_bytes [-1] -> probabilities [-1, 3] (one-hot of the byte length mod 3), classes [-1, 3]."""
    import tensorflow as tf

    class Tiny(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")])
        def serve(self, image_bytes):
            index = tf.strings.length(image_bytes) % 3
            count = tf.shape(image_bytes)[0]
            return {"probabilities": tf.one_hot(index, 3),
                    "classes": tf.tile(tf.constant([list(CLASSES)]), [count, 1])}

    module = Tiny()
    tf.saved_model.save(module, str(export_dir), signatures={"serving_default": module.serve})


@pytest.fixture
def tiny_server(tmp_path):
    root = tmp_path / "tiny"
    build_tiny_classifier(root / "1")
    shutil.copytree(root / "1", root / "2")
    with embedded_server(["--model_name=tiny", f"--model_base_path={root}", "--file_system_poll_wait_seconds=0.2"],
                         wait_for_models={"tiny": 1}) as url:
        yield url, root


def version_served(url: str, version: int) -> bool:
    reply = requests.get(f"{url}/v1/models/tiny/versions/{version}", timeout=5)
    return reply.status_code == 200 and reply.json()["model_version_status"][0]["state"] == "AVAILABLE"


def test_version_unloaded_mid_run_keeps_every_finished_result(tiny_server):
    url, root = tiny_server
    assert version_served(url, 2)

    def unload_first():
        # Runs as input 40 is read (concurrency 1: batches 0-4 are answered by then).
        shutil.rmtree(root / "2")
        wait_until(lambda: not version_served(url, 2), timeout=60, what="version 2 to be unloaded")
        return png_bytes((1, 2, 3))

    items = [(f"{i}.png", png_bytes((i, i, i), size=(4 + i % 7, 4))) for i in range(100)]
    items[40] = ("40.png", unload_first)
    with TFServingClient(url, "tiny", timeout=30, retries=0) as tfs:
        results = tfs.classify(items, version=2, batch_size=8, concurrency=1)
    assert [r.source for r in results] == [name for name, _ in items]
    for (name, data), result in zip(items[:40], results[:40]):
        assert (result.ok, result.version) == (True, 2)
        assert result.label == CLASSES[len(data) % 3]  # each finished answer is its own image's
    for result in results[40:]:
        assert (result.error_type, result.version) == ("VersionNotAvailableError", 2)
        assert result.error == (f"{result.source}: not classified: version 2 of model 'tiny' is no longer available "
                                "(unloaded during the run); the server said: Servable not found for request: "
                                "Specific(tiny, 2)")
    # The server moves on to the remaining version; with "latest" policy it loads version 1 only once 2 is
    # gone, which takes a moment on a busy machine.
    wait_until(lambda: version_served(url, 1), timeout=60, what="version 1 to be served")
