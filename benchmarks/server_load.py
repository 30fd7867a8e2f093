"""The embedded server under load: 16 connections for 60 s with a real photo, batching off and on, and memory.

    python -m benchmarks.server_load [--duration 60] [--connections 16] [--version 1]

Starts `python -m serving` on the pets models (once without and once with --enable_batching), then
- sends one real photo per request (`{"instances": [{"b64": ...}]}`) over --connections kept-alive connections
  for --duration seconds: with wrk when `command -v wrk` finds it, else with a bounded Python load generator
  (one thread and one http.client connection per connection, each waiting for its answer);
- prints requests/s, errors (non-200 answers or failed connections), latency p50/p99, and the server's RSS
  before and after (growth in %);
- then (batching off) sends two 50 MB string bodies and prints RSS before, after each, and after a pause.
Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests

from benchmarks.client_throughput import ROOT, benchmark_photos

BATCHING = ("max_batch_size { value: 16 } batch_timeout_micros { value: 2000 } num_batch_threads { value: 2 } "
            "max_enqueued_batches { value: 64 }")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(extra: list[str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "serving", f"--rest_api_port={port}", "--port=0",
                             f"--model_config_file={ROOT / 'pets' / 'models.config'}", *extra],
                            cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, pets_ready(proc, f"http://127.0.0.1:{port}", "server")


def pets_ready(proc: subprocess.Popen, url: str, name: str) -> str:
    """`url` once the process serves both pets versions (polled for up to 300 s); exits the benchmark, naming
    `name`, when the process ends first or the versions do not load."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}")
        try:
            states = [s["state"] for s in requests.get(f"{url}/v1/models/pets", timeout=2).json()
                      .get("model_version_status", [])]
            if states.count("AVAILABLE") == 2:
                return url
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"{name}: the pets versions did not load within 300 s")


def python_load(url: str, path: str, body: bytes, connections: int, duration: float) -> dict:
    host, port = url.removeprefix("http://").split(":")
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.monotonic() + duration

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        headers = {"Content-Type": "application/json"}
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                reply = conn.getresponse()
                reply.read()
                if reply.status != 200:
                    errors[index] += 1
            except (OSError, http.client.HTTPException):
                errors[index] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                continue
            latencies[index].append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    samples = np.array([s for per in latencies for s in per]) * 1e3
    return {"tool": "python", "requests": samples.size, "errors": sum(errors), "rps": samples.size / elapsed,
            "p50": float(np.percentile(samples, 50)), "p99": float(np.percentile(samples, 99))}


def wrk_load(url: str, path: str, body: bytes, connections: int, duration: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(body)
        script.write_text(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*all")\nf:close()\n')
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(duration)}s", "--timeout", "60s", "--latency", "-s",
                              str(script), url + path], capture_output=True, text=True, check=True).stdout
    figures = {"tool": "wrk", "errors": 0}
    for line in out.splitlines():
        words = line.split()
        if line.strip().startswith("Requests/sec:"):
            figures["rps"] = float(words[1])
        elif words[:1] in (["50%"], ["99%"]):
            figures["p" + words[0][:-1]] = _milliseconds(words[1])
        elif "requests in" in line:
            figures["requests"] = int(words[0])
        elif line.strip().startswith(("Non-2xx", "Socket errors")):
            figures["errors"] += sum(int(w.strip(",")) for w in words if w.strip(",").isdigit())
    return figures


def _milliseconds(text: str) -> float:
    """wrk's durations: 850.00us, 12.34ms, 1.20s, 1.00m."""
    for unit, factor in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 60e3)):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * factor
    return float(text)


def big_string_bodies(url: str, pid: int, version: int) -> str:
    path = f"{url}/v1/models/pets/versions/{version}:predict"
    body = b'{"instances": ["' + b"A" * (50 * 1000 * 1000) + b'"]}'
    before = rss_mib(pid)
    after = []
    for _ in range(2):
        status = requests.post(path, data=body, timeout=300).status_code
        after.append((status, rss_mib(pid)))
    time.sleep(2)
    return (f"two 50 MB string bodies: RSS {before:.0f} MiB before, " +
            ", ".join(f"{rss:.0f} MiB after body {i + 1} (HTTP {status})" for i, (status, rss) in enumerate(after))
            + f", {rss_mib(pid):.0f} MiB 2 s later")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--version", type=int, default=1)
    args = parser.parse_args()
    photo = benchmark_photos()[0]
    body = json.dumps({"instances": [{"b64": base64.b64encode(photo.read_bytes()).decode()}]}).encode()
    path = f"/v1/models/pets/versions/{args.version}:predict"
    load = wrk_load if shutil.which("wrk") else python_load
    print(f"{args.connections} connections x {args.duration:.0f} s, one photo per request ({photo.name}, "
          f"{len(body) / 1e3:.0f} kB JSON), pets v{args.version}, load from {load.__name__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        params = Path(tmp) / "batching.txt"
        params.write_text(BATCHING)
        for label, extra in (("batching off", []),
                             ("batching on", ["--enable_batching", f"--batching_parameters_file={params}"])):
            proc, url = start(extra)
            try:
                load(url, path, body, args.connections, 3)  # warm the connections and the model
                before = rss_mib(proc.pid)
                figures = load(url, path, body, args.connections, args.duration)
                after = rss_mib(proc.pid)
                print(f"{label:>12}: {figures['rps']:6.1f} req/s, {figures['errors']} errors in "
                      f"{figures['requests']} requests, p50 {figures['p50']:.0f} ms, p99 {figures['p99']:.0f} ms, "
                      f"RSS {before:.0f} -> {after:.0f} MiB ({(after / before - 1) * 100:+.1f}%)", flush=True)
                if not extra:
                    print("  " + big_string_bodies(url, proc.pid, args.version), flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    if load is python_load:
        print("(wrk not found: the Python generator shares the 2 CPUs with the server, so req/s is a lower bound)")


if __name__ == "__main__":
    main()
