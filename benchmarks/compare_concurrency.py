"""Compare's two sides run side by side: the total time of a two-side comparison against each side alone.

    python -m benchmarks.compare_concurrency                   # embedded server with pets, 200 photos
    python -m benchmarks.compare_concurrency --images 500 --repeats 3 --url http://127.0.0.1:8501
    python -m benchmarks.compare_concurrency --simulated-ms 40   # a server whose only cost is waiting

The second form answers from a stand-in TF Serving (werkzeug, threaded) that sleeps a fixed time per request
and does no inference: it shows what the dashboard's side-by-side running costs when the server has capacity to
spare, apart from how a CPU-bound server shares its cores between the two versions.

The photos of ../shared/images are cycled to `--images` items. Everything goes through the dashboard's own
RunManager (a temporary SQLite run store, thumbnails on, batch 16, 2 requests in flight per side, as the
dashboard runs them):
  - version 1 alone and version 2 alone (submit_classify), each after one untimed warm-up request;
  - the comparison of version 1 with version 2 (submit_compare: both sides at once, each with its own warm-up
    request, which is inside the measured time as the analyst waits for it).
Times are wall clock from submit until every run has ended. Repeats are interleaved and the median is printed.
Goal (issue 9): comparison ≤ 1.2 × the slower side alone.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import multiprocessing
import os
import platform
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.client_throughput import benchmark_photos, pets_server
from client import TFServingClient
from dashboard.runs.manager import RunManager
from client.store.database import open_store
from tests.support import FakeServer, fake_metadata, fake_status, free_port, json_response, models_available, wait_until

FINAL = ("complete", "cancelled", "interrupted", "failed")


def _serve_stand_in(port: int, delay_s: float) -> None:
    """pets versions 1 and 2 that answer every predict after `delay_s`, without looking at the images."""
    def handle(request):
        if request.method == "GET":
            version = re.search(r"/versions/(\d+)", request.path)
            if request.path.endswith("/metadata"):
                return json_response(fake_metadata(version=int(version[1]) if version else 2))
            return json_response(fake_status(int(version[1])) if version else fake_status(1, 2))
        count = request.get_data().count(b'"b64"')
        time.sleep(delay_s)
        return json_response({"predictions": [{"probabilities": [0.6, 0.3, 0.1], "classes": ["cat", "dog", "other"]}
                                              ] * count})
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    FakeServer(handle, port=port).start()
    threading.Event().wait()


@contextlib.contextmanager
def model_server(url: str | None, simulated_ms: float | None):
    if simulated_ms is None:
        with pets_server(url) as started:
            yield started
        return
    # Its own process, so reading the request bodies does not take the dashboard's interpreter lock.
    port = free_port()
    process = multiprocessing.get_context("fork").Process(target=_serve_stand_in, args=(port, simulated_ms / 1000),
                                                          daemon=True)
    process.start()
    started = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: models_available(started, {"pets": 2}), timeout=30, what="the stand-in server")
        yield started
    finally:
        process.terminate()
        process.join()


def wait_final(manager: RunManager, run_ids: list[str], timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(manager.store.get_run(r).status in FINAL and not manager.is_active(r) for r in run_ids):
            return
        time.sleep(0.02)
    raise SystemExit(f"runs {run_ids} did not finish in {timeout:.0f} s")


def check_complete(manager: RunManager, run_ids: list[str], total: int) -> None:
    for run_id in run_ids:
        run = manager.store.get_run(run_id)
        if run.status != "complete" or run.done != total or run.errors:
            raise SystemExit(f"run {run_id} ({run.target}) did not classify every image: {run.outcome()}")


def alone(manager: RunManager, url: str, items: list, version: int) -> tuple[float, float]:
    """(wall s, the run's own elapsed s) for one version, after an untimed warm-up request."""
    with TFServingClient(url, "pets", timeout=60) as client:
        client.classify(items[:1], version=version, batch_size=1, concurrency=1)
    started = time.perf_counter()
    run_id = manager.submit_classify(url, "pets", items, version=version)
    wait_final(manager, [run_id])
    wall = time.perf_counter() - started
    check_complete(manager, [run_id], len(items))
    return wall, manager.store.get_run(run_id).elapsed_s


def together(manager: RunManager, url: str, items: list) -> tuple[float, list[float]]:
    started = time.perf_counter()
    comparison = manager.submit_compare(url, "pets", items, [(1, None), (2, None)])
    run_ids = [comparison.baseline_run_id, *comparison.other_run_ids]
    wait_final(manager, run_ids)
    wall = time.perf_counter() - started
    check_complete(manager, run_ids, len(items))
    return wall, [manager.store.get_run(r).elapsed_s for r in run_ids]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--url", help="a running TF Serving with pets versions 1 and 2 (default: start one)")
    parser.add_argument("--simulated-ms", type=float, help="answer from a stand-in that waits this long per request")
    args = parser.parse_args(argv)
    photos = [(p.name, p.read_bytes()) for p in benchmark_photos()]
    items = [(f"{i:04d}-{name}", (lambda data=data: data)) for i, (name, data) in
             ((i, photos[i % len(photos)]) for i in range(args.images))]
    print(f"compare_concurrency: {args.images} photos (cycling {len(photos)}), {args.repeats} repeat(s), "
          f"{os.cpu_count()} CPU(s), {platform.python_version()}; load average {os.getloadavg()[0]:.2f}; "
          + (f"stand-in server, {args.simulated_ms:g} ms per request" if args.simulated_ms is not None
             else f"server {args.url or 'embedded, pets'}"))
    with tempfile.TemporaryDirectory() as folder, model_server(args.url, args.simulated_ms) as url:
        manager = RunManager(open_store(Path(folder) / "runs.db"), max_runs=2)
        figures: dict[str, list[float]] = {name: [] for name in (
            "v1", "v2", "both", "v1 run", "v2 run", "v1 in both", "v2 in both")}
        for _ in range(args.repeats):
            for version in (1, 2):
                wall, elapsed = alone(manager, url, items, version)
                figures[f"v{version}"].append(wall)
                figures[f"v{version} run"].append(elapsed)
            wall, elapsed = together(manager, url, items)
            figures["both"].append(wall)
            figures["v1 in both"].append(elapsed[0])
            figures["v2 in both"].append(elapsed[1])
        manager.shutdown()
    m = {name: statistics.median(values) for name, values in figures.items()}
    n = args.images
    print("  wall clock from submit to the end; in brackets the runs' own time (after their warm-up)")
    for version in (1, 2):
        print(f"  version {version} alone        {m[f'v{version}']:7.2f} s  ({n / m[f'v{version}']:6.1f} images/s; "
              f"run {m[f'v{version} run']:.2f} s)")
    print(f"  both, side by side     {m['both']:7.2f} s  (runs: version 1 {m['v1 in both']:.2f} s, version 2 "
          f"{m['v2 in both']:.2f} s; warm-up requests and run set-up are inside the wall time)")
    print(f"  sum of the sides alone {m['v1'] + m['v2']:7.2f} s")
    wall_ratio = m["both"] / max(m["v1"], m["v2"])
    run_ratio = max(m["v1 in both"], m["v2 in both"]) / max(m["v1 run"], m["v2 run"])
    print(f"  comparison / slower side alone = {wall_ratio:.2f}x wall clock, {run_ratio:.2f}x the runs' own time "
          f"(goal <= 1.2x: {'met' if wall_ratio <= 1.2 else 'NOT met'}); load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
