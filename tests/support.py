"""Helpers shared by the test suites: free ports, real server subprocesses, paths to shared data, and a fake
TF Serving (a werkzeug app on a free port) for unit tests of our own logic (client and dashboard pages)."""
from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

from PIL import Image, PngImagePlugin
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from client import TFServingClient, TFServingError

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
    """True when every named model has at least the given number of AVAILABLE versions (asked through the
    client's status(), the one place that reads TF Serving's status JSON)."""
    for name, min_available in models.items():
        try:
            with TFServingClient(base_url, name, timeout=2, retries=0) as client:
                statuses = client.status()
        except TFServingError:
            return False
        if sum(status.available for status in statuses) < min_available:
            return False
    return True


@contextlib.contextmanager
def serving_process(
    args: Sequence[str], *, wait_for_models: Mapping[str, int], timeout: float = 180, port: int | None = None
) -> Iterator[tuple[subprocess.Popen, str]]:
    """Run `python -m serving ARGS` on `port` (default: a free one); yield (process, base URL) once the models are
    AVAILABLE. The process is exposed so that a test can kill it; it is stopped after, unless already gone.

    `wait_for_models` maps model name -> how many versions must be AVAILABLE.
    """
    port = port or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1")
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"servescope-server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            # gRPC off unless ARGS give --port: parallel servers must not all claim 8500.
            [sys.executable, "-m", "serving", f"--rest_api_port={port}", "--port=0", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}: {log_path.read_text()[-3000:]}")
                return models_available(base_url, wait_for_models)

            wait_until(ready, timeout=timeout, interval=0.3, what=f"models {list(wait_for_models)} on {base_url}")
            yield proc, base_url
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@contextlib.contextmanager
def embedded_server(
    args: Sequence[str], *, wait_for_models: Mapping[str, int], timeout: float = 180
) -> Iterator[str]:
    """Run `python -m serving ARGS` on a free port; yield its base URL once the models are AVAILABLE."""
    with serving_process(args, wait_for_models=wait_for_models, timeout=timeout) as (_, base_url):
        yield base_url


def pillow_full_decode_fails(data: bytes) -> bool:
    """Whether Pillow's full decode refuses `data`: the reference the client's cheaper JPEG check is held to."""
    try:
        Image.open(io.BytesIO(data)).load()
    except (OSError, SyntaxError, ValueError, EOFError):
        return True
    return False


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """A ZIP archive (stored, ZipFile's default) holding `members` (name -> bytes), made in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- fake TF Serving ------------------------------------------------------------------------------
Handler = Callable[[Request], Response]
BAD_MARK = "reject-me"  # PNG text chunk that makes the fake server answer 400 for a whole batch
FAKE_LABELS = ("cat", "dog", "other")


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


@dataclass
class FakeServer:
    """A werkzeug server on a free port; `handler` decides every answer, `calls` records (method, path)."""

    handler: Handler
    port: int = field(default_factory=free_port)
    calls: list[tuple[str, str]] = field(default_factory=list)
    bodies: list[dict] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.calls.append((request.method, request.path))
        if request.method == "POST":
            self.bodies.append(json.loads(request.get_data() or b"{}"))
        return self.handler(request)(environ, start_response)

    def start(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self, threaded=True)
        # serve_forever checks for shutdown every poll_interval (0.5 s by default): each stop() waited that long.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def fake_servers() -> Iterator[Callable[..., FakeServer]]:
    """start(handler, *, port=None, delay=0) -> FakeServer; every server started is stopped on exit."""
    started: list[FakeServer] = []
    timers: list[threading.Timer] = []

    def start(handler: Handler, *, port: int | None = None, delay: float = 0.0) -> FakeServer:
        server = FakeServer(handler, **({"port": port} if port else {}))
        started.append(server)
        if delay:
            timer = threading.Timer(delay, server.start)
            timers.append(timer)
            timer.start()
        else:
            server.start()
        return server

    try:
        yield start
    finally:
        for timer in timers:
            timer.join()
        for server in started:
            server.stop()


def png_bytes(color: tuple[int, int, int], *, size=(8, 8), marked: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    if marked:
        info.add_text("note", BAD_MARK)
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _tensor(dtype: str, *dims: int, name: str = "x") -> dict:
    return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                             "unknown_rank": False}, "name": name}


def fake_metadata(model: str = "pets", version: int = 1) -> dict:
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"image_bytes": _tensor("DT_STRING", -1)},
            "outputs": {"probabilities": _tensor("DT_FLOAT", -1, 3), "classes": _tensor("DT_STRING", -1, 3)},
            "method_name": "tensorflow/serving/predict"}}}},
    }


def half_plus_two_metadata(model: str = "half_plus_two", version: int = 1) -> dict:
    """TF Serving's classic test model: one float input x of shape [-1, 1] (no images)."""
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"x": _tensor("DT_FLOAT", -1, 1, name="x:0")},
            "outputs": {"y": _tensor("DT_FLOAT", -1, 1, name="y:0")},
            "method_name": "tensorflow/serving/predict"}}}},
    }


def fake_status(*versions: int) -> dict:
    return {"model_version_status": [
        {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
        for v in versions]}


def fake_prediction(image: bytes) -> dict:
    """Label = the dominant colour channel of the (solid-colour) test image."""
    red, green, blue = Image.open(io.BytesIO(image)).convert("RGB").getpixel((0, 0))
    total = red + green + blue or 1
    return {"probabilities": [red / total, green / total, blue / total], "classes": list(FAKE_LABELS)}


def fake_model_handler(*, version: int = 1, predict: Callable[[Request], Response] | None = None,
                       metadata: Callable[..., dict] = fake_metadata) -> Handler:
    """A one-model server: status, metadata, and a predict that 400s any batch holding a marked PNG."""
    def default_predict(request: Request) -> Response:
        instances = json.loads(request.get_data())["instances"]
        images = [base64.b64decode(item["image_bytes"]["b64"]) for item in instances]
        if any(BAD_MARK.encode() in image for image in images):
            return json_response({"error": "Invalid argument: marked instance in batch"}, 400)
        return json_response({"predictions": [fake_prediction(image) for image in images]})

    def handle(request: Request) -> Response:
        if request.method == "GET" and request.path.endswith("/metadata"):
            return json_response(metadata(version=version))
        if request.method == "GET":
            return json_response(fake_status(version))
        return (predict or default_predict)(request)

    return handle
