"""Fixtures for the client suite: small local HTTP servers that misbehave on purpose, test images."""
from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pytest
from PIL import Image, PngImagePlugin
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support import free_port

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
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def fake_server() -> Iterator[Callable[..., FakeServer]]:
    """start(handler, *, port=None, delay=0) -> FakeServer, stopped after the test."""
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

    yield start
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


def fake_metadata(model: str = "pets", version: int = 1) -> dict:
    def spec(dtype: str, *dims: int) -> dict:
        return {"dtype": dtype, "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims],
                                                 "unknown_rank": False}, "name": "x"}
    return {
        "model_spec": {"name": model, "signature_name": "", "version": str(version)},
        "metadata": {"signature_def": {"signature_def": {"serving_default": {
            "inputs": {"image_bytes": spec("DT_STRING", -1)},
            "outputs": {"probabilities": spec("DT_FLOAT", -1, 3), "classes": spec("DT_STRING", -1, 3)},
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


def fake_model_handler(*, version: int = 1, predict: Callable[[Request], Response] | None = None) -> Handler:
    """A one-model server: status, metadata, and a predict that 400s any batch holding a marked PNG."""
    def default_predict(request: Request) -> Response:
        instances = json.loads(request.get_data())["instances"]
        images = [base64.b64decode(item["image_bytes"]["b64"]) for item in instances]
        if any(BAD_MARK.encode() in image for image in images):
            return json_response({"error": "Invalid argument: marked instance in batch"}, 400)
        return json_response({"predictions": [fake_prediction(image) for image in images]})

    def handle(request: Request) -> Response:
        if request.method == "GET" and request.path.endswith("/metadata"):
            return json_response(fake_metadata(version=version))
        if request.method == "GET":
            return json_response(fake_status(version))
        return (predict or default_predict)(request)

    return handle
