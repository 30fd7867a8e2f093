"""The request inspector: a real TFServingClient's exchanges with the fake TF Serving, copied by a response hook
(shortened, bounded, failures with the server's `error` text) or, over gRPC, by a call hook (method path, status
code, sizes, time; never the messages), and the Classify page showing them as plain text."""
from __future__ import annotations

import base64
import json

import pytest
from werkzeug.wrappers import Request

from client import TFServingClient
from dashboard.runs.inspector import B64_SHOWN, Inspector, RequestLog, shorten_b64
from dashboard.ui.inspector_view import caption, first_shown
from tests.dashboard.classify.test_classify_page import finish, press_classify, upload
from tests.dashboard.test_pages import BLUE, GREEN, RED, png_upload
from tests.support import BAD_MARK, fake_model_handler, fake_prediction, json_response, png_bytes


def test_base64_strings_are_cut_to_their_start_and_length():
    payload = base64.b64encode(b"x" * 3000).decode()
    body = json.dumps({"instances": [{"image_bytes": {"b64": payload}}, {"image_bytes": {"b64": "QUJD"}}]}).encode()
    shown = json.loads(shorten_b64(body))
    assert shown["instances"][0]["image_bytes"]["b64"] == payload[:B64_SHOWN] + f"…({len(payload)} chars)"
    assert shown["instances"][1]["image_bytes"]["b64"] == "QUJD"   # short strings stay as they are


def marked_predict(request: Request):
    instances = json.loads(request.get_data())["instances"]
    images = [base64.b64decode(item["image_bytes"]["b64"]) for item in instances]
    if any(BAD_MARK.encode() in image for image in images):
        return json_response({"error": "Invalid argument: marked instance in batch"}, 400)
    return json_response({"predictions": [fake_prediction(image) for image in images]})


def classify(url: str, images, log: RequestLog | None) -> list:
    with TFServingClient(url, "pets", retries=0) as client:
        if log is not None:
            client.session.hooks["response"].append(log.hook)
        return client.classify(images, batch_size=1, concurrency=1)


def test_a_clients_exchanges_are_recorded_without_changing_them(fake_server):
    server = fake_server(fake_model_handler(predict=marked_predict))
    images = [("red.png", png_bytes(RED)), ("bad.png", png_bytes(GREEN, marked=True)), ("blue.png", png_bytes(BLUE))]
    log = RequestLog(limit=50)
    watched = classify(server.url, images, log)
    unwatched = classify(server.url, images, None)
    assert [(r.source, r.label, r.error) for r in watched] == [(r.source, r.label, r.error) for r in unwatched]
    exchanges = log.exchanges()
    assert [(e.method, e.url.removeprefix(server.url), e.status) for e in exchanges] == [
        ("GET", "/v1/models/pets", 200), ("GET", "/v1/models/pets/versions/1/metadata", 200),
        ("POST", "/v1/models/pets/versions/1:predict", 200), ("POST", "/v1/models/pets/versions/1:predict", 400),
        ("POST", "/v1/models/pets/versions/1:predict", 200)]
    sent = json.loads(exchanges[2].request_body)["instances"][0]["image_bytes"]["b64"]
    assert sent.startswith(base64.b64encode(png_bytes(RED)).decode()[:B64_SHOWN]) and sent.endswith(" chars)")
    assert json.loads(exchanges[2].response_body)["predictions"][0]["classes"] == ["cat", "dog", "other"]
    assert all(e.latency_ms > 0 for e in exchanges)
    bodies = ['{"instances":[{"image_bytes":{"b64":"' + base64.b64encode(png_bytes(colour)).decode() +
              '"}}],"signature_name":"serving_default"}' for colour in (RED, BLUE)]
    assert [(e.request_bytes, e.response_bytes) for e in exchanges[::2]] == [   # the bodies are short: uncut
        (0, len(exchanges[0].response_body)), (len(bodies[0]), len(exchanges[2].response_body)),
        (len(bodies[1]), len(exchanges[4].response_body))]
    [failure] = log.failures()
    assert (failure.status, failure.error, log.total, log.failed) == (
        400, "Invalid argument: marked instance in batch", 5, 1)
    assert failure.text().splitlines()[-2] == f"-> 400 in {failure.latency_ms:.1f} ms"


def test_the_log_keeps_the_newest_exchanges_and_cuts_long_bodies(fake_server):
    long_error = "e" * 10_000
    server = fake_server(fake_model_handler(predict=lambda request: json_response({"error": long_error}, 500)))
    log = RequestLog(limit=3)
    classify(server.url, [(f"{i}.png", png_bytes(RED)) for i in range(5)], log)
    assert log.total == 7 and log.failed == 5
    assert len(log.exchanges()) == 3 and len(log.failures()) == 3
    kept = log.failures()[-1]
    assert kept.error == "e" * 500 + "… (10000 characters in all)"
    assert kept.response_body.endswith(" characters in all)") and len(kept.response_body) < 2100


def test_the_inspector_holds_the_newest_runs_only(fake_server):
    server = fake_server(fake_model_handler())
    inspector = Inspector(runs_kept=2)
    for run_id in ("a", "b", "c"):
        with TFServingClient(server.url, "pets", retries=0) as client:
            inspector.attach(run_id, client)
            client.status()
    assert inspector.log("a") is None
    assert [inspector.log(run_id).total for run_id in ("b", "c")] == [1, 1]


@pytest.mark.slow
def test_the_classify_page_shows_the_last_runs_requests_as_plain_text(page, fake_server, tmp_path):
    server = fake_server(fake_model_handler(predict=marked_predict))
    app = page("classify", server.url).run()
    upload(app, [png_upload("red.png", RED), ("bad.png", png_bytes(GREEN, marked=True), "image/png")])
    run_id = press_classify(app)
    finish(app, tmp_path, run_id)
    [expander] = [e for e in app.expander if e.label == "Request inspector"]
    table = expander.dataframe[0].value
    # The batch of two is refused, then the client sends its images one by one to find the bad one.
    assert "GET" in table["method"].tolist()
    assert table.loc[table["method"] == "POST", "status"].tolist() == ["400", "200", "400"]
    # Pick the predict request that succeeded.
    sent = table.index[(table["method"] == "POST") & (table["status"] == "200")][0]
    app.selectbox(key="classify_inspector_pick").set_value(int(sent)).run()
    [expander] = [e for e in app.expander if e.label == "Request inspector"]
    codes = [code.value for code in expander.code]
    predict = codes[0].splitlines()
    assert predict[0] == f"POST {server.url}/v1/models/pets/versions/1:predict"
    red = base64.b64encode(png_bytes(RED)).decode()
    assert predict[1] == ('{"instances":[{"image_bytes":{"b64":"' + red[:B64_SHOWN] + f'…({len(red)} chars)"}}}}],'
                          '"signature_name":"serving_default"}')
    assert predict[2].startswith("-> 200 in ") and '"predictions"' in predict[3]
    assert codes[-1] == (f"POST {server.url}/v1/models/pets/versions/1:predict -> 400\n"
                         "Invalid argument: marked instance in batch")


@pytest.mark.slow
def test_a_grpc_clients_calls_are_recorded_by_path_code_size_and_time():
    grpc_fake = pytest.importorskip("tests.client.grpc_fake", reason="needs tensorflow-serving-api (the serving extra)")
    fake = grpc_fake.FakeGrpcServing().start()
    try:
        inspector = Inspector()
        images = [("red.png", png_bytes(RED)), ("bad.png", png_bytes(GREEN, marked=True)),
                  ("blue.png", png_bytes(BLUE))]
        with TFServingClient(fake.address, "pets", retries=0) as client:
            log = inspector.attach("run", client)
            results = client.classify(images, batch_size=1, concurrency=1)
        assert [r.ok for r in results] == [True, False, True]
        exchanges = log.exchanges()
        service = "/tensorflow.serving.PredictionService/"
        assert [(e.method, e.url.removeprefix(fake.address), e.status_text) for e in exchanges] == [
            ("gRPC", "/tensorflow.serving.ModelService/GetModelStatus", "OK"),
            ("gRPC", service + "GetModelMetadata", "OK"), ("gRPC", service + "Predict", "OK"),
            ("gRPC", service + "Predict", "INVALID_ARGUMENT"), ("gRPC", service + "Predict", "OK")]
        # Sizes are the messages' own; nothing of their bytes is kept.
        assert [e.request_bytes for e in exchanges[2:]] == [request.ByteSize() for request in fake.requests]
        assert all(e.response_bytes > 0 for e in exchanges if not e.failed)
        assert exchanges[2].request_body == (f"model 'pets', version 1; request {fake.requests[0].ByteSize():,} "
                                             "bytes of protobuf (not shown)")
        assert all(e.latency_ms > 0 and e.response_body == "" and e.status is None for e in exchanges)
        [failure] = log.failures()
        assert (failure.response_bytes, failure.error, log.total, log.failed) == (
            None, "marked instance in batch", 5, 1)
        assert failure.text().splitlines() == [
            f"gRPC {fake.address}{service}Predict", failure.request_body,
            f"-> INVALID_ARGUMENT in {failure.latency_ms:.1f} ms; no answer", "marked instance in batch"]
        assert exchanges[4].text().splitlines()[-1].endswith(f"; answer {exchanges[4].response_bytes:,} bytes")
        assert first_shown(exchanges) == 4
        assert caption(log, exchanges).startswith("5 gRPC call(s), 1 with a status other than OK;")
    finally:
        fake.stop()


def test_a_watcher_that_fails_never_fails_the_grpc_call():
    pytest.importorskip("grpc", reason="needs the grpc extra")
    from client.transport.grpc_calls import GrpcCall, report
    seen = []
    call = GrpcCall(url="grpc://h:8500/x", target="model 'pets', latest", code="OK", details="", request_bytes=3,
                    answer_bytes=4, seconds=0.5)
    report([lambda c: 1 / 0, seen.append], call)
    assert seen == [call]
    log = RequestLog()
    log.grpc_hook(object())   # not a call: ignored, as a broken REST response is
    log.grpc_hook(call)
    assert [(e.url, e.status_text, e.latency_ms, e.request_bytes, e.response_bytes) for e in log.exchanges()] == [
        ("grpc://h:8500/x", "OK", 500.0, 3, 4)]
