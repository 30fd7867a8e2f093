"""Nothing lost mid-run (issue 12 item 5): a version unloaded, a model removed or a server that dies while
classify runs gives every input a result; finished ones are kept intact, the rest name the cause."""
from __future__ import annotations

import threading

import pytest
from werkzeug.wrappers import Request, Response

from client import TFServingClient, VersionNotAvailableError
from tests.client.conftest import fake_model_handler, json_response, png_bytes

COLOURS = {"cat": (250, 5, 5), "dog": (5, 250, 5), "other": (5, 5, 250)}
NAMES = ("cat", "dog", "other")


def images(n: int) -> list[tuple[str, bytes]]:
    return [(f"{NAMES[i % 3]}-{i}.png", png_bytes(COLOURS[NAMES[i % 3]])) for i in range(n)]


def disappearing(after: int, gone: Response, *, version: int = 2):
    """A fake TF Serving whose predict answers `after` requests, then answers `gone` to everything
    (as TF Serving does once the version is unloaded: predict and status 404)."""
    base = fake_model_handler(version=version)
    lock = threading.Lock()
    state = {"predicts": 0}

    def handle(request: Request) -> Response:
        with lock:
            if request.method == "POST":
                state["predicts"] += 1
            is_gone = state["predicts"] > after
        return gone if is_gone else base(request)

    return handle


def check_finished_rows_intact(results, sent):
    for result in results:
        if result.ok:
            assert result.label == result.source.split("-")[0]
            assert result.probabilities[result.label] == pytest.approx(250 / 260)
    assert [r.source for r in results] == [name for name, _ in sent]


@pytest.mark.parametrize("concurrency", [1, 3])
def test_a_version_unloaded_mid_run_keeps_finished_results_and_names_the_cause(fake_server, concurrency):
    gone = json_response({"error": "Servable not found for request: Specific(pets, 2)"}, 404)
    server = fake_server(disappearing(5, gone))
    sent = images(120)
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        results = tfs.classify(sent, version=2, batch_size=4, concurrency=concurrency)
    check_finished_rows_intact(results, sent)
    ok = [r for r in results if r.ok]
    assert len(ok) == 5 * 4  # the five answered batches, every one of their images
    failed = [r for r in results if not r.ok]
    assert len(failed) == 100
    for result in failed:
        assert (result.error_type, result.version) == ("VersionNotAvailableError", 2)
        assert result.error == (f"{result.source}: not classified: version 2 of model 'pets' is no longer available "
                                "(unloaded during the run); the server said: Servable not found for request: "
                                "Specific(pets, 2)")
    predicts = sum(1 for method, _ in server.calls if method == "POST")
    assert predicts <= 5 + concurrency  # the ones in flight when it went; nothing sent after


def test_iter_classify_yields_finished_results_before_the_version_goes(fake_server):
    gone = json_response({"error": "Servable not found for request: Specific(pets, 2)"}, 404)
    server = fake_server(disappearing(2, gone))
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        seen = [(r.source, r.ok, r.error_type) for r in tfs.iter_classify(images(10), version=2, batch_size=2,
                                                                          concurrency=1)]
    assert seen == [(f"{NAMES[i % 3]}-{i}.png", True, None) for i in range(4)] + [
        (f"{NAMES[i % 3]}-{i}.png", False, "VersionNotAvailableError") for i in range(4, 10)]


def test_a_model_removed_mid_run_becomes_rows(fake_server):
    gone = json_response({"error": "Servable not found for request: Latest(pets)"}, 404)
    server = fake_server(disappearing(3, gone, version=1))
    sent = images(30)
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        results = tfs.classify(sent, batch_size=5, concurrency=1)
    check_finished_rows_intact(results, sent)
    assert [r.ok for r in results] == [True] * 15 + [False] * 15
    assert {(r.error_type, r.version) for r in results[15:]} == {("ModelNotFoundError", 1)}
    assert results[15].error == ("cat-15.png: not classified: model 'pets' is no longer served (removed during the "
                                 "run); the server said: Servable not found for request: Latest(pets)")


def test_a_server_that_dies_mid_run_gives_every_input_a_row(fake_server):
    """Connection: close on every answer, so no kept-alive connection outlives the server."""
    base = fake_model_handler()

    def handle(request: Request) -> Response:
        answer = base(request)
        answer.headers["Connection"] = "close"
        return answer

    server = fake_server(handle)
    sent = images(80)
    results = []
    with TFServingClient(server.url, "pets", timeout=5, retries=2, backoff_factor=0.01) as tfs:
        for result in tfs.iter_classify(sent, batch_size=4, concurrency=2):
            results.append(result)
            if len(results) == 12:
                server.stop()  # dies with up to two batches in flight
    check_finished_rows_intact(results, sent)
    assert all(r.ok for r in results[:12])
    unreachable = [r for r in results if not r.ok]
    assert len(unreachable) >= 80 - 12 - 2 * 4
    for result in unreachable:
        assert result.error_type == "ServerUnavailableError"
        assert "cannot reach the server" in result.error


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_version_gone_between_runs_raises_before_any_result_despite_the_cached_signature(fake_server,
                                                                                           concurrency):
    """The kept signature is not re-checked before each run (that cost a request per classify call): the first
    predict's 404 is, by asking for the metadata again, so the run still raises before yielding anything."""
    gone = json_response({"error": "Could not find version 2 of model pets"}, 404)
    server = fake_server(disappearing(1, gone))
    progress = []
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        assert all(r.ok for r in tfs.classify(images(3), version=2))  # one predict: the signature is kept
        server.calls.clear()
        server.handler = lambda request: gone  # unloaded between the runs
        with pytest.raises(VersionNotAvailableError) as caught:
            tfs.classify(images(40), version=2, batch_size=16, concurrency=concurrency,
                         on_progress=lambda result, done: progress.append(done))
        assert caught.value.error == "Could not find version 2 of model pets"
        assert progress == []
        predicts = [("POST", "/v1/models/pets/versions/2:predict")] * (server.calls.count(
            ("POST", "/v1/models/pets/versions/2:predict")))
        assert 1 <= len(predicts) <= concurrency  # the batches in flight when the first 404 came; then none
        # One metadata request; with concurrency 2 the other batch's POST may arrive before or after it.
        assert sorted(server.calls) == sorted(predicts + [("GET", "/v1/models/pets/versions/2/metadata")])
        server.calls.clear()
        with pytest.raises(VersionNotAvailableError):  # the signature is forgotten: asked before sending
            tfs.classify(images(3), version=2)
    assert server.calls == [("GET", "/v1/models/pets/versions/2/metadata")]


def test_a_404_answered_while_the_metadata_says_the_version_is_served_costs_rows_not_an_exception(fake_server):
    """The version flickers (a predict 404 while its metadata still answers): the same rows as a version that
    goes mid-run, and the run is not restarted."""
    gone = json_response({"error": "Servable not found for request: Specific(pets, 2)"}, 404)
    base = fake_model_handler(version=2)
    server = fake_server(base)
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        assert all(r.ok for r in tfs.classify(images(3), version=2))
        server.handler = lambda request: gone if request.method == "POST" else base(request)
        server.calls.clear()
        results = tfs.classify(images(3), version=2)
    assert [(r.ok, r.error_type) for r in results] == [(False, "VersionNotAvailableError")] * 3
    assert results[0].error == ("cat-0.png: not classified: version 2 of model 'pets' is no longer available; "
                                "the server said: Servable not found for request: Specific(pets, 2)")
    assert server.calls == [("POST", "/v1/models/pets/versions/2:predict"),
                            ("GET", "/v1/models/pets/versions/2/metadata")]
