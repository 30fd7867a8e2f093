"""Pixels and encoded bytes through ServeScope's client over REST (before and after fast JSON) and gRPC, against the
same SavedModel in-process.

    python -m benchmarks.pixel_path [--images 96] [--repeats 3] [--single 24] [--before-rev 8efed8b] [--skip-before]

For pets versions 1 and 2, batch 16, 3 requests in flight (the client's defaults), on the same photos:
- pixels REST after:  `TFServingClient.classify(..., signature_name="predict_images")` against `python -m serving`
  from this tree (orjson bodies, full float32, read by simdjson, waitress);
- pixels REST before: the same client writing bodies the previous way (pixels rounded to 5 decimals, json.dumps of
  nested lists; the encoder is carried as the baseline) against `python -m serving` as it was at --before-rev (its
  serving/ taken with `git archive`: the standard library's parser, werkzeug's development server);
- pixels gRPC: the same client on the same server's gRPC API (`grpc://`, raw float32 in tensor_content);
- in-process: the SavedModel's signature called in this process, by 3 threads at once, 16 images per call, on the
  same bytes: the client's own float32 pixels (its crop, resize and scaling done beforehand) for predict_images,
  the JPEG bytes for serving_default;
- pixels in-process from the photos: the same, each thread preparing its 16 photos with the client's own code first
  (what an application holding the model would do with the same JPEG bytes);
- pixel arrays: the client's finished pixels handed to `TFServingClient.predict(inputs=...)` (a team that has its
  pixel tensors already), 16 per call, 3 calls in flight, over REST and gRPC: the same arrays in-process gets;
- encoded: `serving_default` with the JPEG bytes, over REST and gRPC and in-process alike;
- single image: p50 of one-image classify() calls (batch 1, one in flight) over gRPC and REST, next to one-image
  calls in-process and the client's own preparation of the image (read, check, decode and resize for pixels),
  the four interleaved call by call, every repeat's calls pooled.
Images/s are medians of --repeats interleaved repeats (all samples printed); ratios are medians of each repeat's
own ratio (the machine's load drifts between repeats, less within one). The client's figures include its decoding
and resizing of every photo. The process reuses malloc's heap for large buffers first (client.reuse_large_buffers),
as `python -m client` and the dashboard do; the in-process runs share the process and the setting. Prints figures;
asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from benchmarks.client_throughput import benchmark_photos
from benchmarks.pixel_path_setup import (BATCH, SIGNATURES, InProcess, median, previous_encoding, server_at)
from client import TFServingClient, reuse_large_buffers
from client.batching import DEFAULT_CONCURRENCY

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
VERSIONS = (1, 2)
BATCH_RUNS = ("pixels REST before", "pixels REST", "pixels gRPC", "pixels in-process", "pixels in-process prepared",
              "arrays REST", "arrays gRPC", "encoded REST", "encoded gRPC", "encoded in-process")
SINGLE_RUNS = ("gRPC", "REST", "in-process", "client prep")


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


def arrays_rate(url: str, version: int, name: str, batches: list) -> float:
    """Images/s of predict(inputs={name: batch}) calls, DEFAULT_CONCURRENCY at once, on ready pixel batches."""
    with TFServingClient(url, "pets", timeout=600) as tfs:
        def call(batch):
            return tfs.predict(inputs={name: batch}, signature_name="predict_images", version=version)

        call(batches[0])  # warm: metadata, connections
        with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
            started = time.perf_counter()
            answers = list(pool.map(call, batches))
            rate = sum(len(batch) for batch in batches) / (time.perf_counter() - started)
    if sum(len(answer.outputs["probabilities"]) for answer in answers) != sum(len(b) for b in batches):
        raise SystemExit("an arrays call did not answer for every image")
    return rate


def single_round(after, local: InProcess, version: int, kind: str, images: list[tuple[str, bytes]]) -> dict:
    """Milliseconds per one-image call, image by image: classify() over gRPC, over REST, the model in-process, and
    the client's own preparation of the image (ClassifyPlan.instance); the four interleaved call by call."""
    signature, plan = SIGNATURES[kind], local.plans[kind]
    times: dict[str, list[float]] = {name: [] for name in SINGLE_RUNS}
    with TFServingClient(after.grpc, "pets", timeout=60) as over_grpc, \
            TFServingClient(after.rest, "pets", timeout=60) as over_rest:
        clients = {"gRPC": over_grpc, "REST": over_rest}
        for client in clients.values():  # warm: metadata, connections
            client.classify(images[:1], version=version, signature_name=signature, batch_size=1, concurrency=1)
        local.single_ms(kind, 0)
        for index, image in enumerate(images):
            for name, client in clients.items():
                started = time.perf_counter()
                [result] = client.classify([image], version=version, signature_name=signature, batch_size=1,
                                           concurrency=1)
                times[name].append((time.perf_counter() - started) * 1000)
                if not result.ok:
                    raise SystemExit(f"{image[0]} failed over {name}: {result.error}")
            times["in-process"].append(local.single_ms(kind, index))
            started = time.perf_counter()
            plan.instance(*image)
            times["client prep"].append((time.perf_counter() - started) * 1000)
    return times


def measure(args, images, single_images) -> tuple[dict, dict]:
    batch = {v: {name: [] for name in BATCH_RUNS} for v in VERSIONS}
    single = {(v, kind): {name: [] for name in SINGLE_RUNS} for v in VERSIONS for kind in SIGNATURES}
    before_rev = None if args.skip_before else args.before_rev
    with server_at(None) as after, (server_at(before_rev) if before_rev else contextlib.nullcontext()) as before:
        local = {version: InProcess(version, after.rest, images) for version in VERSIONS}
        for repeat in range(args.repeats):
            for version in VERSIONS:
                got = batch[version]
                if before is not None:
                    with previous_encoding():
                        got["pixels REST before"].append(client_rate(before.rest, version, images, "predict_images"))
                for kind, signature in SIGNATURES.items():
                    got[f"{kind} REST"].append(client_rate(after.rest, version, images, signature))
                    got[f"{kind} gRPC"].append(client_rate(after.grpc, version, images, signature))
                    got[f"{kind} in-process"].append(local[version].batch_rate(kind))
                got["pixels in-process prepared"].append(local[version].prepared_rate())
                name, batches = local[version].pixel_batches()
                got["arrays REST"].append(arrays_rate(after.rest, version, name, batches))
                got["arrays gRPC"].append(arrays_rate(after.grpc, version, name, batches))
                for kind in SIGNATURES:
                    for name, values in single_round(after, local[version], version, kind, single_images).items():
                        single[(version, kind)][name] += values
            print(f"repeat {repeat + 1} of {args.repeats} done, load average {os.getloadavg()[0]:.2f}", flush=True)
    return batch, single


def paired(a: list[float], b: list[float]) -> str:
    """The median of a[i] / b[i] over the interleaved repeats ("-" when a was not measured)."""
    return f"{statistics.median(x / y for x, y in zip(a, b)):.2f}x" if a and b else "-"


def report(batch: dict, single: dict, repeats: int) -> None:
    print(f"\nBatch {BATCH}, {DEFAULT_CONCURRENCY} in flight, img/s: medians of {repeats} interleaved repeats; "
          "each ratio is the median of the repeats' own ratios")
    print(f"{'':<3} {'path':<26} {'REST before':>11} {'REST':>7} {'gRPC':>7} {'in-proc':>8} {'REST÷in':>8} "
          f"{'gRPC÷in':>8} {'REST÷before':>12}")
    for version in VERSIONS:
        got = batch[version]
        for kind in SIGNATURES:
            before = got["pixels REST before"] if kind == "pixels" else []
            rest, over_grpc, local = got[f"{kind} REST"], got[f"{kind} gRPC"], got[f"{kind} in-process"]
            print(f"v{version:<2} {kind + ' (' + SIGNATURES[kind] + ')':<26} {median(before):>11.1f} "
                  f"{median(rest):>7.1f} {median(over_grpc):>7.1f} {median(local):>8.1f} {paired(rest, local):>8} "
                  f"{paired(over_grpc, local):>8} {paired(rest, before):>12}")
    print("\nPixels from the photos, the preparation counted on both sides: gRPC ÷ in-process preparing with the "
          "client's code")
    for version in VERSIONS:
        got = batch[version]
        print(f"v{version:<2} gRPC {median(got['pixels gRPC']):>7.1f}   in-process prepared "
              f"{median(got['pixels in-process prepared']):>7.1f}   "
              f"{paired(got['pixels gRPC'], got['pixels in-process prepared'])}")
    print("\nReady pixel arrays, predict(inputs=...), batch 16, 3 in flight: img/s and ÷ pixels in-process (the same "
          "arrays)")
    for version in VERSIONS:
        got = batch[version]
        local = got["pixels in-process"]
        print(f"v{version:<2} REST {median(got['arrays REST']):>7.1f} ({paired(got['arrays REST'], local)})   "
              f"gRPC {median(got['arrays gRPC']):>7.1f} ({paired(got['arrays gRPC'], local)})   "
              f"in-process {median(local):>7.1f}")
    print("\nOne image per call, one call at a time, the paths interleaved call by call: p50 ms; gRPC-in is the "
          "median of the calls' own differences")
    print(f"{'':<3} {'signature':<16} {'gRPC':>7} {'REST':>7} {'in-proc':>8} {'gRPC-in':>8} {'client prep':>12}")
    for (version, kind), times in single.items():
        p50 = {name: median(values) for name, values in times.items()}
        difference = median([a - b for a, b in zip(times["gRPC"], times["in-process"])])
        print(f"v{version:<2} {SIGNATURES[kind]:<16} {p50['gRPC']:>7.1f} {p50['REST']:>7.1f} {p50['in-process']:>8.1f} "
              f"{difference:>+8.1f} {p50['client prep']:>12.1f}")
    print("\nsamples (img/s):")
    for version in VERSIONS:
        print(f"v{version}: " + "; ".join(f"{name} [{', '.join(f'{v:.1f}' for v in values)}]"
                                          for name, values in batch[version].items() if values), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--single", type=int, default=24, help="one-image calls per path, version and repeat")
    parser.add_argument("--before-rev", default="8efed8b",
                        help="the git revision whose serving/ is the 'before' server (the last before fast JSON)")
    parser.add_argument("--skip-before", action="store_true", help="do not start or measure the 'before' server")
    args = parser.parse_args(argv)
    reused = reuse_large_buffers()
    photos = benchmark_photos()
    images = [(str(photos[i % len(photos)]), photos[i % len(photos)].read_bytes()) for i in range(args.images)]
    single_images = images[:args.single]
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs; "
          f"{args.images} photos, batch {BATCH}, {DEFAULT_CONCURRENCY} requests in flight; before: "
          f"{'not measured' if args.skip_before else f'serving/ at {args.before_rev}'}; "
          f"load average {os.getloadavg()[0]:.2f}; large buffers reused: {reused}", flush=True)
    batch, single = measure(args, images, single_images)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    report(batch, single, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
