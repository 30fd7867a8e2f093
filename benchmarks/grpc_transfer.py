"""What a 16-image pixel request costs `python -m serving`'s gRPC API before the model runs, before and after
the server reuses malloc's heap for large messages (serving.memory.reuse_large_buffers).

    python -m benchmarks.grpc_transfer [--calls 30] [--repeats 3] [--before-rev 710f15e]

For pets' two pixel sizes (version 1: 128 px, 3.1 MB; version 2: 224 px, 9.6 MB), the request ServeScope's client
sends for 16 images is sent --calls times, one at a time, naming a signature the model lacks: the server receives
and parses the whole message, then answers FAILED_PRECONDITION without running the model. Printed per server: the
p50 round trip, and the server's CPU time and minor page faults per call (/proc); then each server's RSS. "before"
is serving/ at --before-rev (the commit before the change), "after" this tree, both started by the benchmark,
medians of --repeats interleaved repeats. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

import grpc
import numpy as np

from benchmarks.pixel_path_setup import BATCH, server_at
from client.transport import tfs_pb2 as pb
from client.transport.request_bytes import predict_request_bytes

SIZES = {1: 128, 2: 224}
PREDICT = "/tensorflow.serving.PredictionService/Predict"


def measure(address: str, server, body: bytes, calls: int) -> tuple[float, float, float]:
    """(p50 ms, server CPU ms per call, server page faults per call)."""
    with grpc.insecure_channel(address.removeprefix("grpc://"), options=[("grpc.max_send_message_length", -1)]) \
            as channel:
        stub = channel.unary_unary(PREDICT, request_serializer=None, response_deserializer=pb.PredictResponse.FromString)
        times = []
        cpu, faults = server.counters()
        for _ in range(calls):
            started = time.perf_counter()
            try:
                stub(body, timeout=60)
                raise SystemExit("the server ran a signature that should not exist")
            except grpc.RpcError as exc:
                if exc.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise SystemExit(f"unexpected answer: {exc.code().name}: {exc.details()}") from None
            times.append((time.perf_counter() - started) * 1000)
        cpu_after, faults_after = server.counters()
    return statistics.median(times), (cpu_after - cpu) * 1000 / calls, (faults_after - faults) / calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before-rev", default="710f15e", help="serving/ before the server reused malloc's heap")
    args = parser.parse_args(argv)
    bodies = {}
    for version, size in SIZES.items():
        spec = pb.ModelSpec(name="pets", signature_name="no_such_signature")
        spec.version.value = version
        pixels = np.random.default_rng(version).random((size, size, 3), dtype=np.float32)
        bodies[version] = predict_request_bytes(spec, "images", [pixels] * BATCH, "DT_FLOAT")
    print(f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs; {args.calls} "
          f"calls of {BATCH} images, one at a time; before: serving/ at {args.before_rev}; load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    samples = {(name, v): [] for name in ("before", "after") for v in SIZES}
    with server_at(args.before_rev, grpc=True) as before, server_at(None) as after:
        servers = {"before": before, "after": after}
        for version, body in bodies.items():   # warm both: first calls set up channels and buffers
            for server in servers.values():
                measure(server.grpc, server, body, 3)
        for _ in range(args.repeats):
            for version, body in bodies.items():
                for name, server in servers.items():
                    samples[(name, version)].append(measure(server.grpc, server, body, args.calls))
        memory = {name: server.memory() for name, server in servers.items()}
    print(f"load average after: {os.getloadavg()[0]:.2f}; medians of {args.repeats} interleaved repeats")
    print(f"{'request':<24} {'server':<7} {'p50 ms':>8} {'server CPU ms/call':>19} {'page faults/call':>17}")
    for version, body in bodies.items():
        for name in servers:
            p50, cpu, faults = (statistics.median(values) for values in zip(*samples[(name, version)]))
            print(f"{f'v{version} {SIZES[version]} px, {len(body) / 1e6:.1f} MB':<24} {name:<7} {p50:>8.1f} "
                  f"{cpu:>19.1f} {faults:>17,.0f}")
    for name, text in memory.items():
        print(f"{name}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
