"""Pixels over REST before and after fast JSON, and encoded bytes, against the same SavedModel in-process.

    python -m benchmarks.pixel_path [--images 96] [--repeats 3] [--before-rev 8efed8b]

For pets versions 1 and 2, batch 16, 3 requests in flight (the client's defaults), on the same photos:
- pixels after:  `TFServingClient.classify(..., signature_name="predict_images")` against `python -m serving` from
  this tree (orjson bodies, full float32, read by simdjson);
- pixels before: the same client writing bodies the previous way (pixels rounded to 5 decimals, json.dumps of
  nested lists; the encoder is carried here as the baseline) against `python -m serving` as it was at
  --before-rev (its serving/ taken with `git archive`: the standard library's parser and a Python value per
  number, werkzeug's development server);
- pixels in-process: the SavedModel's `predict_images` called in this process on the same float32 pixels (the
  client's own crop, resize and scaling, done beforehand), by 3 threads at once, 16 images per call;
- encoded after / in-process: `serving_default` with the JPEG bytes, through the client and in-process alike.
Images/s are medians of --repeats interleaved repeats (all samples printed); the client's figures include its
decoding and resizing of every photo. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks.client_throughput import ROOT, benchmark_photos
from client import TFServingClient, TFServingError
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.plan import ClassifyPlan

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
VERSIONS = (1, 2)
BATCH = DEFAULT_BATCH_SIZE


def previous_request_body(plan: ClassifyPlan, instances: list[dict]) -> bytes:
    """The pixel bodies as the client wrote them before fast JSON: 5 decimals, json.dumps of nested lists."""
    rounded = [{name: np.round(value, 5) for name, value in instance.items()} for instance in instances]
    return json.dumps({"instances": rounded, "signature_name": plan.signature_name},
                      default=lambda value: value.tolist(), separators=(",", ":")).encode("utf-8")


@contextlib.contextmanager
def previous_encoding():
    current = ClassifyPlan.request_body
    ClassifyPlan.request_body = previous_request_body
    try:
        yield
    finally:
        ClassifyPlan.request_body = current


@contextlib.contextmanager
def server_at(revision: str | None):
    """`python -m serving` on the pets models from this tree (None) or from `revision`'s serving/."""
    with tempfile.TemporaryDirectory() as tmp:
        source = ROOT
        if revision:
            archive = subprocess.run(["git", "archive", revision, "serving"], cwd=ROOT, capture_output=True,
                                     check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            source = Path(tmp)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        code = (f"import sys; sys.path.insert(0, {str(source)!r}); from serving.cli import main; "
                f"sys.exit(main(['--rest_api_port={port}', '--model_config_file={ROOT / 'pets' / 'models.config'}']))")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_loaded(proc, url)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def wait_until_loaded(proc: subprocess.Popen, url: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            with TFServingClient(url, "pets", timeout=2, retries=0) as tfs:
                if sum(status.available for status in tfs.status()) == 2:
                    return
        except TFServingError:
            pass
        time.sleep(0.5)
    raise SystemExit("the pets versions did not load within 300 s")


def client_rate(url: str, version: int, images: list[tuple[str, bytes]], signature: str) -> float:
    with TFServingClient(url, "pets", timeout=600) as tfs:
        tfs.classify(images[:BATCH], version=version, signature_name=signature)  # warm: metadata, connections
        started = time.perf_counter()
        results = tfs.classify(images, version=version, signature_name=signature)
        rate = len(images) / (time.perf_counter() - started)
    failed = [r for r in results if not r.ok]
    if failed:
        raise SystemExit(f"{len(failed)} images failed, e.g. {failed[0].error}")
    return rate


def in_process(version: int, url: str, images: list[tuple[str, bytes]]):
    """Load the SavedModel; the returned call gives (pixels img/s, encoded img/s), 3 threads, 16 per call."""
    import tensorflow as tf

    model = tf.saved_model.load(str(ROOT / "pets" / str(version)))
    with TFServingClient(url, "pets") as tfs:
        _, plan = tfs.plan(version=version, signature_name="predict_images")
        _, encoded_plan = tfs.plan(version=version)
    pixels = np.stack([plan.instance(name, data)[plan.input_name] for name, data in images])
    blobs = [data for _, data in images]
    runs = {
        "pixels": (model.signatures["predict_images"], plan.input_name,
                   [tf.constant(pixels[i:i + BATCH]) for i in range(0, len(pixels), BATCH)]),
        "encoded": (model.signatures["serving_default"], encoded_plan.input_name,
                    [tf.constant(blobs[i:i + BATCH]) for i in range(0, len(blobs), BATCH)]),
    }

    def rate(kind: str) -> float:
        signature, name, batches = runs[kind]
        signature(**{name: batches[0]})
        with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
            started = time.perf_counter()
            list(pool.map(lambda batch: signature(**{name: batch}), batches))
            return len(images) / (time.perf_counter() - started)

    return lambda: (rate("pixels"), rate("encoded"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before-rev", default="8efed8b",
                        help="the git revision whose serving/ is the 'before' server (the last before fast JSON)")
    args = parser.parse_args()
    photos = benchmark_photos()
    images = [(str(photos[i % len(photos)]), photos[i % len(photos)].read_bytes()) for i in range(args.images)]
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs; "
          f"{args.images} photos, batch {BATCH}, {DEFAULT_CONCURRENCY} requests in flight; before: serving/ at "
          f"{args.before_rev}; load average {os.getloadavg()[0]:.2f}")
    names = ("pixels before", "pixels after", "pixels in-process", "encoded after", "encoded in-process")
    samples = {version: {name: [] for name in names} for version in VERSIONS}
    with server_at(args.before_rev) as before_url, server_at(None) as after_url:
        local = {version: in_process(version, after_url, images) for version in VERSIONS}
        for _ in range(args.repeats):
            for version in VERSIONS:
                got = samples[version]
                with previous_encoding():
                    got["pixels before"].append(client_rate(before_url, version, images, "predict_images"))
                got["pixels after"].append(client_rate(after_url, version, images, "predict_images"))
                got["encoded after"].append(client_rate(after_url, version, images, "serving_default"))
                pixels, encoded = local[version]()
                got["pixels in-process"].append(pixels)
                got["encoded in-process"].append(encoded)
    print(f"load average after: {os.getloadavg()[0]:.2f}; medians of {args.repeats} interleaved repeats, img/s")
    for version in VERSIONS:
        median = {name: statistics.median(values) for name, values in samples[version].items()}
        print(f"v{version}: pixels before {median['pixels before']:.1f} | after {median['pixels after']:.1f} "
              f"({median['pixels after'] / median['pixels before']:.1f}x before) | in-process "
              f"{median['pixels in-process']:.1f} (after/in-process {median['pixels after'] / median['pixels in-process']:.2f}x);"
              f"  encoded after {median['encoded after']:.1f} | in-process {median['encoded in-process']:.1f} "
              f"({median['encoded after'] / median['encoded in-process']:.2f}x)", flush=True)
        print("    samples: " + "; ".join(f"{name} [{', '.join(f'{v:.1f}' for v in values)}]"
                                         for name, values in samples[version].items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
