"""Server-side cost of pixel tensors: JSON -> tensor per 224×224×3 instance, and Session vs TF2-function runs.

    python -m benchmarks.pixel_decoding [--repeats 7]

- decode: `parse_json_object`, then `decode_predict_request`, on a one-instance `{"instances": ...}` body, for DT_UINT8
  (JSON integers 0..255) and DT_FLOAT (JSON decimals in [-1,1]), converted as one array (the common case) and value
  by value (the path that finds bad values, forced), median of --repeats;
- run: the `dynamic` export-convention model (tests/serving/model_builders.py) on 16 images of 224×224, loaded as
  the server loads it (a Session, like TF Serving) and through its TF2 concrete functions, median of --repeats.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from unittest import mock

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from tensorflow.core.framework import types_pb2  # noqa: E402
from tensorflow.core.protobuf import meta_graph_pb2  # noqa: E402

from serving import tensors  # noqa: E402
from serving.jsonvalues import parse_json_object  # noqa: E402
from serving.loader import FunctionRunner, SessionRunner, session_config  # noqa: E402
from tests.serving.model_builders import build_dynamic  # noqa: E402

SIZE = 224


def median_ms(action, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def decode_figures(repeats: int) -> None:
    rng = np.random.RandomState(0)
    cases = {
        "uint8": (types_pb2.DT_UINT8, rng.randint(0, 256, (1, SIZE, SIZE, 3)).tolist()),
        "float": (types_pb2.DT_FLOAT, rng.uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(np.float32).tolist()),
    }
    for label, (dtype, instances) in cases.items():
        body = json.dumps({"instances": instances}).encode()
        infos = {"x": meta_graph_pb2.TensorInfo(name="x:0", dtype=dtype)}

        doc = parse_json_object(body)
        parse = median_ms(lambda: parse_json_object(body), repeats)
        whole = median_ms(lambda: tensors.decode_predict_request(doc, infos, ""), repeats)
        with mock.patch.object(tensors, "_whole_numeric", return_value=None):
            one_by_one = median_ms(lambda: tensors.decode_predict_request(doc, infos, ""), repeats)
        print(f"{label:5s} {SIZE}x{SIZE}x3, {len(body) / 1e6:.2f} MB body: JSON parse {parse:.1f} ms; to a tensor "
              f"{whole:.1f} ms as one array, {one_by_one:.1f} ms value by value")


def run_figures(repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        export_dir = Path(folder) / "dynamic" / "1"
        build_dynamic(export_dir)
        images = {"image": np.random.RandomState(1).uniform(-1, 1, (16, SIZE, SIZE, 3)).astype(np.float32)}
        for label, runner in (("session", SessionRunner(export_dir, session_config())),
                              ("functions", FunctionRunner(export_dir))):
            runner("serving_default", images)  # first call: graph optimisation, not measured
            figure = median_ms(lambda: runner("serving_default", images), repeats)
            print(f"run dynamic model, 16 images {SIZE}x{SIZE}: {figure:.1f} ms through {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    decode_figures(args.repeats)
    run_figures(args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
