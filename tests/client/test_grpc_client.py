"""The client over gRPC against TF Serving's own servicers and messages (tests/client/grpc_fake.py) on a free port:
every error class, retries, deadlines, bisecting, labels, size limits, partial results and the CLI's resume behave
as over REST. Slow: the fake imports tensorflow_serving.apis, which loads TensorFlow."""
from __future__ import annotations

import csv
import io
import time

import grpc
import numpy as np
import pytest
from PIL import Image

from client import (AnswerTooLargeError, InvalidArgumentError, ModelNotFoundError,
                    RequestTimeoutError, ServerUnavailableError, SignatureConfig, SignatureError, TFServingClient,
                    VersionNotAvailableError, VersionStatus)
from client import cli
from client.plan import ClassifyPlan
from client.protocol import ModelMetadata
from tests.support import FAKE_LABELS, _tensor, fake_metadata, fake_status, free_port, png_bytes

pytestmark = pytest.mark.slow
grpc_fake = pytest.importorskip("tests.client.grpc_fake", reason="needs tensorflow-serving-api (the serving extra)")

COLOURS = {"cat": (250, 5, 5), "dog": (5, 250, 5), "other": (5, 5, 250)}


def images(n: int, *, bad: int | None = None) -> list[tuple[str, bytes]]:
    names = list(COLOURS)
    return [(f"{names[i % 3]}-{i}.png", png_bytes(COLOURS[names[i % 3]], marked=i == bad)) for i in range(n)]


def noisy_png(seed: int, side: int = 40) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (side, side, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def serving():
    started = []

    def start(**options) -> "grpc_fake.FakeGrpcServing":
        fake = grpc_fake.FakeGrpcServing(**options).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def test_status_metadata_and_raw_answers_are_what_rest_gives(serving):
    fake = serving(versions=(1, 2))
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        assert tfs.status() == (VersionStatus(1, "AVAILABLE", "OK", ""), VersionStatus(2, "AVAILABLE", "OK", ""))
        assert tfs.metadata(version=2) == ModelMetadata.from_json(fake_metadata(version=2))
        assert tfs.raw_answer() == {"model_version_status": [
            {"version": str(v), "state": "AVAILABLE"} for v in (1, 2)]}
        raw = tfs.raw_answer(version=2, metadata=True)
    expected = fake_metadata(version=2)
    assert raw["model_spec"] == expected["model_spec"]
    signature = raw["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"] == expected["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert VersionStatus.list_from_json(fake_status(1)) == (VersionStatus(1, "AVAILABLE", "OK", ""),)


def test_a_label_resolves_to_its_version_and_every_predict_names_that_version(serving):
    fake = serving(versions=(1, 2), labels={"stable": 1})
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        results = tfs.classify(images(6), label="stable", batch_size=2)
    assert [(r.label, r.version) for r in results] == [(n, 1) for n in ("cat", "dog", "other") * 2]
    assert ("GetModelMetadata", "pets", None, "stable", "") in fake.calls
    predicts = [call for call in fake.calls if call[0] == "Predict"]
    assert predicts == [("Predict", "pets", 1, None, "serving_default")] * 3
    assert results[0].probabilities == {"cat": pytest.approx(250 / 260), "dog": pytest.approx(5 / 260),
                                        "other": pytest.approx(5 / 260)}


def test_without_the_metadata_api_a_label_goes_to_the_server_as_version_label(serving):
    fake = serving(versions=(1, 2), labels={"canary": 2})
    fake.fail("GetModelMetadata", grpc.StatusCode.UNIMPLEMENTED, "Method not found!", times=5)
    config = SignatureConfig(class_names=FAKE_LABELS)
    with TFServingClient(fake.address, "pets", timeout=5, signature=config) as tfs:
        results = tfs.classify(images(3), label="canary")
    assert [(r.label, r.version) for r in results] == [("cat", None), ("dog", None), ("other", None)]
    predicts = [call for call in fake.calls if call[0] == "Predict"]
    assert predicts == [("Predict", "pets", None, "canary", "serving_default")]


@pytest.mark.parametrize("call, cls, error", [
    (lambda tfs: TFServingClient(tfs.base_url, "nope", retries=0).status(), ModelNotFoundError,
     "Could not find any versions of model nope"),
    (lambda tfs: tfs.metadata(version=9), VersionNotAvailableError,
     "Servable not found for request: Specific(pets, 9)"),
    (lambda tfs: tfs.metadata(label="gold"), VersionNotAvailableError, "Unrecognized servable version label: gold"),
    (lambda tfs: tfs.classify(images(1), signature_name="nope"), SignatureError,
     "model 'pets' version 1 has no signature 'nope'; it has ['serving_default']"),
])
def test_each_failure_raises_the_class_rest_raises(serving, call, cls, error):
    fake = serving()
    with TFServingClient(fake.address, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(cls) as caught:
            call(tfs)
    assert type(caught.value) is cls and caught.value.error == error


def test_a_refused_connection_is_server_unavailable_with_no_answer():
    url = f"grpc://127.0.0.1:{free_port()}"
    with TFServingClient(url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(ServerUnavailableError) as caught:
            tfs.status()
    assert (caught.value.error, caught.value.status, caught.value.grpc_code) == (
        "cannot reach the server (connection refused)", None, "UNAVAILABLE")


def test_unavailable_is_retried_with_backoff_then_answers(serving):
    fake = serving()
    fake.fail("GetModelStatus", grpc.StatusCode.UNAVAILABLE, "The batch scheduling queue is full", times=2)
    with TFServingClient(fake.address, "pets", timeout=5, retries=3, backoff_factor=0.05) as tfs:
        assert [s.version for s in tfs.status()] == [1]
    assert fake.count("GetModelStatus") == 3
    fake.fail("GetModelStatus", grpc.StatusCode.UNAVAILABLE, "The batch scheduling queue is full", times=3)
    with TFServingClient(fake.address, "pets", timeout=5, retries=1, backoff_factor=0.05) as tfs:
        with pytest.raises(ServerUnavailableError) as caught:
            tfs.status()
    assert (caught.value.status, caught.value.error) == (503, "The batch scheduling queue is full")
    assert fake.count("GetModelStatus") == 5  # 3 before, then 2 attempts (one retry)


def test_the_timeout_is_the_deadline_of_the_whole_call(serving):
    fake = serving()
    fake.delay = 2.0
    with TFServingClient(fake.address, "pets", timeout=0.5, retries=2) as tfs:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError) as caught:
            tfs.status()
        elapsed = time.monotonic() - started
    assert caught.value.error == "no complete answer within 0.5 s" and caught.value.grpc_code == "DEADLINE_EXCEEDED"
    assert 0.5 <= elapsed < 1.5


def test_one_bad_image_is_isolated_by_bisecting(serving):
    fake = serving()
    sent = images(8, bad=5)
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        results = tfs.classify(sent, batch_size=8)
    assert [r.ok for r in results] == [True] * 5 + [False] + [True] * 2
    assert results[5].error == "other-5.png: rejected by the server (INVALID_ARGUMENT): marked instance in batch"
    assert results[5].error_type == "InvalidInputError"
    assert fake.count("Predict") == 7  # 8, then 4 + 4, 2 + 2 of the bad half, 1 + 1


def test_a_request_over_the_servers_receive_limit_is_split_until_it_fits(serving):
    fake = serving(max_receive_bytes=12_000)
    sent = [(f"noise-{i}.png", noisy_png(i)) for i in range(8)]  # about 4.9 kB each: 2 fit, 4 do not
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        results = tfs.classify(sent, batch_size=8)
    assert all(r.ok for r in results)
    assert [len(request.inputs["image_bytes"].string_val) for request in fake.requests] == [2, 2, 2, 2]


def test_an_oversized_request_alone_is_its_rows_error_stating_the_limit(serving):
    fake = serving(max_receive_bytes=3_000)
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        [result] = tfs.classify([("noise.png", noisy_png(1))])
    assert result.error_type == "PayloadTooLargeError"
    assert result.error.startswith("noise.png: rejected by the server (RESOURCE_EXHAUSTED): the request (")
    assert result.error.endswith("bytes) is larger than the server accepts (3,000 bytes, its gRPC receive limit); "
                                 "send fewer images per request")


def test_answers_over_the_clients_limits_are_refused_naming_the_limit(serving):
    fake = serving()
    with TFServingClient(fake.address, "pets", timeout=5, max_answer_bytes=100) as tfs:
        with pytest.raises(AnswerTooLargeError) as caught:
            tfs.metadata(version=1)
    where = f"{fake.address}/tensorflow.serving.PredictionService/GetModelMetadata (model 'pets', version 1)"
    assert caught.value.error == (f"the answer from {where} is larger than 100 bytes, the limit for status and "
                                  "metadata answers; refused")
    with TFServingClient(fake.address, "pets", timeout=5, max_predict_answer_bytes=100) as tfs:
        results = tfs.classify(images(4), batch_size=4)
    assert {r.error_type for r in results} == {"AnswerTooLargeError"}
    assert "the limit for predict answers; refused" in results[0].error


def test_probabilities_that_are_no_distribution_cost_only_their_row(serving):
    def predict(inputs):
        count = len(inputs["image_bytes"])
        probabilities = np.full((count, 3), 1 / 3, dtype=np.float32)
        probabilities[1] = [0.9, 0.9, 0.9]
        return {"probabilities": probabilities,
                "classes": np.array([[c.encode() for c in FAKE_LABELS]] * count, dtype=object)}

    fake = serving(predict=predict)
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        results = tfs.classify(images(3), batch_size=3)
    assert [r.error_type for r in results] == [None, "InvalidProbabilitiesError", None]


def test_an_answer_without_the_signatures_outputs_is_an_unexpected_answer_row(serving):
    fake = serving(predict=lambda inputs: {"scores": np.zeros((len(inputs["image_bytes"]), 2), np.float32)})
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        [result] = tfs.classify(images(1))
    assert result.error_type == "UnexpectedAnswerError"
    assert result.error == "cat-0.png: answer lacks the 'probabilities' output: got outputs ['scores']"


def test_a_version_unloaded_mid_run_keeps_finished_rows_and_names_the_cause(serving):
    fake = serving(versions=(1, 2))
    fake.after_predicts = lambda answered: fake.versions.discard(2) if answered == 2 else None
    with TFServingClient(fake.address, "pets", timeout=5, retries=0) as tfs:
        results = tfs.classify(images(12), version=2, batch_size=2, concurrency=1)
    assert [r.ok for r in results] == [True] * 4 + [False] * 8
    for result in results[4:]:
        assert result.error == (f"{result.source}: not classified: version 2 of model 'pets' is no longer available "
                                "(unloaded during the run); the server said: Servable not found for request: "
                                "Specific(pets, 2)")
        assert (result.error_type, result.version) == ("VersionNotAvailableError", 2)


def pixel_metadata(model: str = "pets", version: int = 1) -> dict:
    body = fake_metadata(model, version)
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    signature["inputs"] = {"images": _tensor("DT_FLOAT", -1, 8, 8, 3)}
    return body


def test_pixels_are_sent_as_raw_float32_tensor_content(serving):
    def predict(inputs):
        pixels = inputs["images"]
        means = pixels.mean(axis=(1, 2)) + 2.0  # positive weights per channel
        probabilities = (means / means.sum(axis=1, keepdims=True)).astype(np.float32)
        return {"probabilities": probabilities,
                "classes": np.array([[c.encode() for c in FAKE_LABELS]] * len(pixels), dtype=object)}

    fake = serving(metadata=pixel_metadata, predict=predict)
    sent = images(3)
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        results = tfs.classify(sent, batch_size=3)
        plan = tfs.plan()[1]
    assert [r.label for r in results] == ["cat", "dog", "other"]
    [request] = fake.requests
    tensor = request.inputs["images"]
    assert (tensor.dtype, [d.size for d in tensor.tensor_shape.dim], len(tensor.float_val)) == (1, [3, 8, 8, 3], 0)
    expected = np.stack([plan.instance(name, data)["images"] for name, data in sent]).astype("<f4")
    assert tensor.tensor_content == expected.tobytes()
    assert isinstance(plan, ClassifyPlan) and plan.input_dtype == "DT_FLOAT" and plan.profile_assumed


def half_plus_two(inputs):
    """The fake model of the raw predict tests: y = x / 2 + 2."""
    return {"y": (inputs["x"] * 0.5 + 2).astype(np.float32)}


def half_plus_two_metadata(width: int):
    """Metadata for half_plus_two: a DT_FLOAT input "x" and output "y", both [-1, width]."""
    def metadata(model, version):
        body = fake_metadata(model, version)
        body["metadata"]["signature_def"]["signature_def"]["serving_default"].update(
            inputs={"x": _tensor("DT_FLOAT", -1, width)}, outputs={"y": _tensor("DT_FLOAT", -1, width)})
        return body

    return metadata


def test_raw_predict_answers_in_the_rest_apis_shapes(serving):
    fake = serving(metadata=half_plus_two_metadata(1), predict=half_plus_two)
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        assert tfs.predict(instances=[[1.0], [2.0]]).outputs == [[2.5], [3.0]]
        assert tfs.predict(inputs={"x": [[4.0]]}).outputs == [[4.0]]
        with pytest.raises(InvalidArgumentError) as caught:
            tfs.predict(instances=[{"x": [1.0]}, {"z": [2.0]}])
    assert caught.value.reason == "cannot be sent as tensors (every instance must name the same inputs)"
    assert fake.requests[0].inputs["x"].dtype == 1  # the signature's DT_FLOAT, from its metadata


def test_a_numeric_array_goes_as_one_tensor_content_and_a_versions_types_are_read_once(serving):
    """predict(inputs=array) frames the array's bytes (client.transport.request_bytes) into the very request protobuf
    would build, in the signature's type (float64 values sent as DT_FLOAT); an explicit version's input types are
    read from its metadata once, a label's on every call (the label may move)."""
    fake = serving(versions=(1, 2), labels={"stable": 1}, metadata=half_plus_two_metadata(2), predict=half_plus_two)
    values = np.array([[1.0, 2.0], [3.0, 1 / 3]])  # float64: sent as the signature's DT_FLOAT
    with TFServingClient(fake.address, "pets", timeout=5) as tfs:
        for _ in range(3):
            assert tfs.predict(inputs=values, version=2).outputs == (values.astype(np.float32) * 0.5 + 2).tolist()
        tfs.predict(inputs={"x": values}, label="stable")
        tfs.predict(inputs={"x": values}, label="stable")
    asked = [(method, version, label) for method, _, version, label, _ in fake.calls if method == "GetModelMetadata"]
    assert asked == [("GetModelMetadata", 2, None)] + [("GetModelMetadata", None, "stable")] * 2
    tensor = fake.requests[0].inputs["x"]
    assert tensor.dtype == 1 and [d.size for d in tensor.tensor_shape.dim] == [2, 2]
    assert tensor.tensor_content == values.astype("<f4").tobytes()


def read_csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_cli_classifies_over_grpc_and_resumes_what_the_server_failed(serving, tmp_path, capsys):
    fake = serving()
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, data in images(4):
        (folder / name).write_bytes(data)
    out = tmp_path / "rows.csv"
    fake.fail("Predict", grpc.StatusCode.UNAVAILABLE, "The batch scheduling queue is full", times=1)
    args = ["classify", str(folder), "--url", fake.address, "--out", str(out), "--retries", "0", "--batch-size", "2",
            "--concurrency", "1", "--no-progress"]
    assert cli.main(args) == 0
    first = read_csv(out)
    assert [row["error_type"] for row in first] == ["ServerUnavailableError"] * 2 + [""] * 2
    assert cli.main(args) == 0
    assert "resuming" in capsys.readouterr().err
    rows = read_csv(out)
    assert sorted((row["source"].rsplit("/", 1)[-1], row["top_class"]) for row in rows) == [
        ("cat-0.png", "cat"), ("cat-3.png", "cat"), ("dog-1.png", "dog"), ("other-2.png", "other")]
    assert cli.main(["status", "--url", fake.address]) == 0
    assert "      1  AVAILABLE    OK" in capsys.readouterr().out
