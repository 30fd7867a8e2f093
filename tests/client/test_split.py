"""run_batch's split-on-400, driven by an in-process `send` (no HTTP) so many batch shapes are cheap."""
from __future__ import annotations

import math
import random

import pytest

from client.batching import RunState, run_batch
from client.errors import (InvalidInputError, ModelNotFoundError, PayloadTooLargeError, ServerUnavailableError,
                           TFServingError, UnexpectedAnswerError, VersionNotAvailableError)
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
    results = run_batch(batch, PLAN, send, RunState("pets", 3))
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
    results = run_batch(items({2}, 4), PLAN, send, RunState("pets", 1))
    assert [r.error_type for r in results] == [None, None, "PayloadTooLargeError", None]


@pytest.mark.parametrize("answer, message", [
    ([], "server answered 0 predictions for 3 instances"),
    ([{"probabilities": [0.5, 0.5]}] * 3, "img{i}: answer lacks the 'classes' output: got outputs ['probabilities']"),
    ([{"probabilities": [0.5, 10 ** 400], "classes": ["a", "b"]}] * 3,
     "img{i}: answer has an unusable output (OverflowError): got outputs ['classes', 'probabilities']"),
    ([{"probabilities": [0.5, 0.5], "classes": ["a", "b"], "extra": [{"b64": 7}]}] * 3,
     "img{i}: answer has an unusable output (TypeError): got outputs ['classes', 'extra', 'probabilities']"),
])
def test_malformed_answers_become_rows_for_that_batch(answer, message):
    results = run_batch(items(set(), 3), PLAN, lambda instances: answer, RunState("pets", 1))
    assert [r.source for r in results] == ["img0", "img1", "img2"]
    assert [(r.error, r.error_type) for r in results] == [
        (message.format(i=i), "UnexpectedAnswerError") for i in range(3)]


@pytest.mark.parametrize("error", [
    ServerUnavailableError("cannot reach the server", method="POST", url=URL),
    TFServingError("unexpected answer: ValueError: unnamed predictions", method="POST", url=URL, status=200),
    UnexpectedAnswerError("unexpected answer: ValueError: columnar outputs of unequal batch sizes: [1, 2]",
                          method="POST", url=URL, status=200),
])
def test_request_failures_become_rows_not_exceptions(error):
    def send(instances):
        raise error
    results = run_batch(items(set(), 2), PLAN, send, RunState("pets", 1))
    assert [(r.source, r.error, r.error_type) for r in results] == [
        (f"img{i}", str(error), type(error).__name__) for i in range(2)]


@pytest.mark.parametrize("error, answered, message", [
    (VersionNotAvailableError("Servable not found for request: Specific(pets, 1)", method="POST", url=URL,
                              status=404), True,
     "not classified: version 1 of model 'pets' is no longer available (unloaded during the run); "
     "the server said: Servable not found for request: Specific(pets, 1)"),
    (ModelNotFoundError("Could not find any versions of model pets", method="POST", url=URL, status=404), False,
     "not classified: model 'pets' is not served; the server said: Could not find any versions of model pets"),
])
def test_a_missing_target_becomes_rows_and_stops_later_batches(error, answered, message):
    def send(instances):
        raise error
    state = RunState("pets", 1)
    state.answered = answered  # an earlier batch was answered: the target went away during the run
    first = run_batch(items(set(), 2), PLAN, send, state)
    assert [(r.source, r.error, r.error_type, r.version) for r in first] == [
        (f"img{i}", f"img{i}: {message}", type(error).__name__, 1) for i in range(2)]
    assert state.gone is error
    loaded = []
    later = run_batch([("late.png", lambda: loaded.append(1) or GOOD)], PLAN, FakeSend(), state)
    assert [(r.source, r.error) for r in later] == [("late.png", f"late.png: {message}")]
    assert loaded == []  # not even read: nothing would be sent


def test_a_version_gone_mid_split_answers_the_rest_without_sending():
    """A 400 splits the batch; the version disappears before the second half is sent."""
    calls = []

    def send(instances):
        calls.append(len(instances))
        if len(calls) == 1:
            raise InvalidInputError("Invalid argument: bad instance", method="POST", url=URL, status=400)
        if len(calls) == 2:
            return FakeSend()(instances)
        raise VersionNotAvailableError("Servable not found for request: Specific(pets, 2)", method="POST", url=URL,
                                       status=404)
    results = run_batch(items(set(), 8), PLAN, send, RunState("pets", 2))
    assert calls == [8, 4, 4]
    assert [r.ok for r in results] == [True] * 4 + [False] * 4
    assert {r.error_type for r in results[4:]} == {"VersionNotAvailableError"}
    assert all("version 2 of model 'pets' is no longer available (unloaded during the run)" in r.error
               for r in results[4:])


def test_any_exception_while_preparing_one_item_costs_only_that_item():
    class Weird(Exception):
        pass

    def explode():
        raise Weird("decoder blew up")
    batch = [("a", lambda: GOOD), ("b", explode), ("c", lambda: "text, not bytes"), ("d", lambda: GOOD)]
    results = run_batch(batch, PLAN, FakeSend(), RunState("pets", 1))
    assert [(r.source, r.ok, r.error_type) for r in results] == [
        ("a", True, None), ("b", False, "Weird"), ("c", False, "ImageError"), ("d", True, None)]
    assert results[1].error == "b: decoder blew up"
    assert results[2].error == "c: expected bytes, got str (open files in binary mode)"
