"""Request batching: the scheduler on its own (a recording servable), then a real server with --enable_batching."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from serving.batching import Batcher, Unavailable
from serving.batching_config import BatchingOptions, parse_batching_parameters
from serving.config import ConfigError
from serving.errors import InvalidArgument
from tests.support import embedded_server


class RecordingServable:
    """y = 2·x; refuses negative inputs (a "bad request"); records the batch size of every run."""

    def __init__(self):
        self.runs: list[tuple[int, ...]] = []
        self.lock = threading.Lock()

    def run(self, signature_name, inputs):
        x = inputs["x"]
        with self.lock:
            self.runs.append(x.shape)
        if (x < 0).any():
            raise InvalidArgument("x must not be negative")
        return {"y": x * 2, "n": np.full([len(x)], len(x))}


def batcher(**options) -> Batcher:
    # A long timeout and one thread: everything submitted below lands in one batch.
    return Batcher(BatchingOptions(**{"batch_timeout_micros": 300_000, "num_batch_threads": 1, **options}))


def rows(*values: float) -> dict:
    return {"x": np.array([[v] for v in values], np.float32)}


def test_concurrent_tasks_merge_into_one_run_and_split_back_in_order():
    servable, scheduler = RecordingServable(), batcher(max_batch_size=8)
    futures = [scheduler.submit(servable, "serving_default", rows(i, i + 0.5)) for i in range(3)]
    results = [f.result(timeout=10) for f in futures]
    scheduler.close()
    assert servable.runs == [(6, 1)]
    assert [r["y"][:, 0].tolist() for r in results] == [[0, 1], [2, 3], [4, 5]]
    assert [r["n"].tolist() for r in results] == [[6, 6]] * 3  # each sees the merged run's outputs, its own rows


def test_a_bad_request_fails_alone():
    servable, scheduler = RecordingServable(), batcher(max_batch_size=8)
    futures = [scheduler.submit(servable, "serving_default", rows(v)) for v in (1, -1, 3)]
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=10)["y"].tolist())
        except InvalidArgument as exc:
            outcomes.append(exc.message)
    scheduler.close()
    assert outcomes == [[[2.0]], "x must not be negative", [[6.0]]]
    assert servable.runs == [(3, 1), (1, 1), (1, 1), (1, 1)]  # merged try, then one by one


def test_allowed_batch_sizes_pad_the_merged_batch_and_full_batches_go_at_once():
    servable, scheduler = RecordingServable(), batcher(max_batch_size=4, allowed_batch_sizes=(2, 4))
    futures = [scheduler.submit(servable, "s", rows(v)) for v in (1, 2, 3)]
    assert [f.result(timeout=10)["y"].tolist() for f in futures] == [[[2.0]], [[4.0]], [[6.0]]]
    assert servable.runs == [(4, 1)]  # 3 rows padded to the allowed size 4
    scheduler.close()


def test_different_shapes_or_signatures_never_share_a_batch_unless_padding():
    servable, scheduler = RecordingServable(), batcher(max_batch_size=8)
    futures = [scheduler.submit(servable, "a", {"x": np.ones([1, 2], np.float32)}),
               scheduler.submit(servable, "a", {"x": np.ones([1, 3], np.float32)}),
               scheduler.submit(servable, "b", {"x": np.ones([1, 2], np.float32)})]
    [f.result(timeout=10) for f in futures]
    scheduler.close()
    assert sorted(servable.runs) == [(1, 2), (1, 2), (1, 3)]
    servable, scheduler = RecordingServable(), batcher(max_batch_size=8, pad_variable_length_inputs=True)
    futures = [scheduler.submit(servable, "a", {"x": np.array([[1, 2]], np.float32)}),
               scheduler.submit(servable, "a", {"x": np.array([[3, 4, 5]], np.float32)})]
    assert [f.result(timeout=10)["y"].tolist() for f in futures] == [[[2, 4, 2]], [[6, 8, 10]]]
    scheduler.close()
    assert servable.runs == [(2, 3)]


def test_oversized_tasks_and_a_full_queue_are_refused():
    servable, scheduler = RecordingServable(), batcher(max_batch_size=2, max_enqueued_batches=1)
    with pytest.raises(InvalidArgument, match="^Task size 3 is larger than maximum input batch size 2$"):
        scheduler.submit(servable, "s", rows(1, 2, 3))
    scheduler.submit(servable, "s", rows(1))
    scheduler.submit(servable, "s", rows(2))
    with pytest.raises(Unavailable, match="^The batch scheduling queue to which this task was submitted is full$"):
        scheduler.submit(servable, "s", rows(3))
    scheduler.close()


def test_batching_parameters_text_proto():
    options = parse_batching_parameters(
        "max_batch_size { value: 32 } batch_timeout_micros { value: 1000 } num_batch_threads { value: 2 } "
        "max_enqueued_batches { value: 100 } allowed_batch_sizes: 8 allowed_batch_sizes: 32 "
        "pad_variable_length_inputs: true", source="b.txt")
    assert options == BatchingOptions(max_batch_size=32, batch_timeout_micros=1000, num_batch_threads=2,
                                      max_enqueued_batches=100, allowed_batch_sizes=(8, 32),
                                      pad_variable_length_inputs=True)
    with pytest.raises(ConfigError, match="Last entry in allowed_batch_sizes must match max_batch_size; last entry "
                                          "was 8; expected 32"):
        parse_batching_parameters("max_batch_size { value: 32 } allowed_batch_sizes: 8", source="b.txt")
    with pytest.raises(ConfigError, match="^invalid BatchingParameters text in b.txt: "):
        parse_batching_parameters("max_batch_size: 32", source="b.txt")  # a wrapper message, not a scalar


# ---- a real server --------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_server_with_batching_answers_like_without(test_models, tmp_path):
    params = tmp_path / "batching.txt"
    params.write_text("max_batch_size { value: 16 } batch_timeout_micros { value: 20000 } "
                      "num_batch_threads { value: 1 } max_enqueued_batches { value: 100 }")
    args = ["--model_name=half_plus_two", f"--model_base_path={test_models / 'half_plus_two'}",
            "--enable_batching", f"--batching_parameters_file={params}"]
    bodies = [{"instances": [float(i), i + 0.5]} for i in range(24)]
    bodies[7] = {"instances": ["not a number"]}  # refused by the codec before batching
    bodies[11] = {"instances": [[1.0, 2.0]]}     # another shape: its own batch

    def send(url: str):
        def one(body):
            reply = requests.post(f"{url}/v1/models/half_plus_two:predict", data=json.dumps(body), timeout=30)
            return reply.status_code, reply.json()
        with ThreadPoolExecutor(12) as pool:
            return list(pool.map(one, bodies))

    with embedded_server(args, wait_for_models={"half_plus_two": 1}) as url:
        batched = send(url)
    with embedded_server(args[:2], wait_for_models={"half_plus_two": 1}) as url:
        unbatched = send(url)
    assert batched == unbatched
    assert batched[0] == (200, {"predictions": [3.0, 3.25]}) and batched[23] == (200, {"predictions": [14.5, 14.75]})
    assert batched[7][0] == 400 and batched[11] == (200, {"predictions": [[3.5, 4.0]]})
