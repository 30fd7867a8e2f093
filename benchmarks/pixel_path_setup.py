"""What benchmarks.pixel_path measures against: the model servers it starts, the previous REST encoding it carries
as the baseline, and the pets SavedModels called in-process on the same bytes."""
from __future__ import annotations

import contextlib
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
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from benchmarks.client_throughput import ROOT
from client import TFServingClient, TFServingError
from client.batching import DEFAULT_BATCH_SIZE, DEFAULT_CONCURRENCY
from client.plan import ClassifyPlan

BATCH = DEFAULT_BATCH_SIZE
SIGNATURES = {"pixels": "predict_images", "encoded": "serving_default"}


def previous_request_body(plan: ClassifyPlan, instances: list[dict]) -> bytes:
    """The pixel bodies as the client wrote them before fast JSON: 5 decimals, json.dumps of nested lists."""
    rounded = [{name: np.round(value, 5) for name, value in instance.items()} for instance in instances]
    return json.dumps({"instances": rounded, "signature_name": plan.signature_name},
                      default=lambda value: value.tolist(), separators=(",", ":")).encode("utf-8")


@contextlib.contextmanager
def previous_encoding() -> Iterator[None]:
    current = ClassifyPlan.request_body
    ClassifyPlan.request_body = previous_request_body
    try:
        yield
    finally:
        ClassifyPlan.request_body = current


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Server:
    rest: str                 # http://127.0.0.1:PORT
    grpc: str | None          # grpc://127.0.0.1:PORT, None when started without the gRPC API
    pid: int

    def counters(self) -> tuple[float, int]:
        """(CPU seconds, minor page faults) the server process has used so far (/proc; Linux)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), int(fields[7])

    def memory(self) -> str:
        """VmRSS and VmHWM (peak) from /proc."""
        lines = Path(f"/proc/{self.pid}/status").read_text().splitlines()
        found = {line.split(":")[0]: int(line.split()[1]) // 1024 for line in lines
                 if line.startswith(("VmRSS:", "VmHWM:"))}
        return f"RSS {found.get('VmRSS', 0):,} MiB (peak {found.get('VmHWM', 0):,} MiB)"


@contextlib.contextmanager
def server_at(revision: str | None, *, grpc: bool | None = None) -> Iterator[Server]:
    """`python -m serving` on the pets models from this tree (None) or from `revision`'s serving/, REST and, when
    `grpc` (default: for this tree only, the revisions compared by default predate gRPC), gRPC on free ports."""
    with tempfile.TemporaryDirectory() as tmp:
        source = ROOT
        if revision:
            archive = subprocess.run(["git", "archive", revision, "serving"], cwd=ROOT, capture_output=True,
                                     check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            source = Path(tmp)
        rest_port = free_port()
        flags = [f"--rest_api_port={rest_port}", f"--model_config_file={ROOT / 'pets' / 'models.config'}"]
        grpc_port = free_port() if (grpc if grpc is not None else revision is None) else None
        if grpc_port is not None:
            flags.append(f"--port={grpc_port}")
        elif revision is None:
            flags.append("--port=0")  # no gRPC API (a revision before gRPC has no such flag)
        code = (f"import sys; sys.path.insert(0, {str(source)!r}); from serving.cli import main; "
                f"sys.exit(main({flags!r}))")
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        server = Server(f"http://127.0.0.1:{rest_port}", f"grpc://127.0.0.1:{grpc_port}" if grpc_port else None,
                        proc.pid)
        try:
            wait_until_loaded(proc, server.rest)
            yield server
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


class InProcess:
    """One pets version's SavedModel loaded here, fed what the client sends: the client's own pixels (crop, resize
    and scaling done beforehand) for predict_images, the JPEG bytes for serving_default."""

    def __init__(self, version: int, url: str, images: list[tuple[str, bytes]]) -> None:
        import tensorflow as tf

        self._tf = tf
        model = tf.saved_model.load(str(ROOT / "pets" / str(version)))
        self._model = model  # the signatures need their model alive
        with TFServingClient(url, "pets") as tfs:
            self.plans = {kind: tfs.plan(version=version, signature_name=name)[1]
                          for kind, name in SIGNATURES.items()}
        values = {"pixels": np.stack([self.plans["pixels"].instance(n, d)[self.plans["pixels"].input_name]
                                      for n, d in images]),
                  "encoded": np.array([data for _, data in images], dtype=object)}
        self._runs = {kind: (model.signatures[SIGNATURES[kind]], self.plans[kind].input_name, values[kind])
                      for kind in SIGNATURES}
        self._images = images
        self.count = len(images)

    def pixel_batches(self) -> tuple[str, list[np.ndarray]]:
        """(the pixel input's name, the client's finished pixels in batches of BATCH): what predict_images gets."""
        _, name, values = self._runs["pixels"]
        return name, [values[i:i + BATCH] for i in range(0, len(values), BATCH)]

    def batch_rate(self, kind: str) -> float:
        """Images/s, DEFAULT_CONCURRENCY threads at once, BATCH images per call."""
        signature, name, values = self._runs[kind]
        batches = [self._tf.constant(values[i:i + BATCH]) for i in range(0, len(values), BATCH)]
        signature(**{name: batches[0]})
        with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
            started = time.perf_counter()
            list(pool.map(lambda batch: signature(**{name: batch}), batches))
            return self.count / (time.perf_counter() - started)

    def prepared_rate(self) -> float:
        """Images/s of predict_images from the photos: each of DEFAULT_CONCURRENCY threads prepares BATCH photos with
        the client's own code (ClassifyPlan.instance: read, decode, crop, resize, scale) and calls the model, as an
        application holding the model in-process would start from the same JPEG bytes."""
        signature, name, _ = self._runs["pixels"]
        plan = self.plans["pixels"]

        def run(batch: list[tuple[str, bytes]]) -> None:
            pixels = np.stack([plan.instance(source, data)[name] for source, data in batch])
            signature(**{name: self._tf.constant(pixels)})

        batches = [self._images[i:i + BATCH] for i in range(0, len(self._images), BATCH)]
        run(batches[0])
        with ThreadPoolExecutor(DEFAULT_CONCURRENCY) as pool:
            started = time.perf_counter()
            list(pool.map(run, batches))
            return self.count / (time.perf_counter() - started)

    def single_ms(self, kind: str, index: int) -> float:
        """Milliseconds of one call on image `index` alone (its tensor made inside the timing, as a server makes it)."""
        signature, name, values = self._runs[kind]
        started = time.perf_counter()
        signature(**{name: self._tf.constant(values[index:index + 1])})
        return (time.perf_counter() - started) * 1000


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
