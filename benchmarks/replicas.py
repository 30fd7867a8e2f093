"""Images/s with one and with two pets replicas behind HAProxy, and the per-replica figure for sizing.

    python -m benchmarks.replicas [--rounds 2]

Starts embedded servers (`python -m serving`) and Debian's HAProxy on loopback (tests/deploy/haproxy.py: the
same round-robin setup the load-balancer test uses), then classifies the 50 test photos (in memory) `--rounds`
times through the client for each setting. Two thread settings per replica: TensorFlow's default (a replica
uses every core) and one intra-op thread (a replica behaves like a 1-CPU pod). On a 2-core machine two default
replicas share the same cores, so the second one adds little; with one thread each, two replicas use both.
Each figure is the median of --repeats runs, the three targets taking turns so that background load on a
shared machine spreads over all of them; the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import time

from benchmarks.client_throughput import benchmark_photos
from client import TFServingClient
from tests.deploy.haproxy import pets_replica, running_haproxy

SETTINGS = [(16, 4), (16, 8)]  # (batch size, concurrency)
THREADS = {"default threads": (), "1 intra-op thread": ("--tensorflow_intra_op_parallelism=1",)}


def images_per_second(url: str, images: list[tuple[str, bytes]], *, version: int, batch_size: int,
                      concurrency: int, rounds: int) -> float:
    with TFServingClient(url, "pets", timeout=120) as tfs:
        tfs.classify(images[:batch_size], version=version)  # warm-up: metadata, connections, first run
        started = time.perf_counter()
        results = tfs.classify(images * rounds, version=version, batch_size=batch_size, concurrency=concurrency)
        elapsed = time.perf_counter() - started
    failed = sum(not r.ok for r in results)
    if failed:
        raise SystemExit(f"{failed} of {len(results)} images failed, e.g. {next(r for r in results if not r.ok).error}")
    return len(results) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the 50 photos per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (the median is printed)")
    args = parser.parse_args()
    images = [(str(p), p.read_bytes()) for p in benchmark_photos()]
    print(f"{len(images)} photos x {args.rounds} rounds, median of {args.repeats}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; images/s")
    for threads, extra in THREADS.items():
        with contextlib.ExitStack() as stack:
            first = stack.enter_context(pets_replica(extra_args=extra))[1]
            second = stack.enter_context(pets_replica(extra_args=extra))[1]
            one_lb = stack.enter_context(running_haproxy([first]))[0]
            two_lb = stack.enter_context(running_haproxy([first, second]))[0]
            for version in (1, 2):
                for batch_size, concurrency in SETTINGS:
                    targets = {"1 replica direct": first, "1 behind haproxy": one_lb, "2 behind haproxy": two_lb}
                    runs: dict[str, list[float]] = {name: [] for name in targets}
                    for _ in range(args.repeats):
                        for name, url in targets.items():
                            runs[name].append(images_per_second(url, images, version=version,
                                                                batch_size=batch_size, concurrency=concurrency,
                                                                rounds=args.rounds))
                    figures = {name: statistics.median(values) for name, values in runs.items()}
                    gain = figures["2 behind haproxy"] / figures["1 behind haproxy"]
                    print(f"{threads:<17} v{version} batch {batch_size:>2} conc {concurrency}: "
                          + "  ".join(f"{name} {value:6.1f}" for name, value in figures.items())
                          + f"  (x{gain:.2f} with the second replica)", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
