"""Client throughput against the pets model: images/s and request latency p50/p95.

    python -m benchmarks.client_throughput                # starts an embedded server on a free port
    python -m benchmarks.client_throughput --url http://127.0.0.1:8501

Classifies the 50 test photos (held in memory, so disk is not measured) `--rounds` times for each
batch_size × concurrency setting, against version 1 (128 px) and version 2 (224 px), through the
encoded-bytes signature and once through the float `predict_images` signature.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from client import ServerUnavailableError, TFServingClient

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "images"
SETTINGS = [(1, 1), (8, 1), (8, 2), (16, 2), (32, 2), (16, 4)]
FLOAT_SETTING = (8, 2)


def start_server(*extra_args: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.Popen([sys.executable, "-m", "serving", f"--rest_api_port={port}", "--port=0",
                             f"--model_config_file={ROOT / 'pets' / 'models.config'}", *extra_args],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    with TFServingClient(url, "pets", timeout=5, retries=0) as tfs:
        while time.monotonic() < deadline:
            try:
                if sum(s.available for s in tfs.status()) >= 2:
                    return proc, url
            except ServerUnavailableError:
                pass
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}")
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit("server did not load both pets versions within 180 s")


def benchmark_photos() -> list[Path]:
    if not PHOTOS.is_dir():
        raise SystemExit(f"test photos not found at {PHOTOS}")
    return sorted(p for p in PHOTOS.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


@contextlib.contextmanager
def pets_server(url: str | None):
    """Yield `url`, or, when it is None, the URL of an embedded server started for the benchmark."""
    if url:
        yield url
        return
    proc, started_url = start_server()
    try:
        yield started_url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def measure(tfs: TFServingClient, images: list[tuple[str, bytes]], *, version: int, batch_size: int,
            concurrency: int, rounds: int, signature_name: str | None = None) -> str:
    tfs.classify(images[:batch_size], version=version, signature_name=signature_name)  # warm-up
    started = time.perf_counter()
    results = tfs.classify(images * rounds, version=version, signature_name=signature_name,
                           batch_size=batch_size, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    failed = sum(not r.ok for r in results)
    latencies = np.array([r.latency_ms for r in results if r.latency_ms is not None])
    if latencies.size == 0:  # nothing reached the server: say why instead of a numpy error
        return f"v{version} batch {batch_size} conc {concurrency}: every image failed, e.g. {results[0].error}"
    p50, p95 = np.percentile(latencies, [50, 95])
    signature = signature_name or "serving_default"
    return (f"v{version} {signature:<16} batch {batch_size:>2} conc {concurrency}: "
            f"{len(results) / elapsed:6.1f} images/s   request latency p50 {p50:7.1f} ms  p95 {p95:7.1f} ms"
            + (f"   FAILED {failed}" if failed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="use this running server instead of starting one")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the 50 photos per setting")
    args = parser.parse_args()
    images = [(str(p), p.read_bytes()) for p in benchmark_photos()]
    with pets_server(args.url) as url:
        print(f"{len(images)} photos x {args.rounds} rounds against {url} ({os.cpu_count()} CPUs)")
        with TFServingClient(url, "pets", timeout=120) as tfs:
            for version in (1, 2):
                for batch_size, concurrency in SETTINGS:
                    print(measure(tfs, images, version=version, batch_size=batch_size, concurrency=concurrency,
                                  rounds=args.rounds), flush=True)
                batch_size, concurrency = FLOAT_SETTING
                print(measure(tfs, images, version=version, batch_size=batch_size, concurrency=concurrency,
                              rounds=args.rounds, signature_name="predict_images"), flush=True)


if __name__ == "__main__":
    main()
