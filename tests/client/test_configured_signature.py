"""Classify without metadata (issue 13, KServe): the signature and class names come from SignatureConfig when
the server serves predict but not TF Serving's status/metadata API; a clear SignatureError when neither exists."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from werkzeug.wrappers import Request, Response

from client import InvalidArgumentError, ModelNotFoundError, SignatureConfig, SignatureError, TFServingClient
from tests.client.conftest import fake_model_handler, fake_prediction, json_response, png_bytes

COLOURS = {"cat": (250, 5, 5), "dog": (5, 250, 5), "other": (5, 5, 250)}
PETS = SignatureConfig(class_names=("cat", "dog", "other"))
NOT_FOUND = "404 page not found\n"  # what a router in front of the model answers for a path it does not route


def predict_only(*, float_input: tuple[int, int] | None = None, single_output: bool = False):
    """Predict on every target path; a plain-text 404 (not TF Serving's JSON) for status and metadata."""
    def handle(request: Request) -> Response:
        if request.method != "POST":
            return Response(NOT_FOUND, status=404, content_type="text/plain")
        instances = json.loads(request.get_data())["instances"]
        if float_input:
            pixels = [np.asarray(item["pixels"], dtype=np.float32) for item in instances]
            assert all(p.shape == (*float_input, 3) for p in pixels)
            rows = [softmax_of_channels(p) for p in pixels]
        else:
            rows = [fake_prediction(base64.b64decode(item["image_bytes"]["b64"])) for item in instances]
        if single_output:
            return json_response({"predictions": [row["probabilities"] for row in rows]})
        return json_response({"predictions": rows})
    return handle


def softmax_of_channels(pixels: np.ndarray) -> dict:
    means = pixels.reshape(-1, 3).mean(axis=0)
    return {"probabilities": (np.exp(means) / np.exp(means).sum()).tolist()}


def items():
    return [(f"{name}.png", png_bytes(colour)) for name, colour in COLOURS.items()]


def posted_paths(server) -> list[str]:
    return [path for method, path in server.calls if method == "POST"]


@pytest.mark.parametrize("target, path, version", [
    ({}, "/v1/models/pets:predict", None),
    ({"version": 2}, "/v1/models/pets/versions/2:predict", 2),
    ({"label": "stable"}, "/v1/models/pets/labels/stable:predict", None),
])
def test_configured_signature_classifies_when_metadata_is_missing(fake_server, target, path, version):
    server = fake_server(predict_only())
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=PETS) as tfs:
        results = tfs.classify(items(), **target)
    assert [(r.source, r.label, r.version, r.error) for r in results] == [
        ("cat.png", "cat", version, None), ("dog.png", "dog", version, None), ("other.png", "other", version, None)]
    assert results[0].probabilities["cat"] == pytest.approx(250 / 260)
    assert set(posted_paths(server)) == {path}
    assert server.bodies[-1]["signature_name"] == "serving_default"


def test_without_configuration_missing_metadata_is_a_signature_error(fake_server):
    server = fake_server(predict_only())
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(SignatureError) as caught:
            tfs.classify(items())
        with pytest.raises(ModelNotFoundError) as status_error:
            tfs.status()
    exc = caught.value
    assert (exc.status, exc.foreign_answer, exc.url) == (404, True, f"{server.url}/v1/models/pets")
    assert exc.error == (
        "cannot read the signature of model 'pets': the server does not serve TF Serving's status/metadata API "
        "(the answer is not TF Serving's JSON (HTTP 404 Not Found, text/plain, 19 bytes)); give the signature and "
        "class names in the configuration (TFServingClient(signature=SignatureConfig(...))) to classify without it")
    assert status_error.value.foreign_answer is True
    assert posted_paths(server) == []  # nothing was sent


def test_float_input_and_a_single_unnamed_output_from_configuration(fake_server):
    server = fake_server(predict_only(float_input=(6, 6), single_output=True))
    config = SignatureConfig(class_names=("red", "green", "blue"), input_name="pixels", input_dtype="DT_FLOAT",
                             input_shape=(-1, 6, 6, 3), probabilities_output="scores", signature_name="predict_images")
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=config) as tfs:
        results = tfs.classify(items(), signature_name="predict_images")
    assert [r.label for r in results] == ["red", "green", "blue"]
    assert server.bodies[-1]["signature_name"] == "predict_images"


def test_the_servers_metadata_wins_over_the_configuration(fake_server):
    server = fake_server(fake_model_handler(version=3))
    wrong = SignatureConfig(class_names=("a", "b", "c"), input_name="not_the_input")
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=wrong) as tfs:
        results = tfs.classify(items())
    assert [(r.label, r.version) for r in results] == [("cat", 3), ("dog", 3), ("other", 3)]
    assert list(server.bodies[-1]["instances"][0]) == ["image_bytes"]


def test_tf_servings_own_404_is_not_mistaken_for_a_missing_api(fake_server):
    server = fake_server(lambda request: json_response({"error": "Could not find any versions of model pets"}, 404))
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=PETS) as tfs:
        with pytest.raises(ModelNotFoundError) as caught:
            tfs.classify(items())
    assert caught.value.foreign_answer is False
    assert posted_paths(server) == []


def test_another_signature_than_the_configured_one_is_refused(fake_server):
    server = fake_server(predict_only())
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=PETS) as tfs:
        with pytest.raises(SignatureError, match="signature 'predict_images' was asked for, but the server serves no "
                                                 "metadata and the configured signature is 'serving_default'"):
            tfs.classify(items(), signature_name="predict_images")


def test_a_configuration_that_cannot_classify_is_a_signature_error(fake_server):
    server = fake_server(predict_only())
    config = SignatureConfig(class_names=("y",), input_name="x", input_dtype="DT_FLOAT", input_shape=(-1, 1))
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=config) as tfs:
        with pytest.raises(SignatureError, match=r"input 'x' is DT_FLOAT \[-1,1\]; an image classifier needs"):
            tfs.classify(items())


def test_signature_config_from_json():
    config = SignatureConfig.from_json({"class_names": ["cat", "dog"], "input_shape": [-1, 224, 224, 3],
                                        "input_dtype": "DT_FLOAT", "input_name": "images"})
    assert config == SignatureConfig(class_names=("cat", "dog"), input_name="images", input_dtype="DT_FLOAT",
                                     input_shape=(-1, 224, 224, 3))
    assert config.to_signature().outputs["probabilities"].shape == (-1, 2)


@pytest.mark.parametrize("body, field, reason", [
    ({}, "signature.class_names", "is required"),
    ({"class_names": ["a"], "colour": "red"}, "signature", "unknown keys"),
    ({"class_names": ["a", "a"]}, "signature.class_names", "class names must be distinct"),
    ({"class_names": ["a", " "]}, "signature.class_names", "every class name must be non-empty text"),
    ({"class_names": "cat,dog"}, "signature.class_names", "must be a list of class names"),
    ({"class_names": ["a"], "input_dtype": "DT_INT8"}, "signature.input_dtype", "must be one of"),
    ({"class_names": ["a"], "input_shape": ["-1", "x"]}, "signature.input_shape", "must be a list of integers"),
    ({"class_names": ["a"], "input_name": ""}, "signature.input_name", "must be non-empty text"),
    (["class_names"], "signature", "must be a JSON object"),
])
def test_bad_signature_configuration_names_the_field(body, field, reason):
    with pytest.raises(InvalidArgumentError) as caught:
        SignatureConfig.from_json(body)
    assert caught.value.field == field and reason in caught.value.error



def test_a_readiness_answer_instead_of_tf_servings_status_uses_the_configured_signature(fake_server):
    """KServe behind a transformer answers GET /v1/models/NAME with {"name", "ready"}: JSON, but not TF Serving's
    status, so the route has no status API and the configured signature is used."""
    predict = predict_only()

    def kserve_transformer(request):
        if request.method == "GET" and request.path == "/v1/models/pets":
            return json_response({"name": "pets", "ready": True})
        return predict(request)
    server = fake_server(kserve_transformer)
    with TFServingClient(server.url, "pets", timeout=5, retries=0, signature=PETS) as tfs:
        results = tfs.classify(items())
    assert [(r.source, r.label, r.error) for r in results] == [
        ("cat.png", "cat", None), ("dog.png", "dog", None), ("other.png", "other", None)]
    with TFServingClient(server.url, "pets", timeout=5, retries=0) as tfs:
        with pytest.raises(SignatureError):
            tfs.classify(items())
