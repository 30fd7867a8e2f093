"""Retries (urllib3 Retry on the session), timeouts, and the typed errors, against local fake servers."""
from __future__ import annotations

import itertools
import time

import pytest
from werkzeug.wrappers import Request, Response

from client import (InvalidInputError, RequestTimeoutError, ServerUnavailableError, TFServingClient, TFServingError,
                    UnexpectedAnswerError)
from tests.client.conftest import fake_model_handler, fake_status, json_response, png_bytes
from tests.support import free_port


def sequence(*responses: Response):
    """A handler answering with `responses` in turn, then repeating the last one."""
    answers = itertools.chain(responses, itertools.repeat(responses[-1]))
    return lambda request: next(answers)


def test_503_then_200_is_retried(fake_server):
    server = fake_server(sequence(json_response({"error": "busy"}, 503), json_response(fake_status(1, 2))))
    with TFServingClient(server.url, "pets", timeout=5, retries=3, backoff_factor=0.01) as tfs:
        assert [s.version for s in tfs.status()] == [1, 2]
    assert server.calls == [("GET", "/v1/models/pets")] * 2


def test_post_is_retried_too(fake_server):
    server = fake_server(sequence(json_response({"error": "busy"}, 503),
                                  json_response({"predictions": [[1.0]]})))
    with TFServingClient(server.url, "pets", timeout=5, retries=2, backoff_factor=0.01) as tfs:
        assert tfs.predict(instances=[[0.0]]).outputs == [[1.0]]
    assert server.calls == [("POST", "/v1/models/pets:predict")] * 2


@pytest.mark.slow
def test_retry_after_is_respected(fake_server):
    server = fake_server(sequence(json_response({"error": "slow down"}, 429, {"Retry-After": "1"}),
                                  json_response(fake_status(1))))
    with TFServingClient(server.url, "pets", timeout=5, retries=1, backoff_factor=0.0) as tfs:
        started = time.monotonic()
        tfs.status()
        waited = time.monotonic() - started
    assert len(server.calls) == 2
    assert waited >= 0.9


def test_503_forever_gives_server_unavailable_after_retries(fake_server):
    server = fake_server(sequence(json_response({"error": "Unavailable: shutting down"}, 503)))
    with TFServingClient(server.url, "pets", timeout=5, retries=2, backoff_factor=0.01) as tfs:
        with pytest.raises(ServerUnavailableError) as caught:
            tfs.status(version=1)
    assert len(server.calls) == 3  # the first try and two retries
    exc = caught.value
    assert (exc.method, exc.url, exc.status, exc.error) == (
        "GET", f"{server.url}/v1/models/pets/versions/1", 503, "Unavailable: shutting down")


def test_400_is_not_retried(fake_server):
    server = fake_server(sequence(json_response({"error": "bad"}, 400)))
    with TFServingClient(server.url, "pets", timeout=5, retries=3, backoff_factor=0.01) as tfs:
        with pytest.raises(InvalidInputError) as caught:
            tfs.predict(instances=[1])
    assert len(server.calls) == 1
    assert (caught.value.method, caught.value.url, caught.value.status, caught.value.error) == (
        "POST", f"{server.url}/v1/models/pets:predict", 400, "bad")


@pytest.mark.slow
def test_server_down_then_up(fake_server):
    port = free_port()
    fake_server(sequence(json_response(fake_status(3))), port=port, delay=0.6)
    with TFServingClient(f"http://127.0.0.1:{port}", "pets", timeout=5, retries=5, backoff_factor=0.2) as tfs:
        assert [s.version for s in tfs.status()] == [3]


def test_server_down_for_good_is_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with TFServingClient(url, "pets", timeout=2, retries=1, backoff_factor=0.01) as tfs:
        with pytest.raises(ServerUnavailableError, match="cannot reach the server") as caught:
            tfs.metadata()
    assert (caught.value.method, caught.value.url, caught.value.status) == (
        "GET", f"{url}/v1/models/pets/metadata", None)
    # The root cause by name, not urllib3's nested repr (pool, retries, object addresses).
    assert caught.value.error == "cannot reach the server (connection refused)"


def test_an_unresolvable_host_is_named_as_such():
    with TFServingClient("http://no-such-host.invalid:8501", "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(ServerUnavailableError) as caught:
            tfs.status()
    assert caught.value.error == "cannot reach the server (host name not resolved)"


def test_slow_route_times_out_without_read_retries(fake_server):
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return json_response(fake_status(1))

    server = fake_server(slow)
    with TFServingClient(server.url, "pets", timeout=0.3, retries=3, backoff_factor=0.01) as tfs:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError, match="no complete answer within 0.3 s") as caught:
            tfs.status()
        elapsed = time.monotonic() - started
    assert caught.value.status is None and caught.value.method == "GET"
    assert len(server.calls) == 1 and elapsed < 1.4


def test_a_non_json_error_body_is_described_never_quoted(fake_server):
    server = fake_server(sequence(Response("upstream exploded", status=502, content_type="text/plain")))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(ServerUnavailableError) as caught:
            tfs.status()
    assert (caught.value.status, caught.value.error, caught.value.foreign_answer) == (
        502, "the answer is not TF Serving's JSON (HTTP 502 Bad Gateway, text/plain, 17 bytes)", True)


def test_tf_serving_error_text_is_bounded(fake_server):
    server = fake_server(sequence(json_response({"error": "Invalid argument: " + "x" * 1000}, 400)))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(InvalidInputError) as caught:
            tfs.predict(instances=[1])
    assert caught.value.error == "Invalid argument: " + "x" * 282 + "… (cut; 1018 characters in all)"
    assert caught.value.foreign_answer is False


@pytest.mark.parametrize("call, path, answer, message", [
    (lambda tfs: tfs.status(), "/v1/models/pets", {"model": "?"},
     "unexpected answer: ValueError: model status has no 'model_version_status' list"),
    (lambda tfs: tfs.status(), "/v1/models/pets", {"model_version_status": [{"version": "secret-token"}]},
     "unexpected answer: ValueError: model_version_status[].version is not an integer (str)"),
    (lambda tfs: tfs.status(), "/v1/models/pets", {"model_version_status": [{"state": "AVAILABLE"}]},
     "unexpected answer: KeyError: 'version'"),
    (lambda tfs: tfs.metadata(version=3), "/v1/models/pets/versions/3/metadata",
     {"model_spec": {}, "metadata": {"signature_def": {"signature_def": ["not", "a", "map"]}}},
     "unexpected answer: AttributeError: 'list' object has no attribute 'items'"),
    (lambda tfs: tfs.predict(instances=[1], label="canary"), "/v1/models/pets/labels/canary:predict",
     {"result": []}, "unexpected answer: ValueError: predict answer has neither 'predictions' nor 'outputs'"),
])
def test_malformed_answers_are_tfserving_errors_naming_the_url(fake_server, call, path, answer, message):
    server = fake_server(sequence(json_response(answer)))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(TFServingError) as caught:
            call(tfs)
    assert type(caught.value) is UnexpectedAnswerError
    assert (caught.value.url, caught.value.status, caught.value.error) == (server.url + path, 200, message)


@pytest.mark.parametrize("answer, description", [
    (Response("<html>proxy login</html>", status=200, content_type="text/html"), "HTTP 200 OK, text/html, 24 bytes"),
    (Response("secret: 42\n", status=200), "HTTP 200 OK, text/plain, 11 bytes"),
    (json_response(["a", "list"]), "HTTP 200 OK, application/json, 13 bytes"),
    (Response("[" * 100000 + "]" * 100000, status=200, content_type="application/json"),
     "HTTP 200 OK, application/json, 200000 bytes"),
    (Response(b"\xff\xfe{", status=200, content_type="application/json; charset=utf-8"),
     "HTTP 200 OK, application/json, 3 bytes"),
    (Response("", status=302, headers={"Location": "http://127.0.0.1:1/elsewhere"}),
     "HTTP 302 Found, text/plain, 0 bytes"),
])
def test_an_answer_that_is_not_tf_servings_json_is_described_never_quoted(fake_server, answer, description):
    server = fake_server(sequence(answer))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(UnexpectedAnswerError) as caught:
            tfs.status()
    assert caught.value.error == f"the answer is not TF Serving's JSON ({description})"
    assert (caught.value.status, caught.value.foreign_answer) == (answer.status_code, True)
    assert len(server.calls) == 1  # a redirect is not followed


def test_a_malformed_predict_answer_costs_its_batch_not_the_run(fake_server):
    answers = iter([json_response({"predictions": [[0.1, 0.9]] * 2}),  # unnamed rows for a 2-output signature
                    json_response({"outputs": {"probabilities": [[0.6, 0.3, 0.1]], "classes": [["cat", "dog"]] * 2}})])
    real = fake_model_handler()

    def predict(request: Request) -> Response:
        return next(answers, None) or real(request)

    server = fake_server(fake_model_handler(predict=predict))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        results = tfs.classify([(f"{i}.png", png_bytes((250, 5, 5))) for i in range(6)], batch_size=2, concurrency=1)
    assert [(r.source, r.error_type) for r in results] == [
        ("0.png", "UnexpectedAnswerError"), ("1.png", "UnexpectedAnswerError"), ("2.png", "UnexpectedAnswerError"),
        ("3.png", "UnexpectedAnswerError"), ("4.png", None), ("5.png", None)]
    predict_url = f"{server.url}/v1/models/pets/versions/1:predict"
    assert results[0].error == (f"POST {predict_url} -> 200: unexpected answer: ValueError: unnamed predictions "
                                "for a signature with outputs ['classes', 'probabilities']")
    assert results[2].error == (f"POST {predict_url} -> 200: unexpected answer: ValueError: columnar outputs of "
                                "unequal batch sizes: [1, 2]")
