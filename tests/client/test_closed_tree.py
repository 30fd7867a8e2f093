"""The rule (httpx's): nothing a TFServingClient call raises escapes the tree in client/errors.py, whatever the
server answers. A fake server answers each call with a generated status, content type and body (JSON of any
shape, or arbitrary bytes); every public method either returns or raises a TFServingError, and classify returns
one row per input."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.wrappers import Request, Response

from client import SignatureConfig, TFServingClient, TFServingError
from tests.client.conftest import FakeServer, fake_metadata, fake_status, png_bytes

IMAGES = [(f"{i}.png", png_bytes((200, 10, 10))) for i in range(3)]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70) | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20)
# Keys TF Serving's answers use, so generated bodies get past the first lookups and into the parsing.
NEAR_MISSES = st.fixed_dictionaries({}, optional={
    "model_version_status": JSON_VALUES | st.lists(st.fixed_dictionaries(
        {}, optional={"version": JSON_VALUES, "state": JSON_VALUES, "status": JSON_VALUES}), max_size=3),
    "model_spec": JSON_VALUES | st.fixed_dictionaries({}, optional={"version": JSON_VALUES, "name": JSON_VALUES}),
    "metadata": JSON_VALUES | st.just(fake_metadata()["metadata"]),
    "predictions": JSON_VALUES | st.lists(st.fixed_dictionaries({}, optional={
        "probabilities": JSON_VALUES, "classes": JSON_VALUES}), max_size=4),
    "outputs": JSON_VALUES,
    "error": JSON_VALUES,
})
BODIES = (st.builds(json.dumps, JSON_VALUES | NEAR_MISSES).map(str.encode)
          | st.binary(max_size=64) | st.just(b"[" * 50_000))
ANSWERS = st.tuples(st.sampled_from([200, 200, 200, 201, 204, 301, 400, 404, 405, 413, 418, 429, 500, 501, 503]),
                    st.sampled_from(["application/json", "text/plain", "text/html; charset=utf-8"]), BODIES)
GOOD = {"status": fake_status(1), "metadata": fake_metadata(version=1)}


class Scripted:
    """Answers each route with the scripted (status, content type, body), or a good answer when unscripted."""

    def __init__(self) -> None:
        self.script: dict[str, tuple[int, str, bytes]] = {}

    def __call__(self, request: Request) -> Response:
        route = "predict" if request.method == "POST" else "metadata" if "/metadata" in request.path else "status"
        if route in self.script:
            status, kind, body = self.script[route]
            return Response(body, status=status, content_type=kind)
        if route == "predict":
            return Response(json.dumps({"predictions": [{"probabilities": [0.5, 0.3, 0.2],
                                                         "classes": ["cat", "dog", "other"]}] * 3}),
                            content_type="application/json")
        return Response(json.dumps(GOOD[route]), content_type="application/json")


@pytest.fixture(scope="module")
def scripted():
    handler = Scripted()
    server = FakeServer(handler)
    server.start()
    yield server, handler
    server.stop()


CALLS = [
    lambda tfs: tfs.status(),
    lambda tfs: tfs.status(version=1),
    lambda tfs: tfs.metadata(label="stable"),
    lambda tfs: tfs.resolve_version(),
    lambda tfs: tfs.resolve_version(label="stable"),
    lambda tfs: tfs.predict(instances=[{"image_bytes": b"x"}]),
    lambda tfs: tfs.plan(),
]


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from(["status", "metadata", "predict"]), answer=ANSWERS, configured=st.booleans())
def test_any_answer_gives_a_result_or_a_tfserving_error(scripted, route, answer, configured):
    server, handler = scripted
    handler.script = {route: answer}
    config = SignatureConfig(class_names=("cat", "dog", "other")) if configured else None
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=config) as tfs:
        for call in CALLS:
            try:
                call(tfs)
            except TFServingError:
                pass
        try:
            results = tfs.classify(IMAGES, batch_size=2)
        except TFServingError:
            assert route != "predict"  # once sending has begun, every answer becomes rows
        else:
            assert [r.source for r in results] == [name for name, _ in IMAGES]
            assert all(r.ok or r.error_type.endswith("Error") for r in results)
