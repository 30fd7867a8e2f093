"""A failed model run must not keep the request's tensors alive (reference cycles through the stored exception
would hold, say, 50 MB per failed request until a GC pass). Checked with GC off and a weak reference."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from serving.app import AppOptions, ServingApp
from serving.batching_config import BatchingOptions
from serving.errors import InvalidArgument
from serving.repository import ModelRepository
from tests.support import wait_until


class FailingServable:
    version = 1

    def run(self, signature_name, inputs):
        big = inputs["x"]  # a local in the failing frame, as TensorFlow's own frames have
        raise InvalidArgument(f"refused {big.shape}")


@pytest.mark.parametrize("options", [AppOptions(timeout_seconds=30), AppOptions(timeout_seconds=None),
                                     AppOptions(batching=BatchingOptions(num_batch_threads=1))],
                         ids=["thread pool with deadline", "no deadline", "batching"])
def test_a_failed_run_frees_the_request_tensors_without_a_gc_pass(options):
    app = ServingApp(ModelRepository(), options)
    gc.disable()
    try:
        inputs = {"x": np.zeros([4, 1000], np.float32)}
        alive = weakref.ref(inputs["x"])
        with pytest.raises(InvalidArgument, match=r"^refused \(4, 1000\)$"):
            app._run(FailingServable(), "serving_default", inputs)
        del inputs
        # (The batch thread lets go of its batch just after handing the result over: wait for that, GC still off.)
        wait_until(lambda: alive() is None, timeout=5, interval=0.01, what="the request tensors to be freed")
    finally:
        gc.enable()
        app.close()


def test_glibc_takes_the_large_buffer_settings_and_other_libcs_are_left_alone(monkeypatch):
    """Both mallopt calls are accepted (mallopt answers 0 for a value it refuses), in a fresh process as `python -m
    serving` makes them; without mallopt (not glibc) nothing is changed. Their effect on the gRPC API is a figure:
    benchmarks/grpc_transfer.py."""
    import platform
    import subprocess
    import sys

    from serving import memory
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt's parameters are glibc's")
    code = "from serving.memory import reuse_large_buffers; print(reuse_large_buffers())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "True", done.stderr
    monkeypatch.setattr(memory, "_mallopt", lambda: None)
    assert memory.reuse_large_buffers() is False
