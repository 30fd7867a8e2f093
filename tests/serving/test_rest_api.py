"""REST API conformance against a real `python -m serving` process: exact status codes and JSON bodies."""
from __future__ import annotations

import base64
import io
import json

import pytest
import requests
from PIL import Image

pytestmark = pytest.mark.slow   # the module starts the embedded server with TensorFlow models


def post(url: str, path: str, body) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{url}/v1/models/{path}", data=data, timeout=30)


def get(url: str, path: str) -> requests.Response:
    return requests.get(f"{url}/v1/models/{path}", timeout=30)


def available(version: int) -> dict:
    return {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


# ---- model status -----------------------------------------------------------------------------------
def test_status_lists_all_versions_newest_first(server_url):
    reply = get(server_url, "half_plus_two")
    assert (reply.status_code, reply.json()) == (200, {"model_version_status": [available(2), available(1)]})
    assert reply.headers["Content-Type"] == "application/json"


def test_status_of_one_version(server_url):
    reply = get(server_url, "half_plus_two/versions/1")
    assert (reply.status_code, reply.json()) == (200, {"model_version_status": [available(1)]})
    reply = get(server_url, "HALF_PLUS_TWO")  # model names are case-sensitive even though TF Serving's regex is not
    assert (reply.status_code, reply.json()) == (404, {"error": "Could not find any versions of model HALF_PLUS_TWO"})


@pytest.mark.parametrize("label", ["stable", "canary", "nope"])
def test_status_by_label_lists_every_version_like_tf_serving(server_url, label):
    # TF Serving's GetModelStatus looks only at model_spec.version: a label, known or not, is ignored. To learn
    # which version a label points at, ask for .../labels/L/metadata (model_spec.version).
    reply = get(server_url, f"half_plus_two/labels/{label}")
    assert (reply.status_code, reply.json()) == (200, {"model_version_status": [available(2), available(1)]})


def test_a_version_that_failed_to_load_reports_its_error(server_url):
    reply = get(server_url, "broken")
    assert reply.status_code == 200
    [status] = reply.json()["model_version_status"]
    assert (status["version"], status["state"], status["status"]["error_code"]) == ("1", "END", "UNKNOWN")
    assert "Error parsing message with type 'tensorflow.SavedModel'" in status["status"]["error_message"]


@pytest.mark.parametrize("path, status, error", [
    ("nope", 404, "Could not find any versions of model nope"),
    ("half_plus_two/versions/7", 404, "Could not find version 7 of model half_plus_two"),
    ("half_plus_two/versions/9223372036854775808", 400,  # int64 max + 1
     "Failed to convert version: 9223372036854775808 to numeric."),
])
def test_status_errors(server_url, path, status, error):
    reply = get(server_url, path)
    assert (reply.status_code, reply.json()) == (status, {"error": error})


def test_missing_model_name_and_malformed_paths(server_url):
    reply = requests.get(f"{server_url}/v1/models", timeout=10)
    assert (reply.status_code, reply.json()) == (400, {"error": "Missing model name in request."})
    for path in ("/v1/models/", "/v1/models/half_plus_two/", "/v1/models/half_plus_two/versions/1/",
                 "/v1/models/half_plus_two/versions/one", "/v1/foo"):  # TF Serving matches whole paths only
        reply = requests.get(f"{server_url}{path}", timeout=10)
        assert (reply.status_code, reply.json()) == (400, {"error": f"Malformed request: GET {path}"})
    reply = requests.post(f"{server_url}/v1/models/half_plus_two/metadata", data="{}", timeout=10)
    assert (reply.status_code, reply.json()) == (
        400, {"error": "Malformed request: POST /v1/models/half_plus_two/metadata"})
    reply = requests.get(f"{server_url}/v1/models/half_plus_two:predict", timeout=10)
    assert (reply.status_code, reply.json()) == (
        400, {"error": "Malformed request: GET /v1/models/half_plus_two:predict"})
    reply = requests.post(f"{server_url}/v1/models/half_plus_two:explain", data="{}", timeout=10)
    assert (reply.status_code, reply.json()) == (
        400, {"error": "Malformed request: POST /v1/models/half_plus_two:explain"})


# ---- metadata -----------------------------------------------------------------------------------------
def tensor(name: str, dtype: str, *dims: int) -> dict:
    return {"name": name, "dtype": dtype,
            "tensor_shape": {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}}


def test_metadata_is_tf_servings_signature_def_map(server_url):
    reply = get(server_url, "half_plus_two/versions/1/metadata")
    assert reply.status_code == 200
    body = reply.json()
    assert body["model_spec"] == {"name": "half_plus_two", "version": "1", "signature_name": ""}
    # As TF Serving prints it (http_rest_api_util.cc): the SignatureDefMap unpacked from its Any, so its only
    # key is "signature_def" (no "@type").
    assert list(body) == ["model_spec", "metadata"] and list(body["metadata"]) == ["signature_def"]
    assert list(body["metadata"]["signature_def"]) == ["signature_def"]
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["classify_x_to_y", "regress_x_to_y", "serving_default"]
    assert signatures["serving_default"] == {
        "inputs": {"x": tensor("x:0", "DT_FLOAT", -1)},
        "outputs": {"y": tensor("y:0", "DT_FLOAT", -1)},
        "method_name": "tensorflow/serving/predict",
        "defaults": {},
    }
    assert signatures["classify_x_to_y"]["method_name"] == "tensorflow/serving/classify"
    assert signatures["classify_x_to_y"]["inputs"] == {"inputs": tensor("tf_example:0", "DT_STRING", -1)}
    assert signatures["regress_x_to_y"]["outputs"] == {"outputs": tensor("y_from_example:0", "DT_FLOAT", -1, 1)}


def test_metadata_by_label_and_latest(server_url):
    assert get(server_url, "half_plus_two/labels/canary/metadata").json()["model_spec"]["version"] == "2"
    assert get(server_url, "half_plus_two/metadata").json()["model_spec"]["version"] == "2"
    reply = get(server_url, "broken/metadata")
    assert (reply.status_code, reply.json()) == (404, {"error": "Servable not found for request: Latest(broken)"})


# ---- predict ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, expected", [
    ("half_plus_two:predict", [3.5, 4.0, 5.5]),              # latest (v2: 0.5x + 3)
    ("half_plus_two/versions/1:predict", [2.5, 3.0, 4.5]),   # v1: 0.5x + 2
    ("half_plus_two/labels/stable:predict", [2.5, 3.0, 4.5]),
    ("half_plus_two/labels/canary:predict", [3.5, 4.0, 5.5]),
])
def test_predict_row_format_by_latest_version_and_label(server_url, path, expected):
    reply = post(server_url, path, {"instances": [1.0, 2, 5]})
    assert (reply.status_code, reply.json()) == (200, {"predictions": expected})


def test_predict_columnar_format(server_url):
    reply = post(server_url, "half_plus_two/versions/1:predict", {"inputs": [1.0, 2.0]})
    assert (reply.status_code, reply.json()) == (200, {"outputs": [2.5, 3.0]})


def test_predict_writes_floats_like_tf_serving(server_url):
    reply = post(server_url, "half_plus_two/versions/1:predict", '{"instances": [NaN, Infinity, -Infinity, 0.2]}')
    assert reply.status_code == 200
    assert reply.text == '{"predictions": [NaN, Infinity, -Infinity, 2.1]}'


def test_predict_named_inputs_in_both_formats(server_url):
    row = {"signature_name": "add", "instances": [{"a": [1, 2], "b": [3, 4.5]}, {"a": [0, 0], "b": [1, 1]}]}
    reply = post(server_url, "toolbox:predict", row)
    assert (reply.status_code, reply.json()) == (200, {"predictions": [[4.0, 6.5], [1.0, 1.0]]})
    columnar = {"signature_name": "add", "inputs": {"a": [[1, 2]], "b": [[3, 4]]}}
    reply = post(server_url, "toolbox:predict", columnar)
    assert (reply.status_code, reply.json()) == (200, {"outputs": [[4.0, 6.0]]})


def test_binary_values_in_and_out_as_b64(server_url):
    hello = base64.b64encode(b"\x00hello\xff").decode()
    reply = post(server_url, "toolbox:predict", {"instances": [{"b64": hello}, "hi"]})
    assert (reply.status_code, reply.json()) == (200, {"predictions": [
        {"echo_bytes": {"b64": hello}, "length": 7}, {"echo_bytes": {"b64": "aGk="}, "length": 2}]})
    reply = post(server_url, "toolbox:predict", {"inputs": {"text_bytes": [{"b64": hello}]}})
    assert (reply.status_code, reply.json()) == (200, {"outputs": {"echo_bytes": [{"b64": hello}], "length": [7]}})


@pytest.mark.parametrize("b64, error", [
    ("aG k\n", None),      # absl::Base64Unescape skips whitespace and takes unpadded input
    ("aGk=", None),
    ("aGk==", "Unable to base64 decode"),  # wrong padding
    ("_-8=", "Unable to base64 decode"),   # web-safe alphabet: TF Serving refuses it
    ("YWJj!", "Unable to base64 decode"),
])
def test_b64_decoding_follows_tf_serving(server_url, b64, error):
    reply = post(server_url, "toolbox:predict", {"instances": [{"b64": b64}]})
    if error is None:
        assert (reply.status_code, reply.json()) == (200, {"predictions": [{"echo_bytes": {"b64": "aGk="}, "length": 2}]})
    else:
        assert (reply.status_code, reply.json()) == (
            400, {"error": f"Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: {error}"})


def png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_decode_in_graph_and_undecodable_bytes_are_400(server_url):
    good = {"b64": base64.b64encode(png_bytes(7, 5)).decode()}
    reply = post(server_url, "toolbox:predict", {"signature_name": "image_size", "instances": [good]})
    assert (reply.status_code, reply.json()) == (200, {"predictions": [[5, 7]]})
    bad = {"b64": base64.b64encode(b"not an image").decode()}
    reply = post(server_url, "toolbox:predict", {"signature_name": "image_size", "instances": [good, bad]})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("Unknown image file format.")


@pytest.mark.parametrize("body, error", [
    ("", "JSON Parse error: The document is empty"),
    ('{"instances": [1.0', "JSON Parse error: Missing a comma or '}' after an object member. at offset: 18"),
    ("[1, 2]", "JSON Value: [\n    1,\n    2\n] Is not object"),
    ('{"signature_name": 100, "instances": [1]}',
     "JSON Value: {\n    \"signature_name\": 100,\n    \"instances\": [\n        1\n    ]\n} not formatted correctly. "
     "'signature_name' key must be a string value."),
    ('{"instances": ["a"]}', "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                             "JSON Value: \"a\" Type: String is not of expected type: float"),
    ('{"instances": [true]}', "Failed to process element: 0 of 'instances' list. Error: INVALID_ARGUMENT: "
                              "JSON Value: true Type: True is not of expected type: float"),
    ('{"instances": [[1.0], 2.0]}', "Failed to process element: 1 of 'instances' list. Error: INVALID_ARGUMENT: "
                                    "Expecting shape [1] but got: []"),
    ('{"inputs": [[1.0, 2.0], [3.0]]}', "Encountered list at unexpected size: 1 at level: 1 expected size: 2"),
    ('{"instances": []}', "JSON Value: {\n    \"instances\": []\n} No values in 'instances' array"),
    ('{"instances": 1}', "JSON Value: {\n    \"instances\": 1\n} Excepting 'instances' to be an list/array"),
    ('{"instances": [1], "inputs": [1]}', "JSON Value: {\n    \"instances\": [\n        1\n    ],\n    \"inputs\": [\n"
                                          "        1\n    ]\n} Not formatted correctly expecting only one of 'inputs' "
                                          "or 'instances' keys to exist "),
    ('{"signature_name": "nope", "instances": [1]}', 'Serving signature name: "nope" not found in signature def'),
    ('{"foo": 1}', "Missing 'inputs' or 'instances' key"),
])
def test_predict_bad_input_is_400_with_tf_servings_message(server_url, body, error):
    reply = post(server_url, "half_plus_two/versions/1:predict", body)
    assert (reply.status_code, reply.json()) == (400, {"error": error})


def test_named_instances_errors(server_url):
    reply = post(server_url, "toolbox:predict", {"signature_name": "add", "instances": [[1, 2]]})
    assert (reply.status_code, reply.json()) == (400, {"error": (
        "instances is a plain list, but expecting list of objects as multiple input tensors required as per "
        "tensorinfo_map")})
    reply = post(server_url, "toolbox:predict", {"signature_name": "add", "instances": [{"a": [1, 2]}]})
    assert (reply.status_code, reply.json()) == (400, {"error": (
        "Failed to process element: 0 of 'instances' list. JSON object: {\n    \"a\": [\n        1,\n        2\n"
        "    ]\n} must only have keys: a,b")})
    reply = post(server_url, "toolbox:predict", {"signature_name": "add", "inputs": {"a": [[1, 2]]}})
    assert (reply.status_code, reply.json()) == (400, {"error": "Missing named input: b in 'inputs' object."})


@pytest.mark.parametrize("path, status, error", [
    ("nope:predict", 404, "Servable not found for request: Latest(nope)"),
    ("half_plus_two/versions/3:predict", 404, "Servable not found for request: Specific(half_plus_two, 3)"),
    ("half_plus_two/labels/nope:predict", 400, "Unrecognized servable version label: nope"),
    ("broken/versions/1:predict", 404, "Servable not found for request: Specific(broken, 1)"),
])
def test_predict_on_unknown_models_versions_and_labels(server_url, path, status, error):
    reply = post(server_url, path, {"instances": [1.0]})
    assert (reply.status_code, reply.json()) == (status, {"error": error})


# ---- classify / regress ---------------------------------------------------------------------------------
def test_classify_turns_json_examples_into_tf_examples(server_url):
    body = {"signature_name": "classify_x_to_y", "examples": [{"x": 1.0}, {"x": 3.0}]}
    reply = post(server_url, "half_plus_two/versions/1:classify", body)
    assert (reply.status_code, reply.json()) == (200, {"results": [[["", 2.5]], [["", 3.5]]]})


def test_regress_with_context(server_url):
    body = {"signature_name": "regress_x_to_y", "context": {"x": 10.0}, "examples": [{"x": 1.0}, {}]}
    reply = post(server_url, "half_plus_two/labels/canary:regress", body)
    assert (reply.status_code, reply.json()) == (200, {"results": [3.5, 8.0]})


@pytest.mark.parametrize("path, body, error", [
    ("half_plus_two:regress", {"examples": [{"x": 1.0}]},
     "Expected regression signature method_name to be tensorflow/serving/regress. Was: tensorflow/serving/predict"),
    ("half_plus_two:classify", {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}]},
     "Expected classification signature method_name to be tensorflow/serving/classify. "
     "Was: tensorflow/serving/regress"),
    ("half_plus_two:classify", {"signature_name": "nope", "examples": [{"x": 1.0}]},
     "No signature was found with the name: nope"),
    ("half_plus_two:regress", {"signature_name": "regress_x_to_y", "examples": [{"x": [1.0, 2]}]},
     "Unexpected element type in feature: x expecting type: float"),
    ("half_plus_two:classify", {"instances": [1]},
     "JSON Value: {\n    \"instances\": [\n        1\n    ]\n} When method is classify, key 'examples' is expected "
     "and was not found"),
    ("half_plus_two:classify", {"examples": []}, "JSON Value: {\n    \"examples\": []\n} 'examples' value is an empty "
                                                  "array"),
    ("half_plus_two:classify", {"examples": [3]}, "Example must be JSON object but got JSON Number"),
])
def test_classify_and_regress_errors(server_url, path, body, error):
    reply = post(server_url, path, body)
    assert (reply.status_code, reply.json()) == (400, {"error": error})


def test_example_that_does_not_parse_is_400_with_tensorflows_message(server_url):
    body = {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}, {"x": 2}]}  # 2 is an int64 feature
    reply = post(server_url, "half_plus_two:regress", body)
    assert (reply.status_code, reply.json()) == (400, {"error": (
        "Name: <unknown>, Key: x, Index: 1.  Data types don't match. Data type: int64 but expected type: float"
        "\n\t [[{{node ParseExample/ParseExampleV2}}]]")})
    assert "File " not in reply.json()["error"]  # no Python stack from the eager wrapper
