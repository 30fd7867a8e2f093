"""run_batch's split-on-400, driven by an in-process `send` (no HTTP) so many batch shapes are cheap."""
from __future__ import annotations

import math
import random

import pytest

from client.batching import run_batch
from client.errors import (InvalidInputError, ModelNotFoundError, PayloadTooLargeError, ServerUnavailableError,
                           TFServingError)
from client.plan import ClassifyPlan
from client.protocol import SignatureSpec, TensorSpec
from tests.client.conftest import BAD_MARK, png_bytes

URL = "http://fake/v1/models/pets/versions/3:predict"
PLAN = ClassifyPlan.from_signature(SignatureSpec(
    "serving_default", "tensorflow/serving/predict",
    inputs={"image_bytes": TensorSpec("image_bytes", "DT_STRING", (-1,))},
    outputs={"probabilities": TensorSpec("probabilities", "DT_FLOAT", (-1, 2)),
             "classes": TensorSpec("classes", "DT_STRING", (-1, 2))}))
GOOD, BAD = png_bytes((9, 9, 9)), png_bytes((9, 9, 9), marked=True)


class FakeSend:
    """Answers 400 for any batch holding a marked image (like TF Serving), else one row per instance
    tagged with the end of that instance's bytes (to check answers stay aligned with inputs)."""

    def __init__(self, error: type[TFServingError] = InvalidInputError):
        self.requests: list[int] = []
        self.error = error

    def __call__(self, instances):
        self.requests.append(len(instances))
        if any(BAD_MARK.encode() in item["image_bytes"] for item in instances):
            raise self.error("Invalid argument: bad instance", method="POST", url=URL, status=400)
        return [{"probabilities": [0.25, 0.75], "classes": ["a", "b"], "tag": [item["image_bytes"][-12:].hex()]}
                for item in instances]


def items(bad: set[int], n: int):
    # Each image is unique (its size differs) so a misaligned answer would be caught by `tag`.
    return [(f"img{i}", (lambda i=i: png_bytes((9, 9, 9), size=(4 + i, 4), marked=i in bad))) for i in range(n)]


@pytest.mark.parametrize("seed", range(40))
def test_random_batches_isolate_exactly_the_bad_instances(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 33)
    bad = set(rng.sample(range(n), rng.randint(0, min(n, 4)))) if seed % 10 else set(range(n))
    batch = items(bad, n)
    send = FakeSend()
    results = run_batch(batch, PLAN, send, 3)
    assert [r.source for r in results] == [f"img{i}" for i in range(n)]
    assert {r.source for r in results if not r.ok} == {f"img{i}" for i in bad}
    for i, result in enumerate(results):
        if i in bad:
            assert (result.error_type, result.label) == ("InvalidInputError", None)
            assert result.error == f"img{i}: rejected by the server (400): Invalid argument: bad instance"
        else:
            assert (result.label, result.version, result.error) == ("b", 3, None)
            assert result.extras["tag"] == (batch[i][1]()[-12:].hex(),)  # this instance's own answer
    if len(bad) == 1:
        assert len(send.requests) <= 1 + 2 * math.ceil(math.log2(n))
    assert sum(send.requests) >= n - len(bad)


def test_payload_too_large_splits_like_a_400():
    send = FakeSend(error=PayloadTooLargeError)
    results = run_batch(items({2}, 4), PLAN, send, 1)
    assert [r.error_type for r in results] == [None, None, "PayloadTooLargeError", None]


@pytest.mark.parametrize("answer, message", [
    ([], "server answered 0 predictions for 3 instances"),
    ([{"probabilities": [0.5, 0.5]}] * 3, "answer lacks a usable 'classes' output"),
])
def test_malformed_answers_become_rows_for_that_batch(answer, message):
    results = run_batch(items(set(), 3), PLAN, lambda instances: answer, 1)
    assert [r.source for r in results] == ["img0", "img1", "img2"]
    assert all(not r.ok and message in r.error for r in results)


@pytest.mark.parametrize("error", [
    ServerUnavailableError("cannot reach the server", method="POST", url=URL),
    TFServingError("unexpected answer: ValueError: unnamed predictions", method="POST", url=URL, status=200),
    ValueError("columnar outputs of unequal batch sizes: [1, 2]"),
])
def test_request_failures_become_rows_not_exceptions(error):
    def send(instances):
        raise error
    results = run_batch(items(set(), 2), PLAN, send, 1)
    assert [(r.source, r.error, r.error_type) for r in results] == [
        (f"img{i}", str(error), type(error).__name__) for i in range(2)]


def test_model_level_errors_stop_the_batch():
    def send(instances):
        raise ModelNotFoundError("Could not find any versions of model pets", method="POST", url=URL, status=404)
    with pytest.raises(ModelNotFoundError):
        run_batch(items(set(), 2), PLAN, send, 1)


def test_any_exception_while_preparing_one_item_costs_only_that_item():
    class Weird(Exception):
        pass

    def explode():
        raise Weird("decoder blew up")
    batch = [("a", lambda: GOOD), ("b", explode), ("c", lambda: "text, not bytes"), ("d", lambda: GOOD)]
    results = run_batch(batch, PLAN, FakeSend(), 1)
    assert [(r.source, r.ok, r.error_type) for r in results] == [
        ("a", True, None), ("b", False, "Weird"), ("c", False, "ImageError"), ("d", True, None)]
    assert results[1].error == "b: decoder blew up"
    assert results[2].error == "c: expected bytes, got str (open files in binary mode)"
