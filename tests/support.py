"""Helpers shared by the test suites: free ports, real server subprocesses, paths to shared data."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import requests

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
SHARED_IMAGES = SHARED / "images"
SHARED_TRAIN = SHARED / "train"
PETS_CONFIG = ROOT / "pets" / "models.config"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def models_available(base_url: str, models: Mapping[str, int]) -> bool:
    """True when every named model has at least the given number of AVAILABLE versions."""
    for name, min_available in models.items():
        try:
            reply = requests.get(f"{base_url}/v1/models/{name}", timeout=2)
        except requests.RequestException:
            return False
        if reply.status_code != 200:
            return False
        states = [v.get("state") for v in reply.json().get("model_version_status", [])]
        if states.count("AVAILABLE") < min_available:
            return False
    return True


@contextlib.contextmanager
def embedded_server(
    args: Sequence[str], *, wait_for_models: Mapping[str, int], timeout: float = 180
) -> Iterator[str]:
    """Run `python -m serving ARGS` on a free port; yield its base URL once the models are AVAILABLE.

    `wait_for_models` maps model name -> how many versions must be AVAILABLE.
    """
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"servescope-server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serving", f"--rest_api_port={port}", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()[-3000:]}")
                return models_available(base_url, wait_for_models)

            wait_until(ready, timeout=timeout, what=f"models {list(wait_for_models)} on {base_url}")
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
