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
